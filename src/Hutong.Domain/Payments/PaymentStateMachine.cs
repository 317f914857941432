using System.Collections.Frozen;

namespace Hutong.Domain.Payments;

/// <summary>
/// The one place that says which moves a payment may make. Anything not in <see cref="Transitions"/>
/// is illegal and yields an error — never a silent no-op.
/// </summary>
public static class PaymentStateMachine
{
    /// <summary>(from, event) → to. Read top to bottom as the payment's life.</summary>
    public static readonly FrozenDictionary<(PaymentStatus From, PaymentEvent Event), PaymentStatus> Transitions =
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
        }.ToFrozenDictionary();

    /// <summary>Every (from, to) the table allows, whatever the event.</summary>
    public static readonly FrozenSet<(PaymentStatus From, PaymentStatus To)> Moves =
        Transitions.Select(t => (t.Key.From, t.Value)).ToFrozenSet();

    public static bool CanApply(PaymentStatus from, PaymentEvent e) => Transitions.ContainsKey((from, e));

    public static bool CanMove(PaymentStatus from, PaymentStatus to) => Moves.Contains((from, to));

    public static TransitionResult Apply(PaymentStatus from, PaymentEvent e) =>
        Transitions.TryGetValue((from, e), out var to)
            ? TransitionResult.Ok(from, to)
            : TransitionResult.Illegal(from, e);
}

public readonly record struct TransitionResult(bool IsLegal, PaymentStatus From, PaymentStatus To, string? Error)
{
    public static TransitionResult Ok(PaymentStatus from, PaymentStatus to) => new(true, from, to, null);

    public static TransitionResult Illegal(PaymentStatus from, PaymentEvent e) =>
        new(false, from, from, $"A {from.ToWire()} payment cannot take the event {e}.");

    public PaymentStatus ToOrThrow() =>
        IsLegal ? To : throw new IllegalTransitionException(Error!);
}

public sealed class IllegalTransitionException(string message) : InvalidOperationException(message);
