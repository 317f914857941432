using System.Collections.Concurrent;
using System.Text.Json;
using Dapper;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.Channels;

/// <summary>One routing rule: use <see cref="Channel"/> when the payment matches every condition given.</summary>
public sealed record RouteRule(string? Channel, long? MinAmount, long? MaxAmount, IReadOnlyList<string>? Categories, IReadOnlyList<string>? Users);

public sealed record RouteRulesDto(IReadOnlyList<RouteRule>? Rules);

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

    /// <param name="alsoInTransaction">Written in the rules' transaction (the console's audit line).</param>
    public async Task SaveAsync(string merchantId, string wallet, IReadOnlyList<RouteRule> rules, CancellationToken ct,
        Func<System.Data.Common.DbConnection, System.Data.Common.DbTransaction, Task>? alsoInTransaction = null)
    {
        var json = ApiJson.Serialize(rules);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        await _db.WriteAsync(async (c, t) =>
        {
            if (await c.ExecuteAsync("UPDATE routes SET rules = @json, updated_at = @now WHERE merchant_id = @merchantId AND wallet = @wallet", new { merchantId, wallet, json, now }, t) == 0)
            {
                await c.ExecuteAsync("INSERT INTO routes (merchant_id, wallet, rules, updated_at) VALUES (@merchantId, @wallet, @json, @now)", new { merchantId, wallet, json, now }, t);
            }

            await CacheBus.SendAsync(c, t, CacheBus.Route, RouteKey(merchantId, wallet));
            if (alsoInTransaction is not null)
            {
                await alsoInTransaction(c, t);
            }
        }, ct);
        _tracker.Evict(RouteKey(merchantId, wallet));
    }

    public void RecordSuccess(string channel) => _health.TryRemove(channel, out _);

    public void RecordFailure(string channel) =>
        _health.AddOrUpdate(channel, _ => (1, _time.GetUtcNow()), (_, h) => (h.Failures + 1, _time.GetUtcNow()));

    public bool IsHealthy(string channel) =>
        !_health.TryGetValue(channel, out var h) || h.Failures < TripAfter || _time.GetUtcNow() - h.Last > Cooldown;
}
