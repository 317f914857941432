using Hutong.Domain.Refunds;

namespace Hutong.Domain.Tests;

/// <summary>The wallet's own refund rules, checked by the hub before it sends a refund (WeChat Pay: 50 per order, 365 days).</summary>
public class RefundWalletRulesTests
{
    // Both sides of the UTC date line in China time: the window is a duration from the success, not a calendar date.
    private static readonly DateTimeOffset PaidAt = new(2025, 2, 28, 23, 30, 0, TimeSpan.FromHours(8));
    private static readonly TimeSpan Year = TimeSpan.FromDays(365);

    [Fact]
    public void A_refund_inside_both_rules_is_taken()
    {
        Assert.Null(RefundDecisions.WalletRules(49, 50, PaidAt, Year, PaidAt + Year - TimeSpan.FromMilliseconds(1)));
        Assert.Null(RefundDecisions.WalletRules(0, 50, PaidAt, Year, PaidAt));
    }

    [Fact]
    public void The_fifty_first_refund_is_refused()
    {
        Assert.Equal(RefundRefusal.LimitReached, RefundDecisions.WalletRules(50, 50, PaidAt, Year, PaidAt + TimeSpan.FromDays(1)));
        Assert.Equal(RefundRefusal.LimitReached, RefundDecisions.WalletRules(51, 50, PaidAt, null, PaidAt));
    }

    [Fact]
    public void A_refund_365_days_after_the_success_or_later_is_refused()
    {
        Assert.Equal(RefundRefusal.WindowClosed, RefundDecisions.WalletRules(0, 50, PaidAt, Year, PaidAt + Year));
        Assert.Equal(RefundRefusal.WindowClosed, RefundDecisions.WalletRules(0, null, PaidAt, Year, PaidAt + TimeSpan.FromDays(400)));
        // Both rules broken: the window is named, since no later refund can help.
        Assert.Equal(RefundRefusal.WindowClosed, RefundDecisions.WalletRules(50, 50, PaidAt, Year, PaidAt + Year));
    }

    [Fact]
    public void A_wallet_that_states_no_rule_takes_any_refund()
    {
        Assert.Null(RefundDecisions.WalletRules(10_000, null, PaidAt, null, PaidAt + TimeSpan.FromDays(10_000)));
        Assert.Throws<ArgumentOutOfRangeException>(() => RefundDecisions.WalletRules(-1, 50, PaidAt, Year, PaidAt));
    }
}
