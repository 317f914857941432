namespace Hutong.Domain.Splits;

/// <summary>Where a split order is. Stored as the strings of the splits.status CHECK constraint (see <see cref="SplitStates"/>).</summary>
public enum SplitOrderState
{
    /// <summary>A payment's own rules, waiting for the wallet's delay; planned into amounts when due.</summary>
    Scheduled,

    /// <summary>Planned, not yet accepted by the wallet (receivers may still be being bound).</summary>
    Pending,

    /// <summary>The wallet accepted it and is paying receivers.</summary>
    Processing,

    /// <summary>Sent, no answer: re-queried (out_order_no makes a re-send the same split).</summary>
    Unknown,

    /// <summary>The wallet paid at least one receiver. Final.</summary>
    Succeeded,

    /// <summary>Refused, or no receiver paid. Final.</summary>
    Failed,
}

/// <summary>Where a receiver's return of its share is. Stored as the strings of the split_returns.status CHECK constraint.</summary>
public enum SplitReturnState
{
    /// <summary>Planned with a refund; the refund's outcome decides what happens.</summary>
    AwaitingRefund,

    /// <summary>The refund succeeded; the return order is due at the wallet.</summary>
    Pending,

    /// <summary>Sent, not final (processing or no answer): re-queried.</summary>
    Unknown,

    /// <summary>Returned (or, for a clawback, recorded as owed). Final.</summary>
    Succeeded,

    /// <summary>The wallet refused the return. Final; a person must look.</summary>
    Failed,

    /// <summary>The refund failed, so nothing comes back. Final.</summary>
    Canceled,
}

public static class SplitStates
{
    /// <summary>Every move a split order may make. A split whose wallet cannot split fails from any open state.</summary>
    public static readonly StateMachine<SplitOrderState, SplitOrderState> Order = StateMachine.OfMoves<SplitOrderState>("split",
    [
        (SplitOrderState.Scheduled, SplitOrderState.Scheduled), // too early still: looked at again later
        (SplitOrderState.Scheduled, SplitOrderState.Pending),
        (SplitOrderState.Scheduled, SplitOrderState.Failed),

        (SplitOrderState.Pending, SplitOrderState.Pending), // a receiver could not be bound yet: not sent
        (SplitOrderState.Pending, SplitOrderState.Processing),
        (SplitOrderState.Pending, SplitOrderState.Unknown),
        (SplitOrderState.Pending, SplitOrderState.Succeeded),
        (SplitOrderState.Pending, SplitOrderState.Failed),

        (SplitOrderState.Processing, SplitOrderState.Processing), // accepted once: no answer later does not make it unknown
        (SplitOrderState.Processing, SplitOrderState.Succeeded),
        (SplitOrderState.Processing, SplitOrderState.Failed),

        (SplitOrderState.Unknown, SplitOrderState.Processing),
        (SplitOrderState.Unknown, SplitOrderState.Unknown),
        (SplitOrderState.Unknown, SplitOrderState.Succeeded),
        (SplitOrderState.Unknown, SplitOrderState.Failed),
    ]);

    /// <summary>Every move a split return may make.</summary>
    public static readonly StateMachine<SplitReturnState, SplitReturnState> Return = StateMachine.OfMoves<SplitReturnState>("split return",
    [
        (SplitReturnState.AwaitingRefund, SplitReturnState.Pending), // refund succeeded: a return order is due
        (SplitReturnState.AwaitingRefund, SplitReturnState.Succeeded), // refund succeeded: returned with it, or a clawback recorded
        (SplitReturnState.AwaitingRefund, SplitReturnState.Canceled), // refund failed

        (SplitReturnState.Pending, SplitReturnState.Unknown),
        (SplitReturnState.Pending, SplitReturnState.Succeeded),
        (SplitReturnState.Pending, SplitReturnState.Failed),

        (SplitReturnState.Unknown, SplitReturnState.Unknown),
        (SplitReturnState.Unknown, SplitReturnState.Succeeded),
        (SplitReturnState.Unknown, SplitReturnState.Failed),
    ]);

    public static string ToWire(this SplitOrderState s) => WireName<SplitOrderState>.Of(s);

    public static SplitOrderState SplitFromWire(string s) => WireName<SplitOrderState>.Parse(s, "split status");

    public static string ToWire(this SplitReturnState s) => WireName<SplitReturnState>.Of(s);

    public static SplitReturnState ReturnFromWire(string s) => WireName<SplitReturnState>.Parse(s, "split return status");
}
