namespace Hutong.Domain.Payments;

/// <summary>Where a payment is in its life. Stored and shown as snake_case strings.</summary>
public enum PaymentStatus
{
    /// <summary>Created by the merchant; no wallet has been asked yet.</summary>
    Created,

    /// <summary>An attempt exists at a wallet (QR shown, buyer may pay).</summary>
    Pending,

    /// <summary>The wallet did not answer (timeout, connection loss). Resolved only by re-query.</summary>
    Unknown,

    /// <summary>The wallet confirmed the money was taken. Terminal.</summary>
    Succeeded,

    /// <summary>The last attempt failed at the wallet; the buyer may try again until expiry.</summary>
    Failed,

    /// <summary>Canceled by the merchant; any wallet order was closed first. Terminal.</summary>
    Canceled,

    /// <summary>Expired unpaid; any wallet order was closed first. Terminal.</summary>
    Expired,
}

/// <summary>Everything that can happen to a payment.</summary>
public enum PaymentEvent
{
    /// <summary>An attempt is started at a wallet.</summary>
    AttemptStarted,

    /// <summary>The wallet confirmed payment (notification or query).</summary>
    WalletSucceeded,

    /// <summary>The wallet reported a definite failure (PAYERROR, order rejected).</summary>
    WalletFailed,

    /// <summary>The wallet did not answer in time.</summary>
    WalletTimedOut,

    /// <summary>A re-query proved the wallet order exists and is still unpaid.</summary>
    WalletStillUnpaid,

    /// <summary>The merchant cancels.</summary>
    Cancel,

    /// <summary>The expiry time passed.</summary>
    Expire,
}

public static class PaymentStatusNames
{
    public static string ToWire(this PaymentStatus s) => WireName<PaymentStatus>.Of(s);

    public static PaymentStatus FromWire(string s) => WireName<PaymentStatus>.Parse(s, "payment status");

    /// <summary>Succeeded, canceled or expired: no event leaves it.</summary>
    public static bool IsTerminal(this PaymentStatus s) => PaymentStates.Machine.IsFinal(s);
}
