using Hutong.Server.Features.Payments;
using Hutong.Server.Features.Rollout;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Checkout;

/// <summary>
/// 聚合码: one QR per payment (/a/{token}). Scanned by a wallet app, its in-app browser names itself in the
/// User-Agent (MicroMessenger, AlipayClient, UnionPay/CloudPay — the same tests Jeepay and XxPay use); the hub
/// confirms the payment at that wallet and continues there. Any other scanner lands on the checkout page to choose.
/// </summary>
public static class AggregatedQr
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/a/{token}", ScanAsync).ExcludeFromDescription();
        app.MapGet("/pay/{token}/aggregate.png", async (string token, PaymentStore store, IOptions<HubOptions> options, CancellationToken ct) =>
        {
            if (await store.GetByCheckoutTokenAsync(token, ct) is null)
            {
                return Results.NotFound();
            }

            return Results.Bytes(BuyerUi.QrPng(Url(options.Value, token)), "image/png");
        }).ExcludeFromDescription();
    }

    public static string Url(HubOptions options, string token) => $"{options.PublicBaseUrl.TrimEnd('/')}/a/{token}";

    /// <summary>The wallet whose app is scanning, from its in-app browser's User-Agent; null for anything else.</summary>
    public static string? DetectWallet(string? userAgent) => userAgent switch
    {
        null => null,
        _ when userAgent.Contains("MicroMessenger", StringComparison.OrdinalIgnoreCase) => "wechatpay",
        _ when userAgent.Contains("AlipayClient", StringComparison.OrdinalIgnoreCase) => "alipay",
        _ when userAgent.Contains("UnionPay/", StringComparison.OrdinalIgnoreCase) || userAgent.Contains("CloudPay", StringComparison.OrdinalIgnoreCase) => "unionpay",
        _ => null,
    };

    private static async Task<IResult> ScanAsync(HttpContext ctx, string token, PaymentStore store, PaymentService payments, RolloutService rollout, WalletRegistry wallets)
    {
        var checkout = $"/pay/{Uri.EscapeDataString(token)}";
        var payment = await store.GetByCheckoutTokenAsync(token, ctx.RequestAborted);
        if (payment is null)
        {
            return Results.Redirect(checkout); // the checkout page says "not found"
        }

        var wallet = DetectWallet(ctx.Request.Headers.UserAgent.ToString());
        if (wallet is null || !(await wallets.WalletsAsync(ctx.RequestAborted)).ContainsKey(wallet)
            || !(await rollout.DecideAsync(payment.MerchantId, wallet, payment.BuyerId, payment.ProductCategory, ctx.RequestAborted)).Offered)
        {
            return Results.Redirect(checkout); // unknown app, or a wallet not offered: let the buyer choose
        }

        await payments.ConfirmAsync(payment, wallet, ctx.RequestAborted);
        var after = await store.GetByCheckoutTokenAsync(token, ctx.RequestAborted);
        // Alipay and UnionPay apps open their own QR links directly; WeChat's browser does not open weixin:// links,
        // so the buyer gets the checkout page, whose QR WeChat recognises with a long press.
        return after is { Wallet: "alipay" or "unionpay", CodeUrl: { } codeUrl } && after.Wallet == wallet
            ? Results.Redirect(codeUrl)
            : Results.Redirect(checkout);
    }
}
