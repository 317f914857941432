using Hutong.Domain.Disputes;
using Microsoft.Extensions.Time.Testing;

namespace Hutong.Domain.Tests;

/// <summary>A dispute's state from the wallet's complaint, the events its changes send, and its deadline alerts — on a controlled clock.</summary>
public class DisputeDecisionTests
{
    [Theory]
    [InlineData("PENDING", false, DisputeState.NeedsResponse)]
    [InlineData("PENDING", true, DisputeState.NeedsResponse)]
    [InlineData("PROCESSING", false, DisputeState.UnderReview)]
    [InlineData("PROCESSING", true, DisputeState.NeedsResponse)] // the buyer wrote again: the merchant owes an answer
    [InlineData("PROCESSED", false, DisputeState.Closed)]
    public void The_wallets_complaint_state_names_the_disputes(string wallet, bool incoming, DisputeState expected) =>
        Assert.Equal(expected, DisputeDecisions.FromWallet(wallet, incoming));

    [Theory]
    [InlineData("MERCHANT_PROCESSING", false, DisputeState.NeedsResponse)] // 商家处理中
    [InlineData("MERCHANT_FEEDBACKED", false, DisputeState.UnderReview)] // 商家已反馈
    [InlineData("MERCHANT_FEEDBACKED", true, DisputeState.NeedsResponse)] // the buyer wrote after the merchant's feedback
    [InlineData("PLATFORM_PROCESSING", false, DisputeState.UnderReview)] // 平台处理中
    [InlineData("FINISHED", false, DisputeState.Closed)]
    [InlineData("CANCELLED", false, DisputeState.Closed)]
    [InlineData("PLATFORM_FINISH", false, DisputeState.Closed)]
    [InlineData("CLOSED", false, DisputeState.Closed)]
    public void Alipays_trade_complaint_status_names_the_disputes(string wallet, bool incoming, DisputeState expected) =>
        Assert.Equal(expected, DisputeDecisions.FromWallet(wallet, incoming));

    [Fact]
    public void Each_wallet_has_its_response_window()
    {
        Assert.Equal(TimeSpan.FromHours(24), ResponseWindows.For("wechatpay").FirstResponse);
        Assert.Equal(TimeSpan.FromHours(72), ResponseWindows.For("alipay").FirstResponse);
        var filed = new DateTimeOffset(2026, 3, 1, 10, 0, 0, TimeSpan.FromHours(8));
        Assert.Equal(filed.AddDays(3), DisputeDecisions.RespondBy(filed, ResponseWindows.For("alipay")));
    }

    [Fact]
    public void An_unknown_wallet_state_changes_nothing() => Assert.Null(DisputeDecisions.FromWallet("ESCALATED", false));

    [Fact]
    public void Each_change_sends_one_event_and_a_read_without_change_sends_none()
    {
        Assert.Equal("dispute.created", DisputeDecisions.Observe(null, DisputeState.NeedsResponse, false).Event);
        Assert.Equal("dispute.updated", DisputeDecisions.Observe(DisputeState.NeedsResponse, DisputeState.UnderReview, false).Event);
        Assert.Equal("dispute.closed", DisputeDecisions.Observe(DisputeState.UnderReview, DisputeState.Closed, false).Event);
        Assert.Equal("dispute.updated", DisputeDecisions.Observe(DisputeState.Closed, DisputeState.NeedsResponse, false).Event); // reopened
        Assert.Equal("dispute.updated", DisputeDecisions.Observe(DisputeState.UnderReview, DisputeState.UnderReview, true).Event);
        Assert.Null(DisputeDecisions.Observe(DisputeState.UnderReview, DisputeState.UnderReview, false).Event);
    }

    [Fact]
    public void Every_state_pair_is_in_the_table_and_no_state_is_final()
    {
        foreach (var from in Enum.GetValues<DisputeState>())
        {
            Assert.False(DisputeStates.Machine.IsFinal(from));
            foreach (var to in Enum.GetValues<DisputeState>())
            {
                Assert.True(DisputeStates.Machine.Allows(from, to), $"{from} → {to}");
            }
        }
    }

    [Fact]
    public void The_deadline_warns_once_within_the_warning_time_and_reports_overdue_once()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 6, 0, 0, TimeSpan.Zero)); // 14:00 China time
        var filed = clock.GetUtcNow();
        var respondBy = DisputeDecisions.RespondBy(filed, ResponseWindows.WeChatPay);
        Assert.Equal(filed.AddHours(24), respondBy);
        var warn = TimeSpan.FromHours(6);

        clock.Advance(TimeSpan.FromHours(17));
        Assert.Equal(DeadlineAlert.None, DisputeDecisions.Deadline(DisputeState.NeedsResponse, respondBy, clock.GetUtcNow(), warn, false, false));
        clock.Advance(TimeSpan.FromHours(1)); // 6 hours left
        Assert.Equal(DeadlineAlert.Approaching, DisputeDecisions.Deadline(DisputeState.NeedsResponse, respondBy, clock.GetUtcNow(), warn, false, false));
        Assert.Equal(DeadlineAlert.None, DisputeDecisions.Deadline(DisputeState.NeedsResponse, respondBy, clock.GetUtcNow(), warn, true, false));
        Assert.Equal(DeadlineAlert.None, DisputeDecisions.Deadline(DisputeState.UnderReview, respondBy, clock.GetUtcNow(), warn, false, false));

        clock.Advance(TimeSpan.FromHours(6)); // the window closed
        Assert.Equal(DeadlineAlert.Overdue, DisputeDecisions.Deadline(DisputeState.NeedsResponse, respondBy, clock.GetUtcNow(), warn, true, false));
        Assert.Equal(DeadlineAlert.None, DisputeDecisions.Deadline(DisputeState.NeedsResponse, respondBy, clock.GetUtcNow(), warn, true, true));
        Assert.Equal(DeadlineAlert.None, DisputeDecisions.Deadline(DisputeState.Closed, respondBy, clock.GetUtcNow(), warn, false, false));
    }

    [Fact]
    public void A_closed_dispute_takes_no_answer_or_close_but_may_still_be_refunded()
    {
        Assert.Equal("dispute_closed", DisputeDecisions.CanAct(DisputeState.Closed, "respond")?.Code);
        Assert.Equal("dispute_closed", DisputeDecisions.CanAct(DisputeState.Closed, "close")?.Code);
        Assert.Null(DisputeDecisions.CanAct(DisputeState.Closed, "refund"));
        Assert.Null(DisputeDecisions.CanAct(DisputeState.NeedsResponse, "respond"));
    }
}
