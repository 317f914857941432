using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Hutong.Connectors.WeChatPay;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox.WeChatPay;

namespace Hutong.Integration.Tests;

/// <summary>The sandbox speaks WeChat Pay v3 as the wallet does: checked with raw HTTP and with an independent npm client.</summary>
[Collection("sqlite")]
public sealed class SandboxProtocolTests(SqliteHub hub)
{
    private async Task<HttpResponseMessage> SendAsync(string method, string pathAndQuery, string body, Func<string, string, long, string, string, string> authorize)
    {
        var ts = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var nonce = Guid.NewGuid().ToString("N");
        using var key = RSA.Create();
        key.ImportFromPem(hub.WeChat.MerchantPrivateKeyPem);
        var signature = WeChatPaySignature.Sign(key, WeChatPaySignature.RequestMessage(method, pathAndQuery, ts, nonce, body));
        using var http = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
        var request = new HttpRequestMessage(new HttpMethod(method), pathAndQuery);
        if (method != "GET")
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        request.Headers.TryAddWithoutValidation("Authorization", authorize(hub.WeChat.MchId, nonce, ts, hub.WeChat.MerchantSerialNo, signature));
        return await http.SendAsync(request);
    }

    private string NativeBody(string outTradeNo, long total = 1) => JsonSerializer.Serialize(new
    {
        appid = hub.WeChat.AppId, mchid = hub.WeChat.MchId, description = "raw", out_trade_no = outTradeNo,
        notify_url = "https://example.com/n", amount = new { total, currency = "CNY" },
    });

    [Fact]
    public async Task Authorization_fields_are_accepted_in_any_order_and_responses_are_signed()
    {
        var r = await SendAsync("POST", "/v3/pay/transactions/native", NativeBody("raw" + Guid.NewGuid().ToString("N")[..20]),
            (mch, nonce, ts, serial, sig) => $"WECHATPAY2-SHA256-RSA2048 mchid=\"{mch}\",serial_no=\"{serial}\",timestamp=\"{ts}\",nonce_str=\"{nonce}\",signature=\"{sig}\"");
        var body = await r.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.StartsWith("{\"code_url\":\"weixin://wxpay/bizpayurl?pr=", body, StringComparison.Ordinal);

        var ts = r.Headers.GetValues("Wechatpay-Timestamp").Single();
        var nonce = r.Headers.GetValues("Wechatpay-Nonce").Single();
        var serial = r.Headers.GetValues("Wechatpay-Serial").Single();
        Assert.Equal(hub.Sandbox.WeChat.PublicKeyId, serial);
        Assert.True(r.Headers.Contains("Request-ID"));
        Assert.True(WeChatPaySignature.Verify(hub.Sandbox.WeChat.PlatformKey, WeChatPaySignature.ResponseMessage(ts, nonce, body), r.Headers.GetValues("Wechatpay-Signature").Single()));
    }

    private static string Ok(string mch, string nonce, long ts, string serial, string sig) =>
        WeChatPaySignature.Authorization(mch, nonce, ts, serial, sig);

    [Fact]
    public async Task A_refund_without_amount_currency_is_a_PARAM_ERROR_as_at_WeChat()
    {
        var without = JsonSerializer.Serialize(new { out_trade_no = "nope" + Guid.NewGuid().ToString("N")[..8], out_refund_no = "r1", amount = new { refund = 1, total = 1 } });
        var r = await SendAsync("POST", "/v3/refund/domestic/refunds", without, Ok);
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Contains("PARAM_ERROR", await r.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var with = JsonSerializer.Serialize(new { out_trade_no = "nope" + Guid.NewGuid().ToString("N")[..8], out_refund_no = "r1", amount = new { refund = 1, total = 1, currency = "CNY" } });
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync("POST", "/v3/refund/domestic/refunds", with, Ok)).StatusCode);
    }

    [Fact]
    public async Task A_partner_refund_query_for_a_sub_merchant_not_its_own_finds_nothing()
    {
        // Another direct merchant's refunded order: the provider naming that merchant as sub_mchid must not see it.
        var other = "1900" + RandomNumberGenerator.GetString("0123456789", 6);
        var order = new SandboxOrder
        {
            MchId = other, AppId = "wxother", OutTradeNo = "o" + Guid.NewGuid().ToString("N")[..12], Description = "x", Total = 1, Currency = "CNY",
            NotifyUrl = "https://example.com/n", CodeToken = Guid.NewGuid().ToString("N"), Fingerprint = "f", TradeState = "REFUND",
        };
        var refundNo = "rf" + Guid.NewGuid().ToString("N")[..12];
        order.Refunds[refundNo] = new SandboxRefund { OutRefundNo = refundNo, RefundId = "50" + refundNo, Amount = 1 };
        hub.Sandbox.WeChat.Orders[(other, order.OutTradeNo)] = order;

        var r = await SendAsync("GET", $"/v3/refund/domestic/refunds/{refundNo}?sub_mchid={other}", string.Empty, Ok);

        Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
    }

    [Fact]
    public async Task A_wrong_signature_gets_SIGN_ERROR_with_WeChats_body_shape()
    {
        var r = await SendAsync("POST", "/v3/pay/transactions/native", NativeBody("raw" + Guid.NewGuid().ToString("N")[..20]),
            (mch, nonce, ts, serial, sig) => WeChatPaySignature.Authorization(mch, nonce, ts, serial, Convert.ToBase64String(new byte[256])));
        Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
        var json = JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("SIGN_ERROR", json.GetProperty("code").GetString());
        Assert.Equal("签名错误，请检查后再试", json.GetProperty("message").GetString());
        var detail = json.GetProperty("detail");
        Assert.Equal("signature", detail.GetProperty("field").GetString());
        Assert.Equal("authorization", detail.GetProperty("location").GetString());
        Assert.Equal("POST", detail.GetProperty("sign_information").GetProperty("method").GetString());
        Assert.Equal("/v3/pay/transactions/native", detail.GetProperty("sign_information").GetProperty("url").GetString());
    }

    [Fact]
    public async Task A_stale_timestamp_is_a_SIGN_ERROR_even_with_a_valid_signature()
    {
        var r = await SendAsync("GET", $"/v3/pay/transactions/out-trade-no/whatever?mchid={hub.WeChat.MchId}", string.Empty, (mch, nonce, ts, serial, _) =>
        {
            var old = ts - 400;
            using var key = RSA.Create();
            key.ImportFromPem(hub.WeChat.MerchantPrivateKeyPem);
            var sig = WeChatPaySignature.Sign(key, WeChatPaySignature.RequestMessage("GET", $"/v3/pay/transactions/out-trade-no/whatever?mchid={mch}", old, nonce, string.Empty));
            return WeChatPaySignature.Authorization(mch, nonce, old, serial, sig);
        });
        Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
        Assert.Contains("timestamp expired", await r.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_parameters_get_PARAM_ERROR_and_missing_orders_ORDER_NOT_EXIST()
    {
        var ok = (string mch, string nonce, long ts, string serial, string sig) => WeChatPaySignature.Authorization(mch, nonce, ts, serial, sig);
        var bad = await SendAsync("POST", "/v3/pay/transactions/native", NativeBody("x"), ok); // out_trade_no too short
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("PARAM_ERROR", JsonDocument.Parse(await bad.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());

        var missing = await SendAsync("GET", $"/v3/pay/transactions/out-trade-no/nosuchorder1?mchid={hub.WeChat.MchId}", string.Empty, ok);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("ORDER_NOT_EXIST", JsonDocument.Parse(await missing.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());

        var no = "raw" + Guid.NewGuid().ToString("N")[..20];
        Assert.Equal(HttpStatusCode.OK, (await SendAsync("POST", "/v3/pay/transactions/native", NativeBody(no, 1), ok)).StatusCode);
        var reused = await SendAsync("POST", "/v3/pay/transactions/native", NativeBody(no, 2), ok);
        Assert.Equal(HttpStatusCode.Forbidden, reused.StatusCode);
        Assert.Equal("OUT_TRADE_NO_USED", JsonDocument.Parse(await reused.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Notifications_follow_WeChats_retry_schedule_in_order()
    {
        Assert.Equal(
            [15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600],
            WeChatSandboxNotifier.RetrySchedule.Select(t => (int)t.TotalSeconds));
        Assert.Equal(TimeSpan.FromHours(24) + TimeSpan.FromMinutes(4), WeChatSandboxNotifier.RetrySchedule.Aggregate(TimeSpan.Zero, (a, b) => a + b));
        await Task.CompletedTask;
    }

    [Fact]
    public async Task An_independent_npm_WeChat_Pay_client_works_against_the_sandbox()
    {
        var order = new SandboxOrder
        {
            MchId = hub.WeChat.MchId, AppId = hub.WeChat.AppId, OutTradeNo = "interopnotify1", Description = "n", Total = 1, Currency = "CNY",
            NotifyUrl = "https://example.com/n", CodeToken = "t", Fingerprint = "f", TradeState = "SUCCESS", TransactionId = "4200000000000000000000000001",
        };
        using var n = hub.Sandbox.WeChatNotifier.BuildRequest(order, "interop-1");
        var notificationFile = Path.GetTempFileName();
        await File.WriteAllTextAsync(notificationFile, JsonSerializer.Serialize(new
        {
            timestamp = n.Headers.GetValues("Wechatpay-Timestamp").Single(),
            nonce = n.Headers.GetValues("Wechatpay-Nonce").Single(),
            signature = n.Headers.GetValues("Wechatpay-Signature").Single(),
            body = await n.Content!.ReadAsStringAsync(),
        }));

        await E2eModules.EnsureInstalledAsync();
        var psi = E2eModules.WeChatPayClient("wechatpay-interop.mjs", hub.Sandbox.BaseUrl, hub.WeChat);
        psi.Environment["WX_APIV3_KEY"] = hub.WeChat.ApiV3Key;
        psi.Environment["WX_NOTIFICATION_FILE"] = notificationFile;
        var (exitCode, stdout, stderr) = await E2eModules.RunNodeAsync(psi);
        File.Delete(notificationFile);

        Assert.True(exitCode == 0, stderr);
        var r = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;
        Assert.False(r.TryGetProperty("error", out var error), error.ToString());
        Assert.StartsWith("weixin://wxpay/bizpayurl?pr=", r.GetProperty("code_url").GetString(), StringComparison.Ordinal);
        Assert.Equal("NOTPAY", r.GetProperty("trade_state").GetString());
        Assert.Equal(204, r.GetProperty("close_status").GetInt32());
        Assert.Equal("CLOSED", r.GetProperty("trade_state_after_close").GetString());
        Assert.Equal(404, r.GetProperty("missing_status").GetInt32());
        Assert.Equal("ORDER_NOT_EXIST", r.GetProperty("missing_code").GetString());
        Assert.True(r.GetProperty("notification_signature_ok").GetBoolean());
        Assert.Equal("SUCCESS", r.GetProperty("notification_trade_state").GetString());
        _ = CultureInfo.InvariantCulture;
    }
}
