using System.Reflection;
using Dapper;

namespace Hutong.Server.Storage;

/// <summary>Applies the embedded, numbered SQL migrations once each, in order, in one transaction per file.</summary>
public static class Migrator
{
    /// <summary>Every migration this build carries, in order: the schema is current when all are applied.</summary>
    public static IReadOnlyList<string> Versions { get; } = typeof(Migrator).Assembly.GetManifestResourceNames()
        .Where(n => n.EndsWith(".sql", StringComparison.Ordinal)).Order(StringComparer.Ordinal).Select(n => n.Split('.')[^2]).ToArray();

    public static async Task<IReadOnlyList<string>> MigrateAsync(Db db, CancellationToken ct)
    {
        if (db.Provider == StoreProvider.Sqlite)
        {
            await using var c = await db.OpenAsync(ct);
            await c.ExecuteAsync("PRAGMA journal_mode=WAL;"); // persistent in the file
        }

        // One migrator at a time on PostgreSQL (several hubs starting together): the whole run, the bookkeeping table's
        // creation included (two concurrent CREATE TABLE IF NOT EXISTS collide in the catalog). Hubs that started later
        // wait here, then find every migration applied.
        await using var migrating = await AdvisoryLock.TakeAsync(db, AdvisoryLock.MigrationsKey, ct);
        await db.WriteAsync((c, t) => c.ExecuteAsync(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)", transaction: t), ct);

        var applied = new List<string>();
        var assembly = typeof(Migrator).Assembly;
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.EndsWith(".sql", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            var version = name.Split('.')[^2];
            var sql = ForDialect(await ReadAsync(assembly, name), db.IsPostgres);
            var done = await db.WriteAsync(async (c, t) =>
            {
                if (await c.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM schema_migrations WHERE version = @version", new { version }, t) > 0)
                {
                    return false;
                }

                await c.ExecuteAsync(sql.Replace("{{identity}}", db.IdentityColumn, StringComparison.Ordinal), transaction: t);
                await c.ExecuteAsync("INSERT INTO schema_migrations (version, applied_at) VALUES (@version, @at)",
                    new { version, at = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() }, t);
                return true;
            }, ct);
            if (done)
            {
                applied.Add(version);
            }
        }

        return applied;
    }

    /// <summary>
    /// Keeps the lines for this store: a line "-- dialect: sqlite" or "-- dialect: postgres" starts a section for one
    /// store only (triggers differ), "-- dialect: all" ends it. Everything else is shared SQL.
    /// </summary>
    public static string ForDialect(string sql, bool postgres)
    {
        var keep = new System.Text.StringBuilder();
        var mode = "all";
        foreach (var line in sql.Split('\n'))
        {
            if (line.StartsWith("-- dialect:", StringComparison.Ordinal))
            {
                mode = line["-- dialect:".Length..].Trim();
                continue;
            }

            if (mode == "all" || mode == (postgres ? "postgres" : "sqlite"))
            {
                keep.Append(line).Append('\n');
            }
        }

        return keep.ToString();
    }

    private static async Task<string> ReadAsync(Assembly assembly, string name)
    {
        await using var s = assembly.GetManifestResourceStream(name)!;
        using var r = new StreamReader(s);
        return await r.ReadToEndAsync();
    }
}
