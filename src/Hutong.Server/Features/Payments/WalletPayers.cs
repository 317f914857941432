using Dapper;
using Hutong.Domain;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.Payments;

/// <summary>
/// Buyers a wallet identified through its OAuth (WeChat snsapi_base in the in-app browser, jscode2session for a
/// mini-program): the openid is kept here and handed only to the wallet's order call. A browser stands for it by its
/// payer session, a mini-program back end by an opaque handle. Owns wallet_payers and oauth_states_used.
/// </summary>
public sealed class WalletPayers(Db db, TimeProvider time)
{
    /// <summary>How long a browser or handle stands for the openid: the length of a shopping visit, not an account.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(2);

    public const string HandlePrefix = "wxp_";

    /// <summary>Remembers <paramref name="payerRef"/> for <paramref name="session"/> (null: a handle only) and returns the handle.</summary>
    public async Task<string> RememberAsync(string wallet, string payerRef, string? session, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var handle = HandlePrefix + Ids.Token();
        await db.WriteAsync((c, t) => c.ExecuteAsync(
            "INSERT INTO wallet_payers (handle, wallet, payer_ref, session, created_at, expires_at) VALUES (@handle, @wallet, @payerRef, @session, @now, @until)",
            new { handle, wallet, payerRef, session, now = now.ToUnixTimeMilliseconds(), until = (now + Lifetime).ToUnixTimeMilliseconds() }, t), ct);
        return handle;
    }

    /// <summary>The openid this browser session was identified with at <paramref name="wallet"/>, while it lasts.</summary>
    public Task<string?> ForSessionAsync(string wallet, string session, CancellationToken ct) => db.ReadAsync(c => c.QueryFirstOrDefaultAsync<string?>(
        "SELECT payer_ref FROM wallet_payers WHERE session = @session AND wallet = @wallet AND expires_at > @now ORDER BY created_at DESC",
        new { session, wallet, now = time.GetUtcNow().ToUnixTimeMilliseconds() }), ct);

    /// <summary>A handle for a mini-program back end of <paramref name="merchantId"/> (no browser session), and when it lapses.</summary>
    public async Task<(string Handle, DateTimeOffset ExpiresAt)> IssueHandleAsync(string merchantId, string wallet, string payerRef, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var handle = HandlePrefix + Ids.Token();
        await db.WriteAsync((c, t) => c.ExecuteAsync(
            "INSERT INTO wallet_payers (handle, wallet, payer_ref, session, created_at, expires_at, merchant_id) VALUES (@handle, @wallet, @payerRef, NULL, @now, @until, @merchantId)",
            new { handle, wallet, payerRef, now = now.ToUnixTimeMilliseconds(), until = (now + Lifetime).ToUnixTimeMilliseconds(), merchantId }, t), ct);
        return (handle, DateTimeOffset.FromUnixTimeMilliseconds((now + Lifetime).ToUnixTimeMilliseconds()));
    }

    /// <summary>The openid behind a mini-program's handle, while it lasts, and only for the merchant it was issued to.</summary>
    public Task<string?> ForHandleAsync(string merchantId, string wallet, string handle, CancellationToken ct) => db.ReadAsync(c => c.QueryFirstOrDefaultAsync<string?>(
        "SELECT payer_ref FROM wallet_payers WHERE handle = @handle AND wallet = @wallet AND merchant_id = @merchantId AND session IS NULL AND expires_at > @now",
        new { handle, wallet, merchantId, now = time.GetUtcNow().ToUnixTimeMilliseconds() }), ct);

    /// <summary>
    /// Marks an OAuth state used; false when it was used before (a replayed callback). One insert on a primary key, so of
    /// two hubs receiving the same callback exactly one proceeds.
    /// </summary>
    public Task<bool> UseStateOnceAsync(string stateId, long expiresAtMs, CancellationToken ct) => db.WriteAsync(async (c, t) =>
        await c.ExecuteAsync("INSERT INTO oauth_states_used (id, expires_at) VALUES (@stateId, @expiresAtMs) ON CONFLICT (id) DO NOTHING",
            new { stateId, expiresAtMs }, t) == 1, ct);

    /// <summary>
    /// Forgets at most <paramref name="batch"/> payer rows (a browser's or a handle's openid) that lapsed before
    /// <paramref name="cutoffMs"/>, oldest first; how many. A lapsed row is never read again (every read wants
    /// expires_at in the future): it only kept an openid.
    /// </summary>
    public Task<int> ForgetPayersLapsedBeforeAsync(long cutoffMs, int batch, CancellationToken ct) => db.WriteAsync((c, t) => c.ExecuteAsync(
        "DELETE FROM wallet_payers WHERE handle IN (SELECT handle FROM wallet_payers WHERE expires_at < @cutoffMs ORDER BY expires_at LIMIT @batch)",
        new { cutoffMs, batch }, t), ct);

    /// <summary>
    /// Forgets at most <paramref name="batch"/> used OAuth states that expired before <paramref name="cutoffMs"/>; how many.
    /// A callback with an expired state is refused on its signed expiry before this table is asked, so its row is no longer needed.
    /// </summary>
    public Task<int> ForgetStatesExpiredBeforeAsync(long cutoffMs, int batch, CancellationToken ct) => db.WriteAsync((c, t) => c.ExecuteAsync(
        "DELETE FROM oauth_states_used WHERE id IN (SELECT id FROM oauth_states_used WHERE expires_at < @cutoffMs ORDER BY expires_at LIMIT @batch)",
        new { cutoffMs, batch }, t), ct);
}
