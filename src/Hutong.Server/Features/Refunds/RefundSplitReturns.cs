using System.Data.Common;
using Hutong.Connectors.Abstractions;
using Hutong.Server.Features.Payments;

namespace Hutong.Server.Features.Refunds;

/// <summary>
/// What a refund needs from the feature above Refunds that split the payment (ProfitSharing): which receivers give back
/// how much, the returns to send with a refund, and settling them when the refund ends. Refunds owns this contract so
/// it never names that feature; the calls with a transaction run inside the refund's own.
/// </summary>
public interface IRefundSplitReturns
{
    Task PlanReturnsAsync(DbConnection c, DbTransaction t, PaymentRow payment, RefundRow refund, long refundedBefore, DateTimeOffset now, CancellationToken ct);

    Task<IReadOnlyList<RoyaltyReturn>> RoyaltyReturnsAsync(string refundId, CancellationToken ct);

    Task SettleReturnsAsync(DbConnection c, DbTransaction t, RefundRow refund, bool succeeded, string wallet, DateTimeOffset now);
}

/// <summary>Refunds' side of <see cref="ISystemRefunds"/>: a system refund is a refund row like any other.</summary>
internal sealed class SystemRefunds(RefundStore refunds) : ISystemRefunds
{
    public Task AddSystemRefundAsync(DbConnection c, DbTransaction t, PaymentRow payment, AttemptRow attempt, string reason, DateTimeOffset now) =>
        refunds.AddSystemRefundAsync(c, t, payment, attempt, reason, now);
}
