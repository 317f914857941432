namespace Hutong.Domain.Disputes;

/// <summary>Where a dispute (a buyer's complaint at the wallet about a payment) is. Stored as the strings of the disputes.status CHECK constraint.</summary>
public enum DisputeState
{
    /// <summary>The buyer complained (or wrote again) and the merchant has not answered: the response window runs (WeChat PENDING).</summary>
    NeedsResponse,

    /// <summary>The merchant answered; the wallet and buyer are on it (WeChat PROCESSING).</summary>
    UnderReview,

    /// <summary>Handled (WeChat PROCESSED). A buyer may still complain again, which reopens it.</summary>
    Closed,
}

public static class DisputeStates
{
    /// <summary>
    /// Every move a dispute may make, moved by the state the wallet's complaint now names. Staying is a move (the wallet
    /// changed something else: a message, the refund flag). A closed dispute reopens when the buyer complains again
    /// (WeChat CONTINUE_COMPLAINT / USER_RESPONSE), so no state is final.
    /// </summary>
    public static readonly StateMachine<DisputeState, DisputeState> Machine = StateMachine.OfMoves<DisputeState>("dispute",
    [
        (DisputeState.NeedsResponse, DisputeState.NeedsResponse),
        (DisputeState.NeedsResponse, DisputeState.UnderReview),
        (DisputeState.NeedsResponse, DisputeState.Closed),

        (DisputeState.UnderReview, DisputeState.UnderReview),
        (DisputeState.UnderReview, DisputeState.NeedsResponse),
        (DisputeState.UnderReview, DisputeState.Closed),

        (DisputeState.Closed, DisputeState.Closed),
        (DisputeState.Closed, DisputeState.NeedsResponse),
        (DisputeState.Closed, DisputeState.UnderReview),
    ]);

    public static string ToWire(this DisputeState s) => WireName<DisputeState>.Of(s);

    public static DisputeState FromWire(string s) => WireName<DisputeState>.Parse(s, "dispute status");
}
