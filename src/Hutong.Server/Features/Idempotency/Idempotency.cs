using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Http;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.Idempotency;

/// <summary>
/// The claimed key of the request being executed. A handler that changes state calls
/// <see cref="CompleteAsync"/> inside its own transaction, so the stored response commits with the change
/// and a crash can never leave a change without its recorded answer.
/// </summary>
public sealed class IdempotencyContext(string scope, string key)
{
    private const string ItemKey = "hutong.idempotency";

    public bool Completed { get; private set; }

    public static IdempotencyContext? Of(HttpContext ctx) => ctx.Items[ItemKey] as IdempotencyContext;

    internal void Attach(HttpContext ctx) => ctx.Items[ItemKey] = this;

    public async Task CompleteAsync(DbConnection c, DbTransaction t, ApiResult response)
    {
        await c.ExecuteAsync(
            "UPDATE idempotency_keys SET state = 'completed', response_status = @Status, response_body = @Body, locked_at = NULL WHERE merchant_id = @scope AND idem_key = @key",
            new { response.Status, Body = response.StoredBody ?? response.Body, scope, key }, t);
        Completed = true;
    }
}

/// <summary>
/// Idempotency-Key on every POST (Stripe semantics): same key and body replays the stored response;
/// same key with another body is 422; a duplicate arriving while the first runs is 409.
/// Validation failures and conflicts are not stored, so the client can fix and retry with the same key.
/// </summary>
public sealed class IdempotencyFilter(Db db, TimeProvider time) : IEndpointFilter
{
    public const string Header = "Idempotency-Key";
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(60);

    private enum Claim
    {
        Claimed,
        Replay,
        Mismatch,
        InProgress,
    }

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (!HttpMethods.IsPost(http.Request.Method))
        {
            return await next(context);
        }

        var key = http.Request.Headers[Header].ToString();
        if (key.Length == 0)
        {
            return ApiResult.Problem(400, "idempotency_key_required", "An Idempotency-Key header is required on every POST.", param: Header);
        }

        if (key.Length > 255)
        {
            return ApiResult.Problem(400, "idempotency_key_invalid", "Idempotency-Key must be at most 255 characters.", param: Header);
        }

        var hash = await RequestHashAsync(http);
        var scope = MerchantContext.Find(http)?.MerchantId ?? "admin";
        var (claim, status, body) = await ClaimAsync(scope, key, hash, http.RequestAborted);
        switch (claim)
        {
            case Claim.Replay:
                return ApiResult.Replay(status, body);
            case Claim.Mismatch:
                return ApiResult.Problem(422, "idempotency_key_reused", "This Idempotency-Key was used with a different request.",
                    "Use a new key for a new request.", param: Header);
            case Claim.InProgress:
                return ApiResult.Problem(409, "idempotency_request_in_progress", "A request with this Idempotency-Key is still being processed.",
                    "Retry after it has finished.", param: Header);
        }

        var idem = new IdempotencyContext(scope, key);
        idem.Attach(http);
        object? result;
        try
        {
            result = await next(context);
        }
        catch
        {
            await ReleaseAsync(scope, key, CancellationToken.None);
            throw;
        }

        if (idem.Completed)
        {
            return result;
        }

        if (result is ApiResult r && r.Status is not (400 or 401 or 409 or 422 or 429) && r.Status < 500)
        {
            await db.WriteAsync((c, t) => idem.CompleteAsync(c, t, r), CancellationToken.None);
        }
        else
        {
            await ReleaseAsync(scope, key, CancellationToken.None);
        }

        return result;
    }

    private static async Task<string> RequestHashAsync(HttpContext http)
    {
        var request = http.Request;
        request.EnableBuffering();
        request.Body.Position = 0;
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes($"{request.Method} {request.Path}\n"));
        var buffer = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(buffer, http.RequestAborted)) > 0)
        {
            sha.AppendData(buffer, 0, read);
        }

        request.Body.Position = 0;
        return Convert.ToHexString(sha.GetHashAndReset());
    }

    private Task<(Claim, int, string?)> ClaimAsync(string scope, string key, string hash, CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        return db.WriteAsync(async (c, t) =>
        {
            var inserted = await c.ExecuteAsync(
                "INSERT INTO idempotency_keys (merchant_id, idem_key, request_hash, state, locked_at, created_at) VALUES (@scope, @key, @hash, 'started', @now, @now) ON CONFLICT DO NOTHING",
                new { scope, key, hash, now }, t);
            if (inserted == 1)
            {
                return (Claim.Claimed, 0, (string?)null);
            }

            var row = await c.QuerySingleAsync<KeyRow>(
                "SELECT request_hash, state, locked_at, response_status, response_body FROM idempotency_keys WHERE merchant_id = @scope AND idem_key = @key",
                new { scope, key }, t);
            if (row.RequestHash != hash)
            {
                return (Claim.Mismatch, 0, null);
            }

            if (row.State == "completed")
            {
                return (Claim.Replay, row.ResponseStatus ?? 200, row.ResponseBody);
            }

            if (row.LockedAt is { } locked && now - locked < (long)LockTimeout.TotalMilliseconds)
            {
                return (Claim.InProgress, 0, null);
            }

            // The first run died without committing (its completion would have committed with its change): take over.
            await c.ExecuteAsync("UPDATE idempotency_keys SET locked_at = @now WHERE merchant_id = @scope AND idem_key = @key", new { scope, key, now }, t);
            return (Claim.Claimed, 0, null);
        }, ct);
    }

    private sealed class KeyRow
    {
        public string RequestHash { get; set; } = string.Empty;

        public string State { get; set; } = string.Empty;

        public long? LockedAt { get; set; }

        public int? ResponseStatus { get; set; }

        public string? ResponseBody { get; set; }
    }

    private Task ReleaseAsync(string scope, string key, CancellationToken ct) =>
        db.WriteAsync((c, t) => c.ExecuteAsync(
            "DELETE FROM idempotency_keys WHERE merchant_id = @scope AND idem_key = @key AND state = 'started'", new { scope, key }, t), ct);
}
