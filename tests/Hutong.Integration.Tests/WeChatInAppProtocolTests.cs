using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Hutong.Connectors.WeChatPay;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server.Features.Checkout;

namespace Hutong.Integration.Tests;

/// <summary>
/// The in-app flows over HTTP: WeChat's OAuth round trip and its state (a forged, another browser's, expired or
/// replayed callback changes nothing), the sandbox's jsapi order checks, and an independent npm client's JSAPI order and
/// paySign accepted by the sandbox's WeixinJSBridge.
/// </summary>
[Collection("sqlite")]
public sealed class WeChatInAppProtocolTests(SqliteHub hub)
{
    private sealed class Phone : IDisposable
    {
        public Phone(string ua)
        {
            Http = new HttpClient(new HttpClientHandler { CookieContainer = Cookies, AllowAutoRedirect = false });
            Http.DefaultRequestHeaders.TryAddWithoutValidation("User-Agent", ua);
        }

        public CookieContainer Cookies { get; } = new();

        public HttpClient Http { get; }

        public void Dispose() => Http.Dispose();
    }

    private Task<long> PayersAsync() => hub.CountAsync("SELECT COUNT(*) FROM wallet_payers");

    /// <summary>Opens the cashier inside WeChat and follows WeChat's silent authorize: the hub's callback URL (code and state).</summary>
    private static async Task<Uri> CallbackFromWeChatAsync(Phone phone, string checkout)
    {
        var toWeChat = await phone.Http.GetAsync(checkout);
        Assert.Equal(HttpStatusCode.Redirect, toWeChat.StatusCode);
        var authorize = toWeChat.Headers.Location!;
        Assert.Contains("/connect/oauth2/authorize?", authorize.ToString(), StringComparison.Ordinal);
        Assert.Contains("scope=snsapi_base", authorize.ToString(), StringComparison.Ordinal);
        var back = await phone.Http.GetAsync(authorize);
        Assert.Equal(HttpStatusCode.Redirect, back.StatusCode);
        return back.Headers.Location!;
    }

    private static string WithState(Uri callback, string state)
    {
        var q = System.Web.HttpUtility.ParseQueryString(callback.Query);
        q["state"] = state;
        return new UriBuilder(callback) { Query = q.ToString() }.Uri.ToString();
    }

    [Fact]
    public async Task The_OAuth_callback_is_used_once_and_a_forged_expired_or_foreign_state_changes_nothing()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var checkout = (await m.GetAsync($"/v1/payments/{await m.CreatePaymentAsync(1200)}")).Str("checkout_url");
        using var phone = new Phone(WeChatInAppBrowserTests.WeChatUa);
        var callback = await CallbackFromWeChatAsync(phone, checkout);
        var state = System.Web.HttpUtility.ParseQueryString(callback.Query)["state"]!;
        var parts = state.Split('.');
        var before = await PayersAsync();

        // Forged: the mac does not match (here: a later expiry under the same mac).
        Assert.Equal(HttpStatusCode.BadRequest, (await phone.Http.GetAsync(WithState(callback, $"{parts[0]}.{long.Parse(parts[1]) + 1}.{parts[2]}"))).StatusCode);
        // Another browser (no or another payer session) presenting this browser's state.
        using (var other = new Phone(WeChatInAppBrowserTests.WeChatUa))
        {
            await other.Http.GetAsync(checkout); // its own payer session
            Assert.Equal(HttpStatusCode.BadRequest, (await other.Http.GetAsync(callback)).StatusCode);
        }

        // Expired, though correctly signed for this browser and page.
        var session = Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(phone.Cookies.GetCookies(new Uri(checkout))["hutong_payer"]!.Value)));
        var key = WeChatPayConnector.OAuthStateKey(hub.WeChat.AppSecret!, hub.WeChat.AppId);
        var expired = InAppPay.SignState(key, parts[0] + "e", DateTimeOffset.UtcNow.AddSeconds(-1).ToUnixTimeMilliseconds(), new Uri(checkout).AbsolutePath, session);
        Assert.Equal(HttpStatusCode.BadRequest, (await phone.Http.GetAsync(WithState(callback, expired))).StatusCode);
        Assert.Equal(before, await PayersAsync());

        // The genuine callback signs the buyer in once, and goes back to the cashier.
        var ok = await phone.Http.GetAsync(callback);
        Assert.Equal(HttpStatusCode.Redirect, ok.StatusCode);
        Assert.Equal(new Uri(checkout).AbsolutePath, ok.Headers.Location!.ToString());
        Assert.Equal(before + 1, await PayersAsync());

        // Replayed: refused before the code is even exchanged.
        Assert.Equal(HttpStatusCode.BadRequest, (await phone.Http.GetAsync(callback)).StatusCode);
        Assert.Equal(before + 1, await PayersAsync());

        // Signed in: the cashier no longer sends the buyer to WeChat, and shows no QR.
        var page = await phone.Http.GetAsync(checkout);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.DoesNotContain("aggregate.png", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_sandbox_refuses_a_jsapi_order_without_the_payers_openid_or_for_an_openid_it_never_issued()
    {
        using var http = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
        using var key = RSA.Create();
        key.ImportFromPem(hub.WeChat.MerchantPrivateKeyPem);
        object Order(object? payer) => new
        {
            appid = hub.WeChat.AppId, mchid = hub.WeChat.MchId, description = "x", out_trade_no = "jsapi" + Guid.NewGuid().ToString("N")[..20],
            notify_url = "https://example.com/n", amount = new { total = 1, currency = "CNY" }, payer,
        };
        foreach (var (payer, message) in new (object?, string)[] { (null, "payer.openid"), (new { openid = "oNeverIssuedByThisSandbox00000" }, "appid和openid不匹配") })
        {
            var body0 = JsonSerializer.Serialize(Order(payer));
            var ts = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var nonce = Guid.NewGuid().ToString("N");
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v3/pay/transactions/jsapi") { Content = new StringContent(body0, System.Text.Encoding.UTF8, "application/json") };
            request.Headers.TryAddWithoutValidation("Authorization", WeChatPaySignature.Authorization(hub.WeChat.MchId, nonce, ts, hub.WeChat.MerchantSerialNo,
                WeChatPaySignature.Sign(key, WeChatPaySignature.RequestMessage("POST", "/v3/pay/transactions/jsapi", ts, nonce, body0))));
            var r = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            var body = JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal("PARAM_ERROR", body.GetProperty("code").GetString());
            Assert.Contains(message, body.GetProperty("message").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task An_independent_npm_clients_jsapi_order_and_paySign_are_accepted_by_the_sandbox_bridge_and_its_h5_and_app_orders_answered()
    {
        // A WeChat user of the sandbox signs in to the merchant's official account (snsapi_base) and gets an openid.
        var cookies = new CookieContainer();
        using var user = new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false });
        var authorize = await user.GetAsync($"{hub.Sandbox.BaseUrl}/connect/oauth2/authorize?appid={hub.WeChat.AppId}&redirect_uri={Uri.EscapeDataString("https://shop.example.com/cb")}&response_type=code&scope=snsapi_base&state=s#wechat_redirect");
        var code = System.Web.HttpUtility.ParseQueryString(authorize.Headers.Location!.Query)["code"];
        var token = JsonDocument.Parse(await user.GetStringAsync(
            $"{hub.Sandbox.BaseUrl}/sns/oauth2/access_token?appid={hub.WeChat.AppId}&secret={hub.WeChat.AppSecret}&code={code}&grant_type=authorization_code")).RootElement;
        var openId = token.GetProperty("openid").GetString()!;
        var again = JsonDocument.Parse(await user.GetStringAsync(
            $"{hub.Sandbox.BaseUrl}/sns/oauth2/access_token?appid={hub.WeChat.AppId}&secret={hub.WeChat.AppSecret}&code={code}&grant_type=authorization_code")).RootElement;
        Assert.Equal(40029, again.GetProperty("errcode").GetInt32()); // a code is single use

        await E2eModules.EnsureInstalledAsync();
        var psi = E2eModules.WeChatPayClient("wechatpay-jsapi-interop.mjs", hub.Sandbox.BaseUrl, hub.WeChat);
        psi.Environment["WX_OPENID"] = openId;
        psi.Environment["WX_USER_COOKIE"] = cookies.GetCookieHeader(new Uri(hub.Sandbox.BaseUrl));
        psi.Environment["WX_MOBILE_APPID"] = hub.WeChat.MobileAppId;
        var (exitCode, stdout, stderr) = await E2eModules.RunNodeAsync(psi);

        Assert.True(exitCode == 0, stderr);
        var r = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;
        Assert.False(r.TryGetProperty("error", out var error), error.ToString());
        Assert.Equal("get_brand_wcpay_request:fail", r.GetProperty("tampered").GetString());
        Assert.Equal("get_brand_wcpay_request:ok", r.GetProperty("paid").GetString());
        var order = Assert.Single(hub.Sandbox.WeChat.InApp.OrdersByPrepay.Values, o => o.PrepayId == r.GetProperty("prepay_id").GetString());
        Assert.Equal(("JSAPI", "SUCCESS", openId), (order.TradeType, order.TradeState, order.PayerOpenId));

        // The sandbox's H5 and App answers, verified by the plugin: an h5_url to send the phone to, and an App prepay id.
        var h5Url = r.GetProperty("h5_url").GetString()!;
        Assert.Contains("/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=", h5Url, StringComparison.Ordinal);
        var h5 = Assert.Single(hub.Sandbox.WeChat.InApp.OrdersByPrepay.Values, o => h5Url.Contains("prepay_id=" + o.PrepayId + "&", StringComparison.Ordinal));
        Assert.Equal(("MWEB", "NOTPAY"), (h5.TradeType, h5.TradeState));
        var app = Assert.Single(hub.Sandbox.WeChat.InApp.OrdersByPrepay.Values, o => o.PrepayId == r.GetProperty("app_prepay_id").GetString());
        Assert.Equal(("APP", "NOTPAY"), (app.TradeType, app.TradeState));
    }

    [Fact]
    public async Task Capabilities_list_each_wallets_flows()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var caps = await m.GetAsync("/v1/capabilities");
        Assert.Equal(HttpStatusCode.OK, caps.Status);
        var wechat = caps.Json.GetProperty("data").EnumerateArray().Single(w => w.GetProperty("wallet").GetString() == "wechatpay");
        Assert.Equal(["native", "jsapi", "mini_program", "h5", "app", "payment_code"], wechat.GetProperty("flows").EnumerateArray().Select(f => f.GetString()!).ToArray());
        var alipay = caps.Json.GetProperty("data").EnumerateArray().Single(w => w.GetProperty("wallet").GetString() == "alipay");
        Assert.Equal(["native", "jsapi", "app", "payment_code"], alipay.GetProperty("flows").EnumerateArray().Select(f => f.GetString()!).ToArray());
        var unionpay = caps.Json.GetProperty("data").EnumerateArray().Single(w => w.GetProperty("wallet").GetString() == "unionpay");
        Assert.Equal(["native", "app", "payment_code"], unionpay.GetProperty("flows").EnumerateArray().Select(f => f.GetString()!).ToArray());
    }
}
