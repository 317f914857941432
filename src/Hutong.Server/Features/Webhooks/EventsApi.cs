using Hutong.Domain;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Http;
using EventId = Hutong.Domain.EventId;

namespace Hutong.Server.Features.Webhooks;

/// <summary>/v1/events — the merchant's event log, each event's deliveries, resending one event and replaying a time range.</summary>
public static class EventsApi
{
    public static void Map(RouteGroupBuilder v1)
    {
        var g = v1.MapGroup("/events").WithTags("Events");
        g.MapGet("/", ListAsync)
            .Produces<EventList>().ProducesProblem(400)
            .WithSummary("List events, newest first, with cursor pagination (starting_after, limit ≤ 100); filter by type and object_id. Events are kept 30 days.");
        g.MapGet("/{id}", GetAsync)
            .Produces<EventDto>().ProducesProblem(404)
            .WithSummary("Retrieve an event with its delivery to each webhook endpoint and their attempts (status code, latency, response snippet, next retry).");
        g.MapPost("/{id}/resend", ResendAsync)
            .Accepts<ResendEventRequest>("application/json")
            .Produces<ResendResult>().ProducesProblem(400).ProducesProblem(404).ProducesProblem(409)
            .WithSummary("Send an event again, to one endpoint or every enabled endpoint that takes its type; it keeps its id (the webhook-id header). Requires Idempotency-Key.");
        g.MapPost("/resend", ReplayAsync)
            .Accepts<ReplayEventsRequest>("application/json")
            .Produces<ResendResult>().ProducesProblem(400).ProducesProblem(404)
            .WithSummary("Replay the events created in [created.gte, created.lt) (at most 7 days and 1000 events by default), optionally of one type, to one endpoint or all. Requires Idempotency-Key.");
    }

    private static Task<ApiResult> ListAsync(HttpContext ctx, EventService events, int? limit, string? starting_after, string? type, string? object_id) =>
        events.ListAsync(MerchantContext.Of(ctx).MerchantId, limit, starting_after, type, object_id, ctx.RequestAborted).ToApiResult();

    private static Task<ApiResult> GetAsync(HttpContext ctx, EventService events, EventId id) =>
        events.GetAsync(MerchantContext.Of(ctx).MerchantId, id.Value, ctx.RequestAborted).ToApiResult();

    private static async Task<ApiResult> ResendAsync(HttpContext ctx, EventService events, EventId id)
    {
        // The body is optional: without one the event goes to every endpoint that takes it.
        ResendEventRequest? body = new();
        if (ctx.Request.ContentLength is > 0 || ctx.Request.Headers.TransferEncoding.Count > 0)
        {
            (body, var problem) = await RequestBody.ReadAsync<ResendEventRequest>(ctx.Request);
            if (problem is not null)
            {
                return problem;
            }
        }

        return await events.ResendAsync(MerchantContext.Of(ctx).MerchantId, id.Value, body!.Endpoint, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult();
    }

    private static async Task<ApiResult> ReplayAsync(HttpContext ctx, EventService events)
    {
        var (body, problem) = await RequestBody.ReadAsync<ReplayEventsRequest>(ctx.Request);
        if (problem is not null)
        {
            return problem;
        }

        return await events.ReplayAsync(MerchantContext.Of(ctx).MerchantId, body!, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult();
    }
}
