using Dapper;
using Hutong.Server.Storage;
using Microsoft.Data.Sqlite;
using Hutong.Integration.Tests.Infrastructure;

namespace Hutong.Integration.Tests;

/// <summary>
/// Statement-only writes (how payments are created) commit in groups on both stores; a write whose statement or check
/// fails must fail alone, leave nothing behind, and not take its group down.
/// </summary>
public abstract class StatementGroupCommitTests : IAsyncLifetime
{
    private Db _db = null!;

    protected abstract Task<StoreOptions> StoreAsync();

    protected abstract Task DropAsync();

    public async Task InitializeAsync()
    {
        _db = new Db(await StoreAsync());
        await _db.WriteAsync((c, t) => c.ExecuteAsync(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE); CREATE TABLE u (id INTEGER PRIMARY KEY); INSERT INTO t (id, v) VALUES (-1, 'taken')", transaction: t), default);
    }

    public async Task DisposeAsync()
    {
        await _db.DisposeAsync();
        await DropAsync();
    }

    [Fact]
    public async Task Concurrent_statement_writes_share_commits_and_a_failing_write_fails_alone()
    {
        var (commitsBefore, _) = _db.GroupCommitStats;
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 400).Select(i => Task.Run(async () =>
        {
            var write = new WriteBatch(2);
            var t = write.Add(new("INSERT INTO t (id, v) VALUES (@Id, @V)", new { Id = i, V = i % 10 == 0 ? "taken" : $"v{i}" }), // every 10th: unique violation
                n => Assert.Equal(1, n));

            // Every 7th is refused by its check after its statements ran (as an idempotency key answered elsewhere is).
            var u = write.Add(new("INSERT INTO u (id) VALUES (@Id)", new { Id = i }), n =>
            {
                Assert.Equal(1, n);
                if (i % 7 == 0)
                {
                    throw new InvalidOperationException("refused by its check");
                }
            });
            try
            {
                await _db.WriteAsync(write, default);
                Assert.Equal((1, 1), (t.Rows, u.Rows));
                return (i, ok: true);
            }
            catch (Exception e) when (Db.IsUniqueViolation(e) || e is InvalidOperationException)
            {
                return (i, ok: false);
            }
        })));

        var expected = Enumerable.Range(0, 400).Where(i => i % 10 != 0 && i % 7 != 0).ToHashSet();
        Assert.Equal(expected.Order(), outcomes.Where(o => o.ok).Select(o => o.i).Order());
        var inT = await _db.ReadAsync(c => c.QueryAsync<int>("SELECT id FROM t WHERE id >= 0"), default);
        var inU = await _db.ReadAsync(c => c.QueryAsync<int>("SELECT id FROM u"), default);
        Assert.Equal(expected.Order(), inT.Order());
        Assert.Equal(expected.Order(), inU.Order()); // a failed write left neither of its rows
        var (commits, _) = _db.GroupCommitStats;
        Assert.True(commits - commitsBefore < 300, $"{commits - commitsBefore} commits for 400 writes: no grouping happened");
    }
}

public sealed class StatementGroupCommitTests_Sqlite : StatementGroupCommitTests
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("hutong-sgc-");

    protected override Task<StoreOptions> StoreAsync() =>
        Task.FromResult(new StoreOptions { Provider = StoreProvider.Sqlite, ConnectionString = $"Data Source={Path.Combine(_dir.FullName, "sgc.db")}" });

    protected override Task DropAsync()
    {
        SqliteConnection.ClearAllPools();
        _dir.Delete(recursive: true);
        return Task.CompletedTask;
    }
}

public sealed class StatementGroupCommitTests_Postgres : StatementGroupCommitTests
{
    private readonly string _database = "hutong_sgc_" + Guid.NewGuid().ToString("N")[..10];

    protected override async Task<StoreOptions> StoreAsync() =>
        new() { Provider = StoreProvider.Postgres, ConnectionString = await PostgresHub.CreateDatabaseAsync(_database) };

    protected override Task DropAsync() => PostgresHub.DropDatabaseAsync(_database);
}
