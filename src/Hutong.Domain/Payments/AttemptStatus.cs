namespace Hutong.Domain.Payments;

/// <summary>
/// Where one wallet order (an attempt of a payment) is. Exactly the values of payment_attempts.status's CHECK constraint;
/// mapped to and from those strings only where the row is read and written.
/// </summary>
public enum AttemptStatus
{
    /// <summary>Committed before the wallet is called; the create call is on its way (or the hub stopped mid-call).</summary>
    Requested,

    /// <summary>The wallet took the order and gave a code_url: the buyer may pay it.</summary>
    Open,

    /// <summary>The create call went unanswered: re-queried on the unknown schedule.</summary>
    Unknown,

    /// <summary>The wallet confirmed the money was taken. Terminal.</summary>
    Succeeded,

    /// <summary>The wallet refused the order, or reported the payment failed.</summary>
    Failed,

    /// <summary>The wallet order was closed (cancel, expiry, switch, stray) and can no longer take money.</summary>
    Closed,

    /// <summary>Still unknown when the re-query schedule ran out: a human looks at it.</summary>
    Stuck,
}

/// <summary>Everything that can happen to an attempt.</summary>
public enum AttemptEvent
{
    /// <summary>The create call (first or re-sent) was answered with an open order.</summary>
    WalletAccepted,

    /// <summary>The create call was refused, or a re-query found the never-opened order closed.</summary>
    WalletRejected,

    /// <summary>The create call (first or re-sent) went unanswered.</summary>
    WalletTimedOut,

    /// <summary>The wallet says the order is paid (notification, query, reconciliation).</summary>
    WalletPaid,

    /// <summary>The wallet says the buyer's payment failed.</summary>
    WalletPaymentFailed,

    /// <summary>The wallet closed the order at our request.</summary>
    Closed,

    /// <summary>The re-query schedule ran out with the outcome still unknown.</summary>
    GaveUp,
}

public static class AttemptStatusNames
{
    public static string ToWire(this AttemptStatus s) => WireName<AttemptStatus>.Of(s);

    public static AttemptStatus FromWire(string s) => WireName<AttemptStatus>.Parse(s, "attempt status");
}
