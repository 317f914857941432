using Hutong.Domain.Payments;

namespace Hutong.Domain.Tests;

public sealed class OpenOrderPollTests
{
    private static readonly DateTimeOffset Opened = new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Expires = Opened.AddMinutes(15);
    private static readonly OpenOrderPoll Poll = new(TimeSpan.FromSeconds(15), TimeSpan.FromMinutes(5));

    [Fact]
    public void The_wait_doubles_with_the_orders_age_from_the_first_interval_up_to_the_max_and_stops_at_expiry()
    {
        var polls = new List<double>();
        for (var at = Poll.Next(Opened, Opened, Expires); at is { } now; at = Poll.Next(Opened, now, Expires))
        {
            polls.Add((now - Opened).TotalSeconds);
            Assert.True(polls.Count < 50, "bounded");
        }

        Assert.Equal([15, 30, 60, 120, 240, 480, 780], polls); // then 1,080 s would be past the 900 s expiry
        Assert.All(polls, p => Assert.True(p < (Expires - Opened).TotalSeconds));
    }

    [Fact]
    public void A_poll_that_would_fall_at_or_after_expiry_is_not_scheduled()
    {
        Assert.Null(Poll.Next(Opened, Expires.AddSeconds(-10), Expires));
        Assert.Null(new OpenOrderPoll(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10)).Next(Opened, Expires.AddSeconds(-10), Expires));
        Assert.Equal(Expires.AddSeconds(-1), new OpenOrderPoll(TimeSpan.FromSeconds(9), TimeSpan.FromSeconds(9)).Next(Opened, Expires.AddSeconds(-10), Expires));
    }

    [Theory]
    [InlineData(0, 10)]
    [InlineData(-1, 10)]
    [InlineData(20, 10)]
    public void A_schedule_that_never_waits_or_whose_max_is_below_its_first_is_refused(int first, int max) =>
        Assert.Throws<ArgumentException>(() => new OpenOrderPoll(TimeSpan.FromSeconds(first), TimeSpan.FromSeconds(max)));
}
