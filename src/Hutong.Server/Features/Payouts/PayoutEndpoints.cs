using Hutong.Domain;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Http;

namespace Hutong.Server.Features.Payouts;

/// <summary>/v1/payouts.</summary>
public static class PayoutEndpoints
{
    public static void Map(RouteGroupBuilder v1)
    {
        v1.MapPost("/payouts", async (HttpContext ctx, PayoutService svc) =>
            {
                var (body, problem) = await RequestBody.ReadAsync<CreatePayoutRequest>(ctx.Request);
                if (problem is not null)
                {
                    return problem;
                }

                return await svc.CreateAsync(MerchantContext.Of(ctx).MerchantId, body!, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult();
            })
            .Accepts<CreatePayoutRequest>("application/json")
            .Produces<PayoutDto>(201).ProducesProblem(400).ProducesProblem(422)
            .WithSummary("Send money from the merchant's balance to a payee's wallet account (Idempotency-Key required); refused with 422 beyond the available balance or a limit.")
            .WithTags("Payouts");
        v1.MapPost("/payouts/{id}/cancel", (HttpContext ctx, PayoutService svc, PayoutId id) =>
                svc.CancelAsync(MerchantContext.Of(ctx).MerchantId, id.Value, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult())
            .Produces<PayoutDto>().ProducesProblem(400).ProducesProblem(404).ProducesProblem(409)
            .WithSummary("Cancel a payout the payee has not accepted yet (status awaiting_confirmation; Idempotency-Key required). The wallet withdraws it and the payout ends canceled, its amount back in the balance (payout.canceled); 409 once the payee accepted or it ended.")
            .WithTags("Payouts");
        v1.MapGet("/payouts", (HttpContext ctx, PayoutService svc, int? limit, string? starting_after) =>
                svc.ListAsync(MerchantContext.Of(ctx).MerchantId, limit, starting_after, ctx.RequestAborted).ToApiResult())
            .Produces<PayoutList>().WithSummary("List payouts, newest first, with cursor pagination (starting_after, limit ≤ 100).").WithTags("Payouts");
        v1.MapGet("/payouts/{id}", (HttpContext ctx, PayoutService svc, PayoutId id) =>
                svc.GetAsync(MerchantContext.Of(ctx).MerchantId, id.Value, ctx.RequestAborted).ToApiResult())
            .Produces<PayoutDto>().ProducesProblem(404).WithSummary("Retrieve a payout.").WithTags("Payouts");
    }
}
