using System.Globalization;

namespace Hutong.Domain.Payments;

/// <summary>What the decider needs of the payment, as read under its lock.</summary>
public sealed record PaymentFacts(PaymentStatus Status, long Amount, string Currency, string? CurrentAttemptId);

/// <summary>What the decider needs of the attempt (the wallet order), as read under the payment's lock.</summary>
/// <param name="ErrorCode">A mismatch already recorded on the attempt (so its alert is raised once).</param>
/// <param name="FriendLinkRevoked">The attempt came through a friend-pay link the buyer has since withdrawn.</param>
public sealed record AttemptFacts(string Id, AttemptStatus Status, string? ErrorCode = null, bool FriendLinkRevoked = false);

/// <summary>What a wallet says about one order (a verified notification, a query, reconciliation).</summary>
public abstract record WalletResult
{
    private WalletResult()
    {
    }

    /// <summary>Money taken. <see cref="Amount"/> and <see cref="Currency"/> are the wallet's, to be checked against the payment's.</summary>
    /// <see cref="Amounts"/> is how the wallet says the order was funded (buyer, coupons), when it says.
    public sealed record Paid(long? Amount, string? Currency, string? PayerId = null, string? TransactionId = null, DateTimeOffset? PaidAt = null, WalletAmountReport? Amounts = null) : WalletResult;

    /// <summary>The buyer's payment failed at the wallet.</summary>
    public sealed record PaymentFailed(string RawStatus) : WalletResult;

    /// <summary>The order was closed without payment.</summary>
    public sealed record Closed(string RawStatus) : WalletResult;

    /// <summary>The order exists and is not paid (yet): unpaid, or the buyer is paying.</summary>
    public sealed record NotPaidYet(string RawStatus) : WalletResult;

    /// <summary>The wallet has no such order.</summary>
    public sealed record NotFound : WalletResult;

    /// <summary>A status nobody here understands.</summary>
    public sealed record Unknown(string RawStatus) : WalletResult;
}

/// <summary>How the wallet answered a create-order call (first, failed over, or re-sent).</summary>
public abstract record CreateOutcome
{
    private CreateOutcome()
    {
    }

    public sealed record Accepted(string? CodeUrl) : CreateOutcome;

    public sealed record Rejected(string Code, string Message) : CreateOutcome;

    public sealed record Unanswered : CreateOutcome;
}

public enum MismatchKind
{
    Amount,
    Currency,

    /// <summary>The order amount matches but the wallet's account of buyer and coupons does not add up (<see cref="WalletDiscounts.Derive"/>).</summary>
    Discounts,
}

/// <summary>Why nothing (or less than asked) changes. Each one is logged; <see cref="IgnoreReasons.SignalsMoneyTrouble"/> ones are counted.</summary>
public enum IgnoreReason
{
    /// <summary>The success was already applied (duplicate notification, concurrent re-query).</summary>
    DuplicateSuccess,

    /// <summary>Out of order: the wallet says closed, unpaid, unknown to it or failed for an order it had already said was paid.</summary>
    ContradictsSuccess,

    /// <summary>The order is unpaid (or being paid): nothing to do until the wallet says more.</summary>
    NotPaidYet,

    /// <summary>The order was closed at the wallet without payment; the close path records it.</summary>
    OrderClosed,

    /// <summary>The wallet does not know the order.</summary>
    OrderNotFound,

    /// <summary>The wallet gave a status nobody here understands (the connector alerts on it).</summary>
    UnrecognisedStatus,

    /// <summary>The news is about an attempt the payment has moved on from (failover, switch, withdrawn link).</summary>
    AttemptNotCurrent,

    /// <summary>The payment's state table does not allow the move (it is settled, closed, or already there).</summary>
    PaymentCannotMove,

    /// <summary>The attempt's state table does not allow the move (something else settled it meanwhile).</summary>
    AttemptCannotMove,

    /// <summary>The same mismatch was already recorded and alerted.</summary>
    MismatchAlreadyRecorded,

    /// <summary>Expiry was asked of a payment whose time has not come.</summary>
    NotExpiredYet,
}

public static class IgnoreReasons
{
    /// <summary>Whether ignoring this means money may be wrong somewhere (counted and alerted on), rather than plain news.</summary>
    public static bool SignalsMoneyTrouble(this IgnoreReason r) => r is IgnoreReason.ContradictsSuccess;
}

/// <summary>What a wallet's answer means for a payment and its attempt.</summary>
public abstract record WalletDecision
{
    private WalletDecision()
    {
    }

    /// <summary>
    /// The attempt moves per its table and, when <see cref="PaymentEvent"/> is set, the payment per its table.
    /// <see cref="PaymentStays"/> says why the payment does not move when one might expect it to.
    /// </summary>
    public sealed record Transition(AttemptEvent AttemptEvent, AttemptStatus AttemptTo, PaymentEvent? PaymentEvent, IgnoreReason? PaymentStays = null) : WalletDecision;

    /// <summary>A second attempt of an already-paid payment was paid too: record it and refund it in full.</summary>
    public sealed record DoubleCapture : WalletDecision
    {
        public const string RefundReason = "duplicate_payment";
    }

    /// <summary>The order was paid after the payment was closed (or its friend-pay link withdrawn): record it and refund it.</summary>
    public sealed record LateSuccess(string RefundReason) : WalletDecision;

    /// <summary>Paid with another amount or currency than the payment's: never succeed; record it on the attempt and alert.</summary>
    public sealed record Mismatch(MismatchKind Kind, string Detail) : WalletDecision
    {
        public string ErrorCode => Kind switch
        {
            MismatchKind.Amount => AmountMismatchCode,
            MismatchKind.Currency => CurrencyMismatchCode,
            _ => DiscountMismatchCode,
        };
    }

    /// <summary>Nothing changes, for <see cref="Reason"/>.</summary>
    public sealed record Ignore(IgnoreReason Reason, string Detail) : WalletDecision;

    /// <summary>The attempt's error_code once its wallet reported it paid with another amount than the payment's.</summary>
    public const string AmountMismatchCode = "amount_mismatch";

    public const string CurrencyMismatchCode = "currency_mismatch";

    /// <summary>The attempt's error_code once its wallet reported coupons and a buyer's part that do not make the amount.</summary>
    public const string DiscountMismatchCode = "discount_mismatch";
}

/// <summary>What to do next with an attempt whose create call went unanswered, given what a query says.</summary>
public enum RecheckStep
{
    /// <summary>Paid or failed: apply it like any wallet result.</summary>
    ApplyResult,

    /// <summary>Closed before it was ever opened: the create failed.</summary>
    CreateRejected,

    /// <summary>Unpaid (we need its code_url back) or never arrived: re-send the very same order.</summary>
    Resend,

    /// <summary>No usable answer: check again on the schedule.</summary>
    CheckAgain,
}

/// <summary>
/// Pure rules for what the wallet's news means for a payment. No I/O: the caller loads the facts under the payment's
/// lock, asks here, and persists the answer with a conditional update on what it read.
/// </summary>
public static class WalletOutcomeDecider
{
    /// <summary>A notification, query or reconciliation result for one attempt of the payment.</summary>
    public static WalletDecision Decide(PaymentFacts payment, AttemptFacts attempt, WalletResult result)
    {
        var paidBefore = attempt.Status == AttemptStatus.Succeeded;
        switch (result)
        {
            case WalletResult.Paid when paidBefore:
                return Ignore(IgnoreReason.DuplicateSuccess, "the attempt's success was already applied");
            case WalletResult.Paid paid:
                return DecidePaid(payment, attempt, paid);
            case not WalletResult.Paid when paidBefore:
                return Ignore(IgnoreReason.ContradictsSuccess, $"the wallet now says {Describe(result)} for an order it said was paid");
            case WalletResult.PaymentFailed failed:
                return DecideFailed(payment, attempt, failed);
            case WalletResult.Closed c:
                return Ignore(IgnoreReason.OrderClosed, $"the order is closed at the wallet ({c.RawStatus})");
            case WalletResult.NotPaidYet n:
                return Ignore(IgnoreReason.NotPaidYet, $"the order is not paid yet ({n.RawStatus})");
            case WalletResult.NotFound:
                return Ignore(IgnoreReason.OrderNotFound, "the wallet does not know the order");
            default:
                return Ignore(IgnoreReason.UnrecognisedStatus, $"the wallet says {Describe(result)}");
        }
    }

    /// <summary>The answer to a create-order call for the attempt.</summary>
    public static WalletDecision Decide(PaymentFacts payment, AttemptFacts attempt, CreateOutcome outcome)
    {
        var isCurrent = payment.CurrentAttemptId == attempt.Id;
        var (attemptEvent, paymentEvent) = outcome switch
        {
            CreateOutcome.Accepted => (AttemptEvent.WalletAccepted, PaymentEvent.WalletStillUnpaid),
            CreateOutcome.Rejected => (AttemptEvent.WalletRejected, PaymentEvent.WalletFailed),
            _ => (AttemptEvent.WalletTimedOut, PaymentEvent.WalletTimedOut),
        };
        if (AttemptStates.Machine.Apply(attempt.Status, attemptEvent) is not { IsLegal: true, To: var attemptTo })
        {
            return Ignore(IgnoreReason.AttemptCannotMove, $"a {attempt.Status.ToWire()} attempt cannot take {attemptEvent}");
        }

        if (!isCurrent)
        {
            return new WalletDecision.Transition(attemptEvent, attemptTo, null, IgnoreReason.AttemptNotCurrent);
        }

        // An open order only un-sticks an UNKNOWN payment; a pending one already shows it.
        if (outcome is CreateOutcome.Accepted && payment.Status != PaymentStatus.Unknown)
        {
            return new WalletDecision.Transition(attemptEvent, attemptTo, null);
        }

        return PaymentStates.Machine.CanApply(payment.Status, paymentEvent)
            ? new WalletDecision.Transition(attemptEvent, attemptTo, paymentEvent)
            : new WalletDecision.Transition(attemptEvent, attemptTo, null, IgnoreReason.PaymentCannotMove);
    }

    /// <summary>What a re-query of an unanswered create means.</summary>
    public static RecheckStep Recheck(WalletResult? result) => result switch
    {
        WalletResult.Paid or WalletResult.PaymentFailed => RecheckStep.ApplyResult,
        WalletResult.Closed => RecheckStep.CreateRejected,
        WalletResult.NotPaidYet or WalletResult.NotFound => RecheckStep.Resend,
        _ => RecheckStep.CheckAgain,
    };

    /// <summary>Whether the expiry job may expire the payment now, and if not, why.</summary>
    public static IgnoreReason? Expire(PaymentStatus status, long expiresAt, long now) =>
        !PaymentStates.Machine.CanApply(status, PaymentEvent.Expire) ? IgnoreReason.PaymentCannotMove
        : expiresAt > now ? IgnoreReason.NotExpiredYet
        : null;

    private static WalletDecision DecidePaid(PaymentFacts payment, AttemptFacts attempt, WalletResult.Paid paid)
    {
        if (paid.Amount != payment.Amount || (paid.Currency is not null && paid.Currency != payment.Currency))
        {
            // Never mark paid on a mismatched amount; this needs a human (and reconciliation will flag it). The attempt
            // records it, so the alert is raised once however often a re-query or the wallet repeats it.
            var kind = paid.Amount == payment.Amount ? MismatchKind.Currency : MismatchKind.Amount;
            var mismatch = new WalletDecision.Mismatch(kind,
                $"wallet reports {paid.Amount?.ToString(CultureInfo.InvariantCulture) ?? "no amount"} {paid.Currency}, payment is {payment.Amount} {payment.Currency}");
            return attempt.ErrorCode == mismatch.ErrorCode
                ? Ignore(IgnoreReason.MismatchAlreadyRecorded, mismatch.Detail)
                : mismatch;
        }

        if (paid.Amounts is { } report && WalletDiscounts.Derive(payment.Amount, report).Problem is { } problem)
        {
            // Coupons that do not add up are never booked: the payment stays as it is for a person to reconcile with the wallet.
            var mismatch = new WalletDecision.Mismatch(MismatchKind.Discounts, problem.Detail);
            return attempt.ErrorCode == mismatch.ErrorCode
                ? Ignore(IgnoreReason.MismatchAlreadyRecorded, mismatch.Detail)
                : mismatch;
        }

        if (AttemptStates.Machine.Apply(attempt.Status, AttemptEvent.WalletPaid) is not { IsLegal: true, To: var attemptTo })
        {
            return Ignore(IgnoreReason.AttemptCannotMove, $"a {attempt.Status.ToWire()} attempt cannot be paid");
        }

        if (payment.Status == PaymentStatus.Succeeded)
        {
            // Two attempts of one payment both paid (two friends raced on a wallet whose order cannot be closed): the
            // payment keeps the first, and the second is refunded in full. The payment's own attempt only catches up.
            return payment.CurrentAttemptId != attempt.Id
                ? new WalletDecision.DoubleCapture()
                : new WalletDecision.Transition(AttemptEvent.WalletPaid, attemptTo, null, IgnoreReason.PaymentCannotMove);
        }

        // Paid after the payment was canceled or expired, or through a friend-pay link the buyer had withdrawn (its order
        // was closed, or — UnionPay — could not be): the payment is not theirs to settle, so the money goes back.
        if (attempt.FriendLinkRevoked)
        {
            return new WalletDecision.LateSuccess("friend_pay_link_revoked");
        }

        return PaymentStates.Machine.CanApply(payment.Status, PaymentEvent.WalletSucceeded)
            ? new WalletDecision.Transition(AttemptEvent.WalletPaid, attemptTo, PaymentEvent.WalletSucceeded)
            : new WalletDecision.LateSuccess("payment_" + payment.Status.ToWire());
    }

    private static WalletDecision DecideFailed(PaymentFacts payment, AttemptFacts attempt, WalletResult.PaymentFailed failed)
    {
        if (payment.CurrentAttemptId != attempt.Id)
        {
            return Ignore(IgnoreReason.AttemptNotCurrent, $"failure ({failed.RawStatus}) of an attempt the payment has moved on from");
        }

        if (!PaymentStates.Machine.CanApply(payment.Status, PaymentEvent.WalletFailed))
        {
            return Ignore(IgnoreReason.PaymentCannotMove, $"a {payment.Status.ToWire()} payment cannot fail ({failed.RawStatus})");
        }

        return AttemptStates.Machine.Apply(attempt.Status, AttemptEvent.WalletPaymentFailed) is { IsLegal: true, To: var attemptTo }
            ? new WalletDecision.Transition(AttemptEvent.WalletPaymentFailed, attemptTo, PaymentEvent.WalletFailed)
            : Ignore(IgnoreReason.AttemptCannotMove, $"a {attempt.Status.ToWire()} attempt cannot fail ({failed.RawStatus})");
    }

    private static WalletDecision.Ignore Ignore(IgnoreReason reason, string detail) => new(reason, detail);

    private static string Describe(WalletResult r) => r switch
    {
        WalletResult.PaymentFailed f => $"failed ({f.RawStatus})",
        WalletResult.Closed c => $"closed ({c.RawStatus})",
        WalletResult.NotPaidYet n => $"not paid ({n.RawStatus})",
        WalletResult.NotFound => "not found",
        WalletResult.Unknown u => $"unrecognised status {u.RawStatus}",
        _ => r.GetType().Name,
    };
}
