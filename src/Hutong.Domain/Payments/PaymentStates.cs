namespace Hutong.Domain.Payments;

/// <summary>
/// The one place that says which moves a payment may make. Anything not in <see cref="Machine"/>'s table
/// is illegal and yields an error — never a silent no-op.
/// </summary>
public static class PaymentStates
{
    /// <summary>(from, event) → to. Read top to bottom as the payment's life.</summary>
    public static readonly StateMachine<PaymentStatus, PaymentEvent> Machine = StateMachine.OfEvents("payment",
        new Dictionary<(PaymentStatus, PaymentEvent), PaymentStatus>
        {
            [(PaymentStatus.Created, PaymentEvent.AttemptStarted)] = PaymentStatus.Pending,
            [(PaymentStatus.Created, PaymentEvent.Cancel)] = PaymentStatus.Canceled,
            [(PaymentStatus.Created, PaymentEvent.Expire)] = PaymentStatus.Expired,

            [(PaymentStatus.Pending, PaymentEvent.WalletSucceeded)] = PaymentStatus.Succeeded,
            [(PaymentStatus.Pending, PaymentEvent.WalletFailed)] = PaymentStatus.Failed,
            [(PaymentStatus.Pending, PaymentEvent.WalletTimedOut)] = PaymentStatus.Unknown,
            [(PaymentStatus.Pending, PaymentEvent.Cancel)] = PaymentStatus.Canceled,
            [(PaymentStatus.Pending, PaymentEvent.Expire)] = PaymentStatus.Expired,

            // UNKNOWN is left only by what the wallet says on re-query; it cannot be canceled
            // or expired blind, because the buyer may already have paid.
            [(PaymentStatus.Unknown, PaymentEvent.WalletSucceeded)] = PaymentStatus.Succeeded,
            [(PaymentStatus.Unknown, PaymentEvent.WalletFailed)] = PaymentStatus.Failed,
            [(PaymentStatus.Unknown, PaymentEvent.WalletStillUnpaid)] = PaymentStatus.Pending,

            // A failed attempt can be retried (new attempt, new out_trade_no) until expiry. An earlier attempt whose
            // order could not be closed (UnionPay) may still be paid meanwhile: the payment is then paid.
            [(PaymentStatus.Failed, PaymentEvent.AttemptStarted)] = PaymentStatus.Pending,
            [(PaymentStatus.Failed, PaymentEvent.WalletSucceeded)] = PaymentStatus.Succeeded,
            [(PaymentStatus.Failed, PaymentEvent.Cancel)] = PaymentStatus.Canceled,
            [(PaymentStatus.Failed, PaymentEvent.Expire)] = PaymentStatus.Expired,
        });
}
