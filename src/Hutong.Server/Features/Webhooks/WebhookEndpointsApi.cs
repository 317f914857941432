using Hutong.Domain;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Http;

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

    private static async Task<ApiResult> CreateAsync(HttpContext ctx, WebhookEndpointService endpoints)
    {
        var (body, problem) = await RequestBody.ReadAsync<CreateWebhookEndpointRequest>(ctx.Request);
        if (problem is not null)
        {
            return problem;
        }

        return (await endpoints.CreateAsync(MerchantContext.Of(ctx).MerchantId, body!, IdempotencyContext.Of(ctx), ctx.RequestAborted)).ToApiResult();
    }

    private static async Task<ApiResult> ListAsync(HttpContext ctx, WebhookEndpointService endpoints) =>
        ApiResult.Ok(new { @object = "list", data = await endpoints.ListAsync(MerchantContext.Of(ctx).MerchantId, ctx.RequestAborted) });

    /// <summary>New secret now; the old one keeps signing alongside it for the overlap window.</summary>
    private static async Task<ApiResult> RotateAsync(HttpContext ctx, WebhookEndpointId id, WebhookEndpointService endpoints) =>
        (await endpoints.RotateSecretAsync(MerchantContext.Of(ctx).MerchantId, id.Value, IdempotencyContext.Of(ctx), ctx.RequestAborted)).ToApiResult();

    private static async Task<ApiResult> DeleteAsync(HttpContext ctx, WebhookEndpointId id, WebhookStore store) =>
        await store.DeleteEndpointAsync(id.Value, MerchantContext.Of(ctx).MerchantId, ctx.RequestAborted) ? ApiResult.NoContent() : Problems.NotFound("webhook endpoint");
}
