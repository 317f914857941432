using Hutong.Domain;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Http;

namespace Hutong.Server.Features.ProfitSharing;

/// <summary>/v1/split_receivers, /v1/payments/{id}/splits and /v1/splits/{id}.</summary>
public static class ProfitSharingEndpoints
{
    public static void Map(RouteGroupBuilder v1)
    {
        var g = v1; // tagged per endpoint: tags on the shared /v1 group would apply to every endpoint
        g.MapPost("/split_receivers", async (HttpContext ctx, SplitReceiverService svc) =>
            {
                var (body, problem) = await RequestBody.ReadAsync<CreateReceiverRequest>(ctx.Request);
                return problem ?? await svc.CreateReceiverAsync(MerchantContext.Of(ctx).MerchantId, body!, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult();
            })
            .Accepts<CreateReceiverRequest>("application/json")
            .Produces<SplitReceiverDto>(201).ProducesProblem(400)
            .WithSummary("Register a receiver (platform, host or agency) at one wallet; the hub adds it at the wallet before its first split.").WithTags("Split receivers");
        g.MapGet("/split_receivers", (HttpContext ctx, SplitReceiverService svc, int? limit, string? starting_after, string? clawback) =>
                svc.ListReceiversAsync(MerchantContext.Of(ctx).MerchantId, limit, starting_after, clawback, ctx.RequestAborted).ToApiResult())
            .Produces<SplitReceiverList>().ProducesProblem(400)
            .WithSummary("The merchant's split receivers, newest first, with cursor pagination (starting_after, limit ≤ 100, default 10); clawback=outstanding lists only those that owe a clawback.").WithTags("Split receivers");
        g.MapGet("/split_receivers/{id}", (HttpContext ctx, SplitReceiverService svc, SplitReceiverId id) =>
                svc.GetReceiverAsync(MerchantContext.Of(ctx).MerchantId, id.Value, ctx.RequestAborted).ToApiResult())
            .Produces<SplitReceiverDto>().ProducesProblem(404)
            .WithSummary("Retrieve a split receiver, with the clawback it owes (clawback_outstanding).").WithTags("Split receivers");
        foreach (var (path, writeOff) in new[] { ("settle", false), ("write_off", true) })
        {
            g.MapPost($"/split_receivers/{{id}}/clawbacks/{path}", async (HttpContext ctx, ClawbackService svc, SplitReceiverId id) =>
                {
                    var (body, problem) = await RequestBody.ReadAsync<CloseClawbackRequest>(ctx.Request);
                    return problem ?? await svc.CloseAsync(MerchantContext.Of(ctx).MerchantId, id.Value, body, writeOff, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult();
                })
                .Accepts<CloseClawbackRequest>("application/json")
                .Produces<SplitReceiverDto>().ProducesProblem(400).ProducesProblem(404).ProducesProblem(422)
                .WithSummary(writeOff
                    ? "Write off part or all of the clawback a receiver owes (it will not be netted any more); at most what it owes."
                    : "Record that a receiver repaid part or all of its clawback outside the hub; at most what it owes.")
                .WithTags("Split receiver clawbacks");
        }

        g.MapPost("/payments/{id}/splits", async (HttpContext ctx, SplitService svc, PaymentId id) =>
            {
                var (body, problem) = await RequestBody.ReadAsync<CreateSplitRequest>(ctx.Request);
                if (problem is not null)
                {
                    return problem;
                }

                return await svc.CreateSplitAsync(MerchantContext.Of(ctx).MerchantId, id.Value, body!, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult();
            })
            .Accepts<CreateSplitRequest>("application/json")
            .Produces<SplitDto>(201).ProducesProblem(400).ProducesProblem(404).ProducesProblem(409).ProducesProblem(422)
            .WithSummary("Split a succeeded payment to receivers, within the wallet's cap, receiver and time limits (checked before the wallet is called).").WithTags("Splits");
        g.MapGet("/payments/{id}/splits", (HttpContext ctx, SplitService svc, PaymentId id) =>
                svc.ListSplitsAsync(MerchantContext.Of(ctx).MerchantId, id.Value, ctx.RequestAborted).ToApiResult())
            .WithSummary("A payment's splits and what refunds took back from receivers.").WithTags("Splits");
        g.MapGet("/splits/{id}", (HttpContext ctx, SplitService svc, SplitId id) =>
                svc.GetSplitAsync(MerchantContext.Of(ctx).MerchantId, id.Value, ctx.RequestAborted).ToApiResult())
            .Produces<SplitDto>().ProducesProblem(404).WithSummary("Retrieve a split.").WithTags("Splits");
    }
}
