using Hutong.Collab.Data;
using Hutong.Server.Http;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Collab.DataSets;

/// <summary>Cooperation data sets (issue 19): storage, upload, from-payments; <see cref="ICollabDataSets"/> for the job engine.</summary>
public static class CollabDataSetsFeature
{
    public static IServiceCollection AddCollabDataSets(this IServiceCollection s)
    {
        s.AddOptions<CollabDataSetLimits>().BindConfiguration(CollabDataSetLimits.Section);
        s.AddSingleton<CollabDataSetStore>();
        s.AddSingleton<ICollabDataSets>(sp => sp.GetRequiredService<CollabDataSetStore>());
        s.AddSingleton<CollabDataSetService>();
        return s;
    }

    public static HubRoutes MapCollabDataSets(this HubRoutes routes)
    {
        var limits = routes.App.ServiceProvider.GetRequiredService<IOptions<CollabDataSetLimits>>().Value;
        CollabDataSetEndpoints.Map(routes.Admin, limits.MaxBytes);
        return routes;
    }
}
