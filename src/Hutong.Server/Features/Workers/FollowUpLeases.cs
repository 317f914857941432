using Dapper;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.Workers;

/// <summary>The tables whose rows are wallet calls followed to their outcome, each with lease_until / leased_by (0015).</summary>
public enum FollowedTable
{
    Refunds,
    Splits,
    SplitReturns,
    Payouts,
}

/// <summary>
/// One hub instance's claims on followed rows. Several hubs may share one database: a row is claimed by a conditional
/// update (still in the status that was read, and nobody else's lease current) before its wallet call, so only one hub
/// sends or queries it; the outcome is then applied conditionally on that status and this hub's lease (see the stores).
/// A lease outlives the item timeout, so only a hub that died leaves a row to another; it then lapses and is taken again.
/// </summary>
public sealed class FollowUpLeases(Db db, WorkerOptions options, TimeProvider time)
{
    /// <summary>
    /// This hub instance (one per store: two hubs in one process stay two), named after its host and process so an
    /// operator (or a test that killed one) can tell whose claims a row holds.
    /// </summary>
    public string Instance { get; } = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";

    public static string Name(FollowedTable table) => table switch
    {
        FollowedTable.Refunds => "refunds",
        FollowedTable.Splits => "splits",
        FollowedTable.SplitReturns => "split_returns",
        FollowedTable.Payouts => "payouts",
        _ => throw new ArgumentOutOfRangeException(nameof(table), table, null),
    };

    /// <summary>
    /// The lease's end when claimed, or null when another hub has it or its status moved on since it was read. The claim
    /// also stamps sent_at (0017) the first time, committed before the wallet call: whoever takes the row over after this
    /// claim lapses knows the wallet may have the call, and queries before it sends (<see cref="Hutong.Domain.FollowUps.SendOnce"/>).
    /// </summary>
    public async Task<long?> ClaimAsync(FollowedTable table, string id, string readStatus, CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var until = now + (long)(options.ItemTimeout + options.LeaseMargin).TotalMilliseconds;
        var claimed = await db.WriteAsync((c, t) => c.ExecuteAsync(
            $"""
            UPDATE {Name(table)} SET lease_until = @until, leased_by = @Instance, sent_at = COALESCE(sent_at, @now)
            WHERE id = @id AND status = @readStatus AND (lease_until IS NULL OR lease_until <= @now)
            """, new { until, Instance, id, readStatus, now }, t), ct);
        return claimed == 1 ? until : null;
    }

    /// <summary>Gives a claim back when no outcome was applied (that clears it already); changes nothing once it lapsed and another hub took it.</summary>
    public Task ReleaseAsync(FollowedTable table, string id, long until) =>
        db.WriteAsync((c, t) => c.ExecuteAsync(
            $"UPDATE {Name(table)} SET lease_until = NULL, leased_by = NULL WHERE id = @id AND leased_by = @Instance AND lease_until = @until",
            new { id, Instance, until }, t), CancellationToken.None);
}
