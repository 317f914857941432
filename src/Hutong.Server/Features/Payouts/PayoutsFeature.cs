using Hutong.Server.Http;

namespace Hutong.Server.Features.Payouts;

/// <summary>Payouts from merchants' balances to payees' wallet accounts (PayoutJob is registered with the other jobs, in HubServices). HubApp composes the hub from these calls.</summary>
public static class PayoutsFeature
{
    public static IServiceCollection AddPayouts(this IServiceCollection s)
    {
        s.AddSingleton<PayoutStore>();
        s.AddSingleton<PayoutService>();
        return s;
    }

    public static HubRoutes MapPayouts(this HubRoutes routes)
    {
        PayoutEndpoints.Map(routes.Api);
        return routes;
    }
}
