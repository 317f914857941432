using System.Collections.Concurrent;
using System.Text.Json;
using Dapper;
using Hutong.Server.Features.Payments;
using Hutong.Server.Http;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.Channels;

/// <summary>One routing rule: use <see cref="Channel"/> when the payment matches every condition given.</summary>
public sealed record RouteRule(string? Channel, long? MinAmount, long? MaxAmount, IReadOnlyList<string>? Categories, IReadOnlyList<string>? Users);

public sealed record RouteRulesDto(IReadOnlyList<RouteRule>? Rules);

/// <summary>
/// Chooses the channels for a payment at a wallet: the merchant's matching rules in order (first is primary, the rest
/// are fallbacks), healthy channels first. With no rules, the wallet's configured account. Changing a merchant from an
/// acquirer to direct access is a change of rules here; the merchant's integration does not change.
/// </summary>
public sealed class RoutingService(Db db, TimeProvider time)
{
    private static readonly TimeSpan CacheTtl = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Cooldown = TimeSpan.FromSeconds(30);
    private const int TripAfter = 3;

    private readonly ConcurrentDictionary<(string, string), (IReadOnlyList<RouteRule> Rules, DateTimeOffset Until)> _cache = new();
    private readonly ConcurrentDictionary<string, (int Failures, DateTimeOffset Last)> _health = new(StringComparer.Ordinal);

    public async Task<IReadOnlyList<string>> ChannelsAsync(PaymentRow payment, string wallet, CancellationToken ct)
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
        var now = time.GetUtcNow();
        if (_cache.TryGetValue((merchantId, wallet), out var hit) && hit.Until > now)
        {
            return hit.Rules;
        }

        var json = await db.ReadAsync(c => c.QuerySingleOrDefaultAsync<string?>(
            "SELECT rules FROM routes WHERE merchant_id = @merchantId AND wallet = @wallet", new { merchantId, wallet }), ct);
        IReadOnlyList<RouteRule> rules = json is null ? [] : JsonSerializer.Deserialize<List<RouteRule>>(json, ApiJson.Options)!;
        _cache[(merchantId, wallet)] = (rules, now + CacheTtl);
        return rules;
    }

    public async Task SaveAsync(string merchantId, string wallet, IReadOnlyList<RouteRule> rules, CancellationToken ct)
    {
        var json = ApiJson.Serialize(rules);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await db.WriteAsync(async (c, t) =>
        {
            if (await c.ExecuteAsync("UPDATE routes SET rules = @json, updated_at = @now WHERE merchant_id = @merchantId AND wallet = @wallet", new { merchantId, wallet, json, now }, t) == 0)
            {
                await c.ExecuteAsync("INSERT INTO routes (merchant_id, wallet, rules, updated_at) VALUES (@merchantId, @wallet, @json, @now)", new { merchantId, wallet, json, now }, t);
            }
        }, ct);
        _cache.TryRemove((merchantId, wallet), out _);
    }

    public void RecordSuccess(string channel) => _health.TryRemove(channel, out _);

    public void RecordFailure(string channel) =>
        _health.AddOrUpdate(channel, _ => (1, time.GetUtcNow()), (_, h) => (h.Failures + 1, time.GetUtcNow()));

    public bool IsHealthy(string channel) =>
        !_health.TryGetValue(channel, out var h) || h.Failures < TripAfter || time.GetUtcNow() - h.Last > Cooldown;
}
