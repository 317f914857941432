using System.Data.Common;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Hutong.Domain;
using Hutong.Server.Http;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.Idempotency;

/// <summary>
/// The claimed key of the request being executed. A handler that changes state calls
/// <see cref="CompleteAsync"/> inside its own transaction, so the stored response commits with the change
/// and a crash can never leave a change without its recorded answer.
/// </summary>
public sealed class IdempotencyContext(string scope, string key, string requestHash, long now)
{
    private const string ItemKey = "hutong.idempotency";

    public bool Completed { get; private set; }

    public static IdempotencyContext? Of(HttpContext ctx) => ctx.Items[ItemKey] as IdempotencyContext;

    internal void Attach(HttpContext ctx) => ctx.Items[ItemKey] = this;

    /// <summary>
    /// Records the response in the caller's transaction. If the key was completed meanwhile (the same key on another
    /// hub instance committed first), throws <see cref="IdempotencyConflictException"/> so this transaction — and the
    /// change in it — rolls back, and the filter answers with the stored response instead.
    /// </summary>
    public async Task CompleteAsync(DbConnection c, DbTransaction t, ApiResult response)
    {
        var completion = Completion(response);
        Confirm(await c.ExecuteAsync(completion.Sql, completion.Param, t));
    }

    /// <summary>
    /// Records the answer the endpoint will send for <paramref name="outcome"/> (mapped to HTTP here, the same way the
    /// endpoint maps it), in the caller's transaction.
    /// </summary>
    public Task CompleteAsync<T>(DbConnection c, DbTransaction t, Outcome<T> outcome) => CompleteAsync(c, t, outcome.ToApiResult());

    /// <summary>The statement that stores the answer the endpoint will send for <paramref name="outcome"/>.</summary>
    public Statement Completion<T>(Outcome<T> outcome) => Completion(outcome.ToApiResult());

    /// <summary>The statement that stores the answer, for a handler that sends it with its own statements in one batch.</summary>
    public Statement Completion(ApiResult response) => IdempotencyStore.Completion(scope, key, requestHash, response, now);

    /// <summary>Given the rows the completion statement affected: none means the key was completed elsewhere first.</summary>
    public void Confirm(int affected)
    {
        EnsureFirstAnswer(affected);
        Completed = true;
    }

    /// <summary>Throws when the completion statement stored nothing: the key was answered elsewhere first.</summary>
    public static void EnsureFirstAnswer(int affected)
    {
        if (affected == 0)
        {
            throw new IdempotencyConflictException();
        }
    }
}

/// <summary>
/// The one writer of idempotency_keys: a key's stored answer, and forgetting keys past their retention; and the look-up
/// of whether a key has an answer, by the same (scope, key) the answer is stored under.
/// </summary>
public static class IdempotencyStore
{
    /// <summary>
    /// The key already has a stored answer in <paramref name="scope"/> (a merchant's id, or "admin"): a request under it
    /// was done once. Read from the primary, so an answer committed just before is seen.
    /// </summary>
    public static Task<bool> AnsweredAsync(Db db, string scope, string key, CancellationToken ct) => db.ReadAsync(
        async c => await c.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM idempotency_keys WHERE merchant_id = @scope AND idem_key = @key AND state = 'completed'", new { scope, key }) > 0, ct);

    /// <summary>Stores the answer unless the key already has one (then it affects no row: answered elsewhere first).</summary>
    public static Statement Completion(string scope, string key, string requestHash, ApiResult response, long now) => new(
        """
        INSERT INTO idempotency_keys (merchant_id, idem_key, request_hash, state, response_status, response_body, created_at)
        VALUES (@Scope, @Key, @RequestHash, 'completed', @Status, @Body, @Now)
        ON CONFLICT (merchant_id, idem_key) DO UPDATE SET request_hash = excluded.request_hash, state = 'completed',
            response_status = excluded.response_status, response_body = excluded.response_body, locked_at = NULL
        WHERE idempotency_keys.state <> 'completed'
        """,
        new CompletionRow(scope, key, requestHash, response.Status, response.StoredBody ?? response.Body, now));

    /// <summary>Deletes the keys created before <paramref name="cutoff"/> (unix ms); returns how many.</summary>
    public static Task<int> ForgetOlderThanAsync(Db db, long cutoff, CancellationToken ct) =>
        db.WriteAsync((c, t) => c.ExecuteAsync("DELETE FROM idempotency_keys WHERE created_at < @cutoff", new { cutoff }, t), ct);
}

internal sealed record CompletionRow(string Scope, string Key, string RequestHash, int Status, string? Body, long Now);

/// <summary>
/// Endpoint metadata: the handler's whole effect is one transaction that also stores the answer (no wallet call, nothing
/// outside the store), so the filter skips the look-up before running it. A repeated key runs again, its transaction finds
/// the key completed and rolls back (<see cref="IdempotencyConflictException"/>), and the stored answer is replayed; an
/// answer that was not stored (a 409 from the repeated insert, say) is checked against the stored one. First requests —
/// nearly all of them — save a read.
/// </summary>
public sealed class OptimisticIdempotencyAttribute : Attribute;

/// <summary>The key was completed by a concurrent request elsewhere; the change being committed must not stand.</summary>
public sealed class IdempotencyConflictException() : Exception("The Idempotency-Key was completed by a concurrent request.");

/// <summary>
/// Keys being executed in this process. A key is held from before its stored answer is looked up until after its
/// answer has committed, so a duplicate either sees the answer or finds the key held (409) — never neither.
/// </summary>
public sealed class IdempotencyClaims
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Scope, string Key), string> _held = new();

    public bool TryClaim(string scope, string key, string requestHash, out string? heldHash)
    {
        if (_held.TryAdd((scope, key), requestHash))
        {
            heldHash = null;
            return true;
        }

        heldHash = _held.GetValueOrDefault((scope, key));
        return false;
    }

    public void Release(string scope, string key) => _held.TryRemove((scope, key), out _);
}

/// <summary>
/// Whose keys a request's Idempotency-Key is among: the authenticating filter in front of <see cref="IdempotencyFilter"/>
/// sets it (the merchant's id); without one (operator endpoints) it is "admin". Owned here so Idempotency does not
/// depend on Merchants, which sits above it.
/// </summary>
public static class IdempotencyScope
{
    private const string ItemKey = "hutong.idempotency.scope";

    public static void Set(HttpContext ctx, string scope) => ctx.Items[ItemKey] = scope;

    public static string Of(HttpContext ctx) => ctx.Items[ItemKey] as string ?? "admin";
}

/// <summary>
/// Idempotency-Key on every POST (Stripe semantics): same key and body replays the stored response;
/// same key with another body is 422; a duplicate arriving while the first runs is 409.
/// Validation failures (400, 413 body too large, 415 wrong media type, 422) and conflicts are not stored, so the client
/// can fix and retry with the same key.
/// The key is held in memory while its request runs (no write before the work: the answer is stored with the change);
/// across hub instances the database decides — the second commit of a key fails and replays the first's answer.
/// </summary>
public sealed class IdempotencyFilter(Db db, IdempotencyClaims claims, TimeProvider time) : IEndpointFilter
{
    public const string Header = "Idempotency-Key";

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (!HttpMethods.IsPost(http.Request.Method))
        {
            return await next(context);
        }

        var values = http.Request.Headers[Header];
        if (values.Count > 1)
        {
            // Two headers would otherwise be joined into one key "k1,k2": neither k1's replay nor a key the client chose.
            return ApiResult.Problem(400, "idempotency_key_invalid", "Send one Idempotency-Key header, not several.", param: Header);
        }

        var key = values.ToString();
        if (key.Length == 0)
        {
            return ApiResult.Problem(400, "idempotency_key_required", "An Idempotency-Key header is required on every POST.", param: Header);
        }

        if (key.Length > 255)
        {
            return ApiResult.Problem(400, "idempotency_key_invalid", "Idempotency-Key must be at most 255 characters.", param: Header);
        }

        if (!IsPrintableKey(key))
        {
            return ApiResult.Problem(400, "idempotency_key_invalid",
                "Idempotency-Key must be printable ASCII (such as a UUID), without control characters or leading or trailing spaces.", param: Header);
        }

        var hash = await RequestHashAsync(http);
        var scope = IdempotencyScope.Of(http);
        if (!claims.TryClaim(scope, key, hash, out var heldHash))
        {
            return heldHash is not null && heldHash != hash ? Mismatch() : InProgress();
        }

        var optimistic = http.GetEndpoint()?.Metadata.GetMetadata<OptimisticIdempotencyAttribute>() is not null;
        try
        {
            if (!optimistic && await StoredAsync(scope, key, http.RequestAborted) is { } stored)
            {
                return stored.RequestHash != hash ? Mismatch() : ApiResult.Replay(stored.ResponseStatus ?? 200, stored.ResponseBody);
            }

            var idem = new IdempotencyContext(scope, key, hash, time.GetUtcNow().ToUnixTimeMilliseconds());
            idem.Attach(http);
            object? result;
            try
            {
                result = await next(context);
                if (optimistic && !idem.Completed && await StoredAsync(scope, key, CancellationToken.None) is { } earlier)
                {
                    // The request ran again for a key already answered (it changed nothing: its insert was refused).
                    return earlier.RequestHash != hash ? Mismatch() : ApiResult.Replay(earlier.ResponseStatus ?? 200, earlier.ResponseBody);
                }

                if (!idem.Completed && result is ApiResult r && r.Status is not (400 or 401 or 409 or 413 or 415 or 422 or 429) && r.Status < 500)
                {
                    await db.WriteAsync((c, t) => idem.CompleteAsync(c, t, r), CancellationToken.None);
                }
            }
            catch (IdempotencyConflictException)
            {
                var winner = await StoredAsync(scope, key, CancellationToken.None);
                return winner is null ? InProgress() : winner.RequestHash != hash ? Mismatch() : ApiResult.Replay(winner.ResponseStatus ?? 200, winner.ResponseBody);
            }

            return result;
        }
        finally
        {
            claims.Release(scope, key); // after the answer committed (or nothing was stored)
        }
    }

    /// <summary>
    /// Printable ASCII (space to ~), not starting or ending with a space. HTTP trims a value's outer spaces and tabs, so
    /// a key that still has them, or a control character such as a tab inside, would not be the key the client meant.
    /// </summary>
    internal static bool IsPrintableKey(string key) =>
        key[0] != ' ' && key[^1] != ' ' && key.All(ch => ch is >= ' ' and <= '~');

    private static ApiResult Mismatch() => ApiResult.Problem(422, "idempotency_key_reused", "This Idempotency-Key was used with a different request.",
        "Use a new key for a new request.", param: Header);

    private static ApiResult InProgress() => ApiResult.Problem(409, "idempotency_request_in_progress", "A request with this Idempotency-Key is still being processed.",
        "Retry after it has finished.", param: Header);

    private static async Task<string> RequestHashAsync(HttpContext http)
    {
        var request = http.Request;
        if (request.ContentType?.StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase) == true)
        {
            return await MultipartHashAsync(http);
        }

        request.EnableBuffering();
        request.Body.Position = 0;
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes($"{request.Method} {request.Path}\n{QueryLine(request)}"));
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(4096); // a fresh 8 KiB array per request showed in profiles
        try
        {
            int read;
            while ((read = await request.Body.ReadAsync(buffer, http.RequestAborted)) > 0)
            {
                sha.AppendData(buffer, 0, read);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }

        request.Body.Position = 0;
        return Convert.ToHexString(sha.GetHashAndReset());
    }

    /// <summary>
    /// The query string is part of the request (data set uploads carry their options there): a key reused with other
    /// query parameters is a mismatch like a key reused with another body. Parameters are taken in name order (then value
    /// order), so the same request written in another order is still the same; no query adds nothing, so hashes stored
    /// before the query was covered still match their retries.
    /// </summary>
    private static string QueryLine(HttpRequest request)
    {
        if (request.Query.Count == 0)
        {
            return string.Empty;
        }

        var line = new StringBuilder("query");
        foreach (var (name, values) in request.Query.OrderBy(q => q.Key, StringComparer.Ordinal))
        {
            foreach (var value in values.Order(StringComparer.Ordinal))
            {
                line.Append(CultureInfo.InvariantCulture, $" {name.Length}:{name}={value?.Length ?? 0}:{value}");
            }
        }

        return line.Append('\n').ToString();
    }

    /// <summary>
    /// A multipart body is hashed by what it says, not its bytes: each client picks a new boundary for every send, so the
    /// same upload retried with the same key must still be the same request. Fields and files are taken in name order;
    /// a file by its part name, file name and the SHA-256 of its content. A body that is not well-formed multipart hashes
    /// by its bytes' length and the reason (the endpoint refuses it anyway).
    /// </summary>
    private static async Task<string> MultipartHashAsync(HttpContext http)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes($"{http.Request.Method} {http.Request.Path}\n{QueryLine(http.Request)}multipart\n"));
        try
        {
            var form = await http.Request.ReadFormAsync(http.RequestAborted);
            foreach (var (name, value) in form.OrderBy(f => f.Key, StringComparer.Ordinal))
            {
                sha.AppendData(Encoding.UTF8.GetBytes($"field {name.Length}:{name} {value.ToString().Length}:{value}\n"));
            }

            foreach (var file in form.Files.OrderBy(f => f.Name, StringComparer.Ordinal).ThenBy(f => f.FileName, StringComparer.Ordinal))
            {
                await using var content = file.OpenReadStream();
                var digest = Convert.ToHexString(await SHA256.HashDataAsync(content, http.RequestAborted));
                sha.AppendData(Encoding.UTF8.GetBytes($"file {file.Name.Length}:{file.Name} {file.FileName.Length}:{file.FileName} {file.Length} {digest}\n"));
            }
        }
        catch (Exception e) when (e is InvalidDataException or IOException or BadHttpRequestException)
        {
            sha.AppendData(Encoding.UTF8.GetBytes($"unreadable {e.GetType().Name}"));
        }

        return Convert.ToHexString(sha.GetHashAndReset());
    }

    private Task<KeyRow?> StoredAsync(string scope, string key, CancellationToken ct) =>
        db.ReadAsync(c => c.QuerySingleOrDefaultAsync<KeyRow?>(
            "SELECT request_hash, response_status, response_body FROM idempotency_keys WHERE merchant_id = @scope AND idem_key = @key AND state = 'completed'",
            new { scope, key }), ct);

    private sealed class KeyRow
    {
        public string RequestHash { get; set; } = string.Empty;

        public int? ResponseStatus { get; set; }

        public string? ResponseBody { get; set; }
    }
}
