using Dapper;
using Hutong.Domain;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Http;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Webhooks;

/// <param name="EnabledEvents">Event types to receive (e.g. payment.succeeded), or ["*"] / absent for every event.</param>
public sealed record CreateWebhookEndpointRequest(string? Url, string[]? EnabledEvents = null);

public sealed record WebhookEndpointDto(string Id, string Object, string Url, string[] EnabledEvents, bool Enabled, string? DisabledReason, DateTimeOffset CreatedAt, string? Secret);

/// <summary>
/// /v1/webhook_endpoints — register, list, rotate the secret, delete. The secret is shown on create and rotate only, and is
/// sealed at rest under Hutong:MasterKey when one is configured (it must stay recoverable to sign deliveries).
/// </summary>
public static partial class WebhookEndpointsApi
{
    public static void Map(RouteGroupBuilder v1)
    {
        var g = v1.MapGroup("/webhook_endpoints").WithTags("Webhook endpoints");
        g.MapPost("/", CreateAsync).Accepts<CreateWebhookEndpointRequest>("application/json").Produces<WebhookEndpointDto>(201).ProducesProblem(400).ProducesProblem(409);
        g.MapGet("/", ListAsync).Produces<WebhookEndpointDto[]>();
        g.MapPost("/{id}/rotate_secret", RotateAsync).Produces<WebhookEndpointDto>().ProducesProblem(404);
        g.MapDelete("/{id}", DeleteAsync).Produces(204).ProducesProblem(404);
    }

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
        if (events is null || events.Contains("*"))
        {
            return events is { Length: > 1 } ? (null, "\"*\" cannot be combined with other event types.") : (null, null);
        }

        if (events.Length is 0 or > 50)
        {
            return (null, "enabled_events must list 1 to 50 event types, or [\"*\"] for every event.");
        }

        if (Array.FindIndex(events, e => e is null || !EventTypePattern().IsMatch(e)) is var bad and >= 0)
        {
            return (null, $"\"{events[bad]}\" is not an event type (such as payment.succeeded).");
        }

        return ("," + string.Join(',', events.Distinct(StringComparer.Ordinal)) + ",", null);
    }

    [System.Text.RegularExpressions.GeneratedRegex("^[a-z][a-z_]*(\\.[a-z][a-z_]*)+$")]
    private static partial System.Text.RegularExpressions.Regex EventTypePattern();

    private static async Task<ApiResult> CreateAsync(HttpContext ctx, Db db, WebhookStore store, SecretBox secrets, IOptions<HubOptions> options, TimeProvider time)
    {
        var (body, problem) = await RequestBody.ReadAsync<CreateWebhookEndpointRequest>(ctx.Request);
        if (problem is not null)
        {
            return problem;
        }

        if (WebhookUrlGuard.Validate(body!.Url, options.Value.Webhooks.AllowPrivateTargets) is { } error)
        {
            return Problems.Invalid("url", error);
        }

        var (events, eventsError) = EnabledEvents(body.EnabledEvents);
        if (eventsError is not null)
        {
            return Problems.Invalid("enabled_events", eventsError);
        }

        var merchantId = MerchantContext.Of(ctx).MerchantId;
        var limit = options.Value.Webhooks.MaxEndpointsPerMerchant;
        var row = new Row { Id = Ids.New(Ids.WebhookEndpoint), Url = body.Url!, Enabled = 1, CreatedAt = time.GetUtcNow().ToUnixTimeMilliseconds(), EnabledEvents = events };
        var secret = WebhookSigner.NewSecret();
        var idem = IdempotencyContext.Of(ctx);
        return await db.WriteAsync(async (c, t) =>
        {
            // Each endpoint is a queue the dispatcher serves: a bound keeps one merchant from spreading over all of them.
            if (await store.CountForCreateAsync(c, t, merchantId) >= limit)
            {
                return Problems.Conflict("webhook_endpoint_limit", $"A merchant may have at most {limit} webhook endpoints.",
                    "Delete an endpoint you no longer use (DELETE /v1/webhook_endpoints/{id}) before adding another.");
            }

            await WebhookStore.InsertEndpointAsync(c, t, row.Id, merchantId, row.Url, secrets.SealIfEnabled(secret, row.Id), row.CreatedAt, row.EnabledEvents);
            var result = ApiResult.Created(Dto(row, secret)).WithoutSecretsWhenStored(Dto(row));
            if (idem is not null)
            {
                await idem.CompleteAsync(c, t, result);
            }

            return result;
        }, ctx.RequestAborted);
    }

    private static async Task<ApiResult> ListAsync(HttpContext ctx, Db db)
    {
        var merchantId = MerchantContext.Of(ctx).MerchantId;
        var rows = await db.ReadAsync(c => c.QueryAsync<Row>(
            $"SELECT {Columns} FROM webhook_endpoints WHERE merchant_id = @merchantId ORDER BY id", new { merchantId }), ctx.RequestAborted);
        return ApiResult.Ok(new { @object = "list", data = rows.Select(r => Dto(r)).ToList() });
    }

    /// <summary>New secret now; the old one keeps signing alongside it for the overlap window.</summary>
    private static async Task<ApiResult> RotateAsync(HttpContext ctx, WebhookEndpointId id, Db db, SecretBox secrets, IOptions<HubOptions> options, TimeProvider time)
    {
        var (endpointId, merchantId) = (id.Value, MerchantContext.Of(ctx).MerchantId);
        var secret = WebhookSigner.NewSecret();
        var until = (time.GetUtcNow() + options.Value.Webhooks.RotationOverlap).ToUnixTimeMilliseconds();
        var idem = IdempotencyContext.Of(ctx);
        return await db.WriteAsync(async (c, t) =>
        {
            if (!await WebhookStore.RotateSecretAsync(c, t, endpointId, merchantId, secrets.SealIfEnabled(secret, endpointId), until))
            {
                return Problems.NotFound("webhook endpoint");
            }

            var row = await c.QuerySingleAsync<Row>($"SELECT {Columns} FROM webhook_endpoints WHERE id = @endpointId", new { endpointId }, t);
            var result = ApiResult.Ok(Dto(row, secret)).WithoutSecretsWhenStored(Dto(row));
            if (idem is not null)
            {
                await idem.CompleteAsync(c, t, result);
            }

            return result;
        }, ctx.RequestAborted);
    }

    private static async Task<ApiResult> DeleteAsync(HttpContext ctx, WebhookEndpointId id, WebhookStore store) =>
        await store.DeleteEndpointAsync(id.Value, MerchantContext.Of(ctx).MerchantId, ctx.RequestAborted) ? ApiResult.NoContent() : Problems.NotFound("webhook endpoint");
}
