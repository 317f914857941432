using Hutong.Domain;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Http;

namespace Hutong.Server.Features.Refunds;

/// <summary>/v1/payments/{id}/refunds and /v1/refunds/{id}.</summary>
public static class RefundEndpoints
{
    public static void Map(RouteGroupBuilder v1)
    {
        var g = v1; // tagged per endpoint: tags on the shared /v1 group would apply to every endpoint
        g.MapPost("/payments/{id}/refunds", async (HttpContext ctx, RefundService svc, PaymentId id) =>
            {
                var (body, problem) = await RequestBody.ReadAsync<CreateRefundRequest>(ctx.Request);
                if (problem is not null)
                {
                    return problem;
                }

                return await svc.CreateAsync(MerchantContext.Of(ctx).MerchantId, id.Value, body!, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult();
            })
            .Accepts<CreateRefundRequest>("application/json")
            .Produces<RefundDto>(201).ProducesProblem(400).ProducesProblem(404).ProducesProblem(409)
            .WithSummary("Refund all or part of a succeeded payment; partial refunds never exceed what was captured.").WithTags("Refunds");
        g.MapGet("/payments/{id}/refunds", (HttpContext ctx, RefundService svc, PaymentId id, int? limit, string? starting_after) =>
                svc.ListAsync(MerchantContext.Of(ctx).MerchantId, id.Value, limit, starting_after, ctx.RequestAborted).ToApiResult())
            .Produces<RefundList>().ProducesProblem(400).ProducesProblem(404)
            .WithSummary("A payment's refunds, oldest first, with cursor pagination (starting_after, limit ≤ 100, default 100), including those the hub made by itself.")
            .WithDescription("Each refund names the capture it returns: attempt, wallet and wallet_transaction_id. A refund the hub made by itself "
                + "(initiated_by system, e.g. reason duplicate_payment: the buyer paid a second wallet's QR too) returns a second capture that was never "
                + "the payment's money, so counts_toward_amount_refunded is false and the payment's amount_refunded does not include it; "
                + "amount_refunded is the sum of the succeeded refunds whose counts_toward_amount_refunded is true.")
            .WithTags("Refunds");
        g.MapGet("/refunds/{id}", (HttpContext ctx, RefundService svc, RefundId id) =>
                svc.GetAsync(MerchantContext.Of(ctx).MerchantId, id.Value, ctx.RequestAborted).ToApiResult())
            .Produces<RefundDto>().ProducesProblem(404).WithSummary("Retrieve a refund.").WithTags("Refunds");
    }
}
