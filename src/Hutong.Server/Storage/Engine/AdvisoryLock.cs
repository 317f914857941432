using System.Buffers.Binary;
using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using Dapper;

namespace Hutong.Server.Storage;

/// <summary>
/// A PostgreSQL session advisory lock, so that of several hubs sharing one database only one does a thing at a time
/// (migrations, singleton jobs). It lives as long as the connection that holds it: a hub that dies releases it with its
/// connection. On SQLite the store belongs to one process, whose jobs never overlap themselves: the lock is a no-op.
/// </summary>
public sealed class AdvisoryLock : IAsyncDisposable
{
    /// <summary>The key migrations have always locked (earlier versions take it per migration, so they wait for us too).</summary>
    public const long MigrationsKey = 727274;

    /// <summary>How often the session holding a lock is checked to be alive.</summary>
    internal static readonly TimeSpan CheckEvery = TimeSpan.FromSeconds(1);

    private readonly DbConnection? _connection;
    private readonly long _key;
    private readonly CancellationTokenSource _lost = new();
    private readonly CancellationTokenSource _stopWatching = new();
    private readonly Task _watching = Task.CompletedTask;

    private AdvisoryLock(DbConnection? connection, long key)
    {
        (_connection, _key) = (connection, key);
        if (connection is not null)
        {
            _watching = WatchAsync(connection);
        }
    }

    /// <summary>
    /// Cancelled once the session holding the lock is gone (the server restarted, the session was terminated, the network
    /// dropped it): the lock went with it and another hub may hold it now, so whatever runs under it must stop. Held work
    /// takes the lock afresh before it runs again.
    /// </summary>
    public CancellationToken Lost => _lost.Token;

    // The lock's connection does nothing else while held, so a trivial query on it tells whether the session lives.
    private async Task WatchAsync(DbConnection c)
    {
        try
        {
            while (true)
            {
                await Task.Delay(CheckEvery, _stopWatching.Token);
                await c.ExecuteScalarAsync<int>(new CommandDefinition("SELECT 1", commandTimeout: 10));
            }
        }
        catch (OperationCanceledException) when (_stopWatching.IsCancellationRequested)
        {
        }
        catch (Exception)
        {
            await _lost.CancelAsync();
        }
    }

    /// <summary>A stable key for a name, the same in every hub process and version (not .NET's randomised string hash).</summary>
    public static long KeyOf(string name) =>
        BinaryPrimitives.ReadInt64BigEndian(SHA256.HashData(Encoding.UTF8.GetBytes("hutong:" + name)));

    /// <summary>The lock if no other session holds it, else null (the caller skips its turn).</summary>
    public static async Task<AdvisoryLock?> TryTakeAsync(Db db, long key, CancellationToken ct)
    {
        if (!db.IsPostgres)
        {
            return new AdvisoryLock(null, key);
        }

        var c = await db.OpenAsync(ct);
        try
        {
            if (await c.ExecuteScalarAsync<bool>(new CommandDefinition("SELECT pg_try_advisory_lock(@key)", new { key }, cancellationToken: ct)))
            {
                return new AdvisoryLock(c, key);
            }
        }
        catch
        {
            await c.DisposeAsync();
            throw;
        }

        await c.DisposeAsync();
        return null;
    }

    /// <summary>The lock, waiting for whoever holds it (bounded by <paramref name="ct"/>).</summary>
    public static async Task<AdvisoryLock> TakeAsync(Db db, long key, CancellationToken ct)
    {
        if (!db.IsPostgres)
        {
            return new AdvisoryLock(null, key);
        }

        var c = await db.OpenAsync(ct);
        try
        {
            await c.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_lock(@key)", new { key }, cancellationToken: ct));
            return new AdvisoryLock(c, key);
        }
        catch
        {
            await c.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is null)
        {
            return;
        }

        await _stopWatching.CancelAsync();
        await _watching; // never throws; it finishes its query first, so the unlock below has the connection to itself
        _stopWatching.Dispose();
        try
        {
            await _connection.ExecuteAsync("SELECT pg_advisory_unlock(@key)", new { key = _key });
        }
        catch (DbException)
        {
            // The connection broke, and the session's locks went with it.
        }
        finally
        {
            _lost.Dispose();
            await _connection.DisposeAsync(); // pooled connections are reset (DISCARD ALL) too: no lock survives in the pool
        }
    }
}
