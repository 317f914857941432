using System.Net;
using System.Text.Json;
using System.Web;
using Dapper;
using Hutong.Connectors.Alipay;
using Hutong.Integration.Tests.Infrastructure;

namespace Hutong.Integration.Tests;

/// <summary>
/// Alipay's in-app flows over HTTP, on both stores: app pay (confirm with flow app answers the signed
/// alipay.trade.app.pay order string, which the sandbox's Alipay app verifies and pays; a tampered one pays nothing;
/// the same one twice charges once) and the auth_base OAuth round trip inside Alipay (a forged, another browser's or
/// replayed callback changes nothing and spends no auth_code).
/// </summary>
public abstract class AlipayInAppTests(HubFixture hub)
{
    public const string AlipayUa = "Mozilla/5.0 (Linux; U; Android 13; zh-CN; V2227A) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/69.0.3497.100 UWS/3.22.2.59 Mobile Safari/537.36 UCBS/3.22.2.59_230817113410 ChannelId(0) NebulaSDK/1.8.100112 Nebula AlipayDefined(nt:WIFI,ws:393|0|2.75) AliApp(AP/10.5.36.8100) AlipayClient/10.5.36.8100 Language/zh-Hans";

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

    private static Dictionary<string, string> ParseOrderString(string s) =>
        s.Split('&').Select(pair => pair.Split('=', 2)).ToDictionary(kv => Uri.UnescapeDataString(kv[0]), kv => Uri.UnescapeDataString(kv[1]), StringComparer.Ordinal);

    private static string OrderString(Dictionary<string, string> p) => string.Join('&', p.Select(kv => $"{kv.Key}={Uri.EscapeDataString(kv.Value)}"));

    /// <summary>The sandbox's Alipay app receiving the order string from the merchant's app (payV2), as this phone's buyer.</summary>
    private async Task<JsonElement> AppPaysAsync(Phone phone, string orderString)
    {
        var r = await phone.Http.PostAsync($"{hub.Sandbox.BaseUrl}/sandbox/alipay/app/pay", new FormUrlEncodedContent([new("order_string", orderString)]));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        return JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    [Fact]
    public async Task An_app_confirm_answers_a_signed_order_string_that_the_Alipay_app_pays_once_and_a_tampered_one_pays_nothing()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(990);
        var r = await m.PostAsync($"/v1/payments/{id}/confirm", new { wallet = "alipay", flow = "app" });
        Assert.True(r.Status == HttpStatusCode.OK, r.ToString());
        Assert.Equal("pending", r.Str("status"));
        var action = r.Json.GetProperty("next_action");
        Assert.Equal("app_pay", action.GetProperty("type").GetString());
        var orderString = action.GetProperty("params").GetProperty("order_string").GetString()!;
        Assert.Equal("app", await hub.Db.ReadAsync(c => c.ExecuteScalarAsync<string>("SELECT flow FROM payment_attempts WHERE payment_id = @id", new { id }), default));
        Assert.DoesNotContain(hub.Sandbox.Alipay.Orders.Values, o => o.PassbackParams == id); // no server call: the app places the order

        // alipay.trade.app.pay's order string: the common parameters and biz_content (product_code QUICK_MSECURITY_PAY), signed.
        var p = ParseOrderString(orderString);
        Assert.Equal(("alipay.trade.app.pay", hub.Alipay.AppId, "RSA2", "utf-8"), (p["method"], p["app_id"], p["sign_type"], p["charset"]));
        var biz = JsonDocument.Parse(p["biz_content"]).RootElement;
        Assert.Equal(("QUICK_MSECURITY_PAY", "9.90", id), (biz.GetProperty("product_code").GetString(), biz.GetProperty("total_amount").GetString(), biz.GetProperty("passback_params").GetString()));
        Assert.Contains("/notify/", p["notify_url"], StringComparison.Ordinal);

        using var phone = new Phone(AlipayInAppTests.AlipayUa);
        // Tampered after signing (the amount lowered): the Alipay app refuses it and nothing is paid.
        var tampered = new Dictionary<string, string>(p) { ["biz_content"] = p["biz_content"].Replace("\"9.90\"", "\"0.01\"", StringComparison.Ordinal) };
        Assert.Equal("4000", (await AppPaysAsync(phone, OrderString(tampered))).GetProperty("resultStatus").GetString());
        Assert.DoesNotContain(hub.Sandbox.Alipay.Orders.Values, o => o.PassbackParams == id);

        var paid = await AppPaysAsync(phone, orderString);
        Assert.Equal("9000", paid.GetProperty("resultStatus").GetString());
        Assert.Contains("alipay_trade_app_pay_response", paid.GetProperty("result").GetString(), StringComparison.Ordinal);
        var done = await m.WaitForStatusAsync(id, "succeeded");

        // The buyer's open_id stays in the hub: the payment carries a pseudonym.
        var order = Assert.Single(hub.Sandbox.Alipay.Orders.Values, o => o.PassbackParams == id);
        Assert.Equal(("QUICK_MSECURITY_PAY", "TRADE_SUCCESS"), (order.ProductCode, order.TradeStatus));
        await hub.AssertPayerAsync(done, "alipay", order.BuyerOpenId!); // the hub's keyed pseudonym, as for every wallet
        Assert.DoesNotContain(order.BuyerOpenId!, done.Body, StringComparison.Ordinal);

        // The same order string again: already paid, no second charge.
        Assert.Equal("4000", (await AppPaysAsync(phone, orderString)).GetProperty("resultStatus").GetString());
        Assert.Single(hub.Sandbox.Alipay.Orders.Values, o => o.PassbackParams == id);
        Assert.Equal(990, order.TotalFen);
    }

    [Fact]
    public async Task An_app_order_string_is_refused_when_signed_with_another_key()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(500);
        var p = ParseOrderString((await m.PostAsync($"/v1/payments/{id}/confirm", new { wallet = "alipay", flow = "app" })).Json
            .GetProperty("next_action").GetProperty("params").GetProperty("order_string").GetString()!);
        using var other = System.Security.Cryptography.RSA.Create(2048);
        p["sign"] = AlipaySignature.Sign(other, AlipaySignature.Content(p!));
        using var phone = new Phone(AlipayUa);
        var answer = await AppPaysAsync(phone, OrderString(p));
        Assert.Equal("4000", answer.GetProperty("resultStatus").GetString());
        Assert.Contains("invalid-signature", answer.GetProperty("memo").GetString(), StringComparison.Ordinal);
        Assert.Equal("pending", (await m.GetAsync($"/v1/payments/{id}")).Str("status"));
    }

    /// <summary>Opens the cashier inside Alipay and follows Alipay's silent auth_base authorize: the hub's callback URL (auth_code and state).</summary>
    private static async Task<Uri> CallbackFromAlipayAsync(Phone phone, string checkout)
    {
        var toAlipay = await phone.Http.GetAsync(checkout);
        Assert.Equal(HttpStatusCode.Redirect, toAlipay.StatusCode);
        var authorize = toAlipay.Headers.Location!;
        Assert.Contains("/oauth2/publicAppAuthorize.htm?", authorize.ToString(), StringComparison.Ordinal);
        Assert.Contains("scope=auth_base", authorize.ToString(), StringComparison.Ordinal);
        var back = await phone.Http.GetAsync(authorize);
        Assert.Equal(HttpStatusCode.Redirect, back.StatusCode);
        return back.Headers.Location!;
    }

    private static string WithState(Uri callback, string state)
    {
        var q = HttpUtility.ParseQueryString(callback.Query);
        q["state"] = state;
        return new UriBuilder(callback) { Query = q.ToString() }.Uri.ToString();
    }

    [Fact]
    public async Task Inside_Alipay_the_OAuth_callback_is_used_once_and_a_forged_foreign_or_replayed_state_changes_nothing()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var checkout = (await m.GetAsync($"/v1/payments/{await m.CreatePaymentAsync(1200)}")).Str("checkout_url");
        using var phone = new Phone(AlipayUa);
        var callback = await CallbackFromAlipayAsync(phone, checkout);
        var q = HttpUtility.ParseQueryString(callback.Query);
        Assert.Equal(("alipay_wallet", hub.Alipay.AppId), (q["source"], q["app_id"]));
        var authCode = q["auth_code"]!;
        var parts = q["state"]!.Split('.');
        var before = await hub.CountAsync("SELECT COUNT(*) FROM wallet_payers");

        // Forged (a later expiry under the same mac) and another browser's: refused before the auth_code is spent.
        Assert.Equal(HttpStatusCode.BadRequest, (await phone.Http.GetAsync(WithState(callback, $"{parts[0]}.{long.Parse(parts[1]) + 1}.{parts[2]}"))).StatusCode);
        using (var other = new Phone(AlipayUa))
        {
            await other.Http.GetAsync(checkout); // its own payer session
            Assert.Equal(HttpStatusCode.BadRequest, (await other.Http.GetAsync(callback)).StatusCode);
        }

        Assert.True(hub.Sandbox.Alipay.InApp.AuthCodes.ContainsKey(authCode));
        Assert.Equal(before, await hub.CountAsync("SELECT COUNT(*) FROM wallet_payers"));

        // The genuine callback exchanges the auth_code (alipay.system.oauth.token) once and goes back to the cashier.
        var ok = await phone.Http.GetAsync(callback);
        Assert.Equal(HttpStatusCode.Redirect, ok.StatusCode);
        Assert.Equal(new Uri(checkout).AbsolutePath, ok.Headers.Location!.ToString());
        Assert.False(hub.Sandbox.Alipay.InApp.AuthCodes.ContainsKey(authCode));
        Assert.Equal(before + 1, await hub.CountAsync("SELECT COUNT(*) FROM wallet_payers"));

        // Replayed: refused.
        Assert.Equal(HttpStatusCode.BadRequest, (await phone.Http.GetAsync(callback)).StatusCode);
        Assert.Equal(before + 1, await hub.CountAsync("SELECT COUNT(*) FROM wallet_payers"));

        // Signed in: the cashier no longer sends the buyer to Alipay's OAuth.
        Assert.Equal(HttpStatusCode.OK, (await phone.Http.GetAsync(checkout)).StatusCode);
    }
}

[Collection("sqlite")]
public sealed class AlipayInAppTests_Sqlite(SqliteHub hub) : AlipayInAppTests(hub);

[Collection("postgres")]
public sealed class AlipayInAppTests_Postgres(PostgresHub hub) : AlipayInAppTests(hub);
