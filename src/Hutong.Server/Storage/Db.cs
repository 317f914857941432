using System.Data;
using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Hutong.Server.Storage;

/// <summary>
/// The store: one schema on SQLite (WAL, synchronous=FULL) or PostgreSQL. Every write runs in one
/// transaction through <see cref="WriteAsync{T}"/>, so a state change and its outbox row commit together.
/// </summary>
public sealed class Db : IAsyncDisposable
{
    private readonly StoreOptions _options;
    private readonly NpgsqlDataSource? _pg;
    private readonly string? _sqlite;

    // SQLite has one writer; queueing writers here is cheaper and fairer than its busy-retry loop.
    private readonly SemaphoreSlim _sqliteWriteGate = new(1, 1);

    static Db() => DefaultTypeMap.MatchNamesWithUnderscores = true; // snake_case columns → PascalCase properties

    public Db(StoreOptions options)
    {
        _options = options;
        if (options.Provider == StoreProvider.Postgres)
        {
            var b = new NpgsqlConnectionStringBuilder(options.ConnectionString);
            if (!options.ConnectionString.Contains("Maximum Pool Size", StringComparison.OrdinalIgnoreCase))
            {
                b.MaxPoolSize = options.MaxPoolSize;
            }

            _pg = NpgsqlDataSource.Create(b.ConnectionString);
        }
        else
        {
            var b = new SqliteConnectionStringBuilder(options.ConnectionString) { Pooling = true, DefaultTimeout = 30 };
            var dir = Path.GetDirectoryName(Path.GetFullPath(b.DataSource));
            if (!string.IsNullOrEmpty(dir))
            {
                Directory.CreateDirectory(dir);
            }

            _sqlite = b.ConnectionString;
        }
    }

    public StoreProvider Provider => _options.Provider;

    public bool IsPostgres => _options.Provider == StoreProvider.Postgres;

    /// <summary>Dialect spelling of an auto-increment primary key.</summary>
    public string IdentityColumn => IsPostgres ? "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT";

    public async Task<DbConnection> OpenAsync(CancellationToken ct)
    {
        if (_pg is not null)
        {
            return await _pg.OpenConnectionAsync(ct);
        }

        var c = new SqliteConnection(_sqlite);
        await c.OpenAsync(ct);
        // Durable commits for money (FULL), WAL for concurrent readers.
        await c.ExecuteAsync("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000;");
        return c;
    }

    public async Task<T> ReadAsync<T>(Func<DbConnection, Task<T>> work, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        return await work(c);
    }

    public async Task<T> WriteAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken ct)
    {
        if (_pg is not null)
        {
            await using var c = await OpenAsync(ct);
            await using var tx = await c.BeginTransactionAsync(IsolationLevel.ReadCommitted, ct);
            var result = await work(c, tx);
            await tx.CommitAsync(ct);
            return result;
        }

        await _sqliteWriteGate.WaitAsync(ct);
        try
        {
            await using var c = await OpenAsync(ct);
            // Microsoft.Data.Sqlite begins IMMEDIATE unless asked for deferred: the write lock is taken up front.
            await using var tx = (SqliteTransaction)await c.BeginTransactionAsync(ct);
            var result = await work(c, tx);
            await tx.CommitAsync(ct);
            return result;
        }
        finally
        {
            _sqliteWriteGate.Release();
        }
    }

    public Task WriteAsync(Func<DbConnection, DbTransaction, Task> work, CancellationToken ct) =>
        WriteAsync<bool>(async (c, t) =>
        {
            await work(c, t);
            return true;
        }, ct);

    /// <summary>True when the exception is a unique-constraint violation in either store.</summary>
    public static bool IsUniqueViolation(Exception e) => e switch
    {
        PostgresException pg => pg.SqlState == PostgresErrorCodes.UniqueViolation,
        SqliteException s => s.SqliteErrorCode == 19 && s.SqliteExtendedErrorCode is 2067 or 1555,
        _ => false,
    };

    public async ValueTask DisposeAsync()
    {
        if (_pg is not null)
        {
            await _pg.DisposeAsync();
        }
        else
        {
            SqliteConnection.ClearAllPools();
        }

        _sqliteWriteGate.Dispose();
    }
}
