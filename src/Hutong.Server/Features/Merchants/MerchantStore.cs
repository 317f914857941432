using System.Security.Cryptography;
using System.Text;
using Dapper;
using Hutong.Domain;
using Hutong.Server.Storage;
using Microsoft.Extensions.Caching.Memory;

namespace Hutong.Server.Features.Merchants;

public sealed record Merchant(string Id, string Name, long CreatedAt);

public sealed record IssuedKey(string Id, string MerchantId, string Prefix, string Secret);

/// <summary>An active API key that a request presented: its id (never the secret) and its merchant.</summary>
public sealed record AuthenticatedKey(string KeyId, string MerchantId);

/// <summary>
/// Merchants and their API keys. Only a SHA-256 of each key is stored (keys carry 192 random bits, so a
/// fast hash is enough); the key itself is shown once, at creation.
/// </summary>
public sealed class MerchantStore
{
    private readonly Db _db;
    private readonly TimeProvider _time;

    public const string KeyPrefix = "sk_";

    /// <summary>
    /// Key hashes cached at most. Anyone can present made-up keys, so the cache must not grow with them: past this
    /// bound new entries are dropped until compaction evicts (unknown keys first), and lookups go to the store.
    /// </summary>
    public const int DefaultCacheSize = 10_000;

    private readonly TimeSpan _cacheTtl;
    private readonly MemoryCache _cache;
    private readonly CacheTracker _tracker;

    /// <summary>With <paramref name="caches"/> (the hub), a revocation on any instance evicts the key here too.</summary>
    public MerchantStore(Db db, TimeProvider time, int cacheSize = DefaultCacheSize, CacheBus? caches = null)
    {
        _db = db;
        _time = time;
        _cacheTtl = caches?.Ttl ?? CacheBus.DefaultTtl;
        _cache = new(new MemoryCacheOptions { SizeLimit = cacheSize, Clock = new CacheClock(time) });
        _tracker = CacheTracker.Track(caches, CacheBus.ApiKey, hash => _cache.Remove(hash), () => _cache.Clear());
    }

    /// <summary>Entries in the key cache (tests check its bound).</summary>
    internal int CachedKeys => _cache.Count;

    /// <summary>
    /// Creates a merchant and its first key. <paramref name="alsoInTransaction"/> runs in the same transaction
    /// (the admin API records its idempotent response there, so a retry can never onboard the merchant twice).
    /// </summary>
    public async Task<(Merchant Merchant, IssuedKey Key)> CreateMerchantAsync(
        string name, CancellationToken ct, Func<System.Data.Common.DbConnection, System.Data.Common.DbTransaction, Merchant, IssuedKey, Task>? alsoInTransaction = null)
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var merchant = new Merchant(Ids.New(Ids.Merchant), name, now);
        var key = NewKey(merchant.Id);
        await _db.WriteAsync(async (c, t) =>
        {
            await c.ExecuteAsync("INSERT INTO merchants (id, name, created_at) VALUES (@Id, @Name, @CreatedAt)", merchant, t);
            await InsertKeyAsync(c, t, key, now);
            if (alsoInTransaction is not null)
            {
                await alsoInTransaction(c, t, merchant, key);
            }
        }, ct);
        return (merchant, key);
    }

    /// <summary>A new key for the merchant, or null without one; <paramref name="alsoInTransaction"/> runs in the insert's transaction (the console's audit line and idempotent answer).</summary>
    public async Task<IssuedKey?> CreateKeyAsync(string merchantId, CancellationToken ct,
        Func<System.Data.Common.DbConnection, System.Data.Common.DbTransaction, IssuedKey, Task>? alsoInTransaction = null)
    {
        var key = NewKey(merchantId);
        var ok = await _db.WriteAsync(async (c, t) =>
        {
            if (await c.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM merchants WHERE id = @merchantId", new { merchantId }, t) == 0)
            {
                return false;
            }

            await InsertKeyAsync(c, t, key, _time.GetUtcNow().ToUnixTimeMilliseconds());
            if (alsoInTransaction is not null)
            {
                await alsoInTransaction(c, t, key);
            }

            return true;
        }, ct);
        return ok ? key : null;
    }

    /// <summary>Revokes an active key; false when there is none. <paramref name="alsoInTransaction"/> runs in the revocation's transaction.</summary>
    public async Task<bool> RevokeKeyAsync(string keyId, CancellationToken ct,
        Func<System.Data.Common.DbConnection, System.Data.Common.DbTransaction, Task>? alsoInTransaction = null)
    {
        var hash = await _db.WriteAsync(async (c, t) =>
        {
            var h = await c.ExecuteScalarAsync<string?>("SELECT key_hash FROM api_keys WHERE id = @keyId AND revoked_at IS NULL", new { keyId }, t);
            if (h is not null)
            {
                await c.ExecuteAsync("UPDATE api_keys SET revoked_at = @now WHERE id = @keyId",
                    new { keyId, now = _time.GetUtcNow().ToUnixTimeMilliseconds() }, t);
                await CacheBus.SendAsync(c, t, CacheBus.ApiKey, h); // the other instances forget it when this commits
                if (alsoInTransaction is not null)
                {
                    await alsoInTransaction(c, t);
                }
            }

            return h;
        }, ct);
        if (hash is not null)
        {
            _tracker.Evict(hash);
        }

        return hash is not null;
    }

    public Task<Merchant?> GetAsync(string merchantId, CancellationToken ct) =>
        _db.ReadAsync(c => c.QuerySingleOrDefaultAsync<Merchant?>(
            "SELECT id AS Id, name AS Name, created_at AS CreatedAt FROM merchants WHERE id = @merchantId", new { merchantId }), ct);

    /// <summary>Resolves a presented key to its merchant, or null. Results are cached briefly per key hash.</summary>
    public async Task<string?> AuthenticateAsync(string presentedKey, CancellationToken ct) =>
        (await AuthenticateKeyAsync(presentedKey, ct))?.MerchantId;

    /// <summary>Resolves a presented key to its id and merchant, or null. Results are cached briefly per key hash.</summary>
    public async Task<AuthenticatedKey?> AuthenticateKeyAsync(string presentedKey, CancellationToken ct)
    {
        if (!presentedKey.StartsWith(KeyPrefix, StringComparison.Ordinal) || presentedKey.Length > 100)
        {
            return null;
        }

        var hash = Hash(presentedKey);
        if (_cache.TryGetValue(hash, out CachedKey? hit) && hit is not null)
        {
            return hit.Key;
        }

        var generation = _tracker.Generation;
        var key = await _db.ReadAsync(c => c.QuerySingleOrDefaultAsync<AuthenticatedKey?>(
            "SELECT id AS KeyId, merchant_id AS MerchantId FROM api_keys WHERE key_hash = @hash AND revoked_at IS NULL", new { hash }), ct);
        if (_tracker.MayCache(generation))
        {
            _cache.Set(hash, new CachedKey(key), new MemoryCacheEntryOptions
            {
                Size = 1,
                AbsoluteExpirationRelativeToNow = _cacheTtl,
                // A full cache compacts low priority first: made-up keys go before the merchants' real ones.
                Priority = key is null ? CacheItemPriority.Low : CacheItemPriority.Normal,
            });
        }

        return key;
    }

    private static IssuedKey NewKey(string merchantId)
    {
        var id = "key_" + Convert.ToHexString(RandomNumberGenerator.GetBytes(6)).ToLowerInvariant();
        var secret = $"{KeyPrefix}{id[4..]}_{Ids.Token(24)}";
        return new IssuedKey(id, merchantId, secret[..(KeyPrefix.Length + 12)], secret);
    }

    private static Task InsertKeyAsync(System.Data.Common.DbConnection c, System.Data.Common.DbTransaction t, IssuedKey key, long now) =>
        c.ExecuteAsync(
            "INSERT INTO api_keys (id, merchant_id, prefix, key_hash, created_at) VALUES (@Id, @MerchantId, @Prefix, @Hash, @Now)",
            new { key.Id, key.MerchantId, key.Prefix, Hash = Hash(key.Secret), Now = now }, t);

    private static string Hash(string key) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>A lookup's outcome; a null <see cref="Key"/> remembers an unknown or revoked key.</summary>
    private sealed record CachedKey(AuthenticatedKey? Key);

    /// <summary>Expires entries on the hub's clock, so the deterministic simulation's time applies to them too.</summary>
    private sealed class CacheClock(TimeProvider time) : Microsoft.Extensions.Internal.ISystemClock
    {
        public DateTimeOffset UtcNow => time.GetUtcNow();
    }
}
