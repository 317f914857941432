using System.Security.Cryptography;
using System.Text;
using Hutong.Connectors.Abstractions;
using Hutong.Domain.Payments;
using Hutong.Server.Features.Payments;
using Hutong.Server.Http;
using Microsoft.Extensions.Options;
using static Hutong.Server.Features.Checkout.BuyerUi;

namespace Hutong.Server.Features.Checkout;

/// <summary>
/// Paying in place, by browser: inside a wallet's own app (WeChat's MicroMessenger browser) the buyer is identified
/// through the wallet's OAuth and pays with the app's bridge (JSAPI, no QR); in another phone browser the buyer goes to
/// the wallet's H5 cashier; a desktop keeps the QR. The OAuth state is signed (with a key derived from the account's
/// AppSecret, so every hub of a shared database accepts it), bound to the browser's payer session, expires after
/// <see cref="StateLifetime"/> and is used once; the openid it yields stays in the hub (<see cref="WalletPayers"/>).
/// </summary>
public static class InAppPay
{
    public static readonly TimeSpan StateLifetime = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Pays the pending attempt in place with the app's bridge: WeChat's WeixinJSBridge getBrandWCPayRequest, or
    /// Alipay's AlipayJSBridge tradePay (resultCode 9000 paid, 8000 processing, 6001 cancelled). Neither answer is
    /// proof of payment: the page waits for the hub (notification or query) through live.js.
    /// </summary>
    private const string Js = """
        (() => {
          const s = document.currentScript;
          const alipay = s.dataset.bridge === 'alipay';
          const btn = document.getElementById(alipay ? 'alipay-pay' : 'wx-pay');
          const msg = document.getElementById(alipay ? 'alipay-pay-status' : 'wx-pay-status');
          let busy = false;
          const say = (t) => { if (msg) msg.textContent = t; };
          const done = (outcome) => {
            busy = false;
            if (outcome === 'ok') { say(s.dataset.confirming); if (btn) btn.hidden = true; }
            else say(outcome === 'cancel' ? s.dataset.canceled : s.dataset.failed);
          };
          const bridge = () => alipay ? window.AlipayJSBridge : window.WeixinJSBridge;
          const pay = async () => {
            if (busy || !bridge()) return;
            busy = true;
            try {
              const r = await fetch(s.dataset.paramsUrl, { cache: 'no-store', credentials: 'same-origin' });
              if (!r.ok) { busy = false; say(s.dataset.failed); return; }
              const p = await r.json();
              if (alipay) {
                AlipayJSBridge.call('tradePay', { tradeNO: p.tradeNO }, (res) => {
                  const c = res && String(res.resultCode);
                  done(c === '9000' || c === '8000' ? 'ok' : c === '6001' ? 'cancel' : 'fail');
                });
              } else {
                WeixinJSBridge.invoke('getBrandWCPayRequest', p, (res) => {
                  const m = res && res.err_msg;
                  done(m === 'get_brand_wcpay_request:ok' ? 'ok' : m === 'get_brand_wcpay_request:cancel' ? 'cancel' : 'fail');
                });
              }
            } catch { busy = false; say(s.dataset.failed); }
          };
          if (btn) btn.addEventListener('click', pay);
          if (bridge()) pay(); else document.addEventListener(alipay ? 'AlipayJSBridgeReady' : 'WeixinJSBridgeReady', pay, { once: true });
        })();
        """;

    public static readonly string JsUrl = $"/assets/wxjsapi.js?v={Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Js)))[..12]}";

    public static void Map(IEndpointRouteBuilder app)
    {
        var bytes = Encoding.UTF8.GetBytes(Js);
        app.MapGet("/assets/wxjsapi.js", (HttpContext ctx) =>
        {
            ctx.Response.Headers.CacheControl = "public, max-age=31536000, immutable";
            return Results.Bytes(bytes, "text/javascript; charset=utf-8");
        }).ExcludeFromDescription();
        app.MapGet("/oauth/{wallet}/callback", CallbackAsync).ExcludeFromDescription().RequireRateLimiting(RateLimits.Public);
        app.MapGet("/pay/{token}/inapp/params", async (HttpContext ctx, string token, PaymentStore store, WalletRegistry wallets, TimeProvider time) =>
            await store.GetByCheckoutTokenAsync(token, ctx.RequestAborted) is { } p
                ? await ParamsAsync(ctx, p, store, wallets, time, anyoneOwnsUnclaimed: true)
                : Results.NotFound()).ExcludeFromDescription().RequireRateLimiting(RateLimits.Public);
    }

    /// <summary>The wallet whose in-app browser this is, when that wallet pays in place here (JSAPI) and can identify the buyer.</summary>
    public static async Task<(string Wallet, IWalletConnector Connector)?> InAppWalletAsync(HttpContext ctx, WalletRegistry wallets, IReadOnlyList<string> offered)
    {
        var ua = ctx.Request.Headers.UserAgent.ToString();
        var catalog = ctx.RequestServices.GetRequiredService<WalletCatalog>();
        var all = await wallets.WalletsAsync(ctx.RequestAborted);
        foreach (var module in catalog.All)
        {
            if (offered.Contains(module.Name) && module.Display.IsApp(ua) && all.TryGetValue(module.Name, out var connector)
                && connector is IBuyerIdentityConnector && PayFlows.Of(connector).Contains(PayFlow.Jsapi))
            {
                return (module.Name, connector);
            }
        }

        return null;
    }

    /// <summary>
    /// Inside a wallet's app whose buyer this browser has not been identified as yet: the redirect to the wallet's OAuth
    /// (snsapi_base, silent), which comes back to <paramref name="returnPath"/>. Null when nothing is needed (or OAuth just failed).
    /// </summary>
    public static async Task<IResult?> AuthorizeIfNeededAsync(HttpContext ctx, WalletRegistry wallets, IReadOnlyList<string> offered, string returnPath)
    {
        if (ctx.Request.Query.ContainsKey("oauth") || await InAppWalletAsync(ctx, wallets, offered) is not { } inApp
            || inApp.Connector is not IBuyerIdentityConnector identity || identity.StateKey is not { } key)
        {
            return null;
        }

        var session = PayerSession.Of(ctx);
        var payers = ctx.RequestServices.GetRequiredService<WalletPayers>();
        if (await payers.ForSessionAsync(inApp.Wallet, session, ctx.RequestAborted) is not null)
        {
            return null;
        }

        var now = ctx.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow();
        var state = SignState(key, Base64Url(RandomNumberGenerator.GetBytes(16)), (now + StateLifetime).ToUnixTimeMilliseconds(), returnPath, session);
        var callback = $"{Options(ctx).PublicBaseUrl.TrimEnd('/')}/oauth/{inApp.Wallet}/callback?back={Uri.EscapeDataString(returnPath)}";
        return identity.AuthorizeUrl(callback, state) is { } url ? Results.Redirect(url) : null;
    }

    /// <summary>id.expiry.mac, ~60 bytes (WeChat's state is at most 128): the mac covers the return path and the payer session too.</summary>
    public static string SignState(byte[] key, string id, long expiresAtMs, string returnPath, string session) =>
        $"{id}.{expiresAtMs}.{Mac(key, id, expiresAtMs, returnPath, session)}";

    private static string Mac(byte[] key, string id, long expiresAtMs, string returnPath, string session) =>
        Base64Url(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{id}\n{expiresAtMs}\n{returnPath}\n{session}"))[..16]);

    private static string Base64Url(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static HubOptions Options(HttpContext ctx) => ctx.RequestServices.GetRequiredService<IOptions<HubOptions>>().Value;

    /// <summary>
    /// The wallet's redirect back with a code. A state that is forged, expired, for another browser or already used —
    /// or a return path that is not one of our pay pages — changes nothing: no code exchange, no payer stored.
    /// </summary>
    private static async Task<IResult> CallbackAsync(
        HttpContext ctx, string wallet, string? back, string? code, string? auth_code, string? state, WalletRegistry wallets, WalletPayers payers, TimeProvider time)
    {
        code ??= auth_code; // WeChat returns code; Alipay returns auth_code (with app_id, source and scope)
        var l = Lang.Of(ctx);
        IResult Refused() => Results.Content(Message(l, l.T("授权失败", "Sign-in failed"), l.T("授权失败", "Sign-in failed"),
            l.T("请返回重新打开付款页面。", "Go back and open the payment page again."), "/"), "text/html; charset=utf-8", statusCode: 400);

        var session = PayerSession.Existing(ctx);
        var parts = (state ?? string.Empty).Split('.');
        if (session is null || code is not { Length: > 0 and <= 256 } || back is null || !IsPayPage(back) || parts.Length != 3
            || !long.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var expires)
            || !(await wallets.WalletsAsync(ctx.RequestAborted)).TryGetValue(wallet, out var connector)
            || connector is not IBuyerIdentityConnector identity || identity.StateKey is not { } key)
        {
            return Refused(); // malformed
        }

        var expected = Encoding.ASCII.GetBytes(Mac(key, parts[0], expires, back, session));
        if (!CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(parts[2])) || expires <= time.GetUtcNow().ToUnixTimeMilliseconds())
        {
            return Refused(); // forged, another browser's, or expired
        }

        if (!await payers.UseStateOnceAsync(parts[0], expires, ctx.RequestAborted))
        {
            return Refused(); // replayed
        }

        var who = await identity.ExchangeCodeAsync(code, miniProgram: false, ctx.RequestAborted);
        if (who is not { Outcome: WalletCallOutcome.Ok, PayerId: { } openId })
        {
            // Back to the page without the in-app flow, so the buyer can still pay another way (and no redirect loop).
            return Results.Redirect($"{back}{(back.Contains('?', StringComparison.Ordinal) ? "&" : "?")}oauth=failed");
        }

        await payers.RememberAsync(wallet, openId, session, ctx.RequestAborted);
        return Results.Redirect(back);
    }

    /// <summary>Only our own pay pages: the callback is no open redirect.</summary>
    private static bool IsPayPage(string back) =>
        (back.StartsWith("/pay/", StringComparison.Ordinal) || back.StartsWith("/f/", StringComparison.Ordinal))
        && !back.Contains("//", StringComparison.Ordinal) && !back.Contains('\\', StringComparison.Ordinal) && back.Length <= 512;

    /// <summary>How this browser pays at <paramref name="wallet"/>: JSAPI with the openid it was identified with, H5 from another phone browser, else the QR.</summary>
    public static async Task<PayerContext> PayerAsync(HttpContext ctx, PayerContext payer, string wallet, WalletRegistry wallets, string returnPath)
    {
        var catalog = ctx.RequestServices.GetRequiredService<WalletCatalog>();
        if (catalog.All.FirstOrDefault(m => m.Name == wallet) is not { } module || !(await wallets.WalletsAsync(ctx.RequestAborted)).TryGetValue(wallet, out var connector))
        {
            return payer;
        }

        var flow = PayFlows.ForBrowser(ctx.Request.Headers.UserAgent.ToString(), module.Display, PayFlows.Of(connector));
        switch (flow)
        {
            case PayFlow.Jsapi:
                var openId = await ctx.RequestServices.GetRequiredService<WalletPayers>().ForSessionAsync(wallet, payer.Session, ctx.RequestAborted);
                return openId is null ? payer : payer with { Flow = PayFlow.Jsapi, FlowPayer = new FlowPayer(WalletPayerId: openId) };
            case PayFlow.H5 when ctx.Connection.RemoteIpAddress is { } ip:
                var ret = $"{Options(ctx).PublicBaseUrl.TrimEnd('/')}{returnPath}";
                return payer with { Flow = PayFlow.H5, FlowPayer = new FlowPayer(ClientIp: (ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip).ToString(), ReturnUrl: ret) };
            default:
                return payer;
        }
    }

    /// <summary>The panel of a pending in-app attempt: the pay-in-place button (JSAPI) or the way to the wallet's H5 cashier. Null for a QR attempt.</summary>
    public static string? Panel(HttpContext ctx, Lang l, PaymentRow p, string path)
    {
        var name = E(l.WalletName(p.Wallet ?? string.Empty));
        switch (p.Flow)
        {
            case PayFlow.Jsapi when p.Wallet == "alipay":
                return $"""
                    <p><button type="button" class="button" id="alipay-pay">{l.T($"使用{name}支付 ", $"Pay with {name} ")}{E(p.Money.ToDisplayString())}</button></p>
                    <p class="hint" role="status" id="alipay-pay-status"></p>
                    <script src="{JsUrl}" data-bridge="alipay" data-params-url="{E(path)}/inapp/params" data-confirming="{l.T("正在确认支付结果…", "Confirming the payment…")}"
                      data-failed="{l.T("未能完成支付，请重试。", "The payment did not go through; try again.")}" data-canceled="{l.T("已取消支付。", "Payment canceled.")}"></script>
                    """;
            case PayFlow.Jsapi:
                return $"""
                    <p><button type="button" class="button" id="wx-pay">{l.T($"使用{name}支付 ", $"Pay with {name} ")}{E(p.Money.ToDisplayString())}</button></p>
                    <p class="hint" role="status" id="wx-pay-status"></p>
                    <script src="{JsUrl}" data-params-url="{E(path)}/inapp/params" data-confirming="{l.T("正在确认支付结果…", "Confirming the payment…")}"
                      data-failed="{l.T("未能完成支付，请重试。", "The payment did not go through; try again.")}" data-canceled="{l.T("已取消支付。", "Payment canceled.")}"></script>
                    """;
            case PayFlow.H5 when p.CodeUrl is not null:
                // The wallet returns the buyer here; that return is no proof of payment: the page waits for the hub's answer.
                var back = $"{Options(ctx).PublicBaseUrl.TrimEnd('/')}{path}";
                return $"""
                    <p><a class="button" id="h5-pay" href="{E(p.CodeUrl)}&amp;redirect_url={E(Uri.EscapeDataString(back))}">{l.T($"前往{name}付款", $"Continue to {name}")}</a></p>
                    <p class="hint">{l.T("付款后将返回本页并显示结果。", "After paying you come back here to see the result.")}</p>
                    """;
            default:
                return null;
        }
    }

    /// <summary>Fresh signed pay parameters for this browser's own pending JSAPI attempt (never anyone else's; never the openid).</summary>
    public static async Task<IResult> ParamsAsync(HttpContext ctx, PaymentRow p, PaymentStore store, WalletRegistry wallets, TimeProvider time, bool anyoneOwnsUnclaimed)
    {
        ctx.Response.Headers.CacheControl = "no-store";
        var attempt = await store.CurrentAttemptAsync(p, ctx.RequestAborted);
        var view = PayerView.Of(p, attempt, PayerSession.Existing(ctx), time.GetUtcNow().ToUnixTimeMilliseconds(), anyoneOwnsUnclaimed);
        if (p.State != PaymentStatus.Pending || attempt is not { Flow: PayFlow.Jsapi, CodeUrl: { } prepayId } || !view.Mine
            || await wallets.ChannelAsync(attempt.Channel ?? attempt.Wallet, ctx.RequestAborted) is not IInAppPayConnector connector
            || connector.PayParams(PayFlow.Jsapi, prepayId) is not { } pay)
        {
            return Results.NotFound();
        }

        return Results.Json(pay.Fields);
    }
}
