using Hutong.Domain;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Http;

namespace Hutong.Server.Features.Payments;

/// <summary>/v1/payments — create, read, list, confirm at a wallet, cancel.</summary>
public static class PaymentEndpoints
{
    public static void Map(RouteGroupBuilder v1)
    {
        var g = v1.MapGroup("/payments").WithTags("Payments");

        g.MapPost("/", CreateAsync)
            .WithMetadata(new OptimisticIdempotencyAttribute()) // one transaction that stores its own answer
            .Accepts<CreatePaymentRequest>("application/json")
            .Produces<PaymentDto>(201).ProducesProblem(400).ProducesProblem(409).ProducesProblem(422)
            .WithSummary("Create a payment (amount in minor units). Requires Idempotency-Key.");
        g.MapGet("/", ListAsync)
            .Produces<PaymentList>()
            .WithSummary("List payments, newest first, with cursor pagination (starting_after, limit ≤ 100).");
        g.MapGet("/{id}", GetAsync)
            .Produces<PaymentDto>().ProducesProblem(404)
            .WithSummary("Retrieve a payment.");
        g.MapPost("/{id}/confirm", ConfirmAsync)
            .Accepts<ConfirmPaymentRequest>("application/json")
            .Produces<PaymentDto>().ProducesProblem(400).ProducesProblem(404).ProducesProblem(409).ProducesProblem(422)
            .WithSummary("Start the attempt at a wallet; the response's next_action carries the QR code_url. With auth_code (the buyer's payment code), the wallet charges it at once or the payment stays pending while the buyer confirms. With flow mini_program (and payer, a wallet payer id) or app, next_action carries the signed params for wx.requestPayment (mini_program_pay) or the app SDK (app_pay).");
        g.MapPost("/{id}/cancel", CancelAsync)
            .Produces<PaymentDto>().ProducesProblem(404).ProducesProblem(409).ProducesProblem(503)
            .WithSummary("Cancel an unpaid payment; an open wallet order is closed first.");
    }

    private static async Task<ApiResult> CreateAsync(HttpContext ctx, PaymentService payments)
    {
        var (body, problem) = await RequestBody.ReadAsync<CreatePaymentRequest>(ctx.Request);
        if (problem is not null)
        {
            return problem;
        }

        return await payments.CreateAsync(MerchantContext.Of(ctx).MerchantId, body!, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult();
    }

    private static Task<ApiResult> ListAsync(HttpContext ctx, PaymentService payments, int? limit, string? starting_after, string? status) =>
        payments.ListAsync(MerchantContext.Of(ctx).MerchantId, limit, starting_after, status, ctx.RequestAborted).ToApiResult();

    private static Task<ApiResult> GetAsync(HttpContext ctx, PaymentService payments, PaymentId id) =>
        payments.GetAsync(MerchantContext.Of(ctx).MerchantId, id.Value, ctx.RequestAborted).ToApiResult();

    private static async Task<ApiResult> ConfirmAsync(
        HttpContext ctx, PaymentService payments, PaymentCodeConfirmation paymentCodes, InAppConfirmation inApp, PaymentStore store, PaymentId id)
    {
        var (body, problem) = await RequestBody.ReadAsync<ConfirmPaymentRequest>(ctx.Request);
        if (problem is not null)
        {
            return problem;
        }

        var payment = await store.GetAsync(MerchantContext.Of(ctx).MerchantId, id.Value, ctx.RequestAborted);
        return payment is null ? Problems.NotFound("payment")
            : body!.AuthCode is not null && body.Flow is not null ? Problems.Invalid("flow", "A payment code (auth_code) is its own flow: send either auth_code or flow.")
            : body.AuthCode is not null ? await paymentCodes.ConfirmAsync(payment, body.Wallet, body.AuthCode, ctx.RequestAborted).ToApiResult()
            : body.Flow is not null ? await inApp.ConfirmAsync(payment, body.Wallet, body.Flow, body.Payer, ctx.RequestAborted).ToApiResult()
            : body.Payer is not null ? Problems.Invalid("payer", "payer goes with flow mini_program.")
            : await payments.ConfirmAsync(payment, body.Wallet, ctx.RequestAborted).ToApiResult();
    }

    private static Task<ApiResult> CancelAsync(HttpContext ctx, PaymentService payments, PaymentId id) =>
        payments.CancelAsync(MerchantContext.Of(ctx).MerchantId, id.Value, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult();
}
