using System.Collections.Concurrent;
using System.Text.Json;
using Dapper;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.Channels;

/// <summary>One routing rule: use <see cref="Channel"/> when the payment matches every condition given.</summary>
public sealed record RouteRule(string? Channel, long? MinAmount, long? MaxAmount, IReadOnlyList<string>? Categories, IReadOnlyList<string>? Users);

/// <param name="Version">The version the list was built from (GET's <c>version</c>): when given, a list changed since is refused (409 routes_changed).</param>
public sealed record RouteRulesDto(IReadOnlyList<RouteRule>? Rules, string? Version = null);

/// <summary>What a save of a rule list did.</summary>
public enum RouteSave
{
    /// <summary>The stored list was replaced.</summary>
    Saved,
    /// <summary>The stored list already was this list: nothing written, no change announced.</summary>
    Unchanged,
    /// <summary>The list changed since the editor read it: nothing written.</summary>
    Stale,
}

/// <summary>What routing rules look at in a payment (Channels sits below Payments, so it names no payment row).</summary>
public sealed record RoutedPayment(string MerchantId, long Amount, string? ProductCategory, string? BuyerId);

/// <summary>
/// Chooses the channels for a payment at a wallet: the merchant's matching rules in order (first is primary, the rest
/// are fallbacks), healthy channels first. With no rules, the wallet's configured account. Changing a merchant from an
/// acquirer to direct access is a change of rules here; the merchant's integration does not change.
/// </summary>
public sealed class RoutingService
{
    private static readonly TimeSpan Cooldown = TimeSpan.FromSeconds(30);
    private const int TripAfter = 3;

    private readonly Db _db;
    private readonly TimeProvider _time;
    private readonly TimeSpan _cacheTtl;
    private readonly ConcurrentDictionary<(string, string), (IReadOnlyList<RouteRule> Rules, DateTimeOffset Until)> _cache = new();
    private readonly ConcurrentDictionary<string, (int Failures, DateTimeOffset Last)> _health = new(StringComparer.Ordinal);
    private readonly CacheTracker _tracker;

    /// <summary>With <paramref name="caches"/> (the hub), a merchant's routes saved on any instance are evicted here too.</summary>
    public RoutingService(Db db, TimeProvider time, CacheBus? caches = null)
    {
        _db = db;
        _time = time;
        _cacheTtl = caches?.Ttl ?? CacheBus.DefaultTtl;
        _tracker = CacheTracker.Track(caches, CacheBus.Route, key => _cache.TryRemove(ParseKey(key), out _), _cache.Clear);
    }

    private static string RouteKey(string merchantId, string wallet) => merchantId + ":" + wallet;

    private static (string, string) ParseKey(string key) => key.LastIndexOf(':') is var i and > 0 ? (key[..i], key[(i + 1)..]) : (key, string.Empty);

    public async Task<IReadOnlyList<string>> ChannelsAsync(RoutedPayment payment, string wallet, CancellationToken ct)
    {
        var rules = await RulesAsync(payment.MerchantId, wallet, ct);
        var matching = rules
            .Where(r => r.Channel is not null
                && (r.MinAmount is null || payment.Amount >= r.MinAmount)
                && (r.MaxAmount is null || payment.Amount <= r.MaxAmount)
                && (r.Categories is null || (payment.ProductCategory is not null && r.Categories.Contains(payment.ProductCategory)))
                && (r.Users is null || (payment.BuyerId is not null && r.Users.Contains(payment.BuyerId))))
            .Select(r => r.Channel!)
            .Distinct(StringComparer.Ordinal)
            .ToList();
        if (matching.Count == 0)
        {
            matching.Add(wallet);
        }

        // Health-aware: a channel that failed repeatedly just now goes to the back of the line, not out of it.
        return matching.OrderBy(c => IsHealthy(c) ? 0 : 1).ToList();
    }

    public async Task<IReadOnlyList<RouteRule>> RulesAsync(string merchantId, string wallet, CancellationToken ct)
    {
        var now = _time.GetUtcNow();
        if (_cache.TryGetValue((merchantId, wallet), out var hit) && hit.Until > now)
        {
            return hit.Rules;
        }

        var generation = _tracker.Generation;
        var json = await _db.ReadAsync(c => c.QuerySingleOrDefaultAsync<string?>(
            "SELECT rules FROM routes WHERE merchant_id = @merchantId AND wallet = @wallet", new { merchantId, wallet }), ct);
        IReadOnlyList<RouteRule> rules = json is null ? [] : JsonSerializer.Deserialize<List<RouteRule>>(json, ApiJson.Options)!;
        if (_tracker.MayCache(generation))
        {
            _cache[(merchantId, wallet)] = (rules, now + _cacheTtl);
        }

        return rules;
    }

    /// <summary>
    /// A merchant's rules for a wallet as stored now (not the cache) with their version: what an editor builds its change on
    /// and hands back to <see cref="SaveAsync"/>, so a change made meanwhile is not overwritten.
    /// </summary>
    public async Task<(IReadOnlyList<RouteRule> Rules, string Version)> CurrentAsync(string merchantId, string wallet, CancellationToken ct)
    {
        var json = await _db.ReadAsync(c => c.QuerySingleOrDefaultAsync<string?>(
            "SELECT rules FROM routes WHERE merchant_id = @merchantId AND wallet = @wallet", new { merchantId, wallet }), ct);
        return (json is null ? [] : JsonSerializer.Deserialize<List<RouteRule>>(json, ApiJson.Options)!, VersionOf(json));
    }

    /// <summary>
    /// The version of a stored rule list: "0" when none is stored, else the first 16 hex digits of the SHA-256 of the stored
    /// text (the list is written whole, so its text is its state; the same list written again is the same version).
    /// </summary>
    public static string VersionOf(string? json) => TextVersion.Of(json);

    /// <summary>
    /// Replaces a merchant's rules for a wallet: a conditional update on the rules read in the same transaction, so two
    /// editors who both read one list cannot both write (the second gets <see cref="RouteSave.Stale"/>, nothing written).
    /// With <paramref name="expectedVersion"/> (the version the editor's list was built from) a list changed since then is
    /// <see cref="RouteSave.Stale"/> too. The cache eviction and <paramref name="alsoInTransaction"/> happen only when
    /// the stored row changed; the same list again is <see cref="RouteSave.Unchanged"/>.
    /// </summary>
    /// <param name="alsoInTransaction">Written in the rules' transaction (the console's audit line).</param>
    public async Task<RouteSave> SaveAsync(string merchantId, string wallet, IReadOnlyList<RouteRule> rules, CancellationToken ct,
        Func<System.Data.Common.DbConnection, System.Data.Common.DbTransaction, Task>? alsoInTransaction = null, string? expectedVersion = null)
    {
        var json = ApiJson.Serialize(rules);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var result = await _db.WriteAsync(async (c, t) =>
        {
            var current = await c.QuerySingleOrDefaultAsync<string?>(
                "SELECT rules FROM routes WHERE merchant_id = @merchantId AND wallet = @wallet", new { merchantId, wallet }, t);
            if (expectedVersion is not null && VersionOf(current) != expectedVersion)
            {
                return RouteSave.Stale;
            }

            if (current == json)
            {
                return RouteSave.Unchanged;
            }

            // Conditional on the text just read: on PostgreSQL a concurrent writer that committed first makes this match
            // no row (the UPDATE re-reads the row it waited for; the INSERT meets the key), and that is a stale save.
            var n = current is null
                ? await c.ExecuteAsync("INSERT INTO routes (merchant_id, wallet, rules, updated_at) VALUES (@merchantId, @wallet, @json, @now) ON CONFLICT (merchant_id, wallet) DO NOTHING",
                    new { merchantId, wallet, json, now }, t)
                : await c.ExecuteAsync("UPDATE routes SET rules = @json, updated_at = @now WHERE merchant_id = @merchantId AND wallet = @wallet AND rules = @current",
                    new { merchantId, wallet, json, now, current }, t);
            if (n == 0)
            {
                return RouteSave.Stale;
            }

            await CacheBus.SendAsync(c, t, CacheBus.Route, RouteKey(merchantId, wallet));
            if (alsoInTransaction is not null)
            {
                await alsoInTransaction(c, t);
            }

            return RouteSave.Saved;
        }, ct);
        if (result == RouteSave.Saved)
        {
            _tracker.Evict(RouteKey(merchantId, wallet));
        }

        return result;
    }

    public void RecordSuccess(string channel) => _health.TryRemove(channel, out _);

    public void RecordFailure(string channel) =>
        _health.AddOrUpdate(channel, _ => (1, _time.GetUtcNow()), (_, h) => (h.Failures + 1, _time.GetUtcNow()));

    public bool IsHealthy(string channel) =>
        !_health.TryGetValue(channel, out var h) || h.Failures < TripAfter || _time.GetUtcNow() - h.Last > Cooldown;
}
