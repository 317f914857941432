using Hutong.Server.Features.Merchants;
using Hutong.Server.Http;

namespace Hutong.Server.Features.Payments;

/// <summary>/v1/wallet_payers — a mini-program's wx.login code exchanged for an opaque payer handle (never the openid).</summary>
public static class WalletPayerEndpoints
{
    public static void Map(RouteGroupBuilder v1)
    {
        v1.MapGroup("/wallet_payers").WithTags("Wallet payers")
            .MapPost("/", CreateAsync)
            .Accepts<CreateWalletPayerRequest>("application/json")
            .Produces<WalletPayerDto>(201).ProducesProblem(400).ProducesProblem(422).ProducesProblem(503)
            .WithSummary("Exchange a mini-program's wx.login code (mini_program_code) for a wallet payer id, valid two hours, to confirm a payment with flow mini_program. Requires Idempotency-Key.");
    }

    private static async Task<ApiResult> CreateAsync(HttpContext ctx, InAppConfirmation inApp)
    {
        var (body, problem) = await RequestBody.ReadAsync<CreateWalletPayerRequest>(ctx.Request);
        if (problem is not null)
        {
            return problem;
        }

        return await inApp.CreatePayerAsync(MerchantContext.Of(ctx).MerchantId, body!, ctx.RequestAborted).ToApiResult();
    }
}
