using System.Collections.Frozen;

namespace Hutong.Domain.Rollout;

/// <summary>Why a wallet was or was not offered; each value is one step of <see cref="RolloutRule.Evaluate"/>.</summary>
public enum RolloutReason
{
    /// <summary>The kill switch is on: offered to nobody.</summary>
    KillSwitch,

    /// <summary>The user is on the deny list.</summary>
    DenyListed,

    /// <summary>The user is on the allow list (skips category and percentage).</summary>
    AllowListed,

    /// <summary>The product's category is not among the rule's categories.</summary>
    CategoryNotIncluded,

    /// <summary>No user id to bucket by, and the rollout is partial.</summary>
    NoUser,

    /// <summary>The user's stable bucket is within the percentage.</summary>
    InsidePercentage,

    /// <summary>The user's stable bucket is above the percentage.</summary>
    OutsidePercentage,

    /// <summary>No rule exists for the wallet: offered to everyone.</summary>
    NoRule,
}

public readonly record struct RolloutDecision(bool Offered, RolloutReason Reason, int? Bucket, int Percentage);

/// <summary>
/// Who may be offered one wallet. Evaluated in this order: kill switch, deny list, allow list, product categories,
/// then the stable percentage bucket. Pure and allocation-free, so it can run on every checkout.
/// </summary>
public sealed class RolloutRule
{
    public RolloutRule(string wallet, int percentage, bool killSwitch = false, IEnumerable<string>? allowUsers = null,
        IEnumerable<string>? denyUsers = null, IEnumerable<string>? categories = null, string? group = null)
    {
        if (percentage is < 0 or > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(percentage), percentage, "A percentage is 0 to 100.");
        }

        Wallet = wallet;
        Percentage = percentage;
        KillSwitch = killSwitch;
        AllowUsers = (allowUsers ?? []).ToFrozenSet(StringComparer.Ordinal);
        DenyUsers = (denyUsers ?? []).ToFrozenSet(StringComparer.Ordinal);
        Categories = categories is null ? null : categories.ToFrozenSet(StringComparer.Ordinal);
        Group = group ?? $"wallet:{wallet}";
    }

    public string Wallet { get; }

    public int Percentage { get; }

    public bool KillSwitch { get; }

    public FrozenSet<string> AllowUsers { get; }

    public FrozenSet<string> DenyUsers { get; }

    /// <summary>Null: every category.</summary>
    public FrozenSet<string>? Categories { get; }

    /// <summary>Stickiness group: widening the percentage keeps everyone who was already in.</summary>
    public string Group { get; }

    public RolloutDecision Evaluate(string? userId, string? category)
    {
        if (KillSwitch)
        {
            return new(false, RolloutReason.KillSwitch, null, Percentage);
        }

        if (userId is not null && DenyUsers.Contains(userId))
        {
            return new(false, RolloutReason.DenyListed, null, Percentage);
        }

        if (userId is not null && AllowUsers.Contains(userId))
        {
            return new(true, RolloutReason.AllowListed, null, Percentage);
        }

        if (Categories is not null && (category is null || !Categories.Contains(category)))
        {
            return new(false, RolloutReason.CategoryNotIncluded, null, Percentage);
        }

        if (Percentage == 100)
        {
            return new(true, RolloutReason.InsidePercentage, null, Percentage);
        }

        if (string.IsNullOrEmpty(userId))
        {
            return new(false, RolloutReason.NoUser, null, Percentage);
        }

        var bucket = StableBucket.Of(Group, userId);
        return new(bucket <= Percentage, bucket <= Percentage ? RolloutReason.InsidePercentage : RolloutReason.OutsidePercentage, bucket, Percentage);
    }
}
