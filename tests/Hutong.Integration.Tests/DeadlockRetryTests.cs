using Dapper;
using Hutong.Server.Storage;
using Hutong.Integration.Tests.Infrastructure;

namespace Hutong.Integration.Tests;

/// <summary>
/// PostgreSQL breaks a lock cycle between two writers by rolling one of them back with 40P01. That writer's work is only
/// database statements, so the store runs it again: both writes land, none twice, and no caller sees the deadlock.
/// </summary>
public sealed class DeadlockRetryTests : IAsyncLifetime
{
    private readonly string _database = "hutong_dl_" + Guid.NewGuid().ToString("N")[..10];
    private Db _db = null!;

    public async Task InitializeAsync()
    {
        _db = new Db(new StoreOptions { Provider = StoreProvider.Postgres, ConnectionString = await PostgresHub.CreateDatabaseAsync(_database) });
        await _db.WriteAsync((c, t) => c.ExecuteAsync(
            "CREATE TABLE acct (id INTEGER PRIMARY KEY, balance BIGINT NOT NULL); INSERT INTO acct VALUES (1, 0), (2, 0); CREATE TABLE moves (id SERIAL PRIMARY KEY, who TEXT NOT NULL)", transaction: t), default);
    }

    public async Task DisposeAsync()
    {
        await _db.DisposeAsync();
        await PostgresHub.DropDatabaseAsync(_database);
    }

    [Fact]
    public async Task A_writer_rolled_back_by_a_deadlock_runs_again_and_both_writes_land_once()
    {
        // Each writer locks one row, waits until the other holds its row too, then asks for the other's: a certain cycle
        // on the first attempt. The retry runs without the barrier, so it completes once the survivor has committed.
        using var bothHoldOne = new Barrier(2);
        var attempts = new int[2];

        Task<int> Writer(int index, int first, int second) => Task.Run(() => _db.WriteAsync(async (c, t) =>
        {
            var attempt = Interlocked.Increment(ref attempts[index]);
            await c.ExecuteAsync("UPDATE acct SET balance = balance + 1 WHERE id = @first", new { first }, t);
            if (attempt == 1)
            {
                Assert.True(bothHoldOne.SignalAndWait(TimeSpan.FromSeconds(30)), "the other writer never took its first lock");
            }

            await c.ExecuteAsync("UPDATE acct SET balance = balance + 10 WHERE id = @second", new { second }, t);
            await c.ExecuteAsync("INSERT INTO moves (who) VALUES (@who)", new { who = $"w{index}" }, t);
            return attempt;
        }, default));

        var retriesBefore = _db.DeadlockRetries;
        var done = await Task.WhenAll(Writer(0, 1, 2), Writer(1, 2, 1)).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(1, _db.DeadlockRetries - retriesBefore); // exactly one victim, run again once
        Assert.Equal([1, 2], done.Order()); // the survivor needed one attempt, the victim two
        var balances = (await _db.ReadAsync(c => c.QueryAsync<long>("SELECT balance FROM acct ORDER BY id"), default)).ToArray();
        Assert.Equal([11L, 11L], balances); // each writer's two updates applied exactly once
        var moves = (await _db.ReadAsync(c => c.QueryAsync<string>("SELECT who FROM moves ORDER BY who"), default)).ToArray();
        Assert.Equal(["w0", "w1"], moves);
    }
}
