using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hutong.Sandbox.WeChatPay;

/// <summary>What the sandbox remembers of WeChat's OAuth and the in-app flows.</summary>
public sealed class WeChatSandboxInAppState
{
    /// <summary>App ids (official account, mini-program, mobile app) by id → their AppSecret (null for a mobile app) and merchant.</summary>
    public ConcurrentDictionary<string, (string? Secret, string MchId, string Kind)> Apps { get; } = new(StringComparer.Ordinal);

    /// <summary>OAuth codes and wx.login codes: single use, five minutes (developers.weixin.qq.com 网页授权: code 只能使用一次，5分钟未被使用自动过期).</summary>
    public ConcurrentDictionary<string, (string AppId, string OpenId, DateTimeOffset Expires)> Codes { get; } = new(StringComparer.Ordinal);

    /// <summary>Every (appid, openid) this sandbox handed out: a JSAPI order for any other openid is refused.</summary>
    public ConcurrentDictionary<(string AppId, string OpenId), bool> IssuedOpenIds { get; } = new();

    public ConcurrentDictionary<string, SandboxOrder> OrdersByPrepay { get; } = new(StringComparer.Ordinal);

    /// <summary>Every getBrandWCPayRequest the bridge received and what it answered, for tests.</summary>
    public ConcurrentQueue<(string Package, string ErrMsg)> BridgeCalls { get; } = new();

    /// <summary>Per-sandbox secret that turns a buyer (a browser of the sandbox) into a stable openid per app id.</summary>
    public byte[] OpenIdKey { get; } = RandomNumberGenerator.GetBytes(32);

    public string OpenIdFor(string appId, string user)
    {
        var openId = "o" + Convert.ToBase64String(HMACSHA256.HashData(OpenIdKey, Encoding.UTF8.GetBytes(appId + "|" + user)))
            .Replace('+', '-').Replace('/', '_')[..27];
        IssuedOpenIds.TryAdd((appId, openId), true);
        return openId;
    }

    public string NewCode(string appId, string openId)
    {
        var code = WeChatSandboxEndpoints.RandomString(32);
        Codes[code] = (appId, openId, DateTimeOffset.UtcNow.AddMinutes(5));
        return code;
    }
}

/// <summary>
/// The in-app side of WeChat: the jsapi/h5/app order endpoints (the Native handler with the flow's own fields), OAuth
/// (authorize page, sns/oauth2/access_token), sns/jscode2session, the H5 cashier behind h5_url, and the buyer-phone
/// emulator /sandbox/wechat/bridge.js that plays WeChat's in-app browser (WeixinJSBridge getBrandWCPayRequest).
/// </summary>
public static partial class WeChatSandboxEndpoints
{
    /// <summary>The sandbox browser's WeChat user (a cookie on the sandbox's origin): one person per browser context.</summary>
    private const string UserCookie = "sandbox_wx_user";

    private static void MapInApp(IEndpointRouteBuilder app, WeChatSandboxState state, WeChatSandboxNotifier notifier)
    {
        app.MapPost("/v3/pay/transactions/jsapi", (HttpContext ctx) => NativeAsync(ctx, state, tradeType: "JSAPI"));
        app.MapPost("/v3/pay/transactions/h5", (HttpContext ctx) => NativeAsync(ctx, state, tradeType: "MWEB"));
        app.MapPost("/v3/pay/transactions/app", (HttpContext ctx) => NativeAsync(ctx, state, tradeType: "APP"));

        app.MapGet("/connect/oauth2/authorize", (HttpContext ctx) => Authorize(ctx, state));
        app.MapGet("/sns/oauth2/access_token", (HttpContext ctx) => Sns(ctx, state, "oauth"));
        app.MapGet("/sns/jscode2session", (HttpContext ctx) => Sns(ctx, state, "mini_program"));

        // wx.login inside the merchant's mini-program, for tests: a code for this (mini-program appid, user).
        app.MapPost("/sandbox/wechatpay/mini_program/login", (string appid, string? user) =>
            state.InApp.Apps.TryGetValue(appid, out var a) && a.Kind == "mini_program"
                ? Results.Ok(new { code = state.InApp.NewCode(appid, state.InApp.OpenIdFor(appid, user ?? "buyer")) })
                : Results.BadRequest(new { errcode = 40013, errmsg = "invalid appid" }));

        app.MapGet("/sandbox/wechat/bridge.js", (HttpContext ctx) =>
            Results.Text(BridgeJs.Replace("__SANDBOX__", $"{ctx.Request.Scheme}://{ctx.Request.Host}", StringComparison.Ordinal), "text/javascript; charset=utf-8"));
        app.MapMethods("/sandbox/wechat/bridge/pay", ["OPTIONS"], (HttpContext ctx) => { Cors(ctx); return Results.NoContent(); });
        app.MapPost("/sandbox/wechat/bridge/pay", (Delegate)((HttpContext ctx) => BridgePayAsync(ctx, state, notifier)));

        app.MapGet("/cgi-bin/mmpayweb-bin/checkmweb", (HttpContext ctx) => H5Page(ctx, state, null));
        app.MapPost("/cgi-bin/mmpayweb-bin/checkmweb", async (HttpContext ctx) =>
        {
            var form = await ctx.Request.ReadFormAsync();
            if (!state.InApp.OrdersByPrepay.TryGetValue(form["prepay_id"].ToString(), out var order) || order.TradeType != "MWEB")
            {
                return H5Page(ctx, state, "订单不存在");
            }

            var (_, error, message) = WeChatSandboxControl.PayOrder(state, notifier, order, state.InApp.OpenIdFor(order.AppId, User(ctx)), null);
            var back = form["redirect_url"].ToString();
            return error is null && Uri.TryCreate(back, UriKind.Absolute, out _) ? Results.Redirect(back) : H5Page(ctx, state, error is null ? "支付成功" : message);
        }).DisableAntiforgery();
    }

    /// <summary>What a flow's request must carry beyond the Native fields (the real API's PARAM_ERROR cases).</summary>
    private static string? InAppProblem(JsonObject req, string tradeType) => tradeType switch
    {
        "JSAPI" when req["payer"]?["openid"] is not JsonValue v || v.GetValue<string>() is not { Length: > 0 } => "缺少参数 payer.openid",
        "MWEB" when req["scene_info"]?["payer_client_ip"] is not JsonValue ip || !IPAddress.TryParse(ip.GetValue<string>(), out _) => "scene_info.payer_client_ip 格式错误",
        "MWEB" when req["scene_info"]?["h5_info"]?["type"] is not JsonValue t || t.GetValue<string>() is not ("Wap" or "iOS" or "Android") => "缺少参数 scene_info.h5_info.type",
        _ => null,
    };

    /// <summary>The order's appid must be one the merchant bound: the official account (Native, JSAPI, H5), its mini-program (JSAPI) or its app (APP).</summary>
    private static bool AppIdFits(WeChatSandboxState state, SandboxMerchant merchant, string appId, string tradeType) =>
        (appId == merchant.AppId && tradeType != "APP")
        || (state.InApp.Apps.TryGetValue(appId, out var a) && a.MchId == merchant.MchId
            && (tradeType == "APP" ? a.Kind == "app" : tradeType == "JSAPI" && a.Kind == "mini_program"));

    private static string OrderAnswer(HttpContext ctx, SandboxOrder order) => order.TradeType switch
    {
        "NATIVE" => JsonSerializer.Serialize(new { code_url = order.CodeUrl }, Json),
        "MWEB" => JsonSerializer.Serialize(new { h5_url = $"{ctx.Request.Scheme}://{ctx.Request.Host}/cgi-bin/mmpayweb-bin/checkmweb?prepay_id={order.PrepayId}&package={order.CodeToken.Length}" }, Json),
        _ => JsonSerializer.Serialize(new { prepay_id = order.PrepayId }, Json),
    };

    private static string User(HttpContext ctx)
    {
        if (ctx.Request.Cookies[UserCookie] is { Length: >= 16 and <= 64 } user)
        {
            return user;
        }

        user = RandomString(24);
        ctx.Response.Cookies.Append(UserCookie, user, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Lax, Path = "/" });
        return user;
    }

    /// <summary>snsapi_base is silent: WeChat redirects straight back with a code (and the state as given).</summary>
    private static IResult Authorize(HttpContext ctx, WeChatSandboxState state)
    {
        var q = ctx.Request.Query;
        var appId = q["appid"].ToString();
        if (!state.InApp.Apps.TryGetValue(appId, out var a) || a.Kind != "official_account")
        {
            return Results.Content("<!doctype html><title>微信</title><p id=\"oauth-error\">10003 redirect_uri域名与后台配置不一致 / appid 无效</p>", "text/html; charset=utf-8", statusCode: 400);
        }

        if (q["response_type"] != "code" || q["scope"] != "snsapi_base" || !Uri.TryCreate(q["redirect_uri"], UriKind.Absolute, out var back))
        {
            return Results.Content("<!doctype html><title>微信</title><p id=\"oauth-error\">参数错误</p>", "text/html; charset=utf-8", statusCode: 400);
        }

        var code = state.InApp.NewCode(appId, state.InApp.OpenIdFor(appId, User(ctx)));
        var sep = back.Query.Length > 0 ? "&" : "?";
        return Results.Redirect($"{back}{sep}code={code}&state={Uri.EscapeDataString(q["state"].ToString())}");
    }

    /// <summary>sns/oauth2/access_token and sns/jscode2session: HTTP 200 with openid, or errcode/errmsg (as WeChat does).</summary>
    private static IResult Sns(HttpContext ctx, WeChatSandboxState state, string kind)
    {
        var q = ctx.Request.Query;
        var appId = q["appid"].ToString();
        var code = (kind == "oauth" ? q["code"] : q["js_code"]).ToString();
        IResult Err(int errcode, string errmsg) => Results.Json(new { errcode, errmsg });
        if (!state.InApp.Apps.TryGetValue(appId, out var a) || a.Kind != (kind == "oauth" ? "official_account" : "mini_program"))
        {
            return Err(40013, "invalid appid");
        }

        if (a.Secret is null || !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(a.Secret), Encoding.UTF8.GetBytes(q["secret"].ToString())))
        {
            return Err(40125, "invalid appsecret");
        }

        if (q["grant_type"] != "authorization_code")
        {
            return Err(40002, "invalid grant_type");
        }

        // TryRemove makes the code single use even when two exchanges race.
        if (!state.InApp.Codes.TryRemove(code, out var c))
        {
            return Err(kind == "oauth" ? 40029 : 40163, kind == "oauth" ? "invalid code" : "code been used");
        }

        if (c.AppId != appId || c.Expires <= DateTimeOffset.UtcNow)
        {
            return Err(40029, "invalid code");
        }

        return kind == "oauth"
            ? Results.Json(new { access_token = RandomString(40), expires_in = 7200, refresh_token = RandomString(40), openid = c.OpenId, scope = "snsapi_base" })
            : Results.Json(new { openid = c.OpenId, session_key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16)) });
    }

    private static void Cors(HttpContext ctx)
    {
        // The bridge runs in the merchant page's origin; the sandbox user's cookie goes with it (same site, other port).
        ctx.Response.Headers.AccessControlAllowOrigin = ctx.Request.Headers.Origin.ToString() is { Length: > 0 } o ? o : "*";
        ctx.Response.Headers.AccessControlAllowCredentials = "true";
        ctx.Response.Headers.AccessControlAllowHeaders = "content-type";
        ctx.Response.Headers.AccessControlAllowMethods = "POST";
    }

    /// <summary>
    /// getBrandWCPayRequest as WeChat handles it: the prepay id must be a JSAPI order of this app id, the paySign must be
    /// the merchant's RSA-SHA256 over appId\ntimeStamp\nnonceStr\npackage\n (checked with the merchant's registered
    /// public key), and the WeChat user must be the one the order was placed for. Then the buyer pays.
    /// </summary>
    private static async Task<IResult> BridgePayAsync(HttpContext ctx, WeChatSandboxState state, WeChatSandboxNotifier notifier)
    {
        Cors(ctx);
        using var reader = new StreamReader(ctx.Request.Body, Encoding.UTF8);
        var req = ParseObject(await reader.ReadToEndAsync(ctx.RequestAborted));
        string F(string name) => req is null ? string.Empty : Str(req, name) ?? string.Empty;
        var (appId, timeStamp, nonceStr, package, signType, paySign) = (F("appId"), F("timeStamp"), F("nonceStr"), F("package"), F("signType"), F("paySign"));
        string Answer(string err)
        {
            state.InApp.BridgeCalls.Enqueue((package, err));
            return err;
        }

        var prepayId = package.StartsWith("prepay_id=", StringComparison.Ordinal) ? package["prepay_id=".Length..] : null;
        if (prepayId is null || !state.InApp.OrdersByPrepay.TryGetValue(prepayId, out var order) || order.TradeType != "JSAPI")
        {
            return Results.Json(new { err_msg = Answer("get_brand_wcpay_request:fail"), err_desc = "package 无效" });
        }

        if (order.AppId != appId || signType != "RSA" || !long.TryParse(timeStamp, NumberStyles.None, CultureInfo.InvariantCulture, out _) || nonceStr.Length is 0 or > 32
            || !state.Merchants.TryGetValue(order.SpMchId ?? order.MchId, out var merchant)
            || !VerifyRsa(merchant.PublicKey, $"{appId}\n{timeStamp}\n{nonceStr}\n{package}\n", paySign))
        {
            return Results.Json(new { err_msg = Answer("get_brand_wcpay_request:fail"), err_desc = "支付验证签名失败" });
        }

        var payer = state.InApp.OpenIdFor(order.AppId, User(ctx));
        if (payer != order.OrderedFor)
        {
            return Results.Json(new { err_msg = Answer("get_brand_wcpay_request:fail"), err_desc = "当前用户与下单用户不一致" });
        }

        var (_, error, message) = WeChatSandboxControl.PayOrder(state, notifier, order, payer, F("result") is { Length: > 0 } r ? r : null);
        return Results.Json(error is null
            ? new { err_msg = Answer("get_brand_wcpay_request:ok"), err_desc = string.Empty }
            : new { err_msg = Answer("get_brand_wcpay_request:fail"), err_desc = message ?? error });
    }

    private static IResult H5Page(HttpContext ctx, WeChatSandboxState state, string? message)
    {
        var q = ctx.Request.HasFormContentType ? null : ctx.Request.Query;
        var prepayId = q?["prepay_id"].ToString() ?? string.Empty;
        var order = state.InApp.OrdersByPrepay.GetValueOrDefault(prepayId);
        var e = (string? s) => WebUtility.HtmlEncode(s ?? string.Empty);
        var payable = order is { TradeType: "MWEB", TradeState: "NOTPAY" or "PAYERROR" };
        var amount = order is null ? string.Empty : $"¥{order.Total / 100}.{order.Total % 100:00}";
        return Results.Content($"""
            <!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
            <title>微信支付 H5 · Sandbox</title></head>
            <body><h1>微信支付 · H5 sandbox</h1>
            <p role="status" id="h5-result">{e(message)}</p>
            <p id="h5-order">{(order is null ? "订单不存在" : $"{e(order.Description)} — <strong>{amount}</strong> ({e(order.TradeState)})")}</p>
            <form method="post" action="/cgi-bin/mmpayweb-bin/checkmweb">
              <input type="hidden" name="prepay_id" value="{e(prepayId)}">
              <input type="hidden" name="redirect_url" value="{e(q?["redirect_url"].ToString())}">
              <button type="submit" id="h5-pay"{(payable ? string.Empty : " disabled")}>确认支付 Pay</button>
            </form></body></html>
            """, "text/html; charset=utf-8");
    }

    /// <summary>
    /// The buyer-phone emulator a test injects (Playwright addInitScript) to play WeChat's in-app browser: it provides
    /// WeixinJSBridge, hands getBrandWCPayRequest to the sandbox (which verifies paySign as WeChat would and makes the
    /// sandbox buyer pay), and calls back with get_brand_wcpay_request:ok / :fail. window.__wxSandboxResult picks the
    /// buyer's outcome (SUCCESS, or PAYERROR).
    /// </summary>
    private const string BridgeJs = """
        (() => {
          if (window.WeixinJSBridge) return;
          const sandbox = '__SANDBOX__';
          const calls = [];
          window.WeixinJSBridge = {
            calls,
            invoke(name, args, callback) {
              calls.push({ name, args });
              if (name !== 'getBrandWCPayRequest') { callback && callback({ err_msg: name + ':fail' }); return; }
              fetch(sandbox + '/sandbox/wechat/bridge/pay', {
                method: 'POST', credentials: 'include', headers: { 'content-type': 'text/plain' },
                body: JSON.stringify(Object.assign({}, args, { result: window.__wxSandboxResult || '' })),
              }).then(r => r.json()).then(a => callback && callback(a)).catch(e => callback && callback({ err_msg: 'getBrandWCPayRequest:fail', err_desc: String(e) }));
            },
            on() { },
            call() { },
          };
          const ready = () => document.dispatchEvent(new Event('WeixinJSBridgeReady'));
          if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', ready); else ready();
        })();
        """;
}
