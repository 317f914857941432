using System.Data.Common;
using Hutong.Connectors.Abstractions;
using Hutong.Server.Features.Payments;
using Hutong.Server.Features.Refunds;

namespace Hutong.Server.Features.ProfitSharing;

/// <summary>ProfitSharing's side of the contracts Payments and Refunds own (they sit below it and never name it).</summary>
internal sealed class SplitContracts(SplitRuleService planning, SplitReturnService returns) : IPaymentSplits, IRefundSplitReturns
{
    public Task<Dictionary<string, string[]>> ValidateRulesAsync(string merchantId, long amount, IReadOnlyList<SplitRuleRequest> rules, CancellationToken ct) =>
        planning.ValidateRulesAsync(merchantId, amount, rules, ct);

    public Task ScheduleRulesAsync(DbConnection c, DbTransaction t, PaymentRow payment, string attemptId, DateTimeOffset now) =>
        planning.ScheduleRulesAsync(c, t, payment, attemptId, now);

    public Task PlanReturnsAsync(DbConnection c, DbTransaction t, PaymentRow payment, RefundRow refund, long refundedBefore, DateTimeOffset now, CancellationToken ct) =>
        returns.PlanReturnsAsync(c, t, payment, refund, refundedBefore, now, ct);

    public Task<IReadOnlyList<RoyaltyReturn>> RoyaltyReturnsAsync(string refundId, CancellationToken ct) => returns.RoyaltyReturnsAsync(refundId, ct);

    public Task SettleReturnsAsync(DbConnection c, DbTransaction t, RefundRow refund, bool succeeded, string wallet, DateTimeOffset now) =>
        returns.SettleReturnsAsync(c, t, refund, succeeded, wallet, now);
}
