using System.Data.Common;

namespace Hutong.Server.Features.Payments;

/// <summary>
/// The payment's split rules, as the feature above Payments that splits money (ProfitSharing) checks and queues them.
/// Payments owns this contract so it never names that feature: the dependency points down, and the queueing still
/// runs inside the transaction that records the success, so it commits or rolls back with it.
/// </summary>
public interface IPaymentSplits
{
    /// <summary>Field errors for the rules of a new payment of <paramref name="amount"/> (empty when they are valid).</summary>
    Task<Dictionary<string, string[]>> ValidateRulesAsync(string merchantId, long amount, IReadOnlyList<SplitRuleRequest> rules, CancellationToken ct);

    /// <summary>Queues the payment's rules in the caller's transaction (the one recording its success).</summary>
    Task ScheduleRulesAsync(DbConnection c, DbTransaction t, PaymentRow payment, string attemptId, DateTimeOffset now);
}

/// <summary>
/// Returns a capture the payment must not keep (a double capture, a late success), as the feature above Payments that
/// refunds (Refunds) records it — inside the caller's transaction, once per attempt.
/// </summary>
public interface ISystemRefunds
{
    Task AddSystemRefundAsync(DbConnection c, DbTransaction t, PaymentRow payment, AttemptRow attempt, string reason, DateTimeOffset now);
}
