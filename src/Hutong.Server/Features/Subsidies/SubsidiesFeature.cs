using Hutong.Server.Features.Payments;
using Hutong.Server.Http;

namespace Hutong.Server.Features.Subsidies;

/// <summary>Platform subsidy campaigns; implements Payments' <see cref="IPaymentSubsidies"/>. HubApp composes the hub from these calls.</summary>
public static class SubsidiesFeature
{
    public static IServiceCollection AddSubsidies(this IServiceCollection s)
    {
        s.AddSingleton<SubsidyService>();
        s.AddSingleton<IPaymentSubsidies>(sp => sp.GetRequiredService<SubsidyService>()); // Payments' contract
        return s;
    }

    public static HubRoutes MapSubsidies(this HubRoutes routes)
    {
        SubsidyEndpoints.Map(routes.Api, routes.Admin);
        return routes;
    }
}
