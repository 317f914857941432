using System.Data.Common;
using Dapper;
using Hutong.Domain;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Webhooks;

/// <summary>
/// A merchant's webhook endpoints: register (the signing secret answered once), list, disable and enable again. The
/// REST API (/v1/webhook_endpoints) and the console's developer pages both go through here, so the checks (URL guard,
/// event types, the per-merchant limit) and the stored answer of an idempotent create are the same on both.
/// A disabled endpoint receives nothing new (fan-out and dispatch take enabled endpoints only); its pending deliveries
/// wait and go out when it is enabled again; events made meanwhile can be sent with a replay (POST /v1/events/resend).
/// A deleted endpoint ('deleted') and one the receiver said is gone ('gone') are not enabled again from here.
/// </summary>
public sealed partial class WebhookEndpointService(Db db, WebhookStore store, SecretBox secrets, IOptions<HubOptions> options, TimeProvider time)
{
    /// <summary>disabled_reason of an endpoint a merchant user turned off (the console); it may be turned on again.</summary>
    public const string DisabledByMerchant = "disabled";

    private sealed class Row
    {
        public string Id { get; set; } = string.Empty;

        public string Url { get; set; } = string.Empty;

        public int Enabled { get; set; }

        public string? DisabledReason { get; set; }

        public long CreatedAt { get; set; }

        public string? EnabledEvents { get; set; }
    }

    private const string Columns = "id, url, enabled, disabled_reason, created_at, enabled_events";

    private static WebhookEndpointDto Dto(Row r, string? secret = null) =>
        new(r.Id, "webhook_endpoint", r.Url, r.EnabledEvents is null ? ["*"] : r.EnabledEvents.Trim(',').Split(','),
            r.Enabled == 1, r.DisabledReason, DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt), secret);

    /// <summary>Stored form of enabled_events: null for every event, else ",a,b," — or an error for the problem response.</summary>
    private static (string? Stored, string? Error) EnabledEvents(string[]? events)
    {
        if (events is null || events.Contains(EventCatalog.Wildcard))
        {
            return events is { Length: > 1 } ? (null, "\"*\" cannot be combined with other event types.") : (null, null);
        }

        if (events.Length is 0 or > 50)
        {
            return (null, "enabled_events must list 1 to 50 event types, or [\"*\"] for every event.");
        }

        if (Array.FindIndex(events, e => e is null || !EventTypePattern().IsMatch(e)) is var bad and >= 0)
        {
            return (null, $"\"{Shown(events[bad])}\" is not an event type (such as payment.succeeded).");
        }

        // A type the hub never sends would be a subscription that silently never fires: refused, named.
        if (Array.FindIndex(events, e => !EventCatalog.Types.Contains(e)) is var unknown and >= 0)
        {
            return (null, $"\"{Shown(events[unknown])}\" is not an event type this hub sends; see GET /v1/events for examples, or use [\"*\"] for every event.");
        }

        return ("," + string.Join(',', events.Distinct(StringComparer.Ordinal)) + ",", null);
    }

    private static string Shown(string? type) => type is null ? "null" : type.Length > 64 ? type[..64] + "…" : type;

    // \z, not $: .NET's $ also matches before a final "\n".
    [System.Text.RegularExpressions.GeneratedRegex("^[a-z][a-z_]*(\\.[a-z][a-z_]*)+\\z")]
    private static partial System.Text.RegularExpressions.Regex EventTypePattern();

    /// <summary>
    /// Registers an endpoint; the answer carries the signing secret (shown this once), the idempotent answer stored
    /// without it. <paramref name="alsoInTransaction"/> runs in the insert's transaction (the console's audit line).
    /// </summary>
    public async Task<Outcome<WebhookEndpointDto>> CreateAsync(string merchantId, CreateWebhookEndpointRequest body, IdempotencyContext? idem, CancellationToken ct,
        Func<DbConnection, DbTransaction, WebhookEndpointDto, Task>? alsoInTransaction = null)
    {
        if (WebhookUrlGuard.Validate(body.Url, options.Value.Webhooks.AllowPrivateTargets) is { } error)
        {
            return Failure.Invalid("url", error);
        }

        var (events, eventsError) = EnabledEvents(body.EnabledEvents);
        if (eventsError is not null)
        {
            return Failure.Invalid("enabled_events", eventsError);
        }

        var limit = options.Value.Webhooks.MaxEndpointsPerMerchant;
        var row = new Row { Id = Ids.New(Ids.WebhookEndpoint), Url = body.Url!, Enabled = 1, CreatedAt = time.GetUtcNow().ToUnixTimeMilliseconds(), EnabledEvents = events };
        var secret = WebhookSigner.NewSecret();
        return await db.WriteAsync(async (c, t) =>
        {
            // Each endpoint is a queue the dispatcher serves: a bound keeps one merchant from spreading over all of them.
            if (await store.CountForCreateAsync(c, t, merchantId) >= limit)
            {
                return Failure.Conflict("webhook_endpoint_limit", $"A merchant may have at most {limit} webhook endpoints.",
                    "Delete an endpoint you no longer use (DELETE /v1/webhook_endpoints/{id}) before adding another.");
            }

            await WebhookStore.InsertEndpointAsync(c, t, row.Id, merchantId, row.Url, secrets.SealIfEnabled(secret, row.Id), row.CreatedAt, row.EnabledEvents);
            var result = Outcome.Created(Dto(row, secret)).WithoutSecretsWhenStored(Dto(row));
            if (alsoInTransaction is not null)
            {
                await alsoInTransaction(c, t, Dto(row));
            }

            if (idem is not null)
            {
                await idem.CompleteAsync(c, t, result);
            }

            return result;
        }, ct);
    }

    /// <summary>New secret now (answered once); the old one keeps signing alongside it for the overlap window.</summary>
    public async Task<Outcome<WebhookEndpointDto>> RotateSecretAsync(string merchantId, string endpointId, IdempotencyContext? idem, CancellationToken ct)
    {
        var secret = WebhookSigner.NewSecret();
        var until = (time.GetUtcNow() + options.Value.Webhooks.RotationOverlap).ToUnixTimeMilliseconds();
        return await db.WriteAsync<Outcome<WebhookEndpointDto>>(async (c, t) =>
        {
            if (!await WebhookStore.RotateSecretAsync(c, t, endpointId, merchantId, secrets.SealIfEnabled(secret, endpointId), until))
            {
                return Failure.NotFound("webhook endpoint");
            }

            var row = await c.QuerySingleAsync<Row>($"SELECT {Columns} FROM webhook_endpoints WHERE id = @endpointId", new { endpointId }, t);
            var result = Outcome.Ok(Dto(row, secret)).WithoutSecretsWhenStored(Dto(row));
            if (idem is not null)
            {
                await idem.CompleteAsync(c, t, result);
            }

            return result;
        }, ct);
    }

    /// <summary>The merchant's endpoints, deleted ones included (they show why they stopped), by id.</summary>
    public async Task<IReadOnlyList<WebhookEndpointDto>> ListAsync(string merchantId, CancellationToken ct) =>
        [.. (await db.ReadAsync(c => c.QueryAsync<Row>($"SELECT {Columns} FROM webhook_endpoints WHERE merchant_id = @merchantId ORDER BY id", new { merchantId }), ct))
            .Select(r => Dto(r))];

    public async Task<WebhookEndpointDto?> GetAsync(string merchantId, string id, CancellationToken ct) =>
        await db.ReadAsync(c => c.QueryFirstOrDefaultAsync<Row>($"SELECT {Columns} FROM webhook_endpoints WHERE id = @id AND merchant_id = @merchantId", new { id, merchantId }), ct)
            is { } r ? Dto(r) : null;

    /// <summary>
    /// Turns the merchant's endpoint off (<paramref name="enabled"/> false) or on again. Conditional on the state read:
    /// turning off an endpoint that is off, or on one that is on, deleted or gone, is a 409, not a silent success.
    /// <paramref name="alsoInTransaction"/> runs in the update's transaction (the console's audit line).
    /// </summary>
    public async Task<Outcome<WebhookEndpointDto>> SetEnabledAsync(string merchantId, string id, bool enabled, IdempotencyContext? idem, CancellationToken ct,
        Func<DbConnection, DbTransaction, Task>? alsoInTransaction = null)
    {
        if (!Ids.HasPrefix(id, Ids.WebhookEndpoint))
        {
            return Failure.NotFound("webhook endpoint");
        }

        return await db.WriteAsync<Outcome<WebhookEndpointDto>>(async (c, t) =>
        {
            var row = await c.QueryFirstOrDefaultAsync<Row>($"SELECT {Columns} FROM webhook_endpoints WHERE id = @id AND merchant_id = @merchantId", new { id, merchantId }, t);
            if (row is null)
            {
                return Failure.NotFound("webhook endpoint");
            }

            var changed = enabled
                ? await c.ExecuteAsync(
                    "UPDATE webhook_endpoints SET enabled = 1, disabled_reason = NULL WHERE id = @id AND merchant_id = @merchantId AND enabled = 0 AND disabled_reason = @reason",
                    new { id, merchantId, reason = DisabledByMerchant }, t)
                : await c.ExecuteAsync(
                    "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = @reason WHERE id = @id AND merchant_id = @merchantId AND enabled = 1",
                    new { id, merchantId, reason = DisabledByMerchant }, t);
            if (changed != 1)
            {
                Outcome<WebhookEndpointDto> refused = enabled
                    ? row.Enabled == 1
                        ? Failure.Conflict("webhook_endpoint_enabled", "This webhook endpoint is enabled already.")
                        : Failure.Conflict("webhook_endpoint_not_enableable", $"This webhook endpoint was {row.DisabledReason ?? "disabled"} and cannot be enabled again.",
                            "Register the URL again as a new endpoint.")
                    : Failure.Conflict("webhook_endpoint_disabled", "This webhook endpoint is disabled already.");
                if (idem is not null)
                {
                    await idem.CompleteAsync(c, t, refused); // the same request again (a resubmitted form) is told it was answered already
                }

                return refused;
            }

            row.Enabled = enabled ? 1 : 0;
            row.DisabledReason = enabled ? null : DisabledByMerchant;
            if (alsoInTransaction is not null)
            {
                await alsoInTransaction(c, t);
            }

            var ok = Outcome.Ok(Dto(row));
            if (idem is not null)
            {
                await idem.CompleteAsync(c, t, ok);
            }

            return ok;
        }, ct);
    }
}
