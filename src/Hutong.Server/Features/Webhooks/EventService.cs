using System.Text.Json;
using Dapper;
using Hutong.Domain;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Webhooks;

/// <summary>An event as GET /v1/events shows it; <paramref name="Deliveries"/> only on GET /v1/events/{id}.</summary>
public sealed record EventDto(string Id, string Object, string Type, DateTimeOffset CreatedAt, JsonElement Data, IReadOnlyList<EventDeliveryDto>? Deliveries = null);

public sealed record EventList(string Object, IReadOnlyList<EventDto> Data, bool HasMore, string? NextCursor);

/// <summary>
/// The event's delivery to one endpoint: its status (pending, delivered, failed, canceled), when the next attempt is due
/// (pending only), how many resends restarted it, and its attempts, newest first.
/// </summary>
public sealed record EventDeliveryDto(string Object, string Endpoint, string Status, int Resends, DateTimeOffset? NextAttemptAt, IReadOnlyList<DeliveryAttemptDto> Attempts);

/// <param name="Round">0 for the first delivery, n for the attempts after the n-th resend.</param>
/// <param name="StatusCode">The receiver's HTTP status; absent when there was no answer (see Error).</param>
/// <param name="ResponseSnippet">The start of the receiver's body (at most 512 bytes).</param>
/// <param name="NextRetryAt">When this failed attempt's retry is due; absent when it was the last one.</param>
public sealed record DeliveryAttemptDto(
    int Round, int Attempt, int? StatusCode, string? Error, long LatencyMs, string? ResponseSnippet, DateTimeOffset AttemptedAt, DateTimeOffset? NextRetryAt);

/// <param name="Endpoint">One webhook endpoint (we_…) to send to; absent: every enabled endpoint that takes the event's type.</param>
public sealed record ResendEventRequest(string? Endpoint = null);

public sealed record CreatedRange(DateTimeOffset? Gte = null, DateTimeOffset? Lt = null);

/// <summary>POST /v1/events/resend: the events created in [created.gte, created.lt), optionally of one type, to one endpoint or all.</summary>
public sealed record ReplayEventsRequest(CreatedRange? Created = null, string? Type = null, string? Endpoint = null);

/// <summary>
/// What a resend or replay did: <paramref name="Events"/> matched; deliveries <paramref name="Queued"/> (new, restarted or
/// made due now), <paramref name="AlreadyPending"/> (being sent already) and <paramref name="LimitReached"/> (resent
/// MaxResends times already).
/// </summary>
public sealed record ResendResult(string Object, string? Event, int Events, int Queued, int AlreadyPending, int LimitReached);

/// <summary>
/// The merchant's event log (the outbox, kept <see cref="WebhookOptions.EventRetention"/>): list, one event with its
/// deliveries and their attempts, and resending — one event or a time range — to one endpoint or all. A resend keeps the
/// event's id, which is the webhook-id receivers dedupe on. Another merchant's event or endpoint is "No such …".
/// </summary>
public sealed partial class EventService(Db db, WebhookStore store, IOptions<HubOptions> options, TimeProvider time)
{
    private const string Columns = "id, type, payload, created_at";

    private WebhookOptions Options => options.Value.Webhooks;

    private sealed class EventRow
    {
        public string Id { get; set; } = string.Empty;

        public string Type { get; set; } = string.Empty;

        public string Payload { get; set; } = string.Empty;

        public long CreatedAt { get; set; }
    }

    private sealed class DeliveryRow
    {
        public long Id { get; set; }

        public string EndpointId { get; set; } = string.Empty;

        public string Status { get; set; } = string.Empty;

        public int Resends { get; set; }

        public long NextAttemptAt { get; set; }
    }

    private sealed class AttemptRow
    {
        public long DeliveryId { get; set; }

        public int Round { get; set; }

        public int Attempt { get; set; }

        public int? StatusCode { get; set; }

        public string? Error { get; set; }

        public long LatencyMs { get; set; }

        public string? ResponseSnippet { get; set; }

        public long AttemptedAt { get; set; }

        public long? NextRetryAt { get; set; }
    }

    private sealed class EndpointRow
    {
        public int Enabled { get; set; }

        public string? EnabledEvents { get; set; }
    }

    private long RetainedSince => (time.GetUtcNow() - Options.EventRetention).ToUnixTimeMilliseconds();

    private static EventDto ToDto(EventRow r, IReadOnlyList<EventDeliveryDto>? deliveries = null)
    {
        using var doc = JsonDocument.Parse(r.Payload);
        return new EventDto(r.Id, "event", r.Type, DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt), doc.RootElement.GetProperty("data").Clone(), deliveries);
    }

    /// <summary>The merchant's events, newest first, with cursor pagination; <paramref name="type"/> and <paramref name="objectId"/> narrow it.</summary>
    public async Task<Outcome<EventList>> ListAsync(string merchantId, int? limit, string? startingAfter, string? type, string? objectId, CancellationToken ct)
    {
        var (take, pageProblem) = ListPage.Check(limit, startingAfter, Ids.Event, "an event id");
        if (pageProblem is not null)
        {
            return pageProblem;
        }

        if (type is not null && !EventTypePattern().IsMatch(type))
        {
            return Failure.Invalid("type", $"\"{type}\" is not an event type (such as payment.succeeded).");
        }

        if (objectId is not null && (objectId.Length > 64 || !ObjectIdPattern().IsMatch(objectId)))
        {
            return Failure.Invalid("object_id", "object_id must be the id of an object events are about (such as pay_…).");
        }

        // Ordered by seq (the insert order; the (merchant_id, seq) and (merchant_id, object_id, seq) indexes serve it); the
        // cursor is the last event's id, its seq looked up within the merchant's own events.
        var sql = "SELECT " + Columns + " FROM outbox WHERE merchant_id = @merchantId AND created_at >= @since"
            + (startingAfter is null ? string.Empty : " AND seq < (SELECT seq FROM outbox WHERE id = @startingAfter AND merchant_id = @merchantId)")
            + (type is null ? string.Empty : " AND type = @type")
            + (objectId is null ? string.Empty : " AND object_id = @objectId")
            + " ORDER BY seq DESC LIMIT @take";
        var rows = (await db.ReadReplicaAsync(c => c.QueryAsync<EventRow>(sql, new { merchantId, since = RetainedSince, startingAfter, type, objectId, take = take + 1 }), ct)).ToList();
        var hasMore = rows.Count > take;
        var data = rows.Take(take).Select(r => ToDto(r)).ToList();
        return Outcome.Ok(new EventList("list", data, hasMore, hasMore ? data[^1].Id : null));
    }

    /// <summary>One event with its delivery to each endpoint and their attempts (the newest 200 attempts of the event).</summary>
    public async Task<Outcome<EventDto>> GetAsync(string merchantId, string id, CancellationToken ct)
    {
        var since = RetainedSince;
        return await db.ReadAsync(async c =>
        {
            var row = await c.QuerySingleOrDefaultAsync<EventRow>(
                "SELECT " + Columns + " FROM outbox WHERE id = @id AND merchant_id = @merchantId AND created_at >= @since", new { id, merchantId, since });
            if (row is null)
            {
                return Failure.NotFound("event");
            }

            var deliveries = (await c.QueryAsync<DeliveryRow>(
                "SELECT id, endpoint_id, status, resends, next_attempt_at FROM webhook_deliveries WHERE event_id = @id ORDER BY id", new { id })).ToList();
            var attempts = (await c.QueryAsync<AttemptRow>(
                """
                SELECT delivery_id, round, attempt, status_code, error, latency_ms, response_snippet, attempted_at, next_retry_at
                FROM webhook_delivery_attempts WHERE event_id = @id ORDER BY id DESC LIMIT 200
                """, new { id })).ToLookup(a => a.DeliveryId);
            var dtos = deliveries.Select(d => new EventDeliveryDto(
                "webhook_delivery", d.EndpointId, d.Status, d.Resends, DeliveryStatusNames.FromWire(d.Status) == DeliveryStatus.Pending ? DateTimeOffset.FromUnixTimeMilliseconds(d.NextAttemptAt) : null,
                [.. attempts[d.Id].Select(a => new DeliveryAttemptDto(a.Round, a.Attempt, a.StatusCode, a.Error, a.LatencyMs, a.ResponseSnippet,
                    DateTimeOffset.FromUnixTimeMilliseconds(a.AttemptedAt), a.NextRetryAt is { } n ? DateTimeOffset.FromUnixTimeMilliseconds(n) : null))])).ToList();
            return Outcome.Ok(ToDto(row, dtos));
        }, ct);
    }

    /// <summary>Sends one event again to <paramref name="endpoint"/> or to every enabled endpoint that takes its type.</summary>
    public async Task<Outcome<ResendResult>> ResendAsync(string merchantId, string id, string? endpoint, IdempotencyContext? idem, CancellationToken ct)
    {
        if (endpoint is not null && !Ids.HasPrefix(endpoint, Ids.WebhookEndpoint))
        {
            return Failure.NotFound("webhook endpoint") with { Param = "endpoint" };
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var since = RetainedSince;
        return await db.WriteAsync(async (c, t) =>
        {
            var type = await c.QuerySingleOrDefaultAsync<string>(
                "SELECT type FROM outbox WHERE id = @id AND merchant_id = @merchantId AND created_at >= @since", new { id, merchantId, since }, t);
            if (type is null)
            {
                return Failure.NotFound("event");
            }

            if (endpoint is not null && await EndpointProblemAsync(c, t, merchantId, endpoint, type) is { } problem)
            {
                return problem;
            }

            var counts = await store.ResendAsync(c, t, merchantId, [id], endpoint, now, LeaseWindow, Options.MaxResends);
            if (counts.Queued == 0)
            {
                // Nothing was changed: say why rather than answer as if it had been sent.
                return counts.AlreadyPending + counts.LimitReached == 0
                    ? Failure.Conflict("no_webhook_endpoints", "No enabled webhook endpoint takes this event's type.",
                        "Add an endpoint (POST /v1/webhook_endpoints) whose enabled_events include it.")
                    : counts.LimitReached > 0 && counts.AlreadyPending == 0
                        ? Failure.Conflict("resend_limit_reached", $"This event was resent {Options.MaxResends} times to the endpoint already.")
                        : Failure.Conflict("delivery_pending", "This event's delivery is being sent already.", "See its attempts with GET /v1/events/{id}.");
            }

            Outcome<ResendResult> ok = Outcome.Ok(new ResendResult("event_resend", id, 1, counts.Queued, counts.AlreadyPending, counts.LimitReached));
            if (idem is not null)
            {
                await idem.CompleteAsync(c, t, ok);
            }

            return ok;
        }, ct);
    }

    /// <summary>
    /// Sends the merchant's events created in [gte, lt) again (optionally one type, to one endpoint): for an endpoint that was
    /// down. Bounded: the range is at most <see cref="WebhookOptions.ReplayMaxRange"/> and may hold at most
    /// <see cref="WebhookOptions.ReplayMaxEvents"/> events; anything else is refused before anything changes.
    /// </summary>
    public async Task<Outcome<ResendResult>> ReplayAsync(string merchantId, ReplayEventsRequest request, IdempotencyContext? idem, CancellationToken ct)
    {
        if (request.Created?.Gte is not { } gte)
        {
            return Failure.Invalid("created[gte]", "created.gte (the start of the range, inclusive) is required.");
        }

        if (request.Created.Lt is not { } lt)
        {
            return Failure.Invalid("created[lt]", "created.lt (the end of the range, exclusive) is required.");
        }

        if (lt <= gte)
        {
            return Failure.Invalid("created[lt]", "created.lt must be after created.gte.");
        }

        if (lt - gte > Options.ReplayMaxRange)
        {
            return Failure.Invalid("created[lt]", $"A replay covers at most {Options.ReplayMaxRange.TotalDays:0.##} days; split the range.");
        }

        if (request.Type is { } type && !EventTypePattern().IsMatch(type))
        {
            return Failure.Invalid("type", $"\"{type}\" is not an event type (such as payment.succeeded).");
        }

        if (request.Endpoint is not null && !Ids.HasPrefix(request.Endpoint, Ids.WebhookEndpoint))
        {
            return Failure.NotFound("webhook endpoint") with { Param = "endpoint" };
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var (from, to) = (Math.Max(gte.ToUnixTimeMilliseconds(), RetainedSince), lt.ToUnixTimeMilliseconds());
        var max = Options.ReplayMaxEvents;
        return await db.WriteAsync(async (c, t) =>
        {
            if (request.Endpoint is { } endpoint && await EndpointProblemAsync(c, t, merchantId, endpoint, request.Type) is { } problem)
            {
                return problem;
            }

            // One more than allowed tells an over-full range from a full one.
            var ids = (await c.QueryAsync<string>(
                "SELECT id FROM outbox WHERE merchant_id = @merchantId AND created_at >= @from AND created_at < @to"
                + (request.Type is null ? string.Empty : " AND type = @Type") + " ORDER BY created_at, seq LIMIT @take",
                new { merchantId, from, to, request.Type, take = max + 1 }, t)).ToList();
            if (ids.Count > max)
            {
                return Failure.Invalid("created[gte]", $"The range holds more than {max} events; replay it in narrower ranges.");
            }

            var counts = ids.Count == 0 ? new ResendCounts(0, 0, 0)
                : await store.ResendAsync(c, t, merchantId, ids, request.Endpoint, now, LeaseWindow, Options.MaxResends);
            Outcome<ResendResult> ok = Outcome.Ok(new ResendResult("event_replay", null, ids.Count, counts.Queued, counts.AlreadyPending, counts.LimitReached));
            if (idem is not null)
            {
                await idem.CompleteAsync(c, t, ok);
            }

            return ok;
        }, ct);
    }

    /// <summary>
    /// A pending delivery due within this much may be in flight (a dispatcher's lease pushes it this far): a resend leaves
    /// it alone rather than send it twice at once.
    /// </summary>
    private long LeaseWindow => (long)(Options.Timeout.TotalMilliseconds * 2);

    /// <summary>Why the merchant's <paramref name="endpoint"/> cannot take a resend (of <paramref name="type"/>), or null.</summary>
    private static async Task<Failure?> EndpointProblemAsync(System.Data.Common.DbConnection c, System.Data.Common.DbTransaction t, string merchantId, string endpoint, string? type)
    {
        // A deleted endpoint is "No such webhook endpoint", as to a second DELETE — not a disabled one that may be enabled again.
        var row = await c.QuerySingleOrDefaultAsync<EndpointRow>(
            "SELECT enabled, enabled_events FROM webhook_endpoints WHERE id = @endpoint AND merchant_id = @merchantId AND (disabled_reason IS NULL OR disabled_reason <> 'deleted')",
            new { endpoint, merchantId }, t);
        if (row is null)
        {
            return Failure.NotFound("webhook endpoint") with { Param = "endpoint" };
        }

        if (row.Enabled != 1)
        {
            return Failure.Invalid("endpoint", "This webhook endpoint is disabled.");
        }

        return type is not null && row.EnabledEvents is not null && !row.EnabledEvents.Contains("," + type + ",", StringComparison.Ordinal)
            ? Failure.Invalid("endpoint", $"This webhook endpoint does not take {type} events (see its enabled_events).")
            : null;
    }

    [System.Text.RegularExpressions.GeneratedRegex("^[a-z][a-z_]*(\\.[a-z][a-z_]*)+$")]
    private static partial System.Text.RegularExpressions.Regex EventTypePattern();

    [System.Text.RegularExpressions.GeneratedRegex("^[a-z]+_[0-9a-zA-Z_-]+$")]
    private static partial System.Text.RegularExpressions.Regex ObjectIdPattern();
}
