using Hutong.Domain.FollowUps;

namespace Hutong.Domain.Refunds;

/// <summary>What one wallet answer does to a refund: its next follow-up, and whether it just became final.</summary>
/// <param name="Next">The refund's state after the answer (next check on the schedule while it is open).</param>
/// <param name="Settled">It just became succeeded or failed: the money (if it succeeded) and its refund.* event go with the change.</param>
public sealed record RefundDecision(FollowUp<RefundState> Next, bool Settled)
{
    public bool Succeeded => Settled && Next.Status == RefundState.Succeeded;
}

/// <summary>Why a payment's wallet would refuse one more refund of it.</summary>
public enum RefundRefusal
{
    /// <summary>The payment has as many refunds as its wallet takes for one order.</summary>
    LimitReached,

    /// <summary>The payment was made longer ago than its wallet refunds.</summary>
    WindowClosed,
}

public static class RefundDecisions
{
    /// <summary>
    /// Whether the payment's wallet takes one more refund of it, by the wallet's stated rules
    /// (<c>WalletCapabilities.MaxRefundsPerPayment</c> and <c>RefundWindow</c>; null: no stated rule). The hub refuses
    /// what the wallet would refuse, so the merchant hears it at once instead of from a failed refund later.
    /// </summary>
    /// <param name="refunds">The payment's refunds that count towards the wallet's limit (failed ones do not).</param>
    /// <param name="paidAt">When the payment succeeded; the window runs from then (WeChat Pay: "completed in the last 365 days").</param>
    /// <returns>Null when the wallet takes it.</returns>
    public static RefundRefusal? WalletRules(int refunds, int? maxRefunds, DateTimeOffset paidAt, TimeSpan? window, DateTimeOffset now)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(refunds);
        if (window is { } w && now >= paidAt + w)
        {
            return RefundRefusal.WindowClosed;
        }

        return refunds >= maxRefunds ? RefundRefusal.LimitReached : null;
    }

    /// <summary>
    /// The wallet's answer for an open refund. A final refund takes no answer: that is an
    /// <see cref="IllegalTransitionException"/>, never a second success (the caller read it open, so a final
    /// one here means another hub settled it first — the conditional update catches that case in the database too).
    /// </summary>
    public static RefundDecision Decide(FollowUp<RefundState> current, WalletAnswer answer, FollowUpSchedule schedule, DateTimeOffset now)
    {
        var to = answer switch
        {
            WalletAnswer.Succeeded => RefundState.Succeeded,
            WalletAnswer.Failed => RefundState.Failed,
            WalletAnswer.Processing => RefundState.Processing,
            WalletAnswer.NoAnswer => RefundState.Unknown,
            _ => throw new ArgumentOutOfRangeException(nameof(answer), answer, null),
        };
        RefundStates.Machine.Apply(current.Status, to).ToOrThrow();
        return RefundStates.Machine.IsFinal(to)
            ? new RefundDecision(current.Settle(to), Settled: true)
            : new RefundDecision(current.CheckLater(to, schedule, now).Next, Settled: false);
    }

    /// <summary>
    /// The wallet call an open refund takes next (<see cref="SendOnce"/>): a pending refund no hub claimed before is sent;
    /// one a hub claimed before (it may have died or stalled mid-call), or one the wallet already answered for, is queried
    /// first and sent again only when the wallet never got it. A final refund takes no call.
    /// </summary>
    /// <param name="sendStarted">The refund's sent_at was set when this hub read it: a hub claimed it to send before.</param>
    public static NextCall Call(RefundState state, bool sendStarted, WalletLookup lookup)
    {
        if (RefundStates.Machine.IsFinal(state))
        {
            throw new IllegalTransitionException($"A {state.ToWire()} refund takes no wallet call.");
        }

        return SendOnce.Next(sendStarted || state != RefundState.Pending, lookup);
    }

    /// <summary>
    /// The payment's amount_refunded once a merchant refund succeeded: never more than was captured (refunds are
    /// checked against the capture when created, so more here means a refund was counted twice — refused, not stored).
    /// </summary>
    public static long RefundedAfter(long captured, long refundedBefore, long refund)
    {
        if (captured <= 0 || refund <= 0 || refundedBefore < 0 || refund > captured - refundedBefore)
        {
            throw new InvalidOperationException(
                $"A refund of {refund} on top of {refundedBefore} already refunded would exceed the {captured} captured.");
        }

        return refundedBefore + refund;
    }
}
