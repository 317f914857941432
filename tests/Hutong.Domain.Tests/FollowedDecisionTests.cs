using Hutong.Domain.FollowUps;
using Hutong.Domain.Refunds;
using Hutong.Domain.Splits;

namespace Hutong.Domain.Tests;

/// <summary>What a wallet's answer means for a refund, a split and a split return — without a database or HTTP.</summary>
public class FollowedDecisionTests
{
    private static readonly DateTimeOffset Now = new(2025, 3, 1, 8, 0, 0, TimeSpan.Zero);

    private static readonly FollowUpSchedule Schedule = new([TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(1)], WhenExhausted.RepeatLast);

    [Theory]
    [InlineData(RefundState.Pending, WalletAnswer.Succeeded, RefundState.Succeeded, true)]
    [InlineData(RefundState.Pending, WalletAnswer.Failed, RefundState.Failed, true)]
    [InlineData(RefundState.Pending, WalletAnswer.Processing, RefundState.Processing, false)]
    [InlineData(RefundState.Pending, WalletAnswer.NoAnswer, RefundState.Unknown, false)]
    [InlineData(RefundState.Processing, WalletAnswer.Succeeded, RefundState.Succeeded, true)]
    [InlineData(RefundState.Processing, WalletAnswer.NoAnswer, RefundState.Unknown, false)]
    [InlineData(RefundState.Unknown, WalletAnswer.Processing, RefundState.Processing, false)]
    [InlineData(RefundState.Unknown, WalletAnswer.Failed, RefundState.Failed, true)]
    public void A_refund_answer_settles_it_or_schedules_the_next_check(RefundState from, WalletAnswer answer, RefundState to, bool settled)
    {
        var d = RefundDecisions.Decide(new FollowUp<RefundState>(from, 1, Now), answer, Schedule, Now);
        Assert.Equal(to, d.Next.Status);
        Assert.Equal(settled, d.Settled);
        Assert.Equal(to == RefundState.Succeeded, d.Succeeded);
        Assert.Equal(settled ? null : Now + TimeSpan.FromMinutes(1), d.Next.NextCheckAt);
        Assert.Equal(settled ? 1 : 2, d.Next.Checks);
    }

    [Theory]
    [InlineData(RefundState.Succeeded)]
    [InlineData(RefundState.Failed)]
    public void A_final_refund_takes_no_answer_not_even_a_second_success(RefundState final)
    {
        foreach (var answer in Enum.GetValues<WalletAnswer>())
        {
            var e = Assert.Throws<IllegalTransitionException>(() => RefundDecisions.Decide(new FollowUp<RefundState>(final, 3, null), answer, Schedule, Now));
            Assert.Contains(final.ToWire(), e.Message);
        }
    }

    [Theory]
    [InlineData(RefundState.Pending, false, WalletLookup.NotQueried, NextCall.Send)] // no hub claimed it before: sent
    [InlineData(RefundState.Pending, true, WalletLookup.NotQueried, NextCall.Query)] // a hub's claim lapsed mid-call: asked first
    [InlineData(RefundState.Pending, true, WalletLookup.Found, NextCall.Record)] // the wallet has it: its answer, no second send
    [InlineData(RefundState.Pending, true, WalletLookup.NotFound, NextCall.Send)] // the wallet never got it: sent (the same out_refund_no)
    [InlineData(RefundState.Pending, true, WalletLookup.NoAnswer, NextCall.Record)] // no answer: unknown, queried later — never sent blind
    [InlineData(RefundState.Processing, false, WalletLookup.NotQueried, NextCall.Query)] // the wallet answered once: sent, whatever sent_at says
    [InlineData(RefundState.Processing, false, WalletLookup.NoAnswer, NextCall.Record)]
    [InlineData(RefundState.Unknown, false, WalletLookup.NotQueried, NextCall.Query)]
    [InlineData(RefundState.Unknown, true, WalletLookup.NotFound, NextCall.Send)]
    [InlineData(RefundState.Unknown, true, WalletLookup.Found, NextCall.Record)]
    public void A_refund_is_sent_only_when_no_hub_may_have_sent_it_or_the_wallet_never_got_it(RefundState state, bool sendStarted, WalletLookup lookup, NextCall next) =>
        Assert.Equal(next, RefundDecisions.Call(state, sendStarted, lookup));

    [Theory]
    [InlineData(RefundState.Succeeded)]
    [InlineData(RefundState.Failed)]
    public void A_final_refund_takes_no_wallet_call(RefundState final) =>
        Assert.Throws<IllegalTransitionException>(() => RefundDecisions.Call(final, sendStarted: true, WalletLookup.NotQueried));

    [Fact]
    public void A_send_may_follow_only_no_claim_before_or_a_not_found()
    {
        foreach (var lookup in Enum.GetValues<WalletLookup>())
        {
            foreach (var sent in new[] { false, true })
            {
                var send = SendOnce.Next(sent, lookup) == NextCall.Send;
                Assert.Equal(lookup == WalletLookup.NotFound || (lookup == WalletLookup.NotQueried && !sent), send);
            }
        }
    }

    [Fact]
    public void Amount_refunded_never_exceeds_the_capture()
    {
        Assert.Equal(10_000, RefundDecisions.RefundedAfter(10_000, 7_000, 3_000));
        Assert.Equal(3_000, RefundDecisions.RefundedAfter(10_000, 0, 3_000));
        Assert.Throws<InvalidOperationException>(() => RefundDecisions.RefundedAfter(10_000, 7_001, 3_000)); // counted twice
        Assert.Throws<InvalidOperationException>(() => RefundDecisions.RefundedAfter(10_000, 0, 0));
        Assert.Throws<InvalidOperationException>(() => RefundDecisions.RefundedAfter(10_000, -1, 1));
        Assert.Throws<InvalidOperationException>(() => RefundDecisions.RefundedAfter(long.MaxValue, long.MaxValue - 1, long.MaxValue)); // no overflow
    }

    [Theory]
    [InlineData(SplitOrderState.Pending, SplitAnswer.Finished, true, SplitOrderState.Succeeded, true)]
    [InlineData(SplitOrderState.Pending, SplitAnswer.Finished, false, SplitOrderState.Failed, true)]
    [InlineData(SplitOrderState.Pending, SplitAnswer.Rejected, false, SplitOrderState.Failed, true)]
    [InlineData(SplitOrderState.Pending, SplitAnswer.Processing, false, SplitOrderState.Processing, false)]
    [InlineData(SplitOrderState.Pending, SplitAnswer.NoAnswer, false, SplitOrderState.Unknown, false)]
    [InlineData(SplitOrderState.Pending, SplitAnswer.NotSent, false, SplitOrderState.Pending, false)]
    [InlineData(SplitOrderState.Processing, SplitAnswer.NoAnswer, false, SplitOrderState.Processing, false)] // accepted once: stays processing
    [InlineData(SplitOrderState.Unknown, SplitAnswer.NoAnswer, false, SplitOrderState.Unknown, false)]
    [InlineData(SplitOrderState.Unknown, SplitAnswer.Finished, true, SplitOrderState.Succeeded, true)]
    public void A_split_answer_settles_it_or_schedules_the_next_check(SplitOrderState from, SplitAnswer answer, bool paid, SplitOrderState to, bool settled)
    {
        var d = SplitDecisions.Decide(new FollowUp<SplitOrderState>(from, 0, Now), answer, paid, Schedule, Now);
        Assert.Equal((to, settled), (d.Next.Status, d.Settled));
        Assert.Equal(settled ? null : Now + TimeSpan.FromSeconds(10), d.Next.NextCheckAt);
    }

    [Fact]
    public void A_final_split_takes_no_answer_and_a_scheduled_one_is_never_sent()
    {
        Assert.Throws<IllegalTransitionException>(() => SplitDecisions.Decide(new FollowUp<SplitOrderState>(SplitOrderState.Succeeded, 1, null), SplitAnswer.Finished, true, Schedule, Now));
        Assert.Throws<IllegalTransitionException>(() => SplitDecisions.Fail(new FollowUp<SplitOrderState>(SplitOrderState.Failed, 1, null)));
        Assert.Throws<IllegalTransitionException>(() => SplitDecisions.Decide(new FollowUp<SplitOrderState>(SplitOrderState.Scheduled, 0, Now), SplitAnswer.Processing, false, Schedule, Now));
        Assert.Equal(SplitOrderState.Failed, SplitDecisions.Fail(new FollowUp<SplitOrderState>(SplitOrderState.Scheduled, 0, Now)).Next.Status);
    }

    [Theory]
    [InlineData(SplitOrderState.Pending, false, WalletLookup.NotQueried, NextCall.Send)]
    [InlineData(SplitOrderState.Pending, true, WalletLookup.NotQueried, NextCall.Query)] // a claim lapsed mid-call: asked first
    [InlineData(SplitOrderState.Pending, true, WalletLookup.Found, NextCall.Record)]
    [InlineData(SplitOrderState.Pending, true, WalletLookup.NoAnswer, NextCall.Record)]
    [InlineData(SplitOrderState.Pending, true, WalletLookup.NotFound, NextCall.Send)]
    [InlineData(SplitOrderState.Processing, false, WalletLookup.NotQueried, NextCall.Query)]
    [InlineData(SplitOrderState.Unknown, false, WalletLookup.NotFound, NextCall.Send)]
    public void A_split_is_sent_only_when_no_hub_may_have_sent_it_or_the_wallet_never_got_it(SplitOrderState state, bool sendStarted, WalletLookup lookup, NextCall next) =>
        Assert.Equal(next, SplitDecisions.Call(state, sendStarted, lookup));

    [Theory]
    [InlineData(SplitReturnState.Pending, false, WalletLookup.NotQueried, NextCall.Send)]
    [InlineData(SplitReturnState.Pending, true, WalletLookup.NotQueried, NextCall.Query)]
    [InlineData(SplitReturnState.Pending, true, WalletLookup.NoAnswer, NextCall.Record)]
    [InlineData(SplitReturnState.Pending, true, WalletLookup.NotFound, NextCall.Send)]
    [InlineData(SplitReturnState.Unknown, false, WalletLookup.NotQueried, NextCall.Query)]
    [InlineData(SplitReturnState.Unknown, false, WalletLookup.Found, NextCall.Record)]
    public void A_return_is_sent_only_when_no_hub_may_have_sent_it_or_the_wallet_never_got_it(SplitReturnState state, bool sendStarted, WalletLookup lookup, NextCall next) =>
        Assert.Equal(next, SplitDecisions.ReturnCall(state, sendStarted, lookup));

    [Fact]
    public void A_split_or_return_that_is_not_open_at_the_wallet_takes_no_wallet_call()
    {
        foreach (var s in new[] { SplitOrderState.Scheduled, SplitOrderState.Succeeded, SplitOrderState.Failed })
        {
            Assert.Throws<IllegalTransitionException>(() => SplitDecisions.Call(s, sendStarted: true, WalletLookup.NotQueried));
        }

        foreach (var s in new[] { SplitReturnState.AwaitingRefund, SplitReturnState.Succeeded, SplitReturnState.Failed, SplitReturnState.Canceled })
        {
            Assert.Throws<IllegalTransitionException>(() => SplitDecisions.ReturnCall(s, sendStarted: true, WalletLookup.NotQueried));
        }
    }

    [Theory]
    [InlineData(SplitReturnState.Pending, WalletAnswer.Succeeded, SplitReturnState.Succeeded, true)]
    [InlineData(SplitReturnState.Pending, WalletAnswer.Failed, SplitReturnState.Failed, true)]
    [InlineData(SplitReturnState.Pending, WalletAnswer.Processing, SplitReturnState.Unknown, false)]
    [InlineData(SplitReturnState.Unknown, WalletAnswer.NoAnswer, SplitReturnState.Unknown, false)]
    [InlineData(SplitReturnState.Unknown, WalletAnswer.Succeeded, SplitReturnState.Succeeded, true)]
    public void A_return_answer_settles_it_or_schedules_the_next_check(SplitReturnState from, WalletAnswer answer, SplitReturnState to, bool settled)
    {
        var d = SplitDecisions.DecideReturn(new FollowUp<SplitReturnState>(from, 0, Now), answer, Schedule, Now);
        Assert.Equal((to, settled), (d.Next.Status, d.Settled));
    }

    [Fact]
    public void A_return_waiting_for_its_refund_follows_the_refund()
    {
        var waiting = new FollowUp<SplitReturnState>(SplitReturnState.AwaitingRefund, 0, null);
        Assert.Equal((SplitReturnState.Canceled, true), Outcome(SplitDecisions.OnRefundSettled(waiting, refundSucceeded: false, byReturnOrder: true, Now)));
        Assert.Equal((SplitReturnState.Succeeded, true), Outcome(SplitDecisions.OnRefundSettled(waiting, refundSucceeded: true, byReturnOrder: false, Now)));
        var due = SplitDecisions.OnRefundSettled(waiting, refundSucceeded: true, byReturnOrder: true, Now);
        Assert.Equal((SplitReturnState.Pending, false), Outcome(due));
        Assert.Equal(Now, due.Next.NextCheckAt);
        Assert.Throws<IllegalTransitionException>(() => SplitDecisions.OnRefundSettled(due.Next, refundSucceeded: true, byReturnOrder: true, Now)); // never twice

        static (SplitReturnState, bool) Outcome(SplitReturnDecision d) => (d.Next.Status, d.Settled);
    }
}
