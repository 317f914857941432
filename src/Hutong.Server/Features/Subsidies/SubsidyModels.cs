using System.Text.Json;
using Hutong.Domain;
using Hutong.Domain.Rollout;
using Hutong.Domain.Subsidies;

namespace Hutong.Server.Features.Subsidies;

/// <summary>
/// POST /v1/subsidy_campaigns. Either amount_off (minor units) or percent_off_bps (basis points of the order amount,
/// rounded down to the fen) with an optional max_off cap; the wallets it covers; who and what it targets (the rollout's
/// rule: percentage of buyers by stable bucket, allow/deny lists, product categories); the total budget; per-buyer limits;
/// the window [starts_at, ends_at); holdout_percent (0-50, default 0): the share of eligible buyers held out as the control group.
/// </summary>
public sealed record CreateSubsidyCampaignRequest(
    string? Name,
    string? Currency,
    long? AmountOff,
    int? PercentOffBps,
    long? MaxOff,
    IReadOnlyList<string>? Wallets,
    SubsidyTargeting? Targeting,
    long? Budget,
    SubsidyBuyerLimit? PerBuyerLimit,
    DateTimeOffset? StartsAt,
    DateTimeOffset? EndsAt,
    Dictionary<string, string>? Metadata,
    int? HoldoutPercent = null);

/// <summary>Who sees the offer: the rollout rule's fields (percentage is stable per buyer_id within the campaign).</summary>
public sealed record SubsidyTargeting(int? Percentage, IReadOnlyList<string>? AllowUsers, IReadOnlyList<string>? DenyUsers, IReadOnlyList<string>? Categories);

/// <summary>At most this many subsidised payments and/or this much subsidy per buyer (buyer_id) in the campaign.</summary>
public sealed record SubsidyBuyerLimit(int? Count, long? Amount);

public sealed record SubsidyCampaignDto(
    string Id,
    string Object,
    string Name,
    string Status,
    string Currency,
    long? AmountOff,
    int? PercentOffBps,
    long? MaxOff,
    IReadOnlyList<string> Wallets,
    SubsidyTargeting Targeting,
    long Budget,
    long Committed,
    long Remaining,
    SubsidyBuyerLimit? PerBuyerLimit,
    int HoldoutPercent,
    DateTimeOffset StartsAt,
    DateTimeOffset EndsAt,
    IReadOnlyDictionary<string, string>? Metadata,
    DateTimeOffset CreatedAt,
    DateTimeOffset? EndedAt)
{
    public static SubsidyCampaignDto Of(SubsidyCampaignRow r) => new(
        r.Id, "subsidy_campaign", r.Name, r.Status, r.Currency, r.AmountOff, r.PercentOffBps, r.MaxOff, r.WalletList, r.TargetingOf, r.Budget, r.Committed,
        r.Budget - r.Committed,
        r.PerBuyerCount is null && r.PerBuyerAmount is null ? null : new SubsidyBuyerLimit(r.PerBuyerCount, r.PerBuyerAmount), r.HoldoutPercent,
        DateTimeOffset.FromUnixTimeMilliseconds(r.StartsAt), DateTimeOffset.FromUnixTimeMilliseconds(r.EndsAt),
        r.Metadata is null ? null : JsonSerializer.Deserialize<Dictionary<string, string>>(r.Metadata),
        DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt), r.EndedAt is { } e ? DateTimeOffset.FromUnixTimeMilliseconds(e) : null);
}

public sealed record SubsidyCampaignList(string Object, IReadOnlyList<SubsidyCampaignDto> Data, bool HasMore, string? NextCursor);

/// <summary>
/// One wallet's conversion: cashier views that showed the offer (one per payment; treatment and unassigned buyers), and
/// of those payments, the ones paid with the subsidy; and the holdout comparison at this wallet.
/// </summary>
public sealed record SubsidyWalletConversion(string Wallet, long Views, long Paid, int ConversionBps, SubsidyExperiment Experiment);

/// <summary>One arm: cashier views (one per payment and wallet; overall: distinct payments) and, of those, the payments that succeeded at the wallet viewed.</summary>
public sealed record SubsidyArm(long Views, long Paid, int ConversionBps)
{
    public static SubsidyArm Of(ArmCounts c) => new(c.Views, c.Paid, c.ConversionBps);
}

/// <summary>
/// The control-group comparison (Hutong.Domain.Subsidies.HoldoutMeasure): treatment (shown the offer) against control
/// (held out, shown the normal price); unassigned: buyers without buyer_id, shown the offer, in neither arm.
/// treatment_cost: net subsidy (consumed − returned) of the treatment arm's paid payments. lift_bps, lift_ci95_bps
/// [low, high]: treatment − control conversion and its 95 % interval; incremental_conversions = treatment views ×
/// lift; cost_per_incremental_conversion = treatment_cost / incremental_conversions (fen, half up; null when lift ≤ 0 or no control).
/// </summary>
public sealed record SubsidyExperiment(
    SubsidyArm Treatment, SubsidyArm Control, SubsidyArm Unassigned, long TreatmentCost, int? LiftBps, IReadOnlyList<int>? LiftCi95Bps, bool Significant,
    decimal? IncrementalConversions, long? CostPerIncrementalConversion)
{
    public static SubsidyExperiment Of(ArmCounts treatment, ArmCounts control, ArmCounts unassigned, long treatmentCost)
    {
        var m = HoldoutMeasure.Measure(treatment, control, treatmentCost);
        return new SubsidyExperiment(
            SubsidyArm.Of(treatment), SubsidyArm.Of(control), SubsidyArm.Of(unassigned), treatmentCost, m.LiftBps,
            m is { LiftLowBps: { } low, LiftHighBps: { } high } ? [low, high] : null, m.Significant, m.IncrementalConversions, m.CostPerIncremental);
    }
}

/// <summary>
/// GET /v1/subsidy_campaigns/{id}/report. cost: subsidies consumed less what refunds handed back; payments: subsidised
/// payments that succeeded; buyers: distinct buyers among them; reserved: held right now by open payments; experiment:
/// the holdout comparison over all the campaign's wallets, counted per payment.
/// </summary>
public sealed record SubsidyCampaignReport(
    string Object, string Campaign, string Currency, long Budget, long Committed, long Reserved, long Consumed, long Returned, long Cost,
    long Overrun, long Payments, long Buyers, long Views, int ConversionBps, int HoldoutPercent, SubsidyExperiment Experiment,
    IReadOnlyList<SubsidyWalletConversion> ByWallet);

/// <summary>A subsidy_campaigns row.</summary>
public sealed class SubsidyCampaignRow
{
    public string Id { get; set; } = string.Empty;

    public string MerchantId { get; set; } = string.Empty;

    public string Name { get; set; } = string.Empty;

    public string Currency { get; set; } = string.Empty;

    public long? AmountOff { get; set; }

    public int? PercentOffBps { get; set; }

    public long? MaxOff { get; set; }

    /// <summary>JSON array of wallet names.</summary>
    public string Wallets { get; set; } = "[]";

    /// <summary>JSON <see cref="SubsidyTargeting"/>.</summary>
    public string Targeting { get; set; } = "{}";

    public long Budget { get; set; }

    /// <summary>Reserved plus consumed subsidies: never above the budget (conditional updates and a CHECK).</summary>
    public long Committed { get; set; }

    /// <summary>Subsidies owed beyond the budget (an order placed for the reduced amount paid after its reservation was released).</summary>
    public long Overrun { get; set; }

    public int? PerBuyerCount { get; set; }

    public long? PerBuyerAmount { get; set; }

    /// <summary>The share of eligible buyers held out of the offer as the control group (0-50; 0: none). Fixed at creation.</summary>
    public int HoldoutPercent { get; set; }

    public long StartsAt { get; set; }

    public long EndsAt { get; set; }

    public string Status { get; set; } = string.Empty;

    public string? Metadata { get; set; }

    public long CreatedAt { get; set; }

    public long UpdatedAt { get; set; }

    public long? EndedAt { get; set; }

    public IReadOnlyList<string> WalletList => JsonSerializer.Deserialize<List<string>>(Wallets) ?? [];

    public SubsidyTargeting TargetingOf => JsonSerializer.Deserialize<SubsidyTargeting>(Targeting, ApiJson.Options) ?? new SubsidyTargeting(null, null, null, null);

    public SubsidyCampaignState State => SubsidyStates.CampaignFromWire(Status);

    /// <summary>The facts the domain decides an offer on; the targeting is the rollout's rule, bucketed in the campaign's own group.</summary>
    public SubsidyCampaignFacts Facts()
    {
        var t = TargetingOf;
        return new SubsidyCampaignFacts(
            Id, State, Currency, WalletList.ToHashSet(StringComparer.Ordinal),
            new RolloutRule("subsidy", t.Percentage ?? 100, false, t.AllowUsers, t.DenyUsers, t.Categories, group: $"subsidy:{Id}"),
            new SubsidyTerms(AmountOff, PercentOffBps, MaxOff), new SubsidyLimits(Budget, PerBuyerCount, PerBuyerAmount), Committed,
            DateTimeOffset.FromUnixTimeMilliseconds(StartsAt), DateTimeOffset.FromUnixTimeMilliseconds(EndsAt), HoldoutPercent);
    }

    public Money MoneyOf(long minor) => new(minor, Domain.Currency.Parse(Currency));
}
