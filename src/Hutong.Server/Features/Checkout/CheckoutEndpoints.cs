using System.Net;
using Hutong.Domain;
using Hutong.Domain.Payments;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Features.Payments;
using Hutong.Server.Features.Rollout;
using Microsoft.Extensions.Options;
using QRCoder;

namespace Hutong.Server.Features.Checkout;

/// <summary>
/// The buyer's checkout page at /pay/{token}: amount, merchant, scan-to-pay QR, live status and expiry.
/// The token is the capability (≥128 random bits); nothing else about the payment is guessable from it.
/// Works without JavaScript (a form to start, a meta refresh to update).
/// </summary>
public static class CheckoutEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        var g = app.MapGroup("/pay/{token}").ExcludeFromDescription();
        g.MapGet("/", PageAsync);
        g.MapPost("/{wallet}", StartAsync).DisableAntiforgery();
        g.MapGet("/status", StatusAsync);
        g.MapGet("/qr.png", QrPngAsync);
        g.MapGet("/qr.svg", QrSvgAsync);
    }

    private static async Task<IResult> PageAsync(
        string token, PaymentStore store, MerchantStore merchants, WalletRegistry wallets, RolloutService rollout, IOptions<HubOptions> options, TimeProvider time, CancellationToken ct)
    {
        var p = await store.GetByCheckoutTokenAsync(token, ct);
        if (p is null)
        {
            return Results.Content(CheckoutPage.NotFound(), "text/html; charset=utf-8", statusCode: 404);
        }

        // Only the wallets the staged rollout offers this buyer for this product.
        var offered = new List<string>();
        foreach (var wallet in (await wallets.WalletsAsync(ct)).Keys.Order(StringComparer.Ordinal))
        {
            if ((await rollout.DecideAsync(p.MerchantId, wallet, p.BuyerId, p.ProductCategory, ct)).Offered)
            {
                offered.Add(wallet);
            }
        }

        var merchant = await merchants.GetAsync(p.MerchantId, ct);
        var sandbox = options.Value.Sandbox.Enabled ? options.Value.Sandbox.Url : null;
        return Results.Content(CheckoutPage.Render(p, merchant?.Name ?? "Merchant", offered, time.GetUtcNow(), sandbox), "text/html; charset=utf-8");
    }

    private static async Task<IResult> StartAsync(string token, string wallet, PaymentStore store, PaymentService payments, CancellationToken ct)
    {
        var p = await store.GetByCheckoutTokenAsync(token, ct);
        if (p is null)
        {
            return Results.NotFound();
        }

        await payments.ConfirmAsync(p, wallet, ct);
        return Results.Redirect($"/pay/{token}", permanent: false, preserveMethod: false);
    }

    private static async Task<IResult> StatusAsync(string token, PaymentStore store, TimeProvider time, CancellationToken ct)
    {
        var p = await store.GetByCheckoutTokenAsync(token, ct);
        if (p is null)
        {
            return Results.NotFound();
        }

        return Results.Json(new
        {
            status = p.Status,
            expires_at = DateTimeOffset.FromUnixTimeMilliseconds(p.ExpiresAt),
            seconds_left = Math.Max(0, (p.ExpiresAt - time.GetUtcNow().ToUnixTimeMilliseconds()) / 1000),
            has_qr = p.State == PaymentStatus.Pending && p.CodeUrl is not null,
        });
    }

    private static async Task<IResult> QrPngAsync(string token, PaymentStore store, CancellationToken ct) =>
        await CodeUrlAsync(token, store, ct) is { } url
            ? Results.Bytes(new PngByteQRCode(Encode(url)).GetGraphic(8), "image/png")
            : Results.NotFound();

    private static async Task<IResult> QrSvgAsync(string token, PaymentStore store, CancellationToken ct) =>
        await CodeUrlAsync(token, store, ct) is { } url
            ? Results.Content(new SvgQRCode(Encode(url)).GetGraphic(8), "image/svg+xml")
            : Results.NotFound();

    private static async Task<string?> CodeUrlAsync(string token, PaymentStore store, CancellationToken ct)
    {
        var p = await store.GetByCheckoutTokenAsync(token, ct);
        return p?.State == PaymentStatus.Pending ? p.CodeUrl : null;
    }

    private static QRCodeData Encode(string text)
    {
        using var generator = new QRCodeGenerator();
        return generator.CreateQrCode(text, QRCodeGenerator.ECCLevel.M);
    }
}

internal static class CheckoutPage
{
    private static readonly Dictionary<string, string> WalletNames = new(StringComparer.Ordinal)
    {
        ["wechatpay"] = "微信支付 WeChat Pay",
        ["alipay"] = "支付宝 Alipay",
        ["unionpay"] = "云闪付 UnionPay",
    };

    public static string NotFound() => Layout("Not found", "<h1>找不到该支付 · Payment not found</h1><p>The link is wrong or no longer valid.</p>", refresh: false);

    public static string Render(PaymentRow p, string merchantName, IEnumerable<string> wallets, DateTimeOffset now, string? sandboxUrl)
    {
        var e = (string s) => WebUtility.HtmlEncode(s);
        var state = p.State;
        var amount = new Money(p.Amount, Currency.Parse(p.Currency)).ToDisplayString();
        var secondsLeft = Math.Max(0, (p.ExpiresAt - now.ToUnixTimeMilliseconds()) / 1000);
        var (statusText, statusClass) = state switch
        {
            PaymentStatus.Succeeded => ("支付成功 · Paid", "ok"),
            PaymentStatus.Expired => ("已过期 · Expired", "bad"),
            PaymentStatus.Canceled => ("已取消 · Canceled", "bad"),
            PaymentStatus.Failed => ("支付失败，请重试 · Payment failed, please try again", "bad"),
            PaymentStatus.Unknown => ("正在确认 · Confirming with the wallet…", "wait"),
            PaymentStatus.Pending => ("请扫码支付 · Scan to pay", "wait"),
            _ => ("请选择支付方式 · Choose how to pay", "wait"),
        };

        string body;
        if (state == PaymentStatus.Pending && p.CodeUrl is not null)
        {
            var tokenPath = $"/pay/{e(p.CheckoutToken)}";
            var buyerPage = p.Wallet switch
            {
                "alipay" => $"alipay/buyer?qr_code={Uri.EscapeDataString(p.CodeUrl)}",
                "unionpay" => $"unionpay/buyer?qr_code={Uri.EscapeDataString(p.CodeUrl)}",
                _ => $"wechatpay/buyer?code_url={Uri.EscapeDataString(p.CodeUrl)}",
            };
            var buyer = sandboxUrl is null ? string.Empty
                : $"<p class=\"hint\"><a id=\"sandbox-buyer\" href=\"{e(sandboxUrl.TrimEnd('/'))}/sandbox/{buyerPage}\" target=\"_blank\" rel=\"noopener\">Sandbox: open the scan in the sandbox wallet app</a></p>";
            body = $"""
                <figure class="qr"><img id="qr" src="{tokenPath}/qr.png" width="264" height="264" alt="{e(WalletNames.GetValueOrDefault(p.Wallet ?? string.Empty, p.Wallet ?? string.Empty))} QR code for {e(amount)}">
                <figcaption>{e(WalletNames.GetValueOrDefault(p.Wallet ?? string.Empty, p.Wallet ?? string.Empty))} · 打开 App 扫一扫（微信内可长按识别）· Open the app and scan</figcaption></figure>
                {buyer}
                """;
        }
        else if (state is PaymentStatus.Created or PaymentStatus.Failed && secondsLeft > 0)
        {
            var buttons = string.Join("\n", wallets.Select(w =>
                $"<button type=\"submit\" formaction=\"/pay/{e(p.CheckoutToken)}/{e(w)}\" id=\"pay-{e(w)}\">{e(WalletNames.GetValueOrDefault(w, w))}</button>"));
            body = $"""
                <figure class="qr"><img id="aggregate-qr" src="/pay/{e(p.CheckoutToken)}/aggregate.png" width="200" height="200" alt="One QR code for WeChat Pay, Alipay and UnionPay">
                <figcaption>用微信、支付宝或云闪付扫码 · Scan with WeChat, Alipay or UnionPay</figcaption></figure>
                <form method="post" class="wallets" aria-label="Payment method">{buttons}</form>
                """;
        }
        else
        {
            body = string.Empty;
        }

        var live = state.IsTerminal() ? string.Empty : $"<p class=\"hint\">剩余时间 · Time left: <span id=\"countdown\" data-seconds=\"{secondsLeft}\">{secondsLeft / 60}:{secondsLeft % 60:00}</span></p>";
        var html = $$"""
            <main>
              <p class="merchant">{{e(merchantName)}}</p>
              <h1 class="amount" id="amount">{{e(amount)}}</h1>
              <p class="desc">{{e(p.Description)}}</p>
              <p id="status" class="status {{statusClass}}" role="status" aria-live="polite" data-status="{{e(p.Status)}}">{{statusText}}</p>
              {{body}}
              {{live}}
            </main>
            <script>
            (() => {
              const el = document.getElementById('status');
              const cd = document.getElementById('countdown');
              let left = cd ? Number(cd.dataset.seconds) : 0;
              const tick = () => { if (!cd) return; left = Math.max(0, left - 1); cd.textContent = Math.floor(left / 60) + ':' + String(left % 60).padStart(2, '0'); };
              const poll = async () => {
                try {
                  const r = await fetch(location.pathname.replace(/\/$/, '') + '/status', { cache: 'no-store' });
                  if (r.ok) {
                    const s = await r.json();
                    if (s.status !== el.dataset.status) { location.reload(); return; }
                  }
                } catch { }
                setTimeout(poll, 1000);
              };
              if (!['succeeded', 'canceled', 'expired'].includes(el.dataset.status)) { setInterval(tick, 1000); setTimeout(poll, 1000); }
            })();
            </script>
            """;
        return Layout($"{amount} · {merchantName}", html, refresh: !state.IsTerminal());
    }

    private static string Layout(string title, string content, bool refresh) => $$"""
        <!doctype html>
        <html lang="zh-CN">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        {{(refresh ? "<noscript><meta http-equiv=\"refresh\" content=\"5\"></noscript>" : string.Empty)}}
        <title>{{WebUtility.HtmlEncode(title)}}</title>
        <style>
          body { font-family: system-ui, "PingFang SC", "Noto Sans CJK SC", sans-serif; background: #f5f5f5; color: #1a1a1a; margin: 0; }
          main { max-width: 26rem; margin: 2rem auto; background: #fff; border-radius: .75rem; padding: 1.5rem; text-align: center; box-shadow: 0 1px 4px rgba(0,0,0,.08); }
          .merchant { color: #444; margin: 0; }
          .amount { font-size: 2.4rem; margin: .4rem 0; }
          .desc { color: #444; }
          .status { font-weight: 600; padding: .5rem; border-radius: .4rem; }
          .status.ok { background: #e6f7ee; color: #05603a; }
          .status.bad { background: #fdecea; color: #8a1c12; }
          .status.wait { background: #eef3fb; color: #1d3f73; }
          .qr img { image-rendering: pixelated; }
          .hint { color: #444; font-size: .9rem; }
          .wallets button#pay-alipay { background: #1677ff; }
          .wallets button#pay-unionpay { background: #c4000f; }
          .wallets button { display: block; width: 100%; margin: .5rem 0; padding: .8rem; font-size: 1rem; border: 0; border-radius: .4rem; background: #07c160; color: #fff; cursor: pointer; }
          .wallets button:focus { outline: 3px solid #1d3f73; outline-offset: 2px; }
        </style>
        </head>
        <body>
        {{content}}
        </body>
        </html>
        """;
}
