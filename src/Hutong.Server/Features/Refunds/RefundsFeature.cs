using Hutong.Server.Features.Payments;
using Hutong.Server.Http;

namespace Hutong.Server.Features.Refunds;

/// <summary>Refunds, merchants' and the hub's own (captures a payment must not keep), followed to a final state. HubApp composes the hub from these calls.</summary>
public static class RefundsFeature
{
    public static IServiceCollection AddRefunds(this IServiceCollection s)
    {
        s.AddSingleton<RefundStore>();
        s.AddSingleton<RefundService>();
        s.AddSingleton<ISystemRefunds, SystemRefunds>(); // Payments' contract
        return s;
    }

    public static HubRoutes MapRefunds(this HubRoutes routes)
    {
        RefundEndpoints.Map(routes.Api);
        return routes;
    }
}
