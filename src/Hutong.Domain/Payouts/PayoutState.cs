namespace Hutong.Domain.Payouts;

/// <summary>Where a payout (money sent from the merchant's wallet balance to a payee) is. Stored as the strings of the payouts.status CHECK constraint.</summary>
public enum PayoutState
{
    /// <summary>Recorded and its amount reserved in the ledger; not yet sent to the wallet.</summary>
    Pending,

    /// <summary>The wallet accepted it and is moving the money (Alipay DEALING).</summary>
    Processing,

    /// <summary>The wallet did not answer; queried (never re-sent blind: out_biz_no makes a re-send the same transfer).</summary>
    Unknown,

    /// <summary>The payee has the money. Final.</summary>
    Succeeded,

    /// <summary>The wallet refused or gave up; the reservation went back to the merchant's balance. Final.</summary>
    Failed,
}

public static class PayoutStates
{
    /// <summary>Every move a payout may make; read top to bottom as its life. Moved by the state a wallet answer names.</summary>
    public static readonly StateMachine<PayoutState, PayoutState> Machine = StateMachine.OfMoves<PayoutState>("payout",
    [
        (PayoutState.Pending, PayoutState.Processing),
        (PayoutState.Pending, PayoutState.Unknown),
        (PayoutState.Pending, PayoutState.Succeeded),
        (PayoutState.Pending, PayoutState.Failed),

        (PayoutState.Processing, PayoutState.Processing),
        (PayoutState.Processing, PayoutState.Unknown),
        (PayoutState.Processing, PayoutState.Succeeded),
        (PayoutState.Processing, PayoutState.Failed),

        (PayoutState.Unknown, PayoutState.Processing),
        (PayoutState.Unknown, PayoutState.Unknown),
        (PayoutState.Unknown, PayoutState.Succeeded),
        (PayoutState.Unknown, PayoutState.Failed),
    ]);

    public static string ToWire(this PayoutState s) => WireName<PayoutState>.Of(s);

    public static PayoutState FromWire(string s) => WireName<PayoutState>.Parse(s, "payout status");
}
