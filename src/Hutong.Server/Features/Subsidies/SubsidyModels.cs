using System.Text.Json;
using Hutong.Domain;
using Hutong.Domain.Rollout;
using Hutong.Domain.Subsidies;

namespace Hutong.Server.Features.Subsidies;

/// <summary>
/// POST /v1/subsidy_campaigns. Either amount_off (minor units) or percent_off_bps (basis points of the order amount,
/// rounded down to the fen) with an optional max_off cap; the wallets it covers; who and what it targets (the rollout's
/// rule: percentage of buyers by stable bucket, allow/deny lists, product categories); the total budget; per-buyer limits;
/// the window [starts_at, ends_at).
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
    Dictionary<string, string>? Metadata);

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
    DateTimeOffset StartsAt,
    DateTimeOffset EndsAt,
    IReadOnlyDictionary<string, string>? Metadata,
    DateTimeOffset CreatedAt,
    DateTimeOffset? EndedAt)
{
    public static SubsidyCampaignDto Of(SubsidyCampaignRow r) => new(
        r.Id, "subsidy_campaign", r.Name, r.Status, r.Currency, r.AmountOff, r.PercentOffBps, r.MaxOff, r.WalletList, r.TargetingOf, r.Budget, r.Committed,
        r.Budget - r.Committed,
        r.PerBuyerCount is null && r.PerBuyerAmount is null ? null : new SubsidyBuyerLimit(r.PerBuyerCount, r.PerBuyerAmount),
        DateTimeOffset.FromUnixTimeMilliseconds(r.StartsAt), DateTimeOffset.FromUnixTimeMilliseconds(r.EndsAt),
        r.Metadata is null ? null : JsonSerializer.Deserialize<Dictionary<string, string>>(r.Metadata),
        DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt), r.EndedAt is { } e ? DateTimeOffset.FromUnixTimeMilliseconds(e) : null);
}

public sealed record SubsidyCampaignList(string Object, IReadOnlyList<SubsidyCampaignDto> Data, bool HasMore, string? NextCursor);

/// <summary>One wallet's conversion: cashier views that showed the offer (one per payment), and of those payments, the paid ones.</summary>
public sealed record SubsidyWalletConversion(string Wallet, long Views, long Paid, int ConversionBps);

/// <summary>
/// GET /v1/subsidy_campaigns/{id}/report. cost: subsidies consumed less what refunds handed back; payments: subsidised
/// payments that succeeded; buyers: distinct buyers among them; reserved: held right now by open payments.
/// </summary>
public sealed record SubsidyCampaignReport(
    string Object, string Campaign, string Currency, long Budget, long Committed, long Reserved, long Consumed, long Returned, long Cost,
    long Overrun, long Payments, long Buyers, long Views, int ConversionBps, IReadOnlyList<SubsidyWalletConversion> ByWallet);

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
            DateTimeOffset.FromUnixTimeMilliseconds(StartsAt), DateTimeOffset.FromUnixTimeMilliseconds(EndsAt));
    }

    public Money MoneyOf(long minor) => new(minor, Domain.Currency.Parse(Currency));
}
