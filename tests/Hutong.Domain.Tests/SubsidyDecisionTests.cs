using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Hutong.Domain.Rollout;
using Hutong.Domain.Subsidies;
using Microsoft.Extensions.Time.Testing;

namespace Hutong.Domain.Tests;

/// <summary>The money decisions of platform subsidies: amounts off, offers in the window and targeting, admission, refund splits.</summary>
public class SubsidyDecisionTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

    private static SubsidyCampaignFacts Campaign(
        SubsidyTerms? terms = null, long budget = 100_000, long committed = 0, int percentage = 100, string[]? allow = null, string[]? categories = null,
        int? perBuyerCount = null, SubsidyCampaignState state = SubsidyCampaignState.Active, string id = "subc_1") =>
        new(id, state, "CNY", new HashSet<string>(["wechatpay"]), new RolloutRule("subsidy", percentage, false, allow, null, categories, group: $"subsidy:{id}"),
            terms ?? new SubsidyTerms(500, null, null), new SubsidyLimits(budget, perBuyerCount, null), committed, Start, Start.AddDays(7));

    private static SubsidyPaymentFacts Payment(long amount = 10_000, string? buyer = "buyer-1", string? category = null, bool split = false) =>
        new(amount, "CNY", buyer, category, split);

    [Theory]
    [InlineData(10_000, 500L, null, null, 500)]      // ¥5 off
    [InlineData(300, 500L, null, null, 299)]         // never the whole order: the wallet is asked for at least 1 fen
    [InlineData(1, 500L, null, null, 0)]             // a 1-fen order has nothing to take off
    [InlineData(10_000, null, 1_000, null, 1_000)]   // 10 %
    [InlineData(999, null, 1_000, null, 99)]         // 99.9 → 99: rounded down, the platform never pays more than the rate
    [InlineData(12_345, null, 333, null, 411)]       // 411.0885 → 411
    [InlineData(100_000, null, 1_000, 800L, 800)]    // 10 % capped at ¥8
    [InlineData(5_000, null, 10_000, null, 4_999)]   // 100 % still leaves 1 fen for the wallet
    public void The_amount_off_is_integer_fen_math_rounded_down_and_capped(long order, long? off, int? bps, long? cap, long expected) =>
        Assert.Equal(expected, new SubsidyTerms(off, bps, cap).Discount(order));

    [Fact]
    public void A_percentage_of_the_largest_amount_does_not_overflow() =>
        Assert.Equal(Money.MaxAmount / 2, new SubsidyTerms(null, 5_000, null).Discount(Money.MaxAmount));

    [Fact]
    public void An_offer_holds_only_within_its_window_on_a_fake_clock()
    {
        var time = new FakeTimeProvider(Start.AddSeconds(-1));
        var c = Campaign();
        Assert.Equal(SubsidyRefusal.NotStarted, SubsidyDecisions.Offer(c, Payment(), "wechatpay", time.GetUtcNow()).Refusal);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(500, SubsidyDecisions.Offer(c, Payment(), "wechatpay", time.GetUtcNow()).Amount);
        time.Advance(TimeSpan.FromDays(7) - TimeSpan.FromMilliseconds(1));
        Assert.True(SubsidyDecisions.Offer(c, Payment(), "wechatpay", time.GetUtcNow()).Offered);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(SubsidyRefusal.Over, SubsidyDecisions.Offer(c, Payment(), "wechatpay", time.GetUtcNow()).Refusal); // [starts, ends)
        Assert.Equal(SubsidyRefusal.NotActive, SubsidyDecisions.Offer(Campaign(state: SubsidyCampaignState.Ended), Payment(), "wechatpay", Start.AddHours(1)).Refusal);
    }

    [Fact]
    public void An_offer_follows_the_wallets_the_targeting_and_the_budget()
    {
        var now = Start.AddHours(1);
        Assert.Equal(SubsidyRefusal.WalletNotCovered, SubsidyDecisions.Offer(Campaign(), Payment(), "alipay", now).Refusal);
        Assert.Equal(SubsidyRefusal.ProfitSharing, SubsidyDecisions.Offer(Campaign(), Payment(split: true), "wechatpay", now).Refusal);
        Assert.Equal(SubsidyRefusal.NotTargeted, SubsidyDecisions.Offer(Campaign(percentage: 0, allow: ["vip"]), Payment(buyer: "someone"), "wechatpay", now).Refusal);
        Assert.True(SubsidyDecisions.Offer(Campaign(percentage: 0, allow: ["vip"]), Payment(buyer: "vip"), "wechatpay", now).Offered);
        Assert.Equal(SubsidyRefusal.NotTargeted, SubsidyDecisions.Offer(Campaign(categories: ["food"]), Payment(category: "books"), "wechatpay", now).Refusal);
        Assert.True(SubsidyDecisions.Offer(Campaign(categories: ["food"]), Payment(category: "food"), "wechatpay", now).Offered);
        Assert.Equal(SubsidyRefusal.NoBuyer, SubsidyDecisions.Offer(Campaign(perBuyerCount: 1), Payment(buyer: null), "wechatpay", now).Refusal);
        Assert.Equal(SubsidyRefusal.BudgetExhausted, SubsidyDecisions.Offer(Campaign(budget: 1_000, committed: 501), Payment(), "wechatpay", now).Refusal);
        Assert.True(SubsidyDecisions.Offer(Campaign(budget: 1_000, committed: 500), Payment(), "wechatpay", now).Offered);
        // The stable bucket is the campaign's own: the same buyer is in or out of a campaign whatever the time.
        var half = Campaign(percentage: 50);
        var inside = Enumerable.Range(0, 1_000).Count(i => SubsidyDecisions.Offer(half, Payment(buyer: $"u{i}"), "wechatpay", now).Offered);
        Assert.InRange(inside, 420, 580);
        Assert.Equal(inside, Enumerable.Range(0, 1_000).Count(i => SubsidyDecisions.Offer(half, Payment(buyer: $"u{i}"), "wechatpay", now.AddDays(3)).Offered));
    }

    [Fact]
    public void The_best_offer_is_the_largest_and_ties_go_to_the_older_campaign()
    {
        var now = Start.AddHours(1);
        var best = SubsidyDecisions.Best([Campaign(id: "subc_b", terms: new(300, null, null)), Campaign(id: "subc_a", terms: new(300, null, null)), Campaign(id: "subc_c", terms: new(200, null, null))],
            Payment(), "wechatpay", now);
        Assert.Equal(("subc_a", 300L), (best.CampaignId, best.Amount));
        Assert.False(SubsidyDecisions.Best([], Payment(), "wechatpay", now).Offered);
    }

    [Theory]
    [InlineData(500, 99_500, 0, 0, null, null, SubsidyRefusal.None)]
    [InlineData(500, 99_501, 0, 0, null, null, SubsidyRefusal.BudgetExhausted)]
    [InlineData(500, 0, 1, 500, 1, null, SubsidyRefusal.BuyerCountLimit)]
    [InlineData(500, 0, 1, 500, 2, null, SubsidyRefusal.None)]
    [InlineData(500, 0, 1, 600, null, 1_000L, SubsidyRefusal.BuyerAmountLimit)]
    [InlineData(500, 0, 1, 500, null, 1_000L, SubsidyRefusal.None)]
    public void Admission_keeps_the_budget_and_the_buyer_limits(long amount, long committed, int uses, long used, int? count, long? max, SubsidyRefusal expected) =>
        Assert.Equal(expected, SubsidyDecisions.Admit(amount, committed, new BuyerUse(uses, used), new SubsidyLimits(100_000, count, max)));

    [Fact]
    public void A_refund_returns_the_subsidy_proportionally_and_the_last_takes_the_remainder()
    {
        // ¥100 order, ¥10 subsidy, the wallet captured ¥90.
        var first = SubsidyDecisions.SplitRefund(10_000, 1_000, 0, 0, 3_333)!.Value;
        Assert.Equal(new SubsidyRefundSplit(3_000, 333), first); // 333.3 → 333
        var second = SubsidyDecisions.SplitRefund(10_000, 1_000, 3_333, 333, 3_334)!.Value;
        Assert.Equal(new SubsidyRefundSplit(3_000, 334), second); // running total 666.7 → 667, less 333
        var last = SubsidyDecisions.SplitRefund(10_000, 1_000, 6_667, 667, 3_333)!.Value;
        Assert.Equal(new SubsidyRefundSplit(3_000, 333), last); // the remainder
        Assert.Equal(1_000, first.SubsidyPart + second.SubsidyPart + last.SubsidyPart);
        // A 1-fen refund always reaches the buyer's wallet; a whole-payment refund splits exactly.
        Assert.Equal(new SubsidyRefundSplit(1, 0), SubsidyDecisions.SplitRefund(200, 100, 0, 0, 1));
        Assert.Equal(new SubsidyRefundSplit(9_000, 1_000), SubsidyDecisions.SplitRefund(10_000, 1_000, 0, 0, 10_000));
        Assert.Throws<ArgumentOutOfRangeException>(() => SubsidyDecisions.SplitRefund(10_000, 1_000, 9_000, 900, 1_001));
    }

    [Fact]
    public void A_partial_refund_never_uses_up_the_wallet_order_before_the_last_refund()
    {
        // A 100 %-off campaign leaves a 1-fen wallet order: a partial refund cannot return anything through the wallet
        // and keep a fen for the last one, so it is refused, and the whole refund still goes through (review finding:
        // the first partial refund took the wallet's only fen and the rest could never be refunded).
        Assert.Null(SubsidyDecisions.SplitRefund(200, 199, 0, 0, 100));
        Assert.Equal(new SubsidyRefundSplit(1, 199), SubsidyDecisions.SplitRefund(200, 199, 0, 0, 200));
        // A 10-fen wallet order under a ¥99.90 subsidy: halves split so the wallet keeps its share for the last one.
        var first = SubsidyDecisions.SplitRefund(10_000, 9_990, 0, 0, 5_000)!.Value;
        Assert.Equal(new SubsidyRefundSplit(5, 4_995), first);
        Assert.Equal(new SubsidyRefundSplit(5, 4_995), SubsidyDecisions.SplitRefund(10_000, 9_990, 5_000, 4_995, 5_000));
        // Many small refunds first: each keeps at least a fen of the wallet order for the last.
        long before = 0, back = 0, wallet = 0;
        for (var i = 0; i < 20; i++)
        {
            if (SubsidyDecisions.SplitRefund(10_000, 9_990, before, back, 100) is { } s)
            {
                (before, back, wallet) = (before + 100, back + s.SubsidyPart, wallet + s.WalletPart);
            }
        }

        Assert.True(wallet <= 9);
        Assert.Equal(new SubsidyRefundSplit(10 - wallet, 9_990 - back), SubsidyDecisions.SplitRefund(10_000, 9_990, before, back, 10_000 - before));
    }

    [Property(MaxTest = 300)]
    public Property Refund_parts_always_add_up_to_the_subsidy_and_the_wallet_capture()
    {
        var gen =
            from amount in Gen.Choose(2, 1_000_000)
            from subsidyShare in Gen.Choose(0, 9_999)
            from n in Gen.Choose(1, 6)
            from cuts in Gen.ArrayOf(Gen.Choose(1, 100), n)
            select (amount, subsidy: Math.Min(amount - 1L, (long)amount * subsidyShare / 10_000), cuts);
        return Prop.ForAll(gen.ToArbitrary(), x =>
        {
            var total = x.cuts.Sum();
            long before = 0, subsidyBack = 0, walletBack = 0;
            for (var i = 0; i < x.cuts.Length; i++)
            {
                var refund = i == x.cuts.Length - 1 ? x.amount - before : Math.Max(1, (long)x.amount * x.cuts[i] / total);
                if (refund <= 0 || before + refund > x.amount)
                {
                    continue;
                }

                if (SubsidyDecisions.SplitRefund(x.amount, x.subsidy, before, subsidyBack, refund) is not { } split)
                {
                    // Refused (nothing moved): allowed for a partial refund only, and all that is left can still be refunded.
                    return before + refund < x.amount && SubsidyDecisions.SplitRefund(x.amount, x.subsidy, before, subsidyBack, x.amount - before) is not null;
                }

                if (split.WalletPart < 1 || split.SubsidyPart < 0 || split.WalletPart + split.SubsidyPart != refund
                    || walletBack + split.WalletPart > x.amount - x.subsidy)
                {
                    return false;
                }

                before += refund;
                subsidyBack += split.SubsidyPart;
                walletBack += split.WalletPart;
            }

            return before != x.amount || (subsidyBack == x.subsidy && walletBack == x.amount - x.subsidy);
        });
    }

    [Fact]
    public void The_state_tables_allow_only_the_moves_of_a_reservation()
    {
        Assert.True(SubsidyStates.Reservation.Allows(SubsidyReservationState.Reserved, SubsidyReservationState.Consumed));
        Assert.True(SubsidyStates.Reservation.Allows(SubsidyReservationState.Reserved, SubsidyReservationState.Released));
        Assert.False(SubsidyStates.Reservation.Apply(SubsidyReservationState.Consumed, SubsidyReservationState.Released).IsLegal);
        Assert.True(SubsidyStates.Reservation.IsFinal(SubsidyReservationState.Consumed));
        Assert.True(SubsidyStates.Campaign.IsFinal(SubsidyCampaignState.Ended));
        Assert.Equal("consumed", SubsidyReservationState.Consumed.ToWire());
    }
}
