using Hutong.Domain;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Features.Refunds;
using Hutong.Server.Http;

namespace Hutong.Server.Features.Disputes;

/// <summary>/v1/disputes.</summary>
public static class DisputeEndpoints
{
    public static void Map(RouteGroupBuilder v1)
    {
        v1.MapGet("/disputes", (HttpContext ctx, DisputeService svc, int? limit, string? starting_after, string? status, string? wallet, string? payment) =>
                svc.ListAsync(MerchantContext.Of(ctx).MerchantId, limit, starting_after, status, wallet, payment, ctx.RequestAborted).ToApiResult())
            .Produces<DisputeList>().ProducesProblem(400)
            .WithSummary("List disputes (buyers' complaints at the wallets), newest first, with cursor pagination; filter by status, wallet, payment.").WithTags("Disputes");
        v1.MapGet("/disputes/{id}", (HttpContext ctx, DisputeService svc, DisputeId id) =>
                svc.GetAsync(MerchantContext.Of(ctx).MerchantId, id.Value, ctx.RequestAborted).ToApiResult())
            .Produces<DisputeDto>().ProducesProblem(404).WithSummary("Retrieve a dispute with its payment, deadlines and negotiation history.").WithTags("Disputes");
        v1.MapPost("/disputes/{id}/respond", async (HttpContext ctx, DisputeService svc, DisputeId id) =>
            {
                var (body, problem) = await RequestBody.ReadAsync<RespondDisputeRequest>(ctx.Request);
                if (problem is not null)
                {
                    return problem;
                }

                return await svc.RespondAsync(MerchantContext.Of(ctx).MerchantId, id.Value, body!, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult();
            })
            .Accepts<RespondDisputeRequest>("application/json")
            .Produces<DisputeDto>().ProducesProblem(400).ProducesProblem(404).ProducesProblem(409).ProducesProblem(422).ProducesProblem(503)
            .WithSummary("Answer the buyer at the wallet (text; evidence images as files from POST /v1/files and/or image ids the wallet issued, at most 4; Idempotency-Key required).").WithTags("Disputes");
        v1.MapPost("/disputes/{id}/close", (HttpContext ctx, DisputeService svc, DisputeId id) =>
                svc.CloseAsync(MerchantContext.Of(ctx).MerchantId, id.Value, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult())
            .Produces<DisputeDto>().ProducesProblem(400).ProducesProblem(404).ProducesProblem(409).ProducesProblem(422).ProducesProblem(503)
            .WithSummary("Mark the complaint handled at the wallet (Idempotency-Key required).").WithTags("Disputes");
        v1.MapPost("/disputes/{id}/refund", async (HttpContext ctx, DisputeService svc, DisputeId id) =>
            {
                var (body, problem) = await RequestBody.ReadAsync<DisputeRefundRequest>(ctx.Request);
                if (problem is not null)
                {
                    return problem;
                }

                return await svc.RefundAsync(MerchantContext.Of(ctx).MerchantId, id.Value, body!, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult();
            })
            .Accepts<DisputeRefundRequest>("application/json")
            .Produces<RefundDto>(201).ProducesProblem(400).ProducesProblem(404).ProducesProblem(409)
            .WithSummary("Refund the disputed payment (a normal refund) and report the approval to the wallet (Idempotency-Key required).").WithTags("Disputes");
    }
}
