using Hutong.Domain.Payments;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Features.Payments;
using Hutong.Server.Features.Rollout;
using Hutong.Server.Http;
using Microsoft.Extensions.Options;
using static Hutong.Server.Features.Checkout.BuyerUi;

namespace Hutong.Server.Features.Checkout;

/// <summary>
/// 聚合码: one QR per payment (/a/{token}). Scanned by a wallet app, its in-app browser names itself in the
/// User-Agent (each wallet module's marks: MicroMessenger, AlipayClient, UnionPay/CloudPay — the same tests Jeepay and XxPay use). The scan (a GET)
/// changes nothing: it answers a page that posts the wallet choice back at once (a tap without JavaScript), and that
/// POST starts the payment like a pay button on the cashier — taking the payer claim for this browser, so a payment
/// someone else is paying is refused like anywhere else. Any other scanner lands on the checkout page to choose.
/// </summary>
public static class AggregatedQr
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/a/{token}", ScanAsync).ExcludeFromDescription().RequireRateLimiting(RateLimits.Public);
        app.MapPost("/a/{token}", ContinueAsync).ExcludeFromDescription().DisableAntiforgery().RequireRateLimiting(RateLimits.Public);
        app.MapGet("/pay/{token}/aggregate.png", async (string token, PaymentStore store, IOptions<HubOptions> options, CancellationToken ct) =>
        {
            if (await store.GetByCheckoutTokenAsync(token, ct) is null)
            {
                return Results.NotFound();
            }

            return Results.Bytes(QrPng(Url(options.Value, token)), "image/png");
        }).ExcludeFromDescription().RequireRateLimiting(RateLimits.Public);
    }

    public static string Url(HubOptions options, string token) => $"{options.PublicBaseUrl.TrimEnd('/')}/a/{token}";

    /// <summary>The scan: reads only. A wallet app that may pay gets the continue page; everything else the checkout page.</summary>
    private static async Task<IResult> ScanAsync(
        HttpContext ctx, string token, PaymentStore store, MerchantStore merchants, RolloutService rollout, WalletRegistry wallets, TimeProvider time)
    {
        var ct = ctx.RequestAborted;
        var checkout = $"/pay/{Uri.EscapeDataString(token)}";
        var payment = await store.GetByCheckoutTokenAsync(token, ct);
        if (payment is null)
        {
            return Results.Redirect(checkout); // the checkout page says "not found"
        }

        var wallet = await OfferedWalletAsync(ctx, payment, rollout, wallets);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        PayerSession.Of(ctx); // the continue POST must carry this browser's session
        var view = await PayerView.ForAsync(ctx, payment, store, now, anyoneOwnsUnclaimed: false);
        if (wallet is null || view.ClaimedByOther
            || payment.State is not (PaymentStatus.Created or PaymentStatus.Pending or PaymentStatus.Failed) || payment.ExpiresAt <= now)
        {
            // Unknown app, a wallet not offered, someone else paying ("a friend is paying"), or nothing to pay: the
            // checkout page shows which.
            return Results.Redirect(checkout);
        }

        if (view.Mine && payment is { State: PaymentStatus.Pending, CodeUrl: { } codeUrl } && payment.Wallet == wallet && OpensApp(ctx, wallet))
        {
            return Results.Redirect(codeUrl); // this browser's own open order (a second scan)
        }

        var l = Lang.Of(ctx);
        var merchant = await merchants.GetAsync(payment.MerchantId, ct);
        var path = $"/a/{token}";
        var html = $"""
            <main>
              <p class="merchant">{E(merchant?.Name ?? "Merchant")}</p>
              <h1 class="amount" id="amount">{E(payment.Money.ToDisplayString())}</h1>
              <p class="desc">{E(payment.Description)}</p>
              <form method="post" action="{E(path)}" id="continue" class="wallets">
                <input type="hidden" name="wallet" value="{E(wallet)}">
                <button type="submit" class="{E(wallet)}" id="pay-{E(wallet)}">{l.T("使用", "Pay with ")}{E(l.WalletName(wallet))}{l.T("付款", string.Empty)}</button>
              </form>
            </main>
            <script src="{BuyerAssets.ContinueJsUrl}"></script>
            """;
        return Results.Content(Html(l, $"{payment.Money.ToDisplayString()} · {merchant?.Name}", html, refresh: false, path), "text/html; charset=utf-8");
    }

    /// <summary>The wallet choice, by POST: the same claim and confirm as the cashier's pay buttons.</summary>
    private static async Task<IResult> ContinueAsync(HttpContext ctx, string token, PaymentStore store, PaymentService payments)
    {
        var ct = ctx.RequestAborted;
        var checkout = $"/pay/{Uri.EscapeDataString(token)}";
        var payment = await store.GetByCheckoutTokenAsync(token, ct);
        if (payment is null || !ctx.Request.HasFormContentType)
        {
            return Results.Redirect(checkout);
        }

        if (PayerSession.Existing(ctx) is not { } session)
        {
            return WithoutPayerSession(ctx, checkout);
        }

        var wallet = (await ctx.Request.ReadFormAsync(ct))["wallet"].ToString();
        var result = await payments.ConfirmAsync(payment, wallet, ct, new PayerContext("checkout", session));
        var after = result.Succeeded ? await store.GetByCheckoutTokenAsync(token, ct) : null;
        // Alipay and UnionPay apps open their own QR links directly; WeChat's browser does not open weixin:// links,
        // so the buyer gets the checkout page, whose QR WeChat recognises with a long press.
        return after is { CodeUrl: { } codeUrl } && after.Wallet == wallet && OpensApp(ctx, wallet)
            ? Results.Redirect(codeUrl)
            : BackAfterConfirm(ctx, checkout, result);
    }

    /// <summary>The wallet's app opens its own code URL (Alipay, UnionPay); WeChat's browser does not open weixin:// links.</summary>
    private static bool OpensApp(HttpContext ctx, string wallet) =>
        ctx.RequestServices.GetRequiredService<WalletCatalog>().Find(wallet) is { Display.CodeUrlOpensApp: true };

    private static async Task<string?> OfferedWalletAsync(HttpContext ctx, PaymentRow payment, RolloutService rollout, WalletRegistry wallets)
    {
        var wallet = ctx.RequestServices.GetRequiredService<WalletCatalog>().DetectApp(ctx.Request.Headers.UserAgent.ToString());
        return wallet is not null && (await wallets.WalletsAsync(ctx.RequestAborted)).ContainsKey(wallet)
            && (await rollout.DecideAsync(payment.MerchantId, wallet, payment.BuyerId, payment.ProductCategory, ctx.RequestAborted)).Offered
            ? wallet
            : null;
    }
}
