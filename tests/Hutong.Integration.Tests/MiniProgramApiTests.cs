using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dapper;
using Hutong.Connectors.WeChatPay;
using Hutong.Integration.Tests.Infrastructure;

namespace Hutong.Integration.Tests;

/// <summary>
/// The merchant API a mini-program or app back end calls: POST /v1/wallet_payers exchanges a wx.login code (sandbox
/// jscode2session) for an opaque payer handle, and POST /v1/payments/{id}/confirm with flow mini_program / app answers
/// the signed wx.requestPayment / app SDK parameters. The openid never leaves the hub except to the wallet.
/// </summary>
public abstract class MiniProgramApiTests(HubFixture hub)
{
    /// <summary>wx.login inside the merchant's mini-program, as a sandbox WeChat user (the bridge's cookie is that user).</summary>
    private async Task<string> WxLoginAsync(string user)
    {
        using var http = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
        var r = await http.PostAsync($"/sandbox/wechatpay/mini_program/login?appid={hub.WeChat.MiniProgramAppId}&user={user}", null);
        Assert.True(r.IsSuccessStatusCode, await r.Content.ReadAsStringAsync());
        return JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString()!;
    }

    private static string NewUser() => "mp" + Guid.NewGuid().ToString("N");

    private string OpenIdOf(string user) => hub.Sandbox.WeChat.InApp.OpenIdFor(hub.WeChat.MiniProgramAppId!, user);

    private static Task<ApiResponse> NewPayerAsync(ApiClient m, string code, string? idempotencyKey = "new") =>
        m.PostAsync("/v1/wallet_payers", new { wallet = "wechatpay", mini_program_code = code }, idempotencyKey);

    private static void AssertProblem(ApiResponse r, HttpStatusCode status, string? code, string param)
    {
        Assert.True(r.Status == status, r.ToString());
        if (code is not null)
        {
            Assert.Equal(code, r.Str("code"));
        }

        Assert.Equal(param, r.Str("param"));
    }

    private Task<long> AttemptsAsync(string id) => hub.Db.ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM payment_attempts WHERE payment_id = @id", new { id }), default);

    private bool Verifies(string message, string signature) =>
        hub.Sandbox.WeChat.Merchants[hub.WeChat.MchId].PublicKey.VerifyData(
            Encoding.UTF8.GetBytes(message), Convert.FromBase64String(signature), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);

    [Fact]
    public async Task A_mini_program_buyer_logs_in_gets_a_handle_and_pays_with_the_signed_params_and_the_openid_never_leaves_the_hub()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var path = "/hooks/" + Guid.NewGuid().ToString("N");
        Assert.Equal(HttpStatusCode.Created, (await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url(path) })).Status);
        var user = NewUser();
        var openId = OpenIdOf(user);

        var payer = await NewPayerAsync(m, await WxLoginAsync(user));
        Assert.True(payer.Status == HttpStatusCode.Created, payer.ToString());
        Assert.Equal("wallet_payer", payer.Str("object"));
        Assert.Equal("wechatpay", payer.Str("wallet"));
        Assert.StartsWith("wxp_", payer.Str("id"), StringComparison.Ordinal);
        Assert.True(payer.Json.TryGetProperty("expires_at", out _));
        Assert.DoesNotContain(openId, payer.Body, StringComparison.Ordinal);

        var id = await m.CreatePaymentAsync(2650);
        var confirm = new { wallet = "wechatpay", flow = "mini_program", payer = payer.Str("id") };
        var pending = await m.PostAsync($"/v1/payments/{id}/confirm", confirm);
        Assert.True(pending.Status == HttpStatusCode.OK, pending.ToString());
        Assert.Equal("pending", pending.Str("status"));
        Assert.DoesNotContain(openId, pending.Body, StringComparison.Ordinal);
        var action = pending.Json.GetProperty("next_action");
        Assert.Equal("mini_program_pay", action.GetProperty("type").GetString());
        Assert.False(action.TryGetProperty("code_url", out _));
        var p = action.GetProperty("params");
        string P(string name) => p.GetProperty(name).GetString()!;
        Assert.Equal("RSA", P("signType"));
        Assert.StartsWith("prepay_id=", P("package"), StringComparison.Ordinal);
        Assert.False(p.TryGetProperty("appId", out _)); // wx.requestPayment takes none: the mini-program is the app

        // The paySign is the merchant's RSA-SHA256 over appId\ntimeStamp\nnonceStr\npackage\n with the mini-program's app id.
        var signed = WeChatPayConnector.JsapiPayMessage(hub.WeChat.MiniProgramAppId!, P("timeStamp"), P("nonceStr"), P("package"));
        Assert.True(Verifies(signed, P("paySign")));

        // The order was placed for this buyer's openid, with the flow on the attempt: a re-send is the same order.
        var order = hub.Sandbox.WeChat.InApp.OrdersByPrepay[P("package")["prepay_id=".Length..]];
        Assert.Equal(openId, order.OrderedFor);
        Assert.Equal(hub.WeChat.MiniProgramAppId, order.AppId);
        Assert.Equal("mini_program", await hub.Db.ReadAsync(c => c.ExecuteScalarAsync<string>("SELECT flow FROM payment_attempts WHERE payment_id = @id", new { id }), default));
        var again = await m.PostAsync($"/v1/payments/{id}/confirm", confirm);
        Assert.Equal(P("package"), again.Json.GetProperty("next_action").GetProperty("params").GetProperty("package").GetString());
        Assert.Equal(1, await AttemptsAsync(id));

        // wx.requestPayment, played by the sandbox's bridge: it checks the paySign with the merchant's key and that the
        // WeChat user is the one the order was placed for; then the buyer pays.
        using var phone = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
        using var pay = new HttpRequestMessage(HttpMethod.Post, "/sandbox/wechat/bridge/pay")
        {
            Content = new StringContent(JsonSerializer.Serialize(new Dictionary<string, string>
            {
                ["appId"] = hub.WeChat.MiniProgramAppId!, ["timeStamp"] = P("timeStamp"), ["nonceStr"] = P("nonceStr"),
                ["package"] = P("package"), ["signType"] = P("signType"), ["paySign"] = P("paySign"),
            }), Encoding.UTF8, "application/json"),
        };
        pay.Headers.Add("Cookie", $"sandbox_wx_user={user}");
        var paid = JsonDocument.Parse(await (await phone.SendAsync(pay)).Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("get_brand_wcpay_request:ok", paid.GetProperty("err_msg").GetString());

        var done = await m.WaitForStatusAsync(id, "succeeded");
        Assert.DoesNotContain(openId, done.Body, StringComparison.Ordinal);
        var hooks = await hub.EventuallyAsync(
            () => Task.FromResult(hub.Receiver.Deliveries.Where(d => d.Path == path && d.Body.Contains("payment.succeeded", StringComparison.Ordinal)).ToList()),
            l => l.Count > 0, what: "payment.succeeded webhook");
        Assert.Contains(id, hooks[0].Body, StringComparison.Ordinal);
        Assert.All(hub.Receiver.Deliveries.Where(d => d.Path == path), d => Assert.DoesNotContain(openId, d.Body, StringComparison.Ordinal));
        Assert.DoesNotContain(openId, hub.Logs.All(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_app_confirm_answers_app_params_whose_sign_verifies()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(990);
        var r = await m.PostAsync($"/v1/payments/{id}/confirm", new { wallet = "wechatpay", flow = "app" });
        Assert.True(r.Status == HttpStatusCode.OK, r.ToString());
        var action = r.Json.GetProperty("next_action");
        Assert.Equal("app_pay", action.GetProperty("type").GetString());
        var p = action.GetProperty("params");
        string P(string name) => p.GetProperty(name).GetString()!;
        Assert.Equal(hub.WeChat.MobileAppId, P("appid"));
        Assert.Equal(hub.WeChat.MchId, P("partnerid"));
        Assert.Equal("Sign=WXPay", P("package"));
        Assert.True(Verifies(WeChatPayConnector.AppPayMessage(P("appid"), P("timestamp"), P("noncestr"), P("prepayid")), P("sign")));
        Assert.False(Verifies(WeChatPayConnector.AppPayMessage(P("appid"), P("timestamp"), P("noncestr") + "x", P("prepayid")), P("sign")));
        Assert.Equal("APP", hub.Sandbox.WeChat.InApp.OrdersByPrepay[P("prepayid")].TradeType);
        Assert.Equal("app", await hub.Db.ReadAsync(c => c.ExecuteScalarAsync<string>("SELECT flow FROM payment_attempts WHERE payment_id = @id", new { id }), default));
    }

    [Fact]
    public async Task A_reused_or_malformed_code_is_refused_and_nothing_is_stored()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var code = await WxLoginAsync(NewUser());
        Assert.Equal(HttpStatusCode.Created, (await NewPayerAsync(m, code)).Status);
        var before = await hub.CountAsync("SELECT COUNT(*) FROM wallet_payers");

        AssertProblem(await NewPayerAsync(m, code), (HttpStatusCode)422, "mini_program_code_invalid", "mini_program_code");
        AssertProblem(await NewPayerAsync(m, "nosuchcode0000000000000000000000"), (HttpStatusCode)422, "mini_program_code_invalid", "mini_program_code");
        AssertProblem(await NewPayerAsync(m, "bad code!"), HttpStatusCode.BadRequest, null, "mini_program_code");
        AssertProblem(await m.PostAsync("/v1/wallet_payers", new { wallet = "wechatpay" }), HttpStatusCode.BadRequest, null, "mini_program_code");
        AssertProblem(await m.PostAsync("/v1/wallet_payers", new { wallet = "nopay", mini_program_code = "abc" }), HttpStatusCode.BadRequest, null, "wallet");
        AssertProblem(await m.PostAsync("/v1/wallet_payers", new { wallet = "unionpay", mini_program_code = "abc" }), (HttpStatusCode)422, "flow_not_available", "wallet");
        Assert.Equal(before, await hub.CountAsync("SELECT COUNT(*) FROM wallet_payers"));
    }

    [Fact]
    public async Task A_handle_of_another_merchant_an_unknown_flow_or_a_missing_payer_is_refused_before_any_order()
    {
        var (a, _, _) = await hub.NewMerchantAsync();
        var (b, _, _) = await hub.NewMerchantAsync();
        var handle = (await NewPayerAsync(a, await WxLoginAsync(NewUser()))).Str("id");
        var id = await b.CreatePaymentAsync(1500);
        Task<ApiResponse> Confirm(object body) => b.PostAsync($"/v1/payments/{id}/confirm", body);

        AssertProblem(await Confirm(new { wallet = "wechatpay", flow = "mini_program", payer = handle }), (HttpStatusCode)422, "wallet_payer_not_found", "payer");
        AssertProblem(await Confirm(new { wallet = "wechatpay", flow = "mini_program", payer = "wxp_" + new string('x', 22) }), (HttpStatusCode)422, "wallet_payer_not_found", "payer");
        AssertProblem(await Confirm(new { wallet = "wechatpay", flow = "mini_program" }), HttpStatusCode.BadRequest, null, "payer");
        AssertProblem(await Confirm(new { wallet = "wechatpay", flow = "mini_program", payer = "o-an-openid" }), HttpStatusCode.BadRequest, null, "payer");
        AssertProblem(await Confirm(new { wallet = "wechatpay", flow = "jsapi" }), HttpStatusCode.BadRequest, null, "flow");
        AssertProblem(await Confirm(new { wallet = "wechatpay", flow = "teleport" }), HttpStatusCode.BadRequest, null, "flow");
        AssertProblem(await Confirm(new { wallet = "unionpay", flow = "mini_program", payer = handle }), (HttpStatusCode)422, "flow_not_available", "flow");
        AssertProblem(await Confirm(new { wallet = "wechatpay", flow = "app", payer = handle }), HttpStatusCode.BadRequest, null, "payer");
        AssertProblem(await Confirm(new { wallet = "wechatpay", payer = handle }), HttpStatusCode.BadRequest, null, "payer");
        Assert.Equal(0, await AttemptsAsync(id));
        Assert.Equal("created", (await b.GetAsync($"/v1/payments/{id}")).Str("status"));

        // The handle's own merchant may use it.
        var own = await a.CreatePaymentAsync(1500);
        var ok = await a.PostAsync($"/v1/payments/{own}/confirm", new { wallet = "wechatpay", flow = "mini_program", payer = handle });
        Assert.True(ok.Status == HttpStatusCode.OK, ok.ToString());
    }

    [Fact]
    public async Task Another_buyers_handle_gets_its_own_order_and_an_expired_handle_is_refused()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var (first, second) = (NewUser(), NewUser());
        var handles = new List<string>();
        foreach (var user in new[] { first, second })
        {
            handles.Add((await NewPayerAsync(m, await WxLoginAsync(user))).Str("id"));
        }

        var id = await m.CreatePaymentAsync(4200);
        string Prepay(ApiResponse r) => r.Json.GetProperty("next_action").GetProperty("params").GetProperty("package").GetString()!["prepay_id=".Length..];
        var one = await m.PostAsync($"/v1/payments/{id}/confirm", new { wallet = "wechatpay", flow = "mini_program", payer = handles[0] });
        Assert.True(one.Status == HttpStatusCode.OK, one.ToString());

        // The second buyer's order is theirs: a re-send of the first buyer's order would be paid by nobody (WeChat checks the user).
        var two = await m.PostAsync($"/v1/payments/{id}/confirm", new { wallet = "wechatpay", flow = "mini_program", payer = handles[1] });
        Assert.True(two.Status == HttpStatusCode.OK, two.ToString());
        Assert.NotEqual(Prepay(one), Prepay(two));
        Assert.Equal(OpenIdOf(second), hub.Sandbox.WeChat.InApp.OrdersByPrepay[Prepay(two)].OrderedFor);
        Assert.Equal("CLOSED", hub.Sandbox.WeChat.InApp.OrdersByPrepay[Prepay(one)].TradeState); // the first order can no longer take money
        Assert.Equal(2, await AttemptsAsync(id));

        await hub.Db.WriteAsync((c, t) => c.ExecuteAsync("UPDATE wallet_payers SET expires_at = 0 WHERE handle = @h", new { h = handles[0] }, t), default);
        AssertProblem(await m.PostAsync($"/v1/payments/{id}/confirm", new { wallet = "wechatpay", flow = "mini_program", payer = handles[0] }),
            (HttpStatusCode)422, "wallet_payer_not_found", "payer");
        Assert.Equal(2, await AttemptsAsync(id));
    }

    [Fact]
    public async Task An_Idempotency_Key_replay_answers_the_same_handle_and_the_same_params()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var code = await WxLoginAsync(NewUser());
        var key = Guid.NewGuid().ToString();
        var first = await NewPayerAsync(m, code, key);
        var replay = await NewPayerAsync(m, code, key); // the code is spent at WeChat: only the stored answer can say this
        Assert.Equal(HttpStatusCode.Created, replay.Status);
        Assert.Equal(first.Body, replay.Body);

        var id = await m.CreatePaymentAsync(777);
        var confirmKey = Guid.NewGuid().ToString();
        var body = new { wallet = "wechatpay", flow = "mini_program", payer = first.Str("id") };
        var one = await m.PostAsync($"/v1/payments/{id}/confirm", body, confirmKey);
        var two = await m.PostAsync($"/v1/payments/{id}/confirm", body, confirmKey);
        Assert.Equal(HttpStatusCode.OK, one.Status);
        Assert.Equal(one.Body, two.Body);
        Assert.Equal(1, await AttemptsAsync(id));
    }
}

[Collection("sqlite")]
public sealed class MiniProgramApiTests_Sqlite(SqliteHub hub) : MiniProgramApiTests(hub);

[Collection("postgres")]
public sealed class MiniProgramApiTests_Postgres(PostgresHub hub) : MiniProgramApiTests(hub);
