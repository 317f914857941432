using Dapper;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server;
using Hutong.Server.Features.Payments;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Hutong.Integration.Tests;

/// <summary>
/// wallet_payers and oauth_states_used do not grow forever: the wallet-payer cleanup job deletes payers lapsed longer than
/// Hutong:WalletPayerRetention and used states past their expiry (plus the clock-skew margin), in bounded batches, on
/// both stores. The clock is a FakeTimeProvider set two centuries ahead, so the hub's own job (real clock) never touches
/// this test's rows.
/// </summary>
public abstract class WalletPayerCleanupTests(HubFixture hub)
{
    private static readonly DateTimeOffset T0 = new(2200, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Retention = TimeSpan.FromHours(6);

    private WalletPayerCleanupJob Job(FakeTimeProvider clock, WalletPayers payers, int batch = 500, int batches = 20) =>
        new(payers, hub.Db, Microsoft.Extensions.Options.Options.Create(new HubOptions { WalletPayerRetention = Retention }),
            hub.Service<HubMetrics>(), clock, NullLogger<WalletPayerCleanupJob>.Instance) { BatchSize = batch, MaxBatchesPerPass = batches };

    // On PostgreSQL the hub's own cleanup pass may hold the singleton lock a moment.
    private Task RunAsync(WalletPayerCleanupJob job) => hub.EventuallyAsync(() => job.RunOnceAsync(default), ran => ran, what: "a cleanup pass");

    private Task<long> PayersAsync(IEnumerable<string> handles) => hub.CountAsync("SELECT COUNT(*) FROM wallet_payers WHERE handle IN (" + string.Join(',', handles.Select(h => $"'{h}'")) + ")");

    private Task<long> StateAsync(string id) => hub.CountAsync("SELECT COUNT(*) FROM oauth_states_used WHERE id = @id", new { id });

    [Fact]
    public async Task Lapsed_payers_go_after_the_retention_and_used_states_after_their_expiry_in_bounded_batches()
    {
        var clock = new FakeTimeProvider(T0);
        var payers = new WalletPayers(hub.Db, clock);
        var job = Job(clock, payers);
        var merchant = "m_" + Guid.NewGuid().ToString("N");
        var (handle, _) = await payers.IssueHandleAsync(merchant, "wechatpay", "oCleanup" + Guid.NewGuid().ToString("N"), default);
        var session = await payers.RememberAsync("wechatpay", "oCleanup" + Guid.NewGuid().ToString("N"), "session-" + Guid.NewGuid().ToString("N"), default);
        var (shortState, longState) = ("st-" + Guid.NewGuid().ToString("N"), "st-" + Guid.NewGuid().ToString("N"));
        Assert.True(await payers.UseStateOnceAsync(shortState, (T0 + TimeSpan.FromMinutes(5)).ToUnixTimeMilliseconds(), default));
        Assert.True(await payers.UseStateOnceAsync(longState, (T0 + TimeSpan.FromDays(1)).ToUnixTimeMilliseconds(), default));

        // Lapsed (two hours after sign-in) but within the retention: kept. The short state expired long ago: gone.
        clock.SetUtcNow(T0 + WalletPayers.Lifetime + Retention - TimeSpan.FromMinutes(1));
        await RunAsync(job);
        Assert.Equal(2, await PayersAsync([handle, session]));
        Assert.Equal(0, await StateAsync(shortState));
        Assert.Equal(1, await StateAsync(longState));
        Assert.Null(await payers.ForHandleAsync(merchant, "wechatpay", handle, default)); // lapsed rows are never read again

        // Past the retention: gone. A payer signed in now is kept, and still answers.
        var (live, _) = await payers.IssueHandleAsync(merchant, "wechatpay", "oLive", default);
        clock.Advance(TimeSpan.FromMinutes(2));
        await RunAsync(job);
        Assert.Equal(0, await PayersAsync([handle, session]));
        Assert.Equal("oLive", await payers.ForHandleAsync(merchant, "wechatpay", live, default));

        // A used state is kept for the clock-skew margin after its expiry (a hub whose clock is behind still accepts it until then).
        clock.SetUtcNow(T0 + TimeSpan.FromDays(1) + WalletPayerCleanupJob.ClockSkewMargin - TimeSpan.FromSeconds(1));
        await RunAsync(job);
        Assert.Equal(1, await StateAsync(longState));
        clock.Advance(TimeSpan.FromSeconds(2));
        await RunAsync(job);
        Assert.Equal(0, await StateAsync(longState));

        // Bounded: with batches of 3 and 2 batches a pass, 7 lapsed payers take two passes, oldest first.
        for (var i = 0; i < 1000 && await hub.CountAsync("SELECT COUNT(*) FROM wallet_payers WHERE expires_at < @at", new { at = (clock.GetUtcNow() - Retention).ToUnixTimeMilliseconds() }) > 0; i++)
        {
            await RunAsync(job); // earlier tests' rows, all lapsed by this clock
        }

        var seven = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            seven.Add((await payers.IssueHandleAsync(merchant, "wechatpay", $"oBatch{i}", default)).Handle);
            clock.Advance(TimeSpan.FromSeconds(1));
        }

        clock.Advance(WalletPayers.Lifetime + Retention + TimeSpan.FromMinutes(1));
        var bounded = Job(clock, payers, batch: 3, batches: 2);
        await RunAsync(bounded);
        Assert.Equal(1, await PayersAsync(seven));
        Assert.Equal(1, await PayersAsync([seven[^1]])); // the newest is left for the next pass
        await RunAsync(bounded);
        Assert.Equal(0, await PayersAsync(seven));
    }

    [Fact]
    public void A_negative_retention_stops_the_hub_from_starting_rather_than_deleting_payers_in_use()
    {
        var clock = new FakeTimeProvider(T0);
        var e = Assert.Throws<InvalidOperationException>(() => new WalletPayerCleanupJob(new WalletPayers(hub.Db, clock), hub.Db,
            Microsoft.Extensions.Options.Options.Create(new HubOptions { WalletPayerRetention = TimeSpan.FromMinutes(-1) }),
            hub.Service<HubMetrics>(), clock, NullLogger<WalletPayerCleanupJob>.Instance));
        Assert.Contains("WalletPayerRetention", e.Message, StringComparison.Ordinal);
    }
}

[Collection("sqlite")]
public sealed class WalletPayerCleanupTests_Sqlite(SqliteHub hub) : WalletPayerCleanupTests(hub);

[Collection("postgres")]
public sealed class WalletPayerCleanupTests_Postgres(PostgresHub hub) : WalletPayerCleanupTests(hub);
