using System.Data.Common;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Hutong.Server.Storage;

/// <summary>
/// Keeps the in-process caches (API keys, links, rollout rules, routes, channels) of every hub instance on one database in
/// agreement. A change sends "kind:key" with <see cref="SendAsync"/> inside its own transaction, so PostgreSQL delivers it
/// only if the change commits (NOTIFY is transactional); each instance LISTENs on a dedicated connection and evicts the key
/// from the cache that subscribed to that kind. If that connection drops, the listener reconnects with back-off and then
/// drops every cached entry (it may have missed notices meanwhile); no entry lives longer than <see cref="Ttl"/> in any case.
/// SQLite is one process: changes evict locally as they commit, and nothing listens.
/// </summary>
public sealed partial class CacheBus(Db db, StoreOptions store, IOptions<HubOptions> options, TimeProvider time, ILogger<CacheBus> log) : BackgroundService
{
    public const string Channel = "hutong_cache";

    /// <summary>Kinds of cached things a notice names.</summary>
    public const string ApiKey = "key";

    public const string Link = "link";

    public const string Rollout = "rollout";

    public const string Route = "route";

    public const string WalletChannel = "channel";

    /// <summary>The fallback bound when no notices arrive; used by caches built outside the hub (the CLI) too.</summary>
    public static readonly TimeSpan DefaultTtl = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    private readonly Lock _gate = new();
    private readonly Dictionary<string, List<Action<string>>> _evictors = new(StringComparer.Ordinal);
    private readonly List<Action> _clearers = [];
    private int _listenerPid;
    private long _connects;

    /// <summary>How long any cached entry lives (Hutong:CacheTtl): the bound on staleness when a notice is lost.</summary>
    public TimeSpan Ttl => options.Value.CacheTtl > TimeSpan.Zero ? options.Value.CacheTtl : DefaultTtl;

    /// <summary>The listener's backend process id while it listens, else 0 (tests terminate it).</summary>
    internal int ListenerProcessId => Volatile.Read(ref _listenerPid);

    /// <summary>Times the listener has (re)connected and started listening.</summary>
    internal long Connects => Interlocked.Read(ref _connects);

    /// <summary>
    /// Registers a cache: <paramref name="evict"/> drops one key of <paramref name="kind"/>, <paramref name="clear"/> drops
    /// everything (after the listener reconnects).
    /// </summary>
    public void Subscribe(string kind, Action<string> evict, Action clear)
    {
        lock (_gate)
        {
            if (!_evictors.TryGetValue(kind, out var list))
            {
                _evictors[kind] = list = [];
            }

            list.Add(evict);
            _clearers.Add(clear);
        }
    }

    /// <summary>
    /// Tells every instance to evict <paramref name="key"/> of <paramref name="kind"/> once <paramref name="t"/> commits (and
    /// never if it rolls back). A no-op on SQLite, where the writer evicts its own cache after the commit.
    /// </summary>
    public static Task SendAsync(DbConnection c, DbTransaction t, string kind, string key) =>
        c is NpgsqlConnection
            ? c.ExecuteAsync("SELECT pg_notify(@channel, @payload)", new { channel = Channel, payload = kind + ":" + key }, t)
            : Task.CompletedTask;

    /// <summary>Applies one notice's payload ("kind:key"); unknown kinds are ignored (a newer instance may send more).</summary>
    internal void Apply(string payload)
    {
        var colon = payload.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            return;
        }

        Action<string>[] evictors;
        lock (_gate)
        {
            evictors = _evictors.TryGetValue(payload[..colon], out var list) ? [.. list] : [];
        }

        var key = payload[(colon + 1)..];
        foreach (var evict in evictors)
        {
            evict(key);
        }
    }

    private void ClearAll()
    {
        Action[] clearers;
        lock (_gate)
        {
            clearers = [.. _clearers];
        }

        foreach (var clear in clearers)
        {
            clear();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!db.IsPostgres)
        {
            return;
        }

        // Its own connection, outside the pool: it is held for the hub's life, and a pooled one is not where LISTEN belongs.
        var b = new NpgsqlConnectionStringBuilder(string.IsNullOrEmpty(store.ListenerConnectionString) ? store.ConnectionString : store.ListenerConnectionString)
        {
            Pooling = false,
            ApplicationName = "hutong-cache-listener",
        };
        if (b.Host?.Contains(',', StringComparison.Ordinal) == true)
        {
            b.TargetSessionAttributes = "primary"; // a standby can neither LISTEN nor hear the primary's NOTIFY
        }

        if (b.KeepAlive == 0)
        {
            b.KeepAlive = 15; // a server or network that vanished without a word is noticed within seconds, not never
        }

        var backoff = FirstBackoff;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var c = new NpgsqlConnection(b.ConnectionString);
                await c.OpenAsync(stoppingToken);
                c.Notification += (_, e) => Apply(e.Payload);
                await using (var listen = new NpgsqlCommand($"LISTEN {Channel}", c))
                {
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                }

                // Notices sent while nobody listened are lost: whatever was cached before this point may be stale.
                ClearAll();
                Volatile.Write(ref _listenerPid, c.ProcessID);
                Interlocked.Increment(ref _connects);
                LogListening(log, c.ProcessID);
                backoff = FirstBackoff;
                while (true)
                {
                    await c.WaitAsync(stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                Volatile.Write(ref _listenerPid, 0);
                LogLost(log, e, backoff);
            }

            try
            {
                await Task.Delay(backoff, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            backoff = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, backoff.Ticks * 2));
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Cache listener is listening (backend {ProcessId})")]
    private static partial void LogListening(ILogger logger, int processId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cache listener lost its connection; reconnecting in {Backoff} (meanwhile cached entries expire after Hutong:CacheTtl)")]
    private static partial void LogLost(ILogger logger, Exception e, TimeSpan backoff);
}

/// <summary>
/// One cache's evictions: <see cref="Evict"/> and <see cref="Clear"/> run locally and on every notice from the bus. Each bumps
/// a generation, so a fill that read the store before an eviction (the value may predate the change) is returned but not
/// cached: a lookup racing a revocation cannot put the old value back for a whole TTL.
/// </summary>
public sealed class CacheTracker
{
    private readonly Action<string> _evict;
    private readonly Action _clear;
    private long _generation;
    private long _epoch;

    private CacheTracker(Action<string> evict, Action clear) => (_evict, _clear) = (evict, clear);

    /// <summary>A tracker for one cache, subscribed to <paramref name="bus"/> (null: local evictions only, e.g. the CLI).</summary>
    public static CacheTracker Track(CacheBus? bus, string kind, Action<string> evict, Action clear)
    {
        var tracker = new CacheTracker(evict, clear);
        bus?.Subscribe(kind, tracker.Evict, tracker.Clear);
        return tracker;
    }

    /// <summary>Read before the store is; pass to <see cref="MayCache"/> after.</summary>
    public long Generation => Interlocked.Read(ref _generation);

    public bool MayCache(long generationBeforeRead) => Interlocked.Read(ref _generation) == generationBeforeRead;

    public void Evict(string key)
    {
        Interlocked.Increment(ref _generation);
        _evict(key);
    }

    /// <summary>Counts clears: a cache that cannot be emptied (a shared IMemoryCache) keeps it with each entry, and ignores older ones.</summary>
    public long Epoch => Interlocked.Read(ref _epoch);

    public void Clear()
    {
        Interlocked.Increment(ref _epoch);
        Interlocked.Increment(ref _generation);
        _clear();
    }
}
