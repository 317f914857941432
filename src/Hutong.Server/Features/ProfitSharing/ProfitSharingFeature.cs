using Hutong.Server.Features.Payments;
using Hutong.Server.Features.Refunds;
using Hutong.Server.Http;

namespace Hutong.Server.Features.ProfitSharing;

/// <summary>Profit sharing: receivers, splits after payment, and what receivers give back on a refund. HubApp composes the hub from these calls.</summary>
public static class ProfitSharingFeature
{
    public static IServiceCollection AddProfitSharing(this IServiceCollection s)
    {
        s.AddSingleton<SplitStore>();
        s.AddSingleton<SplitReceiverService>();
        s.AddSingleton<SplitRuleService>();
        s.AddSingleton<SplitService>();
        s.AddSingleton<SplitFollowUpService>();
        s.AddSingleton<SplitReturnService>();
        s.AddSingleton<ClawbackService>();
        s.AddSingleton<SplitContracts>();
        s.AddSingleton<IPaymentSplits>(sp => sp.GetRequiredService<SplitContracts>()); // Payments' contract
        s.AddSingleton<IRefundSplitReturns>(sp => sp.GetRequiredService<SplitContracts>()); // Refunds' contract
        return s;
    }

    public static HubRoutes MapProfitSharing(this HubRoutes routes)
    {
        ProfitSharingEndpoints.Map(routes.Api);
        return routes;
    }
}
