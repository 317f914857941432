namespace Hutong.Domain.Payments;

/// <summary>
/// The one place that says which moves an attempt may make; anything not in <see cref="Machine"/>'s table is illegal.
/// What the wallet says it has been paid always wins over what the hub did to the order meanwhile (the money is real):
/// a failed, closed or stuck attempt can still succeed, and the payment decider decides what that success means.
/// </summary>
public static class AttemptStates
{
    /// <summary>(from, event) → to.</summary>
    public static readonly StateMachine<AttemptStatus, AttemptEvent> Machine = StateMachine.OfEvents("attempt",
        new Dictionary<(AttemptStatus, AttemptEvent), AttemptStatus>
        {
            [(AttemptStatus.Requested, AttemptEvent.WalletAccepted)] = AttemptStatus.Open,
            [(AttemptStatus.Requested, AttemptEvent.WalletRejected)] = AttemptStatus.Failed,
            [(AttemptStatus.Requested, AttemptEvent.WalletTimedOut)] = AttemptStatus.Unknown,
            [(AttemptStatus.Requested, AttemptEvent.WalletPaid)] = AttemptStatus.Succeeded,
            [(AttemptStatus.Requested, AttemptEvent.WalletPaymentFailed)] = AttemptStatus.Failed,
            [(AttemptStatus.Requested, AttemptEvent.Closed)] = AttemptStatus.Closed,
            [(AttemptStatus.Requested, AttemptEvent.GaveUp)] = AttemptStatus.Stuck, // orphaned mid-call and never found

            [(AttemptStatus.Open, AttemptEvent.WalletPaid)] = AttemptStatus.Succeeded,
            [(AttemptStatus.Open, AttemptEvent.WalletPaymentFailed)] = AttemptStatus.Failed,
            [(AttemptStatus.Open, AttemptEvent.Closed)] = AttemptStatus.Closed,

            // A re-sent create answers like the first one; unanswered again keeps it unknown (next check scheduled).
            [(AttemptStatus.Unknown, AttemptEvent.WalletAccepted)] = AttemptStatus.Open,
            [(AttemptStatus.Unknown, AttemptEvent.WalletRejected)] = AttemptStatus.Failed,
            [(AttemptStatus.Unknown, AttemptEvent.WalletTimedOut)] = AttemptStatus.Unknown,
            [(AttemptStatus.Unknown, AttemptEvent.WalletPaid)] = AttemptStatus.Succeeded,
            [(AttemptStatus.Unknown, AttemptEvent.WalletPaymentFailed)] = AttemptStatus.Failed,
            [(AttemptStatus.Unknown, AttemptEvent.Closed)] = AttemptStatus.Closed,
            [(AttemptStatus.Unknown, AttemptEvent.GaveUp)] = AttemptStatus.Stuck,

            // Money found on an order the hub had given up on: recorded, and the payment decider refunds it if needed.
            [(AttemptStatus.Failed, AttemptEvent.WalletPaid)] = AttemptStatus.Succeeded,
            [(AttemptStatus.Closed, AttemptEvent.WalletPaid)] = AttemptStatus.Succeeded,
            [(AttemptStatus.Stuck, AttemptEvent.WalletPaid)] = AttemptStatus.Succeeded,
            [(AttemptStatus.Stuck, AttemptEvent.WalletPaymentFailed)] = AttemptStatus.Failed,
        });

    /// <summary>Succeeded: the money is taken, and nothing leaves it.</summary>
    public static bool IsTerminal(this AttemptStatus s) => Machine.IsFinal(s);
}
