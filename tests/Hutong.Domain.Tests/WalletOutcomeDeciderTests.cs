using Hutong.Domain.Payments;

namespace Hutong.Domain.Tests;

/// <summary>The money rules for what a wallet's answer means for a payment, without HTTP or a database.</summary>
public class WalletOutcomeDeciderTests
{
    private const string A1 = "att_1", A2 = "att_2";

    private static PaymentFacts Payment(PaymentStatus status, string? current = A1) => new(status, 1000, "CNY", current);

    private static AttemptFacts Attempt(AttemptStatus status, string id = A1, string? errorCode = null, bool revoked = false) =>
        new(id, status, errorCode, revoked);

    private static readonly WalletResult Paid = new WalletResult.Paid(1000, "CNY", "openid-1", "wx-1");

    private static WalletDecision Decide(PaymentStatus p, AttemptStatus a, WalletResult r, string attemptId = A1, string? current = A1) =>
        WalletOutcomeDecider.Decide(Payment(p, current), Attempt(a, attemptId), r);

    [Theory]
    [InlineData(PaymentStatus.Pending, AttemptStatus.Open)]
    [InlineData(PaymentStatus.Unknown, AttemptStatus.Unknown)]
    [InlineData(PaymentStatus.Pending, AttemptStatus.Requested)]
    [InlineData(PaymentStatus.Failed, AttemptStatus.Failed)] // an earlier order (UnionPay, not closable) paid after all
    public void A_matching_success_moves_attempt_and_payment_to_succeeded(PaymentStatus p, AttemptStatus a) =>
        Assert.Equal(new WalletDecision.Transition(AttemptEvent.WalletPaid, AttemptStatus.Succeeded, PaymentEvent.WalletSucceeded), Decide(p, a, Paid));

    [Fact]
    public void A_duplicate_success_is_ignored_with_its_reason_and_is_no_money_trouble()
    {
        var d = Assert.IsType<WalletDecision.Ignore>(Decide(PaymentStatus.Succeeded, AttemptStatus.Succeeded, Paid));
        Assert.Equal(IgnoreReason.DuplicateSuccess, d.Reason);
        Assert.False(d.Reason.SignalsMoneyTrouble());
    }

    [Theory]
    [InlineData(AttemptStatus.Open)]
    [InlineData(AttemptStatus.Closed)]
    [InlineData(AttemptStatus.Failed)]
    [InlineData(AttemptStatus.Unknown)]
    public void A_second_attempt_paid_on_a_paid_payment_is_a_double_capture(AttemptStatus second) =>
        Assert.IsType<WalletDecision.DoubleCapture>(Decide(PaymentStatus.Succeeded, second, Paid, attemptId: A2, current: A1));

    [Fact]
    public void The_payments_own_attempt_catching_up_only_moves_the_attempt() =>
        Assert.Equal(new WalletDecision.Transition(AttemptEvent.WalletPaid, AttemptStatus.Succeeded, null, IgnoreReason.PaymentCannotMove),
            Decide(PaymentStatus.Succeeded, AttemptStatus.Open, Paid));

    [Theory]
    [InlineData(PaymentStatus.Canceled, "payment_canceled")]
    [InlineData(PaymentStatus.Expired, "payment_expired")]
    [InlineData(PaymentStatus.Created, "payment_created")]
    public void A_success_after_the_payment_was_closed_is_a_late_success_refunded(PaymentStatus p, string reason) =>
        Assert.Equal(new WalletDecision.LateSuccess(reason), Decide(p, AttemptStatus.Closed, Paid));

    [Fact]
    public void A_success_through_a_withdrawn_friend_link_is_refunded_even_on_a_pending_payment() =>
        Assert.Equal(new WalletDecision.LateSuccess("friend_pay_link_revoked"),
            WalletOutcomeDecider.Decide(Payment(PaymentStatus.Pending), Attempt(AttemptStatus.Open, revoked: true), Paid));

    [Theory]
    [InlineData(999L, "CNY", MismatchKind.Amount)]
    [InlineData(1001L, "CNY", MismatchKind.Amount)]
    [InlineData(null, "CNY", MismatchKind.Amount)]
    [InlineData(1000L, "USD", MismatchKind.Currency)]
    [InlineData(1L, "USD", MismatchKind.Amount)]
    public void A_success_with_another_amount_or_currency_never_succeeds(long? amount, string currency, MismatchKind kind)
    {
        var d = Assert.IsType<WalletDecision.Mismatch>(Decide(PaymentStatus.Pending, AttemptStatus.Open, new WalletResult.Paid(amount, currency)));
        Assert.Equal(kind, d.Kind);
        Assert.Equal(kind == MismatchKind.Amount ? "amount_mismatch" : "currency_mismatch", d.ErrorCode);
    }

    [Fact]
    public void A_wallet_that_names_no_currency_is_checked_on_the_amount_only() =>
        Assert.IsType<WalletDecision.Transition>(Decide(PaymentStatus.Pending, AttemptStatus.Open, new WalletResult.Paid(1000, null)));

    [Fact]
    public void A_repeated_mismatch_is_ignored_so_its_alert_is_raised_once()
    {
        var d = WalletOutcomeDecider.Decide(Payment(PaymentStatus.Pending), Attempt(AttemptStatus.Open, errorCode: "amount_mismatch"),
            new WalletResult.Paid(1, "CNY"));
        Assert.Equal(IgnoreReason.MismatchAlreadyRecorded, Assert.IsType<WalletDecision.Ignore>(d).Reason);
    }

    [Fact]
    public void A_mismatch_on_an_already_paid_payment_is_not_refunded_as_a_double_capture() =>
        Assert.IsType<WalletDecision.Mismatch>(Decide(PaymentStatus.Succeeded, AttemptStatus.Open, new WalletResult.Paid(5, "CNY"), attemptId: A2));

    public static TheoryData<WalletResult> OutOfOrderNews() =>
    [
        new WalletResult.Closed("CLOSED"),
        new WalletResult.NotPaidYet("NOTPAY"),
        new WalletResult.NotPaidYet("USERPAYING"),
        new WalletResult.PaymentFailed("PAYERROR"),
        new WalletResult.NotFound(),
        new WalletResult.Unknown("WEIRD"),
    ];

    [Theory]
    [MemberData(nameof(OutOfOrderNews))]
    public void News_after_paid_that_contradicts_it_changes_nothing_and_signals_money_trouble(WalletResult late)
    {
        var d = Assert.IsType<WalletDecision.Ignore>(Decide(PaymentStatus.Succeeded, AttemptStatus.Succeeded, late));
        Assert.Equal(IgnoreReason.ContradictsSuccess, d.Reason);
        Assert.True(d.Reason.SignalsMoneyTrouble());
    }

    [Fact]
    public void A_reported_failure_of_the_current_attempt_fails_attempt_and_payment() =>
        Assert.Equal(new WalletDecision.Transition(AttemptEvent.WalletPaymentFailed, AttemptStatus.Failed, PaymentEvent.WalletFailed),
            Decide(PaymentStatus.Pending, AttemptStatus.Open, new WalletResult.PaymentFailed("PAYERROR")));

    [Theory]
    [InlineData(PaymentStatus.Pending, A2, IgnoreReason.AttemptNotCurrent)] // a superseded order
    [InlineData(PaymentStatus.Failed, A1, IgnoreReason.PaymentCannotMove)] // already failed
    [InlineData(PaymentStatus.Canceled, A1, IgnoreReason.PaymentCannotMove)]
    public void A_failure_the_payment_cannot_take_is_ignored_with_its_reason(PaymentStatus p, string attemptId, IgnoreReason reason)
    {
        var d = Assert.IsType<WalletDecision.Ignore>(Decide(p, AttemptStatus.Open, new WalletResult.PaymentFailed("PAYERROR"), attemptId: attemptId));
        Assert.Equal(reason, d.Reason);
        Assert.False(d.Reason.SignalsMoneyTrouble());
    }

    [Fact]
    public void Plain_news_about_an_unpaid_order_is_ignored_with_its_reason()
    {
        Assert.Equal(IgnoreReason.NotPaidYet, IgnoreOf(new WalletResult.NotPaidYet("NOTPAY")));
        Assert.Equal(IgnoreReason.OrderClosed, IgnoreOf(new WalletResult.Closed("CLOSED")));
        Assert.Equal(IgnoreReason.OrderNotFound, IgnoreOf(new WalletResult.NotFound()));
        Assert.Equal(IgnoreReason.UnrecognisedStatus, IgnoreOf(new WalletResult.Unknown("WEIRD")));

        static IgnoreReason IgnoreOf(WalletResult r) =>
            Assert.IsType<WalletDecision.Ignore>(Decide(PaymentStatus.Pending, AttemptStatus.Open, r)).Reason;
    }

    [Fact]
    public void The_create_call_answered_open_revives_an_unknown_payment_only()
    {
        var accepted = new CreateOutcome.Accepted("weixin://x");
        Assert.Equal(new WalletDecision.Transition(AttemptEvent.WalletAccepted, AttemptStatus.Open, PaymentEvent.WalletStillUnpaid),
            WalletOutcomeDecider.Decide(Payment(PaymentStatus.Unknown), Attempt(AttemptStatus.Unknown), accepted));
        Assert.Equal(new WalletDecision.Transition(AttemptEvent.WalletAccepted, AttemptStatus.Open, null),
            WalletOutcomeDecider.Decide(Payment(PaymentStatus.Pending), Attempt(AttemptStatus.Requested), accepted));
    }

    [Fact]
    public void The_create_call_refused_or_unanswered_moves_the_current_payment()
    {
        Assert.Equal(new WalletDecision.Transition(AttemptEvent.WalletRejected, AttemptStatus.Failed, PaymentEvent.WalletFailed),
            WalletOutcomeDecider.Decide(Payment(PaymentStatus.Pending), Attempt(AttemptStatus.Requested), new CreateOutcome.Rejected("PARAM_ERROR", "bad")));
        Assert.Equal(new WalletDecision.Transition(AttemptEvent.WalletTimedOut, AttemptStatus.Unknown, PaymentEvent.WalletTimedOut),
            WalletOutcomeDecider.Decide(Payment(PaymentStatus.Pending), Attempt(AttemptStatus.Requested), new CreateOutcome.Unanswered()));
    }

    [Fact]
    public void A_create_answer_the_payment_cannot_take_moves_the_attempt_and_says_why_the_payment_stays()
    {
        Assert.Equal(new WalletDecision.Transition(AttemptEvent.WalletRejected, AttemptStatus.Failed, null, IgnoreReason.AttemptNotCurrent),
            WalletOutcomeDecider.Decide(Payment(PaymentStatus.Pending, current: A2), Attempt(AttemptStatus.Requested), new CreateOutcome.Rejected("X", "y")));
        Assert.Equal(new WalletDecision.Transition(AttemptEvent.WalletTimedOut, AttemptStatus.Unknown, null, IgnoreReason.PaymentCannotMove),
            WalletOutcomeDecider.Decide(Payment(PaymentStatus.Canceled), Attempt(AttemptStatus.Requested), new CreateOutcome.Unanswered()));
    }

    [Theory]
    [InlineData(AttemptStatus.Succeeded)]
    [InlineData(AttemptStatus.Closed)]
    [InlineData(AttemptStatus.Open)]
    public void A_create_answer_arriving_after_the_attempt_moved_on_is_ignored(AttemptStatus a)
    {
        var d = WalletOutcomeDecider.Decide(Payment(PaymentStatus.Pending), Attempt(a), new CreateOutcome.Accepted("weixin://late"));
        Assert.Equal(IgnoreReason.AttemptCannotMove, Assert.IsType<WalletDecision.Ignore>(d).Reason);
    }

    [Fact]
    public void A_recheck_applies_news_resends_unpaid_orders_and_waits_on_silence()
    {
        Assert.Equal(RecheckStep.ApplyResult, WalletOutcomeDecider.Recheck(Paid));
        Assert.Equal(RecheckStep.ApplyResult, WalletOutcomeDecider.Recheck(new WalletResult.PaymentFailed("PAYERROR")));
        Assert.Equal(RecheckStep.CreateRejected, WalletOutcomeDecider.Recheck(new WalletResult.Closed("CLOSED")));
        Assert.Equal(RecheckStep.Resend, WalletOutcomeDecider.Recheck(new WalletResult.NotPaidYet("NOTPAY")));
        Assert.Equal(RecheckStep.Resend, WalletOutcomeDecider.Recheck(new WalletResult.NotFound()));
        Assert.Equal(RecheckStep.CheckAgain, WalletOutcomeDecider.Recheck(new WalletResult.Unknown("WEIRD")));
        Assert.Equal(RecheckStep.CheckAgain, WalletOutcomeDecider.Recheck(null));
    }

    [Fact]
    public void Expiry_needs_both_the_time_and_a_state_that_can_expire()
    {
        Assert.Null(WalletOutcomeDecider.Expire(PaymentStatus.Pending, expiresAt: 100, now: 100));
        Assert.Equal(IgnoreReason.NotExpiredYet, WalletOutcomeDecider.Expire(PaymentStatus.Pending, expiresAt: 101, now: 100));
        Assert.Equal(IgnoreReason.PaymentCannotMove, WalletOutcomeDecider.Expire(PaymentStatus.Unknown, expiresAt: 1, now: 100));
        Assert.Equal(IgnoreReason.PaymentCannotMove, WalletOutcomeDecider.Expire(PaymentStatus.Succeeded, expiresAt: 1, now: 100));
    }

    public static TheoryData<PaymentStatus, AttemptStatus, bool> EveryState()
    {
        var data = new TheoryData<PaymentStatus, AttemptStatus, bool>();
        foreach (var p in Enum.GetValues<PaymentStatus>())
        {
            foreach (var a in Enum.GetValues<AttemptStatus>())
            {
                data.Add(p, a, true);
                data.Add(p, a, false);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(EveryState))]
    public void Every_decision_is_a_legal_move_of_both_machines_or_says_why_not(PaymentStatus p, AttemptStatus a, bool current)
    {
        WalletResult[] results = [Paid, new WalletResult.Paid(1, "CNY"), new WalletResult.Closed("CLOSED"), new WalletResult.NotPaidYet("NOTPAY"),
            new WalletResult.PaymentFailed("PAYERROR"), new WalletResult.NotFound(), new WalletResult.Unknown("WEIRD")];
        CreateOutcome[] creates = [new CreateOutcome.Accepted("u"), new CreateOutcome.Rejected("c", "m"), new CreateOutcome.Unanswered()];
        var payment = Payment(p, current ? A1 : A2);
        var decisions = results.Select(r => WalletOutcomeDecider.Decide(payment, Attempt(a), r))
            .Concat(creates.Select(o => WalletOutcomeDecider.Decide(payment, Attempt(a), o)));
        foreach (var d in decisions)
        {
            switch (d)
            {
                case WalletDecision.Transition t:
                    Assert.Equal(t.AttemptTo, AttemptStates.Machine.Apply(a, t.AttemptEvent).ToOrThrow());
                    Assert.True(t.PaymentEvent is null || PaymentStates.Machine.CanApply(p, t.PaymentEvent.Value));
                    Assert.True(t.PaymentEvent is null or PaymentEvent.WalletSucceeded || current, "only the current attempt fails or times out the payment");
                    break;
                case WalletDecision.DoubleCapture or WalletDecision.LateSuccess:
                    Assert.True(AttemptStates.Machine.CanApply(a, AttemptEvent.WalletPaid));
                    break;
                case WalletDecision.Ignore i:
                    Assert.False(string.IsNullOrEmpty(i.Detail));
                    break;
            }
        }
    }
}
