using Hutong.Server.Http;

namespace Hutong.Server.Features.Disputes;

/// <summary>Buyers' complaints at the wallets as disputes (the jobs are registered with the other jobs, in HubServices).</summary>
public static class DisputesFeature
{
    public static IServiceCollection AddDisputes(this IServiceCollection s)
    {
        s.AddSingleton<DisputeStore>();
        s.AddSingleton<DisputeService>();
        return s;
    }

    public static HubRoutes MapDisputes(this HubRoutes routes)
    {
        DisputeEndpoints.Map(routes.Api);
        return routes;
    }
}
