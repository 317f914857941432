using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Hutong.Domain;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.Merchants;

public sealed record Merchant(string Id, string Name, long CreatedAt);

public sealed record IssuedKey(string Id, string MerchantId, string Prefix, string Secret);

/// <summary>
/// Merchants and their API keys. Only a SHA-256 of each key is stored (keys carry 192 random bits, so a
/// fast hash is enough); the key itself is shown once, at creation.
/// </summary>
public sealed class MerchantStore(Db db, TimeProvider time)
{
    public const string KeyPrefix = "sk_";
    private static readonly TimeSpan CacheTtl = TimeSpan.FromSeconds(30);
    private readonly ConcurrentDictionary<string, (string? MerchantId, DateTimeOffset Until)> _cache = new(StringComparer.Ordinal);

    /// <summary>
    /// Creates a merchant and its first key. <paramref name="alsoInTransaction"/> runs in the same transaction
    /// (the admin API records its idempotent response there, so a retry can never onboard the merchant twice).
    /// </summary>
    public async Task<(Merchant Merchant, IssuedKey Key)> CreateMerchantAsync(
        string name, CancellationToken ct, Func<System.Data.Common.DbConnection, System.Data.Common.DbTransaction, Merchant, IssuedKey, Task>? alsoInTransaction = null)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var merchant = new Merchant(Ids.New(Ids.Merchant), name, now);
        var key = NewKey(merchant.Id);
        await db.WriteAsync(async (c, t) =>
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

    public async Task<IssuedKey?> CreateKeyAsync(string merchantId, CancellationToken ct)
    {
        var key = NewKey(merchantId);
        var ok = await db.WriteAsync(async (c, t) =>
        {
            if (await c.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM merchants WHERE id = @merchantId", new { merchantId }, t) == 0)
            {
                return false;
            }

            await InsertKeyAsync(c, t, key, time.GetUtcNow().ToUnixTimeMilliseconds());
            return true;
        }, ct);
        return ok ? key : null;
    }

    public async Task<bool> RevokeKeyAsync(string keyId, CancellationToken ct)
    {
        var hash = await db.WriteAsync(async (c, t) =>
        {
            var h = await c.ExecuteScalarAsync<string?>("SELECT key_hash FROM api_keys WHERE id = @keyId AND revoked_at IS NULL", new { keyId }, t);
            if (h is not null)
            {
                await c.ExecuteAsync("UPDATE api_keys SET revoked_at = @now WHERE id = @keyId",
                    new { keyId, now = time.GetUtcNow().ToUnixTimeMilliseconds() }, t);
            }

            return h;
        }, ct);
        if (hash is not null)
        {
            _cache.TryRemove(hash, out _);
        }

        return hash is not null;
    }

    public Task<Merchant?> GetAsync(string merchantId, CancellationToken ct) =>
        db.ReadAsync(c => c.QuerySingleOrDefaultAsync<Merchant?>(
            "SELECT id AS Id, name AS Name, created_at AS CreatedAt FROM merchants WHERE id = @merchantId", new { merchantId }), ct);

    /// <summary>Resolves a presented key to its merchant, or null. Results are cached briefly per key hash.</summary>
    public async Task<string?> AuthenticateAsync(string presentedKey, CancellationToken ct)
    {
        if (!presentedKey.StartsWith(KeyPrefix, StringComparison.Ordinal) || presentedKey.Length > 100)
        {
            return null;
        }

        var hash = Hash(presentedKey);
        var now = time.GetUtcNow();
        if (_cache.TryGetValue(hash, out var hit) && hit.Until > now)
        {
            return hit.MerchantId;
        }

        var merchantId = await db.ReadAsync(c => c.QuerySingleOrDefaultAsync<string?>(
            "SELECT merchant_id FROM api_keys WHERE key_hash = @hash AND revoked_at IS NULL", new { hash }), ct);
        _cache[hash] = (merchantId, now + CacheTtl);
        return merchantId;
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
}
