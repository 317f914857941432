using Hutong.Domain.Settlement;

namespace Hutong.Domain.Tests;

/// <summary>The wallets' profit-sharing limits, checked by the hub before any wallet call.</summary>
public class SplitPlannerTests
{
    private static readonly DateTimeOffset Paid = new(2026, 11, 1, 12, 0, 0, TimeSpan.FromHours(8));

    private static SplitContext Payment(long captured = 10_000, long fee = 60, long refunded = 0, long split = 0, int splits = 0, bool finished = false) =>
        new(captured, fee, refunded, split, splits, finished, Paid);

    private static (IReadOnlyList<SplitShare>? Shares, SplitRefusal? Refusal) Plan(SplitContext p, params SplitRule[] rules) =>
        SplitPlanner.Plan(rules, p, SplitPolicy.WeChatPay, Paid.AddMinutes(5));

    [Fact]
    public void Ratios_are_of_the_amount_net_of_fee_and_refunds_rounded_down()
    {
        var (shares, refusal) = Plan(Payment(), new SplitRule("host", null, 1_000), new SplitRule("agency", 333, null));
        Assert.Null(refusal);
        Assert.Equal([new SplitShare("host", 994), new SplitShare("agency", 333)], shares);

        // After a 40.00 refund the base is 100.00 − 0.60 − 40.00 = 59.40: 10 % is 5.94.
        Assert.Equal(594, Plan(Payment(refunded: 4_000), new SplitRule("host", null, 1_000)).Shares!.Single().Amount);
    }

    [Fact]
    public void All_splits_together_stay_within_thirty_percent_of_the_net_amount()
    {
        Assert.Equal(2_982, SplitPlanner.Cap(Payment(), SplitPolicy.WeChatPay));
        Assert.Null(Plan(Payment(), new SplitRule("a", 2_982, null)).Refusal);
        Assert.Equal("split_exceeds_cap", Plan(Payment(), new SplitRule("a", 2_983, null)).Refusal!.Code);
        Assert.Equal("split_exceeds_cap", Plan(Payment(split: 2_000), new SplitRule("a", 983, null)).Refusal!.Code);
        Assert.Null(Plan(Payment(split: 2_000), new SplitRule("a", 982, null)).Refusal);
        Assert.Equal("split_exceeds_cap", Plan(Payment(), new SplitRule("a", null, 3_100)).Refusal!.Code);
        Assert.Null(Plan(Payment(), new SplitRule("a", null, 3_000)).Refusal); // a ratio rounds down: 30 % can never round past the cap
    }

    [Fact]
    public void Receiver_and_split_counts_time_rules_and_shapes_are_checked()
    {
        var fifty = Enumerable.Range(0, 50).Select(i => new SplitRule($"r{i}", 1, null)).ToArray();
        Assert.Null(Plan(Payment(), fifty).Refusal);
        Assert.Equal("too_many_receivers", Plan(Payment(), [.. fifty, new SplitRule("r50", 1, null)]).Refusal!.Code);
        Assert.Null(Plan(Payment(splits: 49), new SplitRule("a", 1, null)).Refusal);
        Assert.Equal("too_many_splits", Plan(Payment(splits: 50), new SplitRule("a", 1, null)).Refusal!.Code);
        Assert.Equal("split_finished", Plan(Payment(finished: true), new SplitRule("a", 1, null)).Refusal!.Code);
        Assert.Equal("duplicate_receiver", Plan(Payment(), new SplitRule("a", 1, null), new SplitRule("a", 2, null)).Refusal!.Code);
        Assert.Equal("invalid_split_rule", Plan(Payment(), new SplitRule("a", 1, 100)).Refusal!.Code);
        Assert.Equal("invalid_split_rule", Plan(Payment(), new SplitRule("a", null, null)).Refusal!.Code);
        Assert.Equal("invalid_split_rule", Plan(Payment(), new SplitRule("a", -1, null)).Refusal!.Code);
        Assert.Equal("split_amount_zero", Plan(Payment(captured: 100, fee: 1), new SplitRule("a", null, 1)).Refusal!.Code);

        // WeChat: not before 1 minute after payment; frozen funds are released after 30 days.
        var p = Payment();
        Assert.Equal("split_too_early", SplitPlanner.Plan([new SplitRule("a", 1, null)], p, SplitPolicy.WeChatPay, Paid.AddSeconds(59)).Refusal!.Code);
        Assert.Null(SplitPlanner.Plan([new SplitRule("a", 1, null)], p, SplitPolicy.WeChatPay, Paid.AddSeconds(60)).Refusal);
        Assert.Null(SplitPlanner.Plan([new SplitRule("a", 1, null)], p, SplitPolicy.WeChatPay, Paid.AddDays(30)).Refusal);
        Assert.Equal("split_window_closed", SplitPlanner.Plan([new SplitRule("a", 1, null)], p, SplitPolicy.WeChatPay, Paid.AddDays(30).AddSeconds(1)).Refusal!.Code);
        Assert.Null(SplitPlanner.Plan([new SplitRule("a", 1, null)], p, SplitPolicy.Alipay, Paid).Refusal); // Alipay has no delay
    }

    [Fact]
    public void A_share_split_after_a_refund_is_taken_back_on_what_remained_so_the_receiver_never_keeps_more_than_its_part()
    {
        // LedgerPropertyTests found it (seed 12911020831228294664,11637905213200897975): ¥29,008.41 paid, ¥10,064.86
        // refunded, then ¥2,273.22 split (within 30 % of the ¥18,943.55 left), then ¥18,188.66 refunded. Pro rata to the
        // whole payment only ¥1,425.34 came back: the receiver kept ¥847.88 of the ¥754.89 left. Now it keeps its part
        // of the rest, ¥90.59 (2,273.22 × 754.89 ÷ 18,943.55, rounded up), and gives back ¥2,182.63.
        Assert.Equal(218_263, SplitPlanner.ReturnOnRefund(227_322, 227_322, 2_900_841, 1_006_486, 1_818_866));
    }

    [Fact]
    public void Refunds_take_shares_back_pro_rata_and_everything_on_a_full_refund()
    {
        // 9.94 split; refunds of 33.33, 33.33 and the rest 33.34 of 100.00 take back 3.31, 3.32 (on the running total) and 3.31.
        Assert.Equal(331, SplitPlanner.ReturnOnRefund(994, 994, 10_000, 0, 3_333));
        Assert.Equal(332, SplitPlanner.ReturnOnRefund(994, 663, 10_000, 3_333, 3_333));
        Assert.Equal(331, SplitPlanner.ReturnOnRefund(994, 331, 10_000, 6_666, 3_334));
        // A split made after a partial refund: the full refund of the rest still takes the whole share.
        Assert.Equal(594, SplitPlanner.ReturnOnRefund(594, 594, 10_000, 4_000, 6_000));
        // Never more than the receiver still holds.
        Assert.Equal(10, SplitPlanner.ReturnOnRefund(994, 10, 10_000, 0, 5_000));
    }
}
