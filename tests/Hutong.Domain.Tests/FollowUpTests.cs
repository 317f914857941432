using Hutong.Domain.FollowUps;

namespace Hutong.Domain.Tests;

public class FollowUpTests
{
    private enum S
    {
        Open,
        Waiting,
        Done,
    }

    private static readonly DateTimeOffset Now = new(2025, 3, 1, 8, 0, 0, TimeSpan.Zero);

    private static readonly TimeSpan[] Steps = [TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5)];

    [Fact]
    public void Each_scheduling_waits_the_next_interval_and_counts_the_check()
    {
        var schedule = new FollowUpSchedule(Steps, WhenExhausted.RepeatLast);
        var f = new FollowUp<S>(S.Open, 0, Now);

        var first = f.CheckLater(S.Waiting, schedule, Now);
        Assert.False(first.GaveUp);
        Assert.Equal(new FollowUp<S>(S.Waiting, 1, Now + Steps[0]), first.Next);

        var second = first.Next.CheckLater(S.Waiting, schedule, Now);
        Assert.Equal(new FollowUp<S>(S.Waiting, 2, Now + Steps[1]), second.Next);
        Assert.Equal(new FollowUp<S>(S.Waiting, 3, Now + Steps[2]), second.Next.CheckLater(S.Waiting, schedule, Now).Next);
    }

    [Fact]
    public void A_repeat_last_schedule_keeps_checking_at_its_last_interval()
    {
        var schedule = new FollowUpSchedule(Steps, WhenExhausted.RepeatLast);
        var step = new FollowUp<S>(S.Waiting, 50, Now).CheckLater(S.Waiting, schedule, Now);
        Assert.False(step.GaveUp);
        Assert.Equal(new FollowUp<S>(S.Waiting, 51, Now + Steps[^1]), step.Next);
    }

    [Fact]
    public void A_give_up_schedule_stops_once_used_up()
    {
        var schedule = new FollowUpSchedule(Steps, WhenExhausted.GiveUp);
        Assert.False(new FollowUp<S>(S.Waiting, Steps.Length - 1, Now).CheckLater(S.Waiting, schedule, Now).GaveUp);

        var step = new FollowUp<S>(S.Waiting, Steps.Length, Now).CheckLater(S.Waiting, schedule, Now);
        Assert.True(step.GaveUp);
        Assert.Null(step.Next.NextCheckAt);
        Assert.Equal(Steps.Length, step.Next.Checks);
    }

    [Fact]
    public void The_check_counter_never_wraps()
    {
        var schedule = new FollowUpSchedule(Steps, WhenExhausted.RepeatLast);
        Assert.Equal(int.MaxValue, new FollowUp<S>(S.Waiting, int.MaxValue, Now).CheckLater(S.Waiting, schedule, Now).Next.Checks);
    }

    [Fact]
    public void Settling_clears_the_next_check_and_deferring_moves_it()
    {
        var f = new FollowUp<S>(S.Waiting, 3, Now);
        Assert.Equal(new FollowUp<S>(S.Done, 3, null), f.Settle(S.Done));
        Assert.Equal(new FollowUp<S>(S.Waiting, 3, Now.AddSeconds(5)), f.Defer(Now.AddSeconds(5)));
    }

    [Fact]
    public void A_schedule_is_bounded_and_positive()
    {
        Assert.Throws<ArgumentException>(() => new FollowUpSchedule([], WhenExhausted.GiveUp));
        Assert.Throws<ArgumentException>(() => new FollowUpSchedule([TimeSpan.Zero], WhenExhausted.GiveUp));
        Assert.Throws<ArgumentException>(() => new FollowUpSchedule([TimeSpan.FromSeconds(-1)], WhenExhausted.GiveUp));
        Assert.Throws<ArgumentException>(() => new FollowUpSchedule(Enumerable.Repeat(TimeSpan.FromSeconds(1), FollowUpSchedule.MaxIntervals + 1).ToList(), WhenExhausted.GiveUp));
    }
}
