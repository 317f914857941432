using Hutong.Domain.Rollout;

namespace Hutong.Domain.Subsidies;

/// <summary>
/// Which arm of a campaign's experiment a cashier view is of. Stored as the strings of subsidy_views.arm. Not a state: a
/// buyer's arm is a pure function of the campaign and the buyer, fixed for the campaign's life.
/// </summary>
public enum HoldoutArm
{
    /// <summary>An assigned buyer shown the offer.</summary>
    Treatment,

    /// <summary>An assigned buyer held out: shown the normal price where the offer would have been, never subsidised.</summary>
    Control,

    /// <summary>
    /// No buyer_id, so no stable assignment: such a buyer is never held out (they see the offer as before the holdout
    /// existed), but their views are kept out of both arms of the comparison, which only knows assigned buyers.
    /// </summary>
    Unassigned,
}

/// <summary>A campaign's control group: which buyers are held out of the offer.</summary>
public static class SubsidyHoldout
{
    /// <summary>The largest share of eligible buyers a campaign may hold out (the rest must still be worth the campaign).</summary>
    public const int MaxPercent = 50;

    public static string ToWire(this HoldoutArm arm) => WireName<HoldoutArm>.Of(arm);

    /// <summary>
    /// The arm of <paramref name="buyerId"/> in campaign <paramref name="campaignId"/> holding out <paramref name="percent"/>
    /// of buyers. The rollout's stable bucket (<see cref="StableBucket"/>, MurmurHash3 of "{group}:{buyer}") in the group
    /// <c>subsidy-holdout:{campaign id}</c> — not the targeting's group <c>subsidy:{campaign id}</c>, so which buyers are
    /// held out is independent of which are targeted. Held out when bucket ≤ percent. Deterministic: a buyer stays in one
    /// arm for the campaign's life (the percent is fixed at creation). No buyer: <see cref="HoldoutArm.Unassigned"/>.
    /// </summary>
    public static HoldoutArm ArmOf(string campaignId, int percent, string? buyerId)
    {
        if (string.IsNullOrEmpty(buyerId))
        {
            return HoldoutArm.Unassigned;
        }

        return percent > 0 && StableBucket.Of($"subsidy-holdout:{campaignId}", buyerId) <= percent ? HoldoutArm.Control : HoldoutArm.Treatment;
    }
}

/// <summary>One arm's counts: cashier views (one per payment) and, of those payments, the ones paid at the wallet viewed.</summary>
public readonly record struct ArmCounts(long Views, long Paid)
{
    /// <summary>paid / views in basis points, rounded down; 0 without views.</summary>
    public int ConversionBps => Views <= 0 ? 0 : (int)Int128.Min(10_000, (Int128)Paid * 10_000 / Views);
}

/// <summary>
/// What the holdout measures. Lift and interval in basis points of conversion; <see cref="IncrementalConversions"/> to
/// hundredths; <see cref="CostPerIncremental"/> in minor units (fen). Null where there is nothing to measure (no views in
/// an arm) or, for the cost, no positive lift.
/// </summary>
public sealed record HoldoutMeasurement(
    int TreatmentBps, int? ControlBps, int? LiftBps, int? LiftLowBps, int? LiftHighBps, bool Significant, decimal? IncrementalConversions,
    long? CostPerIncremental);

/// <summary>The report's experiment figures from counts. Pure; integer (and decimal) math for every money figure.</summary>
public static class HoldoutMeasure
{
    /// <summary>z for a two-sided 95 % interval (the 0.975 quantile of the standard normal).</summary>
    public const double Z95 = 1.959963984540054;

    /// <summary>
    /// From the treatment arm's and the control arm's counts and the treatment arm's net subsidy cost (minor units):
    /// <list type="bullet">
    /// <item>conversion of each arm, bps rounded down (as the report's other conversions);</item>
    /// <item>lift = treatment rate − control rate, bps truncated toward zero (exact: integer math on the counts);</item>
    /// <item>95 % interval of the lift: two-proportion normal approximation with unpooled variance,
    /// (p_t − p_c) ± z·√(p_t(1−p_t)/n_t + p_c(1−p_c)/n_c); bps, the low end rounded down and the high end up (never narrower
    /// than computed). Doubles here only: statistics, never money. <see cref="HoldoutMeasurement.Significant"/> when it excludes 0;</item>
    /// <item>incremental conversions = treated views × (p_t − p_c) = paid_t − views_t·paid_c/views_c, to hundredths (half away from zero);</item>
    /// <item>cost per incremental conversion = cost / incremental = cost·views_c / (paid_t·views_c − views_t·paid_c), exact
    /// rational in 128-bit integers, rounded half up to the fen; null when the lift is ≤ 0 or there is no control (or no treatment).</item>
    /// </list>
    /// </summary>
    public static HoldoutMeasurement Measure(ArmCounts treatment, ArmCounts control, long treatmentCost)
    {
        if (treatment.Views < 0 || control.Views < 0 || treatment.Paid < 0 || control.Paid < 0 || treatment.Paid > treatment.Views
            || control.Paid > control.Views || treatmentCost < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(treatment), "Counts are 0 ≤ paid ≤ views, and the cost is not negative.");
        }

        if (treatment.Views == 0 || control.Views == 0)
        {
            return new HoldoutMeasurement(treatment.ConversionBps, control.Views == 0 ? null : control.ConversionBps, null, null, null, false, null, null);
        }

        // p_t − p_c = excess / (views_t·views_c) with excess = paid_t·views_c − views_t·paid_c, exactly.
        Int128 vt = treatment.Views, vc = control.Views;
        var excess = (Int128)treatment.Paid * vc - vt * control.Paid;
        var lift = (int)(excess * 10_000 / (vt * vc)); // C#'s integer division truncates toward zero

        var pt = (double)treatment.Paid / treatment.Views;
        var pc = (double)control.Paid / control.Views;
        var half = Z95 * Math.Sqrt((pt * (1 - pt) / treatment.Views) + (pc * (1 - pc) / control.Views));
        // The 1e-9 keeps a bound that is a whole bps in exact arithmetic (e.g. 0 with no variance) from moving a whole bps
        // outward through binary rounding.
        var low = (int)Math.Floor(((pt - pc - half) * 10_000) + 1e-9);
        var high = (int)Math.Ceiling(((pt - pc + half) * 10_000) - 1e-9);

        var incremental = Math.Round((decimal)excess / control.Views, 2, MidpointRounding.AwayFromZero);
        long? costPer = excess <= 0 ? null : (long)(((treatmentCost * vc * 2) + excess) / (2 * excess)); // half up
        return new HoldoutMeasurement(treatment.ConversionBps, control.ConversionBps, lift, low, high, low > 0 || high < 0, incremental, costPer);
    }
}
