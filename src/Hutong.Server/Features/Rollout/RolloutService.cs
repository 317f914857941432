using System.Collections.Concurrent;
using System.Text.Json;
using Dapper;
using Hutong.Domain.Rollout;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.Rollout;

/// <summary>The stored form of a rule (also the rule in the API's answers; POST /v1/rollouts/{wallet} takes <see cref="SaveRolloutRequest"/>).</summary>
public sealed record RolloutRuleDto(
    int? Percentage,
    bool? KillSwitch,
    IReadOnlyList<string>? AllowUsers,
    IReadOnlyList<string>? DenyUsers,
    IReadOnlyList<string>? Categories);

/// <summary>
/// Per-merchant rollout rules, cached in memory so evaluation stays in-process: a write evicts them here at once and on
/// every other instance through <see cref="CacheBus"/>; Hutong:CacheTtl bounds them otherwise. A wallet without a rule is
/// offered to everyone.
/// </summary>
public sealed class RolloutService
{
    private readonly Db _db;
    private readonly TimeProvider _time;
    private readonly TimeSpan _cacheTtl;
    private readonly ConcurrentDictionary<string, (IReadOnlyDictionary<string, RolloutRule> Rules, DateTimeOffset Until)> _cache = new(StringComparer.Ordinal);
    private readonly CacheTracker _tracker;

    public RolloutService(Db db, TimeProvider time, CacheBus? caches = null)
    {
        _db = db;
        _time = time;
        _cacheTtl = caches?.Ttl ?? CacheBus.DefaultTtl;
        _tracker = CacheTracker.Track(caches, CacheBus.Rollout, merchantId => _cache.TryRemove(merchantId, out _), _cache.Clear);
    }

    public async Task<IReadOnlyDictionary<string, RolloutRule>> RulesAsync(string merchantId, CancellationToken ct)
    {
        var now = _time.GetUtcNow();
        if (_cache.TryGetValue(merchantId, out var hit) && hit.Until > now)
        {
            return hit.Rules;
        }

        var generation = _tracker.Generation;
        var rows = await _db.ReadAsync(c => c.QueryAsync<(string Wallet, string Rule)>(
            "SELECT wallet, rule FROM rollout_rules WHERE merchant_id = @merchantId", new { merchantId }), ct);
        var rules = rows.ToDictionary(r => r.Wallet, r => ToRule(r.Wallet, JsonSerializer.Deserialize<RolloutRuleDto>(r.Rule, ApiJson.Options)!), StringComparer.Ordinal);
        if (_tracker.MayCache(generation))
        {
            _cache[merchantId] = (rules, now + _cacheTtl);
        }

        return rules;
    }

    public async Task<RolloutDecision> DecideAsync(string merchantId, string wallet, string? userId, string? category, CancellationToken ct) =>
        (await RulesAsync(merchantId, ct)).TryGetValue(wallet, out var rule)
            ? rule.Evaluate(userId, category)
            : new RolloutDecision(true, RolloutReason.NoRule, null, 100);

    /// <summary>The version <paramref name="dto"/> has once stored (<see cref="SaveAsync"/> stores exactly this text).</summary>
    public static string VersionOf(RolloutRuleDto dto) => TextVersion.Of(ApiJson.Serialize(dto));

    /// <summary>The merchant's rules as stored now (not the cache), each with its version, by wallet.</summary>
    public async Task<IReadOnlyList<(string Wallet, RolloutRuleDto Rule, string Version)>> StoredAsync(string merchantId, CancellationToken ct)
    {
        var rows = await _db.ReadAsync(c => c.QueryAsync<(string Wallet, string Rule)>(
            "SELECT wallet, rule FROM rollout_rules WHERE merchant_id = @merchantId", new { merchantId }), ct);
        return [.. rows.OrderBy(r => r.Wallet, StringComparer.Ordinal)
            .Select(r => (r.Wallet, JsonSerializer.Deserialize<RolloutRuleDto>(r.Rule, ApiJson.Options)!, TextVersion.Of(r.Rule)))];
    }

    /// <summary>The wallet's rule as stored now (not the cache), or null, with its version (<see cref="TextVersion"/>).</summary>
    public async Task<(RolloutRuleDto? Rule, string Version)> CurrentAsync(string merchantId, string wallet, CancellationToken ct)
    {
        var json = await _db.ReadAsync(c => c.QuerySingleOrDefaultAsync<string?>(
            "SELECT rule FROM rollout_rules WHERE merchant_id = @merchantId AND wallet = @wallet", new { merchantId, wallet }), ct);
        return (json is null ? null : JsonSerializer.Deserialize<RolloutRuleDto>(json, ApiJson.Options), TextVersion.Of(json));
    }

    /// <summary>
    /// Stores the wallet's rule; <paramref name="alsoInTransaction"/> runs in the same transaction (the console's audit line).
    /// With <paramref name="expectedVersion"/> (the version the editor's rule was built from) the write is conditional on
    /// the rule stored then: false, nothing written, when it changed since (a kill switch or list set meanwhile is kept).
    /// </summary>
    public async Task<bool> SaveAsync(string merchantId, string wallet, RolloutRuleDto dto, CancellationToken ct,
        Func<System.Data.Common.DbConnection, System.Data.Common.DbTransaction, Task>? alsoInTransaction = null, string? expectedVersion = null)
    {
        var rule = ApiJson.Serialize(dto);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var saved = await _db.WriteAsync(async (c, t) =>
        {
            int n;
            if (expectedVersion is null)
            {
                n = await c.ExecuteAsync("UPDATE rollout_rules SET rule = @rule, updated_at = @now WHERE merchant_id = @merchantId AND wallet = @wallet",
                    new { merchantId, wallet, rule, now }, t);
                if (n == 0)
                {
                    await c.ExecuteAsync("INSERT INTO rollout_rules (merchant_id, wallet, rule, updated_at) VALUES (@merchantId, @wallet, @rule, @now)",
                        new { merchantId, wallet, rule, now }, t);
                }
            }
            else
            {
                // Conditional on the text read in this transaction: a writer that committed first makes it match no row.
                var current = await c.QuerySingleOrDefaultAsync<string?>(
                    "SELECT rule FROM rollout_rules WHERE merchant_id = @merchantId AND wallet = @wallet", new { merchantId, wallet }, t);
                if (TextVersion.Of(current) != expectedVersion)
                {
                    return false;
                }

                n = current is null
                    ? await c.ExecuteAsync("INSERT INTO rollout_rules (merchant_id, wallet, rule, updated_at) VALUES (@merchantId, @wallet, @rule, @now) ON CONFLICT (merchant_id, wallet) DO NOTHING",
                        new { merchantId, wallet, rule, now }, t)
                    : await c.ExecuteAsync("UPDATE rollout_rules SET rule = @rule, updated_at = @now WHERE merchant_id = @merchantId AND wallet = @wallet AND rule = @current",
                        new { merchantId, wallet, rule, now, current }, t);
                if (n == 0)
                {
                    return false;
                }
            }

            await CacheBus.SendAsync(c, t, CacheBus.Rollout, merchantId);
            if (alsoInTransaction is not null)
            {
                await alsoInTransaction(c, t);
            }

            return true;
        }, ct);
        if (saved)
        {
            _tracker.Evict(merchantId);
        }

        return saved;
    }

    /// <summary>
    /// Deletes the wallet's rule. With <paramref name="expectedVersion"/> only the rule of that version (a GET's or a
    /// save's): the delete is conditional on the text read in its transaction, like a conditional save.
    /// </summary>
    public async Task<RolloutDeletion> DeleteAsync(string merchantId, string wallet, CancellationToken ct, string? expectedVersion = null)
    {
        var outcome = await _db.WriteAsync(async (c, t) =>
        {
            string? current = null;
            if (expectedVersion is not null)
            {
                current = await c.QuerySingleOrDefaultAsync<string?>(
                    "SELECT rule FROM rollout_rules WHERE merchant_id = @merchantId AND wallet = @wallet", new { merchantId, wallet }, t);
                if (current is not null && TextVersion.Of(current) != expectedVersion)
                {
                    return RolloutDeletion.Changed;
                }
            }

            var deleted = expectedVersion is null
                ? await c.ExecuteAsync("DELETE FROM rollout_rules WHERE merchant_id = @merchantId AND wallet = @wallet", new { merchantId, wallet }, t)
                : await c.ExecuteAsync("DELETE FROM rollout_rules WHERE merchant_id = @merchantId AND wallet = @wallet AND rule = @current",
                    new { merchantId, wallet, current }, t);
            if (deleted == 0)
            {
                // No rule (a 404), or, with a version, one changed by a writer that committed between the read and the delete.
                return current is null ? RolloutDeletion.NotFound : RolloutDeletion.Changed;
            }

            await CacheBus.SendAsync(c, t, CacheBus.Rollout, merchantId);
            return RolloutDeletion.Deleted;
        }, ct);
        if (outcome == RolloutDeletion.Deleted)
        {
            _tracker.Evict(merchantId);
        }

        return outcome;
    }

    public static RolloutRule ToRule(string wallet, RolloutRuleDto dto) =>
        new(wallet, dto.Percentage ?? 100, dto.KillSwitch ?? false, dto.AllowUsers, dto.DenyUsers, dto.Categories);

    public static string Explain(string wallet, RolloutDecision d, string? userId, string? category) => d.Reason switch
    {
        RolloutReason.NoRule => $"{wallet} has no rollout rule, so it is offered to everyone.",
        RolloutReason.KillSwitch => $"{wallet} is switched off for everyone (kill switch).",
        RolloutReason.DenyListed => $"User {userId} is on the deny list of {wallet}.",
        RolloutReason.AllowListed => $"User {userId} is on the allow list of {wallet}.",
        RolloutReason.CategoryNotIncluded => $"{wallet} is offered only for some product categories, and '{category ?? "(none)"}' is not one of them.",
        RolloutReason.NoUser => $"{wallet} is offered to {d.Percentage}% of users, and no user id was given to place this buyer.",
        RolloutReason.InsidePercentage when d.Bucket is null => $"{wallet} is offered to every user for this category.",
        RolloutReason.InsidePercentage => $"User {userId} is in bucket {d.Bucket} of 100, within the {d.Percentage}% {wallet} is offered to.",
        RolloutReason.OutsidePercentage => $"User {userId} is in bucket {d.Bucket} of 100, outside the {d.Percentage}% {wallet} is offered to.",
        _ => d.Reason.ToString(),
    };
}

public enum RolloutDeletion
{
    Deleted,
    NotFound,
    Changed,
}
