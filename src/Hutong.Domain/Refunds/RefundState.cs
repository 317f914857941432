namespace Hutong.Domain.Refunds;

/// <summary>Where a refund is. Stored as the strings of the refunds.status CHECK constraint (see <see cref="RefundStates"/>).</summary>
public enum RefundState
{
    /// <summary>Recorded, not yet sent to the wallet.</summary>
    Pending,

    /// <summary>The wallet accepted it and is returning the money.</summary>
    Processing,

    /// <summary>The wallet did not answer; re-queried (never re-created blind: out_refund_no makes a re-send the same refund).</summary>
    Unknown,

    /// <summary>The money went back. Final.</summary>
    Succeeded,

    /// <summary>The wallet refused or gave up. Final; a person must look.</summary>
    Failed,
}

public static class RefundStates
{
    /// <summary>Every move a refund may make; read top to bottom as its life.</summary>
    public static readonly StateMachine<RefundState, RefundState> Machine = StateMachine.OfMoves<RefundState>("refund",
    [
        (RefundState.Pending, RefundState.Processing),
        (RefundState.Pending, RefundState.Unknown),
        (RefundState.Pending, RefundState.Succeeded),
        (RefundState.Pending, RefundState.Failed),

        (RefundState.Processing, RefundState.Processing),
        (RefundState.Processing, RefundState.Unknown),
        (RefundState.Processing, RefundState.Succeeded),
        (RefundState.Processing, RefundState.Failed),

        (RefundState.Unknown, RefundState.Processing),
        (RefundState.Unknown, RefundState.Unknown),
        (RefundState.Unknown, RefundState.Succeeded),
        (RefundState.Unknown, RefundState.Failed),
    ]);

    public static string ToWire(this RefundState s) => WireName<RefundState>.Of(s);

    public static RefundState FromWire(string s) => WireName<RefundState>.Parse(s, "refund status");
}
