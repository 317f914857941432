using Hutong.Domain.Rollout;
using Hutong.Domain.Subsidies;

namespace Hutong.Domain.Tests;

/// <summary>
/// A campaign's control group: who is held out (stable bucket, independent of the targeting), what the offer decision does
/// for them, and the report's figures from counts — worked by hand: conversions, lift, its 95 % interval, incremental
/// conversions and the cost per incremental conversion in fen.
/// </summary>
public class SubsidyHoldoutTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

    private static SubsidyCampaignFacts Campaign(int holdout, int percentage = 100, string id = "subc_h") =>
        new(id, SubsidyCampaignState.Active, "CNY", new HashSet<string>(["wechatpay"]), new RolloutRule("subsidy", percentage, group: $"subsidy:{id}"),
            new SubsidyTerms(500, null, null), new SubsidyLimits(1_000_000, null, null), 0, Start, Start.AddDays(7), holdout);

    private static SubsidyPaymentFacts Payment(string? buyer) => new(10_000, "CNY", buyer, null, false);

    [Fact]
    public void A_buyer_is_held_out_by_the_rollouts_stable_bucket_in_the_campaigns_own_holdout_group()
    {
        for (var i = 0; i < 500; i++)
        {
            var buyer = $"buyer-{i}";
            var bucket = StableBucket.Of("subsidy-holdout:subc_h", buyer);
            Assert.Equal(bucket <= 20 ? HoldoutArm.Control : HoldoutArm.Treatment, SubsidyHoldout.ArmOf("subc_h", 20, buyer));
            Assert.Equal(SubsidyHoldout.ArmOf("subc_h", 20, buyer), SubsidyHoldout.ArmOf("subc_h", 20, buyer)); // stable
            Assert.Equal(HoldoutArm.Treatment, SubsidyHoldout.ArmOf("subc_h", 0, buyer)); // no holdout: nobody held out
        }
    }

    [Fact]
    public void A_buyer_without_a_buyer_id_is_unassigned_and_never_held_out()
    {
        Assert.Equal(HoldoutArm.Unassigned, SubsidyHoldout.ArmOf("subc_h", 50, null));
        Assert.Equal(HoldoutArm.Unassigned, SubsidyHoldout.ArmOf("subc_h", 50, string.Empty));
        var offer = SubsidyDecisions.Offer(Campaign(50), Payment(null), "wechatpay", Start.AddHours(1));
        Assert.True(offer.Offered);
        Assert.Equal(500, offer.Amount);
    }

    [Fact]
    public void The_held_out_share_is_near_the_percent_and_independent_of_the_targeting_bucket()
    {
        var buyers = Enumerable.Range(0, 20_000).Select(i => $"b{i}").ToList();
        var control = buyers.Count(b => SubsidyHoldout.ArmOf("subc_h", 20, b) == HoldoutArm.Control);
        Assert.InRange(control, 3_700, 4_300); // 20 % of 20 000 = 4 000; σ ≈ 57

        // Among buyers a 50 % targeting admits, still about 20 % are held out (a shared bucket would give 40 %).
        var targeted = buyers.Where(b => StableBucket.Of("subsidy:subc_h", b) <= 50).ToList();
        var share = (double)targeted.Count(b => SubsidyHoldout.ArmOf("subc_h", 20, b) == HoldoutArm.Control) / targeted.Count;
        Assert.InRange(share, 0.17, 0.23);
    }

    [Fact]
    public void A_control_buyer_is_not_offered_the_subsidy_but_the_would_be_offer_is_known()
    {
        var now = Start.AddHours(1);
        var control = Enumerable.Range(0, 200).Select(i => $"buyer-{i}").First(b => SubsidyHoldout.ArmOf("subc_h", 30, b) == HoldoutArm.Control);
        var treated = Enumerable.Range(0, 200).Select(i => $"buyer-{i}").First(b => SubsidyHoldout.ArmOf("subc_h", 30, b) == HoldoutArm.Treatment);

        var held = SubsidyDecisions.Offer(Campaign(30), Payment(control), "wechatpay", now);
        Assert.False(held.Offered);
        Assert.True(held.HeldOut);
        Assert.Equal((SubsidyRefusal.HeldOut, 500L, "subc_h"), (held.Refusal, held.Amount, held.CampaignId));
        Assert.False(SubsidyDecisions.Best([Campaign(30)], Payment(control), "wechatpay", now).Offered); // nor reserved
        Assert.True(SubsidyDecisions.Offer(Campaign(30), Payment(treated), "wechatpay", now).Offered);

        // Held out only where the offer would have been made: outside the targeting it is simply not targeted.
        Assert.Equal(SubsidyRefusal.NotTargeted, SubsidyDecisions.Offer(Campaign(30, percentage: 0), Payment(control), "wechatpay", now).Refusal);
        Assert.Equal(SubsidyRefusal.WalletNotCovered, SubsidyDecisions.Offer(Campaign(30), Payment(control), "alipay", now).Refusal);
    }

    [Fact]
    public void The_figures_of_a_worked_example()
    {
        // Treatment 150 of 1 000 views paid (15 %), control 25 of 250 (10 %); 150 treated payments at ¥5 = ¥750 cost.
        var m = HoldoutMeasure.Measure(new ArmCounts(1_000, 150), new ArmCounts(250, 25), 75_000);
        Assert.Equal((1_500, 1_000, 500), (m.TreatmentBps, m.ControlBps!.Value, m.LiftBps!.Value));
        Assert.Equal(50.00m, m.IncrementalConversions); // 1 000 × (0.15 − 0.10)
        Assert.Equal(1_500, m.CostPerIncremental);       // ¥750 / 50 = ¥15.00
        // se = √(0.15·0.85/1000 + 0.10·0.90/250) = √0.0004875 = 0.0220794; × 1.959964 = 0.0432748 → [0.0067252, 0.0932748].
        Assert.Equal((67, 933), (m.LiftLowBps!.Value, m.LiftHighBps!.Value));
        Assert.True(m.Significant);
    }

    [Fact]
    public void The_example_in_the_docs()
    {
        // docs/subsidy-holdout.md: 31 of 47 treated against 6 of 18 held out, ¥155.00 treatment cost.
        var m = HoldoutMeasure.Measure(new(47, 31), new(18, 6), 15_500);
        Assert.Equal((6_595, 3_333, 3_262), (m.TreatmentBps, m.ControlBps!.Value, m.LiftBps!.Value));
        Assert.Equal((697, 5_828), (m.LiftLowBps!.Value, m.LiftHighBps!.Value)); // [697.70, 5827.12] widened to whole bps
        Assert.Equal(15.33m, m.IncrementalConversions);                            // 31 − 47·6/18
        Assert.Equal(1_011, m.CostPerIncremental);                                // 15 500·18 / 276 = 1010.87
        Assert.True(m.Significant);
    }

    [Fact]
    public void The_cost_per_incremental_conversion_is_exact_and_rounded_half_up_to_the_fen()
    {
        // 3 of 4 against 1 of 4: lift 0.5, incremental 4 × 0.5 = 2.
        Assert.Equal(50, HoldoutMeasure.Measure(new(4, 3), new(4, 1), 100).CostPerIncremental);
        Assert.Equal(51, HoldoutMeasure.Measure(new(4, 3), new(4, 1), 101).CostPerIncremental); // 50.5 → 51
        Assert.Equal(50, HoldoutMeasure.Measure(new(4, 3), new(4, 1), 99).CostPerIncremental);  // 49.5 → 50
        Assert.Equal(49, HoldoutMeasure.Measure(new(4, 3), new(4, 1), 98).CostPerIncremental);
        Assert.Equal(2.00m, HoldoutMeasure.Measure(new(4, 3), new(4, 1), 98).IncrementalConversions);
    }

    [Fact]
    public void Incremental_conversions_need_not_be_whole_and_the_cost_stays_integer()
    {
        // 3 of 7 against 1 of 6: 7 × (3/7 − 1/6) = 3 − 7/6 = 11/6 = 1.8333…; ¥10.00 / (11/6) = 545.45… fen → 545.
        var m = HoldoutMeasure.Measure(new(7, 3), new(6, 1), 1_000);
        Assert.Equal(1.83m, m.IncrementalConversions);
        Assert.Equal(545, m.CostPerIncremental);
        Assert.Equal(2_619, m.LiftBps); // 0.261904… truncated
        Assert.False(m.Significant);     // [−2107, 7345]: seven views prove nothing
        Assert.Equal((-2_107, 7_345), (m.LiftLowBps!.Value, m.LiftHighBps!.Value));
    }

    [Theory]
    [InlineData(100, 10, 100, 10, 0)]      // no lift
    [InlineData(100, 5, 100, 10, -500)]    // the subsidy did worse
    [InlineData(1, 0, 3, 1, -3_333)]       // truncated toward zero
    public void No_cost_per_incremental_conversion_without_a_positive_lift(long vt, long pt, long vc, long pc, int lift)
    {
        var m = HoldoutMeasure.Measure(new(vt, pt), new(vc, pc), 5_000);
        Assert.Equal(lift, m.LiftBps);
        Assert.Null(m.CostPerIncremental);
    }

    [Fact]
    public void Without_a_control_group_there_is_nothing_to_compare()
    {
        var m = HoldoutMeasure.Measure(new(100, 20), new(0, 0), 10_000);
        Assert.Equal(2_000, m.TreatmentBps);
        Assert.Null(m.ControlBps);
        Assert.Null(m.LiftBps);
        Assert.Null(m.LiftLowBps);
        Assert.Null(m.IncrementalConversions);
        Assert.Null(m.CostPerIncremental);
        Assert.False(m.Significant);
        Assert.Null(HoldoutMeasure.Measure(new(0, 0), new(50, 5), 0).LiftBps); // nor without treated views
    }

    [Fact]
    public void Arms_with_no_variance_give_a_zero_width_interval()
    {
        var m = HoldoutMeasure.Measure(new(50, 0), new(50, 0), 0);
        Assert.Equal((0, 0, 0), (m.LiftBps!.Value, m.LiftLowBps!.Value, m.LiftHighBps!.Value));
        Assert.False(m.Significant);
    }

    [Theory]
    [InlineData(10, 11, 10, 1, 0)]
    [InlineData(10, 1, 10, 11, 0)]
    [InlineData(-1, 0, 10, 1, 0)]
    [InlineData(10, 1, 10, 1, -1)]
    public void Impossible_counts_are_refused(long vt, long pt, long vc, long pc, long cost) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => HoldoutMeasure.Measure(new(vt, pt), new(vc, pc), cost));
}
