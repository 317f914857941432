using Hutong.Domain.Settlement;
using Microsoft.Extensions.Time.Testing;

namespace Hutong.Domain.Tests;

public class SettlementCalendarTests
{
    [Fact]
    public void A_month_is_over_at_China_midnight_whatever_the_servers_clock_says()
    {
        // 2026-11-30 23:59:59 in China is 15:59:59 UTC: November is not over yet, one second later it is.
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 30, 15, 59, 59, TimeSpan.Zero));
        Assert.False(SettlementCalendar.IsMonthOver(2026, 11, clock.GetUtcNow()));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(SettlementCalendar.IsMonthOver(2026, 11, clock.GetUtcNow()));
        Assert.False(SettlementCalendar.IsMonthOver(2026, 12, clock.GetUtcNow()));

        // In UTC it is still November 30th, and the local zone of the machine plays no part.
        Assert.Equal(30, clock.GetUtcNow().Day);
        Assert.True(SettlementCalendar.IsMonthOver(2026, 10, clock.GetUtcNow()));
    }

    [Fact]
    public void December_rolls_into_the_next_year()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2027, 12, 31, 15, 59, 59, TimeSpan.Zero));
        Assert.False(SettlementCalendar.IsMonthOver(2027, 12, clock.GetUtcNow()));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(SettlementCalendar.IsMonthOver(2027, 12, clock.GetUtcNow()));
        Assert.True(SettlementCalendar.IsMonthOver(SettlementCalendar.FirstYear, 1, clock.GetUtcNow()));
        Assert.False(SettlementCalendar.IsMonthOver(SettlementCalendar.LastYear, 12, clock.GetUtcNow()));
    }
}
