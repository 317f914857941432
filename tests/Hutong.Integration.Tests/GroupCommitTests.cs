using Dapper;
using Hutong.Server.Storage;
using Microsoft.Data.Sqlite;

namespace Hutong.Integration.Tests;

/// <summary>SQLite writes are committed in groups, each write in its own savepoint.</summary>
public sealed class GroupCommitTests : IAsyncLifetime
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("hutong-gc-");
    private Db _db = null!;

    public async Task InitializeAsync()
    {
        _db = new Db(new StoreOptions { Provider = StoreProvider.Sqlite, ConnectionString = $"Data Source={Path.Combine(_dir.FullName, "gc.db")}" });
        await _db.WriteAsync((c, t) => c.ExecuteAsync("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE); INSERT INTO t (id, v) VALUES (-1, 'taken')", transaction: t), default);
    }

    public async Task DisposeAsync()
    {
        await _db.DisposeAsync();
        SqliteConnection.ClearAllPools();
        _dir.Delete(recursive: true);
    }

    [Fact]
    public async Task Concurrent_writes_share_commits_and_a_failing_write_fails_alone()
    {
        var (commitsBefore, _) = _db.GroupCommitStats;
        var writes = Enumerable.Range(0, 500).Select(i => Task.Run(() => _db.WriteAsync(async (c, t) =>
        {
            await c.ExecuteAsync("INSERT INTO t (id, v) VALUES (@i, @v)", new { i, v = $"v{i}" }, t);
            if (i % 10 == 0)
            {
                // Partly done, then a unique violation: this write must vanish entirely, and only this one.
                await c.ExecuteAsync("INSERT INTO t (id, v) VALUES (@id, 'taken')", new { id = 10_000 + i }, t);
            }

            return i;
        }, default))).ToList();

        var outcomes = await Task.WhenAll(writes.Select(async w =>
        {
            try
            {
                return (Ok: true, Value: await w);
            }
            catch (SqliteException e) when (Db.IsUniqueViolation(e))
            {
                return (Ok: false, Value: -1);
            }
        }));

        Assert.Equal(450, outcomes.Count(o => o.Ok));
        Assert.Equal(450L, await _db.ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM t WHERE id >= 0"), default));
        Assert.Equal(0L, await _db.ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM t WHERE id % 10 = 0 OR id >= 10000"), default));
        var (commits, _) = _db.GroupCommitStats;
        Assert.True(commits - commitsBefore < 500, $"{commits - commitsBefore} commits for 500 writes: no grouping happened");
    }

    [Fact]
    public async Task The_writer_reuses_compiled_statements_and_never_shares_one_whose_reader_is_open()
    {
        await _db.WriteAsync(async (c, t) =>
        {
            for (var i = 0; i < 10; i++)
            {
                await c.ExecuteAsync("INSERT INTO t (id, v) VALUES (@i, @v)", new { i = 100 + i, v = $"s{i}" }, t); // one statement, new values
            }
        }, default);

        var seen = await _db.WriteAsync((c, t) =>
        {
            var pairs = new List<(long Id, int Later, string V)>();
            const string sql = "SELECT id FROM t WHERE id >= @from ORDER BY id";
            foreach (var id in c.Query<long>(sql, new { from = 100 }, t, buffered: false))
            {
                // The same SQL again while the outer reader is still open on it: it must run on a statement of its own.
                pairs.Add((id, c.Query<long>(sql, new { from = id }, t).Count(), c.QuerySingle<string>("SELECT v FROM t WHERE id = @id", new { id }, t)));
            }

            return Task.FromResult(pairs);
        }, default);

        Assert.Equal(Enumerable.Range(0, 10).Select(i => ((long)(100 + i), 10 - i, $"s{i}")), seen);
    }

    [Fact]
    public async Task A_write_sees_what_earlier_writes_in_its_group_wrote()
    {
        var first = _db.WriteAsync((c, t) => c.ExecuteAsync("INSERT INTO t (id, v) VALUES (1, 'a')", transaction: t), default);
        var second = _db.WriteAsync((c, t) => c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM t WHERE id = 1", transaction: t), default);
        await first;
        Assert.Equal(1L, await second);
    }
}
