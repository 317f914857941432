using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Web;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hutong.Sandbox.Alipay;

/// <summary>What the Alipay sandbox remembers of its OAuth and the in-app flows.</summary>
public sealed class AlipaySandboxInAppState
{
    /// <summary>auth_code values: single use, short-lived (an auth_code is good for one oauth.token exchange).</summary>
    public ConcurrentDictionary<string, (string AppId, string OpenId, DateTimeOffset Expires)> AuthCodes { get; } = new(StringComparer.Ordinal);

    /// <summary>Every (app_id, open_id) this sandbox handed out: a trade.create for any other buyer is refused.</summary>
    public ConcurrentDictionary<(string AppId, string OpenId), bool> IssuedOpenIds { get; } = new();

    public ConcurrentDictionary<string, AlipaySandboxOrder> OrdersByTradeNo { get; } = new(StringComparer.Ordinal);

    /// <summary>Every tradePay the bridge received and its resultCode, for tests.</summary>
    public ConcurrentQueue<(string TradeNo, string ResultCode)> BridgeCalls { get; } = new();

    /// <summary>Every order string the sandbox app received and its resultStatus, for tests.</summary>
    public ConcurrentQueue<(string? OutTradeNo, string ResultStatus, string Memo)> AppPayCalls { get; } = new();

    /// <summary>Per-sandbox secret that turns a buyer (a browser of the sandbox) into a stable open_id per app.</summary>
    public byte[] OpenIdKey { get; } = RandomNumberGenerator.GetBytes(32);

    /// <summary>An open_id is per application and not a 2088… user_id (Alipay's open_id migration).</summary>
    public string OpenIdFor(string appId, string user)
    {
        var openId = "0" + Convert.ToBase64String(HMACSHA256.HashData(OpenIdKey, Encoding.UTF8.GetBytes(appId + "|" + user)))
            .Replace('+', '-').Replace('/', '_').TrimEnd('=')[..40];
        IssuedOpenIds.TryAdd((appId, openId), true);
        return openId;
    }

    public string NewAuthCode(string appId, string openId)
    {
        var code = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        AuthCodes[code] = (appId, openId, DateTimeOffset.UtcNow.AddMinutes(5));
        return code;
    }
}

/// <summary>
/// Alipay's in-app side: the auth_base authorize page (publicAppAuthorize.htm), alipay.system.oauth.token,
/// alipay.trade.create with the buyer's id, the buyer-phone emulator /sandbox/alipay/bridge.js (AlipayJSBridge
/// tradePay) and the Alipay app receiving an alipay.trade.app.pay order string.
/// </summary>
public static partial class AlipaySandboxEndpoints
{
    private const string UserCookie = "sandbox_alipay_user";

    private static void MapInApp(IEndpointRouteBuilder app, AlipaySandboxState state, AlipaySandboxNotifier notifier)
    {
        app.MapGet("/oauth2/publicAppAuthorize.htm", (HttpContext ctx) => Authorize(ctx, state));
        app.MapGet("/sandbox/alipay/bridge.js", (HttpContext ctx) =>
            Results.Text(BridgeJs.Replace("__SANDBOX__", $"{ctx.Request.Scheme}://{ctx.Request.Host}", StringComparison.Ordinal), "text/javascript; charset=utf-8"));
        app.MapMethods("/sandbox/alipay/bridge/pay", ["OPTIONS"], (HttpContext ctx) => { Cors(ctx); return Results.NoContent(); });
        app.MapPost("/sandbox/alipay/bridge/pay", (Delegate)((HttpContext ctx) => BridgePayAsync(ctx, state, notifier)));
        app.MapPost("/sandbox/alipay/app/pay", (Delegate)((HttpContext ctx) => AppPayAsync(ctx, state, notifier))).DisableAntiforgery();
    }

    private static string User(HttpContext ctx)
    {
        if (ctx.Request.Cookies[UserCookie] is { Length: >= 16 and <= 64 } user)
        {
            return user;
        }

        user = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
        ctx.Response.Cookies.Append(UserCookie, user, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Lax, Path = "/" });
        return user;
    }

    /// <summary>
    /// auth_base is silent: Alipay redirects straight back with app_id, source, scope, auth_code and the state as given
    /// (the callback aspnet-contrib's AlipayAuthenticationHandler reads: auth_code, not code).
    /// </summary>
    private static IResult Authorize(HttpContext ctx, AlipaySandboxState state)
    {
        var q = ctx.Request.Query;
        var appId = q["app_id"].ToString();
        if (!state.Apps.ContainsKey(appId))
        {
            return Results.Content("<!doctype html><title>支付宝</title><p id=\"oauth-error\">应用不存在 (invalid app_id)</p>", "text/html; charset=utf-8", statusCode: 400);
        }

        if (q["scope"] != "auth_base" || !Uri.TryCreate(q["redirect_uri"], UriKind.Absolute, out var back) || q["state"].ToString().Length > 100)
        {
            return Results.Content("<!doctype html><title>支付宝</title><p id=\"oauth-error\">参数错误 (scope, redirect_uri or state)</p>", "text/html; charset=utf-8", statusCode: 400);
        }

        var code = state.InApp.NewAuthCode(appId, state.InApp.OpenIdFor(appId, User(ctx)));
        var sep = back.Query.Length > 0 ? "&" : "?";
        return Results.Redirect($"{back}{sep}app_id={appId}&source=alipay_wallet&scope=auth_base&auth_code={code}&state={Uri.EscapeDataString(q["state"].ToString())}");
    }

    /// <summary>alipay.system.oauth.token: success without a code (as Alipay answers it), a bad code as error_response isv.code-invalid.</summary>
    private static JsonObject OAuthToken(AlipaySandboxState state, string appId, Dictionary<string, string> p)
    {
        if (p.GetValueOrDefault("grant_type") != "authorization_code")
        {
            return Error("40002", "Invalid Arguments", "isv.grant-type-invalid", "grant_type 参数不正确");
        }

        // TryRemove makes the code single use even when two exchanges race.
        if (!state.InApp.AuthCodes.TryRemove(p.GetValueOrDefault("code") ?? string.Empty, out var c) || c.AppId != appId || c.Expires <= DateTimeOffset.UtcNow)
        {
            return Error("40002", "Invalid Arguments", "isv.code-invalid", "授权码code无效");
        }

        return new JsonObject
        {
            ["open_id"] = c.OpenId,
            ["access_token"] = "authbseB" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
            ["expires_in"] = 1296000,
            ["refresh_token"] = "authbseB" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
            ["re_expires_in"] = 2592000,
            ["auth_start"] = DateTimeOffset.UtcNow.ToOffset(ChinaOffset).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
        };
    }

    /// <summary>
    /// alipay.trade.create: a trade for one buyer (buyer_open_id, or a buyer_id), with its trade_no at once, paid later
    /// by that buyer's tradePay. The same out_trade_no for the same buyer answers the same trade.
    /// </summary>
    private static JsonObject TradeCreate(AlipaySandboxState state, AlipaySandboxApp app, string seller, Dictionary<string, string> p, JsonObject biz)
    {
        var buyer = biz["buyer_open_id"]?.GetValue<string>() ?? biz["buyer_id"]?.GetValue<string>();
        if (string.IsNullOrEmpty(buyer))
        {
            return Error("40004", "Business Failed", "ACQ.INVALID_PARAMETER", "参数无效：buyer_id 与 buyer_open_id 不能同时为空");
        }

        if (!state.InApp.IssuedOpenIds.ContainsKey((app.AppId, buyer)))
        {
            return Error("40004", "Business Failed", "ACQ.BUYER_NOT_EXIST", "买家不存在（open_id 与 app_id 不匹配）");
        }

        if (biz["product_code"]?.GetValue<string>() is { } product && product != "JSAPI_PAY")
        {
            return Error("40004", "Business Failed", "ACQ.PRODUCT_CODE_ERROR", "产品码错误：alipay.trade.create 须为 JSAPI_PAY");
        }

        var (order, error) = Upsert(state, app, seller, p, biz, p.GetValueOrDefault("app_auth_token"));
        if (error is not null)
        {
            return error;
        }

        lock (order!)
        {
            if (order.OrderedFor is { } was && was != buyer || order.ProductCode is not (null or "JSAPI_PAY"))
            {
                return Error("40004", "Business Failed", "ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改");
            }

            order.OrderedFor = buyer;
            order.ProductCode = "JSAPI_PAY";
            order.TradeNo ??= NewTradeNo();
            state.InApp.OrdersByTradeNo.TryAdd(order.TradeNo, order);
            return Ok(new JsonObject { ["out_trade_no"] = order.OutTradeNo, ["trade_no"] = order.TradeNo });
        }
    }

    private static string NewTradeNo() =>
        DateTime.UtcNow.ToString("yyyyMMdd", CultureInfo.InvariantCulture) + "22001" + RandomNumberGenerator.GetString("0123456789", 15);

    private static void Cors(HttpContext ctx)
    {
        // The bridge runs in the merchant page's origin; the sandbox user's cookie goes with it (same site, other port).
        ctx.Response.Headers.AccessControlAllowOrigin = ctx.Request.Headers.Origin.ToString() is { Length: > 0 } o ? o : "*";
        ctx.Response.Headers.AccessControlAllowCredentials = "true";
        ctx.Response.Headers.AccessControlAllowHeaders = "content-type";
        ctx.Response.Headers.AccessControlAllowMethods = "POST";
    }

    /// <summary>
    /// tradePay as the Alipay client handles it: the trade must be a JSAPI_PAY trade created for the Alipay user of this
    /// phone (a trade_no alone pays nothing for anyone else), still unpaid and unexpired. resultCode 9000 paid, 6001
    /// cancelled by the buyer, 4000 failed; then the usual asynchronous notification.
    /// </summary>
    private static async Task<IResult> BridgePayAsync(HttpContext ctx, AlipaySandboxState state, AlipaySandboxNotifier notifier)
    {
        Cors(ctx);
        using var reader = new StreamReader(ctx.Request.Body, Encoding.UTF8);
        JsonObject? req;
        try
        {
            req = JsonNode.Parse(await reader.ReadToEndAsync(ctx.RequestAborted)) as JsonObject;
        }
        catch (JsonException)
        {
            req = null;
        }

        var tradeNo = req?["tradeNO"] is JsonValue t && t.TryGetValue<string>(out var s) ? s : string.Empty;
        var wanted = req?["result"] is JsonValue r && r.TryGetValue<string>(out var rs) ? rs : string.Empty;
        IResult Answer(string code, string memo)
        {
            state.InApp.BridgeCalls.Enqueue((tradeNo, code));
            return Results.Json(new { resultCode = code, memo, result = string.Empty }, Json); // payV2/tradePay field names, not the sandbox API's snake_case
        }

        if (!state.InApp.OrdersByTradeNo.TryGetValue(tradeNo, out var order))
        {
            return Answer("4000", "交易不存在");
        }

        if (order.OrderedFor != state.InApp.OpenIdFor(order.AppId, User(ctx)))
        {
            return Answer("4000", "当前用户与下单用户不一致");
        }

        if (wanted == "cancel")
        {
            return Answer("6001", "用户中途取消");
        }

        lock (order)
        {
            if (order.TradeStatus != "WAIT_BUYER_PAY")
            {
                return Answer("4000", $"交易状态为 {order.TradeStatus}");
            }

            if (order.TimeExpire is { } exp && exp <= DateTimeOffset.UtcNow)
            {
                return Answer("4000", "交易已过期");
            }

            order.TradeStatus = "TRADE_SUCCESS";
            order.BuyerOpenId = order.OrderedFor;
            order.Paid = DateTimeOffset.UtcNow;
        }

        notifier.NotifySuccess(order);
        return Answer("9000", "支付成功");
    }

    /// <summary>
    /// The Alipay app handed an alipay.trade.app.pay order string by the merchant's app (the SDK's payV2(orderInfo)):
    /// a query string of the common parameters, biz_content and sign, values URL-encoded. The signature is checked with
    /// the application's public key (either SDK's rule), then the sandbox buyer of this phone pays and the notification
    /// follows. Answers like payV2: resultStatus (9000 paid, 4000 failed), memo, and the signed result.
    /// </summary>
    private static async Task<IResult> AppPayAsync(HttpContext ctx, AlipaySandboxState state, AlipaySandboxNotifier notifier)
    {
        string orderString;
        if (ctx.Request.HasFormContentType)
        {
            orderString = (await ctx.Request.ReadFormAsync(ctx.RequestAborted))["order_string"].ToString();
        }
        else
        {
            using var reader = new StreamReader(ctx.Request.Body, Encoding.UTF8);
            orderString = await reader.ReadToEndAsync(ctx.RequestAborted);
        }

        string? outTradeNo = null;
        IResult Fail(string memo)
        {
            state.InApp.AppPayCalls.Enqueue((outTradeNo, "4000", memo));
            return Results.Json(new { resultStatus = "4000", memo, result = string.Empty }, Json);
        }

        if (orderString.Length is 0 or > 16 * 1024)
        {
            return Fail("订单信息为空或过长");
        }

        var p = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in orderString.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            // Java's sdkExecute encodes a space as '+', Node's encodeURIComponent as %20; both decode here.
            if (eq <= 0 || !p.TryAdd(HttpUtility.UrlDecode(pair[..eq], Encoding.UTF8), HttpUtility.UrlDecode(pair[(eq + 1)..], Encoding.UTF8)))
            {
                return Fail("订单信息格式错误");
            }
        }

        if (p.GetValueOrDefault("method") != "alipay.trade.app.pay" || !state.Apps.TryGetValue(p.GetValueOrDefault("app_id") ?? string.Empty, out var app))
        {
            return Fail("method 须为 alipay.trade.app.pay，app_id 须有效");
        }

        var sign = p.GetValueOrDefault("sign");
        if (p.GetValueOrDefault("sign_type") != "RSA2"
            || !(AlipayGatewayCodec.Verify(app.PublicKey, AlipayGatewayCodec.SignedText(p!, keepEmpty: false), sign, Encoding.UTF8)
                 || AlipayGatewayCodec.Verify(app.PublicKey, AlipayGatewayCodec.SignedText(p!, keepEmpty: true), sign, Encoding.UTF8)))
        {
            return Fail("验签出错 (invalid-signature)");
        }

        JsonObject biz;
        try
        {
            biz = JsonNode.Parse(p.GetValueOrDefault("biz_content") ?? "{}") as JsonObject ?? [];
        }
        catch (JsonException)
        {
            return Fail("biz_content 不是合法的JSON");
        }

        outTradeNo = biz["out_trade_no"]?.GetValue<string>();
        if (biz["product_code"]?.GetValue<string>() is { } product && product != "QUICK_MSECURITY_PAY")
        {
            return Fail("产品码错误：须为 QUICK_MSECURITY_PAY");
        }

        string? seller = app.SellerId;
        if (p.GetValueOrDefault("app_auth_token") is { Length: > 0 } token && !state.AuthTokens.TryGetValue(token, out seller))
        {
            return Fail("无效的应用授权令牌");
        }

        var (order, error) = Upsert(state, app, seller!, p, biz, p.GetValueOrDefault("app_auth_token"));
        if (error is not null)
        {
            return Fail(error["sub_msg"]?.GetValue<string>() ?? "下单失败");
        }

        lock (order!)
        {
            if (order.ProductCode is not (null or "QUICK_MSECURITY_PAY"))
            {
                return Fail("交易信息被篡改");
            }

            if (order.TimeExpire is { } exp && exp <= DateTimeOffset.UtcNow)
            {
                return Fail("交易已过期");
            }

            order.ProductCode = "QUICK_MSECURITY_PAY";
            order.TradeNo ??= NewTradeNo();
            order.TradeStatus = "TRADE_SUCCESS";
            order.BuyerOpenId = state.InApp.OpenIdFor(app.AppId, User(ctx));
            order.Paid = DateTimeOffset.UtcNow;
            state.InApp.OrdersByTradeNo.TryAdd(order.TradeNo, order);
        }

        notifier.NotifySuccess(order);
        var response = Ok(new JsonObject
        {
            ["app_id"] = app.AppId, ["out_trade_no"] = order.OutTradeNo, ["trade_no"] = order.TradeNo, ["total_amount"] = AlipayAmount.FromFen(order.TotalFen),
            ["seller_id"] = order.SellerId, ["charset"] = "utf-8", ["timestamp"] = order.Paid!.Value.ToOffset(ChinaOffset).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
        }).ToJsonString(Json);
        state.InApp.AppPayCalls.Enqueue((outTradeNo, "9000", "处理成功"));
        return Results.Json(new
        {
            resultStatus = "9000", memo = "处理成功",
            result = $"{{\"alipay_trade_app_pay_response\":{response},\"sign\":\"{AlipayGatewayCodec.Sign(state.AlipayKey, response)}\",\"sign_type\":\"RSA2\"}}",
        }, Json);
    }

    /// <summary>
    /// The buyer-phone emulator a test injects (Playwright addInitScript) to play the Alipay client's in-app browser:
    /// it provides AlipayJSBridge, hands tradePay to the sandbox (which checks the trade is this buyer's and makes the
    /// sandbox buyer pay), and calls back with resultCode 9000 / 6001 / 4000. window.__alipaySandboxResult = 'cancel'
    /// plays a buyer who backs out.
    /// </summary>
    private const string BridgeJs = """
        (() => {
          if (window.AlipayJSBridge) return;
          const sandbox = '__SANDBOX__';
          const calls = [];
          window.AlipayJSBridge = {
            calls,
            call(name, args, callback) {
              if (typeof args === 'function') { callback = args; args = {}; }
              calls.push({ name, args });
              if (name !== 'tradePay') { callback && callback({ error: 1, errorMessage: name + ' is not emulated' }); return; }
              fetch(sandbox + '/sandbox/alipay/bridge/pay', {
                method: 'POST', credentials: 'include', headers: { 'content-type': 'text/plain' },
                body: JSON.stringify({ tradeNO: (args && args.tradeNO) || '', result: window.__alipaySandboxResult || '' }),
              }).then(r => r.json()).then(a => callback && callback(a)).catch(e => callback && callback({ resultCode: '6002', memo: String(e) }));
            },
          };
          const ready = () => document.dispatchEvent(new Event('AlipayJSBridgeReady'));
          if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', ready); else ready();
        })();
        """;
}
