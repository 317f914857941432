using Hutong.Domain.FollowUps;
using Hutong.Domain.Splits;

namespace Hutong.Server.Features.ProfitSharing;

/// <summary>What the split services share about the rows: their follow-up state in and out, and the ledger's one-posting rule.</summary>
internal static class SplitRows
{
    /// <summary>How often an unanswered split or return is asked about again.</summary>
    public static FollowUpSchedule Schedule(HubOptions options) => new(options.UnknownRecheckSchedule, WhenExhausted.RepeatLast);

    public static FollowUp<SplitOrderState> FollowUpOf(SplitRow s) =>
        new(SplitStates.SplitFromWire(s.Status), s.Checks, s.NextCheckAt is { } at ? DateTimeOffset.FromUnixTimeMilliseconds(at) : null);

    public static FollowUp<SplitReturnState> FollowUpOf(SplitReturnRow r) =>
        new(SplitStates.ReturnFromWire(r.Status), r.Checks, r.NextCheckAt is { } at ? DateTimeOffset.FromUnixTimeMilliseconds(at) : null);

    public static void Set(SplitRow s, FollowUp<SplitOrderState> f)
    {
        s.Status = f.Status.ToWire();
        s.Checks = f.Checks;
        s.NextCheckAt = f.NextCheckAt?.ToUnixTimeMilliseconds();
    }

    public static void Set(SplitReturnRow r, FollowUp<SplitReturnState> f)
    {
        r.Status = f.Status.ToWire();
        r.Checks = f.Checks;
        r.NextCheckAt = f.NextCheckAt?.ToUnixTimeMilliseconds();
    }

    /// <summary>The row changed just now, so its entry cannot exist yet: one that does is a double count, refused with the whole change.</summary>
    public static void Posted(bool appended, string id)
    {
        if (!appended)
        {
            throw new InvalidOperationException($"{id} was already posted to the ledger; its outcome is not applied twice.");
        }
    }

    /// <summary>The wallets' relation types: the platform is the service provider; hosts and agencies are partners.</summary>
    public static string Relation(string role) => role == "platform" ? "SERVICE_PROVIDER" : "PARTNER";
}
