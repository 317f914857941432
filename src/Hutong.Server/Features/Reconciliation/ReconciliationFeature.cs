using Hutong.Server.Http;

namespace Hutong.Server.Features.Reconciliation;

/// <summary>Reconciliation against the wallets' bills, and its reports (its daily schedule is a background job). HubApp composes the hub from these calls.</summary>
public static class ReconciliationFeature
{
    public static IServiceCollection AddReconciliation(this IServiceCollection s)
    {
        s.AddSingleton<ReconciliationService>();
        return s;
    }

    public static HubRoutes MapReconciliation(this HubRoutes routes)
    {
        ReconciliationEndpoints.Map(routes.Admin);
        return routes;
    }
}
