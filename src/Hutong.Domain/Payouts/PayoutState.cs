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

    /// <summary>
    /// The wallet holds the transfer until the payee accepts it in the wallet's app (WeChat Pay WAIT_USER_CONFIRM: the
    /// merchant's app opens the confirmation page with package_info); the merchant may still cancel it.
    /// </summary>
    AwaitingConfirmation,

    /// <summary>The merchant asked to cancel an unconfirmed transfer and the wallet is withdrawing it (WeChat Pay CANCELING); queried.</summary>
    Canceling,

    /// <summary>Withdrawn at the merchant's request before the payee accepted it; the reservation went back. Final.</summary>
    Canceled,
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

        // The payee's confirmation step (WeChat Pay merchant transfer, user-confirmation mode).
        (PayoutState.Pending, PayoutState.AwaitingConfirmation),
        (PayoutState.Processing, PayoutState.AwaitingConfirmation),
        (PayoutState.Unknown, PayoutState.AwaitingConfirmation),
        (PayoutState.AwaitingConfirmation, PayoutState.AwaitingConfirmation),
        (PayoutState.AwaitingConfirmation, PayoutState.Processing),
        (PayoutState.AwaitingConfirmation, PayoutState.Unknown),
        (PayoutState.AwaitingConfirmation, PayoutState.Succeeded),
        (PayoutState.AwaitingConfirmation, PayoutState.Failed),
        (PayoutState.AwaitingConfirmation, PayoutState.Canceling),
        (PayoutState.AwaitingConfirmation, PayoutState.Canceled),
        (PayoutState.Processing, PayoutState.Canceling),
        (PayoutState.Processing, PayoutState.Canceled),
        (PayoutState.Unknown, PayoutState.Canceling),
        (PayoutState.Unknown, PayoutState.Canceled),
        (PayoutState.Canceling, PayoutState.Canceling),
        (PayoutState.Canceling, PayoutState.Unknown),
        (PayoutState.Canceling, PayoutState.Canceled),
        (PayoutState.Canceling, PayoutState.Succeeded),
        (PayoutState.Canceling, PayoutState.Failed),
    ]);

    public static string ToWire(this PayoutState s) => WireName<PayoutState>.Of(s);

    public static PayoutState FromWire(string s) => WireName<PayoutState>.Parse(s, "payout status");
}
