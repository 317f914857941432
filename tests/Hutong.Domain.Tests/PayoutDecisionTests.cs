using Hutong.Domain.FollowUps;
using Hutong.Domain.Ledger;
using Hutong.Domain.Payouts;

namespace Hutong.Domain.Tests;

/// <summary>Whether a payout may be reserved, what a wallet answer does to it, and its postings — without a database or HTTP.</summary>
public class PayoutDecisionTests
{
    private static readonly PayoutLimits Limits = new(PerPayout: 5_000, PerPayeeDaily: 8_000, PerMerchantDaily: 20_000);

    [Theory]
    [InlineData(5_000, 10_000, 0, 0, null)]
    [InlineData(5_001, 10_000, 0, 0, "payout_limit_exceeded")]
    [InlineData(3_001, 10_000, 5_000, 5_000, "payout_payee_daily_limit_exceeded")]
    [InlineData(3_000, 10_000, 5_000, 5_000, null)]
    [InlineData(2_000, 10_000, 0, 19_000, "payout_daily_limit_exceeded")]
    [InlineData(1_001, 1_000, 0, 0, "insufficient_balance")]
    [InlineData(1_000, 1_000, 0, 0, null)]
    [InlineData(1, -50, 0, 0, "insufficient_balance")] // a merchant that owes (refunds beyond its balance) has nothing to send
    public void A_payout_is_admitted_only_within_the_limits_and_the_available_balance(long amount, long available, long payeeToday, long merchantToday, string? refused)
    {
        var failure = PayoutDecisions.Admit(amount, new PayoutFunds(available, payeeToday, merchantToday), Limits);
        Assert.Equal(refused, failure?.Code);
        if (failure is not null)
        {
            Assert.Equal(FailureKind.Unprocessable, failure.Kind);
            Assert.Equal("amount", failure.Param);
        }
    }

    [Fact]
    public void A_limit_of_zero_is_off()
    {
        Assert.Null(PayoutDecisions.Admit(Money.MaxAmount, new PayoutFunds(Money.MaxAmount, Money.MaxAmount, Money.MaxAmount), new PayoutLimits(0, 0, 0)));
    }

    [Theory]
    [InlineData(PayoutState.Pending, WalletAnswer.Succeeded, PayoutState.Succeeded, true)]
    [InlineData(PayoutState.Pending, WalletAnswer.Failed, PayoutState.Failed, true)]
    [InlineData(PayoutState.Pending, WalletAnswer.NoAnswer, PayoutState.Unknown, false)]
    [InlineData(PayoutState.Unknown, WalletAnswer.Succeeded, PayoutState.Succeeded, true)]
    [InlineData(PayoutState.Processing, WalletAnswer.Processing, PayoutState.Processing, false)]
    public void A_wallet_answer_settles_a_payout_or_schedules_the_next_check(PayoutState from, WalletAnswer answer, PayoutState to, bool settled)
    {
        var now = new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
        var d = PayoutDecisions.Decide(new FollowUp<PayoutState>(from, 0, now), answer, new FollowUpSchedule([TimeSpan.FromSeconds(5)], WhenExhausted.RepeatLast), now);
        Assert.Equal(to, d.Next.Status);
        Assert.Equal(settled, d.Settled);
        Assert.Equal(settled ? null : now.AddSeconds(5), d.Next.NextCheckAt);
    }

    [Theory]
    [InlineData(PayoutState.Succeeded)]
    [InlineData(PayoutState.Failed)]
    public void A_final_payout_takes_no_answer_and_no_wallet_call(PayoutState final)
    {
        Assert.Throws<IllegalTransitionException>(() => PayoutDecisions.Decide(new FollowUp<PayoutState>(final, 1, null), WalletAnswer.Succeeded,
            new FollowUpSchedule([TimeSpan.FromSeconds(5)], WhenExhausted.RepeatLast), DateTimeOffset.UnixEpoch));
        Assert.Throws<IllegalTransitionException>(() => PayoutDecisions.Call(final, true, WalletLookup.NotQueried));
    }

    [Theory]
    [InlineData(PayoutState.Pending, false, NextCall.Send)]
    [InlineData(PayoutState.Pending, true, NextCall.Query)] // a lapsed claim: the wallet may have it
    [InlineData(PayoutState.Unknown, false, NextCall.Query)] // a timeout: queried, never re-sent blind
    public void A_payout_is_sent_once_and_queried_when_the_wallet_may_have_it(PayoutState state, bool sendStarted, NextCall first)
    {
        Assert.Equal(first, PayoutDecisions.Call(state, sendStarted, WalletLookup.NotQueried));
        Assert.Equal(NextCall.Record, PayoutDecisions.Call(state, sendStarted, WalletLookup.NoAnswer));
        Assert.Equal(NextCall.Send, PayoutDecisions.Call(state, sendStarted, WalletLookup.NotFound));
    }

    [Fact]
    public void Reserved_then_sent_or_released_leaves_the_reserve_at_zero()
    {
        var amount = new Money(1_234, Currency.Parse("CNY"));
        foreach (var end in new[] { PayoutPostings.Sent("alipay", "mch_1", amount), PayoutPostings.Released("mch_1", amount) })
        {
            var lines = PayoutPostings.Reserved("mch_1", amount).Concat(end).ToList();
            Postings.EnsureBalanced(PayoutPostings.Reserved("mch_1", amount));
            Postings.EnsureBalanced(end);
            Assert.Equal(0, lines.Where(l => l.Account == PayoutPostings.Reserve("mch_1")).Sum(l => l.Amount));
        }

        // Released gives the merchant back exactly what Reserved took.
        Assert.Equal(0, PayoutPostings.Reserved("mch_1", amount).Concat(PayoutPostings.Released("mch_1", amount))
            .Where(l => l.Account == Accounts.MerchantPayable("mch_1")).Sum(l => l.Amount));
    }

    [Theory]
    [InlineData(PayoutWalletAnswer.AwaitingConfirmation, false, PayoutState.AwaitingConfirmation)]
    [InlineData(PayoutWalletAnswer.Canceling, true, PayoutState.Canceling)]
    [InlineData(PayoutWalletAnswer.Canceled, true, PayoutState.Canceled)] // withdrawn at the merchant's request
    [InlineData(PayoutWalletAnswer.Canceled, false, PayoutState.Failed)] // closed unconfirmed without one: the payee never took it
    [InlineData(PayoutWalletAnswer.Succeeded, true, PayoutState.Succeeded)] // the payee accepted before the cancel reached the wallet
    [InlineData(null, true, PayoutState.Unknown)]
    public void A_wallet_answer_names_the_payouts_state_and_only_a_requested_cancel_is_canceled(PayoutWalletAnswer? answer, bool cancelRequested, PayoutState to) =>
        Assert.Equal(to, PayoutDecisions.Answered(answer, cancelRequested));

    [Theory]
    [InlineData(PayoutState.AwaitingConfirmation, PayoutState.AwaitingConfirmation, false)]
    [InlineData(PayoutState.Pending, PayoutState.AwaitingConfirmation, false)]
    [InlineData(PayoutState.AwaitingConfirmation, PayoutState.Canceling, false)]
    [InlineData(PayoutState.Canceling, PayoutState.Canceled, true)]
    [InlineData(PayoutState.AwaitingConfirmation, PayoutState.Failed, true)]
    [InlineData(PayoutState.AwaitingConfirmation, PayoutState.Succeeded, true)]
    public void The_payees_confirmation_step_waits_open_and_ends_settled(PayoutState from, PayoutState to, bool settled)
    {
        var now = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
        var d = PayoutDecisions.Decide(new FollowUp<PayoutState>(from, 0, now), to, new FollowUpSchedule([TimeSpan.FromSeconds(5)], WhenExhausted.RepeatLast), now);
        Assert.Equal(to, d.Next.Status);
        Assert.Equal(settled, d.Settled);
        Assert.Equal(settled, d.Next.NextCheckAt is null);
        Assert.Equal(to == PayoutState.Canceled, d.Canceled);
    }

    [Fact]
    public void A_canceled_payout_takes_no_answer_and_only_an_unconfirmed_one_can_be_canceled()
    {
        Assert.Throws<IllegalTransitionException>(() => PayoutDecisions.Decide(new FollowUp<PayoutState>(PayoutState.Canceled, 1, null), PayoutState.Succeeded,
            new FollowUpSchedule([TimeSpan.FromSeconds(5)], WhenExhausted.RepeatLast), DateTimeOffset.UnixEpoch));
        Assert.True(PayoutDecisions.Cancelable(PayoutState.AwaitingConfirmation));
        Assert.All(new[] { PayoutState.Pending, PayoutState.Processing, PayoutState.Unknown, PayoutState.Succeeded, PayoutState.Failed, PayoutState.Canceled },
            s => Assert.False(PayoutDecisions.Cancelable(s)));
        Assert.Equal(PayoutCancelCall.Cancel, PayoutDecisions.CancelCall(PayoutState.AwaitingConfirmation));
        Assert.Equal(PayoutCancelCall.Query, PayoutDecisions.CancelCall(PayoutState.Canceling)); // CANCELING: asked where it is, not cancelled again
        Assert.Equal(PayoutCancelCall.Query, PayoutDecisions.CancelCall(PayoutState.Unknown));
        Assert.Equal(PayoutCancelCall.None, PayoutDecisions.CancelCall(PayoutState.Processing));
    }
}
