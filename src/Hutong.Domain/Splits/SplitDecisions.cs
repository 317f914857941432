using Hutong.Domain.FollowUps;

namespace Hutong.Domain.Splits;

/// <summary>What a wallet said about a split order.</summary>
public enum SplitAnswer
{
    /// <summary>Every receiver has its final result (some may have failed).</summary>
    Finished,

    /// <summary>Refused: nothing was split.</summary>
    Rejected,

    /// <summary>Accepted, still paying receivers.</summary>
    Processing,

    /// <summary>Sent, no trustworthy answer.</summary>
    NoAnswer,

    /// <summary>Not sent: a receiver could not be bound at the wallet yet.</summary>
    NotSent,
}

/// <summary>A split's state after an answer; <paramref name="Settled"/>: it just became final (its split.* event goes with it).</summary>
public sealed record SplitDecision(FollowUp<SplitOrderState> Next, bool Settled);

/// <summary>A split return's state after an answer; <paramref name="Settled"/>: it just became final.</summary>
public sealed record SplitReturnDecision(FollowUp<SplitReturnState> Next, bool Settled);

public static class SplitDecisions
{
    /// <summary>
    /// A finished split succeeded when the wallet paid at least one receiver; one it did not send stays pending; one the
    /// wallet accepted once stays processing even if a later query goes unanswered. A final split takes no answer.
    /// </summary>
    public static SplitDecision Decide(FollowUp<SplitOrderState> current, SplitAnswer answer, bool anyReceiverPaid, FollowUpSchedule schedule, DateTimeOffset now)
    {
        var to = answer switch
        {
            SplitAnswer.Finished => anyReceiverPaid ? SplitOrderState.Succeeded : SplitOrderState.Failed,
            SplitAnswer.Rejected => SplitOrderState.Failed,
            SplitAnswer.Processing => SplitOrderState.Processing,
            SplitAnswer.NotSent => SplitOrderState.Pending,
            SplitAnswer.NoAnswer => current.Status == SplitOrderState.Processing ? SplitOrderState.Processing : SplitOrderState.Unknown,
            _ => throw new ArgumentOutOfRangeException(nameof(answer), answer, null),
        };
        SplitStates.Order.Apply(current.Status, to).ToOrThrow();
        return SplitStates.Order.IsFinal(to)
            ? new SplitDecision(current.Settle(to), Settled: true)
            : new SplitDecision(current.CheckLater(to, schedule, now).Next, Settled: false);
    }

    /// <summary>
    /// The wallet call a planned split takes next (<see cref="SendOnce"/>): sent only if no hub claimed it to send before
    /// and the wallet never answered for it; otherwise queried first, and sent again only when the wallet never got it.
    /// </summary>
    public static NextCall Call(SplitOrderState state, bool sendStarted, WalletLookup lookup) =>
        state is SplitOrderState.Pending or SplitOrderState.Processing or SplitOrderState.Unknown
            ? SendOnce.Next(sendStarted || state != SplitOrderState.Pending, lookup)
            : throw new IllegalTransitionException($"A {state.ToWire()} split takes no wallet call.");

    /// <summary>As <see cref="Call"/>, for a return order (pending: not yet sent; unknown: sent, no final answer).</summary>
    public static NextCall ReturnCall(SplitReturnState state, bool sendStarted, WalletLookup lookup) =>
        state is SplitReturnState.Pending or SplitReturnState.Unknown
            ? SendOnce.Next(sendStarted || state != SplitReturnState.Pending, lookup)
            : throw new IllegalTransitionException($"A {state.ToWire()} split return takes no wallet call.");

    /// <summary>The hub gives up on a split before (or instead of) the wallet: no receivers, wallet cannot split, payment refunded.</summary>
    public static SplitDecision Fail(FollowUp<SplitOrderState> current)
    {
        SplitStates.Order.Apply(current.Status, SplitOrderState.Failed).ToOrThrow();
        return new SplitDecision(current.Settle(SplitOrderState.Failed), Settled: true);
    }

    /// <summary>The wallet's answer for a return order that was sent (pending or unknown). Anything not final is re-queried.</summary>
    public static SplitReturnDecision DecideReturn(FollowUp<SplitReturnState> current, WalletAnswer answer, FollowUpSchedule schedule, DateTimeOffset now)
    {
        var to = answer switch
        {
            WalletAnswer.Succeeded => SplitReturnState.Succeeded,
            WalletAnswer.Failed => SplitReturnState.Failed,
            WalletAnswer.Processing or WalletAnswer.NoAnswer => SplitReturnState.Unknown,
            _ => throw new ArgumentOutOfRangeException(nameof(answer), answer, null),
        };
        SplitStates.Return.Apply(current.Status, to).ToOrThrow();
        return SplitStates.Return.IsFinal(to)
            ? new SplitReturnDecision(current.Settle(to), Settled: true)
            : new SplitReturnDecision(current.CheckLater(to, schedule, now).Next, Settled: false);
    }

    /// <summary>
    /// When the refund a return waited for is final: nothing comes back if it failed; a return order becomes due now;
    /// a share taken back with the refund, or clawed back, is done with it.
    /// </summary>
    public static SplitReturnDecision OnRefundSettled(FollowUp<SplitReturnState> current, bool refundSucceeded, bool byReturnOrder, DateTimeOffset now)
    {
        var to = !refundSucceeded ? SplitReturnState.Canceled : byReturnOrder ? SplitReturnState.Pending : SplitReturnState.Succeeded;
        SplitStates.Return.Apply(current.Status, to).ToOrThrow();
        return to == SplitReturnState.Pending
            ? new SplitReturnDecision(current with { Status = to, NextCheckAt = now }, Settled: false)
            : new SplitReturnDecision(current.Settle(to), Settled: true);
    }
}
