using System.Net;
using System.Security.Cryptography;
using Hutong.Connectors.Abstractions;
using Hutong.Connectors.Alipay;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Demo;
using Microsoft.Extensions.Logging.Abstractions;

namespace Hutong.Integration.Tests;

/// <summary>Alipay behind the same API: precreate QR, RSA2 notifications, re-query, close, page/wap pay, ISV tokens.</summary>
public abstract class AlipayFlowTests(HubFixture hub)
{
    private async Task<(ApiClient M, string Id, string QrCode)> PendingAsync(long amount = 2599)
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(amount);
        var confirm = await m.ConfirmAsync(id, wallet: "alipay");
        Assert.Equal("pending", confirm.Str("status"));
        Assert.Equal("alipay", confirm.Str("wallet"));
        return (m, id, confirm.Json.GetProperty("next_action").GetProperty("code_url").GetString()!);
    }

    [Fact]
    public async Task Alipay_notifications_are_answered_with_exactly_success_or_failure()
    {
        // The rest of a payment's life (pay, forged/duplicate notifications, timeouts, cancel, refunds, bill) is the wallet
        // contract (Contract/WalletContract.cs); this is Alipay's own wire format.
        var (m, id, qr) = await PendingAsync(2599);
        Assert.StartsWith("https://qr.alipay.com/", qr, StringComparison.Ordinal);
        var order = hub.Sandbox.Alipay.OrdersByQr[qr["https://qr.alipay.com/".Length..]];
        Assert.Equal(2599, order.TotalFen); // "25.99" on the wire, fen again here
        Assert.Equal(id, order.PassbackParams);
        hub.Sandbox.Alipay.Faults.Inject("notify", SandboxFault.DropNotification, 1, match: id);
        Assert.Equal(HttpStatusCode.OK, (await hub.AlipayBuyerPaysAsync(qr, "2088000000000042")).StatusCode);
        using var http = new HttpClient { BaseAddress = new Uri(hub.Hub.BaseUrl) };

        var forged = hub.Sandbox.AlipayNotifier.BuildForm(order, "forged-1");
        using var someoneElse = RSA.Create(2048);
        forged["sign"] = AlipaySignature.Sign(someoneElse, AlipaySignature.Content(forged!, true, "sign_type"));
        var refused = await http.PostAsync("/notify/alipay", new FormUrlEncodedContent(forged));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal("failure", await refused.Content.ReadAsStringAsync());

        // The genuine one, even sent twice, is answered with the exact body Alipay looks for.
        var genuine = hub.Sandbox.AlipayNotifier.BuildForm(order, "genuine-1");
        Assert.Equal("success", await (await http.PostAsync("/notify/alipay", new FormUrlEncodedContent(genuine))).Content.ReadAsStringAsync());
        Assert.Equal("success", await (await http.PostAsync("/notify/alipay", new FormUrlEncodedContent(genuine))).Content.ReadAsStringAsync());
        var done = await m.WaitForStatusAsync(id, "succeeded");
        await hub.AssertPayerAsync(done, "alipay", "2088000000000042");
    }

    [Fact]
    public async Task Alipay_resends_until_it_reads_exactly_success()
    {
        Assert.Equal([240, 600, 600, 3600, 7200, 21600, 54000], Hutong.Sandbox.Alipay.AlipaySandboxNotifier.RetrySchedule.Select(t => (int)t.TotalSeconds));
        var (m, id, qr) = await PendingAsync();
        var order = hub.Sandbox.Alipay.OrdersByQr[qr["https://qr.alipay.com/".Length..]];
        var real = order.NotifyUrl;
        order.NotifyUrl = hub.Receiver.Url("/not-the-hub"); // answers 204 with no body: not "success"
        await hub.AlipayBuyerPaysAsync(qr);
        await hub.EventuallyAsync(() => Task.FromResult(hub.Sandbox.Alipay.NotificationLog.Count(n => n.OutTradeNo == order.OutTradeNo)), n => n >= 2, what: "two unacknowledged deliveries");
        order.NotifyUrl = real;
        await m.WaitForStatusAsync(id, "succeeded", TimeSpan.FromSeconds(20));
        // The wallet kept resending after the 204s (not "success"); the hub's own answer (200 "success") ends it. The
        // sandbox logs a delivery once it has read the answer, which may come after the status changed.
        var log = await hub.EventuallyAsync(() => Task.FromResult(hub.Sandbox.Alipay.NotificationLog.Where(n => n.OutTradeNo == order.OutTradeNo).ToList()),
            l => l.Any(n => n.HttpStatus == 200), TimeSpan.FromSeconds(20), what: "a delivery the hub acknowledged");
        Assert.True(log.Count(n => n.HttpStatus == 204) >= 2);
        await Task.Delay(500);
        Assert.Equal(200, hub.Sandbox.Alipay.NotificationLog.Last(n => n.OutTradeNo == order.OutTradeNo).HttpStatus); // nothing resent after "success"
    }

    [Fact]
    public async Task A_close_with_an_unknown_outcome_is_settled_by_alipay_trade_cancel()
    {
        var (m, id, qr) = await PendingAsync();
        hub.Sandbox.Alipay.Faults.Inject("close", SandboxFault.ServerError, 1, match: id); // 20000: the close's outcome is open

        Assert.Equal("canceled", (await m.PostAsync($"/v1/payments/{id}/cancel")).Str("status"));
        Assert.Equal("TRADE_CLOSED", hub.Sandbox.Alipay.OrdersByQr[qr["https://qr.alipay.com/".Length..]].TradeStatus);
    }

    [Fact]
    public async Task A_business_rejection_fails_the_attempt_with_the_sub_code()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync();
        hub.Sandbox.Alipay.Faults.Inject("precreate", SandboxFault.ParamError, 1, match: id);
        var r = await m.ConfirmAsync(id, wallet: "alipay");
        Assert.Equal("failed", r.Str("status"));
        Assert.Contains("ACQ.INVALID_PARAMETER", r.Json.GetProperty("failure").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    private AlipayConnector Connector(AlipayOptions options) =>
        new(new HttpClient(), options, TimeProvider.System, NullLogger<AlipayConnector>.Instance);

    [Fact]
    public async Task Page_pay_builds_a_signed_gateway_URL_that_opens_the_cashier()
    {
        using var connector = Connector(hub.Alipay);
        var no = Guid.NewGuid().ToString("N");
        var url = connector.BuildPayUrl(new CreateOrderRequest(no, Hutong.Domain.Money.Of(1000, "CNY"), "网页支付", DateTimeOffset.UtcNow.AddMinutes(10), "https://example.com/n"), mobile: false, "https://shop.example.com/back");
        Assert.Contains("method=alipay.trade.page.pay", url, StringComparison.Ordinal);
        using var http = new HttpClient();
        var page = System.Net.WebUtility.HtmlDecode(await http.GetStringAsync(url));
        Assert.Contains("网页支付", page, StringComparison.Ordinal);
        Assert.Contains("¥10.00", page, StringComparison.Ordinal);

        var wap = connector.BuildPayUrl(new CreateOrderRequest(no + "w", Hutong.Domain.Money.Of(1000, "CNY"), "手机支付", DateTimeOffset.UtcNow.AddMinutes(10), "https://example.com/n"), mobile: true, null);
        Assert.Contains("QUICK_WAP_WAY", Uri.UnescapeDataString(wap), StringComparison.Ordinal);
        Assert.Contains("手机支付", System.Net.WebUtility.HtmlDecode(await http.GetStringAsync(wap)), StringComparison.Ordinal);

        var tampered = url.Replace("10.00", "00.01", StringComparison.Ordinal);
        Assert.Contains("invalid-signature", await http.GetStringAsync(tampered), StringComparison.Ordinal); // an HTML error page (AlipayGatewayCharsetTests)
    }

    [Fact]
    public async Task Service_provider_mode_carries_the_merchants_app_auth_token()
    {
        var isv = await SandboxWiring.RegisterAlipayAppAsync(hub.Sandbox.BaseUrl, isv: true);
        Assert.NotNull(isv.AppAuthToken);
        using var connector = Connector(isv);
        var no = Guid.NewGuid().ToString("N");
        var created = await connector.CreateQrOrderAsync(new CreateOrderRequest(no, Hutong.Domain.Money.Of(500, "CNY"), "代商户收款", DateTimeOffset.UtcNow.AddMinutes(10), "https://example.com/n"), default);
        Assert.Equal(WalletCallOutcome.Ok, created.Outcome);
        var order = hub.Sandbox.Alipay.Orders[(isv.AppId, no)];
        Assert.Equal(hub.Sandbox.Alipay.AuthTokens[isv.AppAuthToken!], order.SellerId); // collected for the authorising merchant

        isv.AppAuthToken = "revoked-token";
        using var revoked = Connector(isv);
        var refused = await revoked.CreateQrOrderAsync(new CreateOrderRequest(no + "x", Hutong.Domain.Money.Of(500, "CNY"), "代商户收款", DateTimeOffset.UtcNow.AddMinutes(10), "https://example.com/n"), default);
        Assert.Equal(WalletCallOutcome.Rejected, refused.Outcome);
        Assert.Equal("aop.invalid-app-auth-token", refused.Error!.Code);
    }

    [Fact]
    public async Task The_sandbox_accepts_the_Node_SDKs_signing_rule_with_empty_values()
    {
        using var key = RSA.Create();
        key.ImportFromPem(hub.Alipay.AppPrivateKeyPem);
        var p = new Dictionary<string, string>
        {
            ["app_id"] = hub.Alipay.AppId, ["method"] = "alipay.trade.query", ["format"] = "JSON", ["charset"] = "utf-8",
            ["sign_type"] = "RSA2", ["timestamp"] = AlipaySignature.Timestamp(DateTimeOffset.UtcNow), ["version"] = "1.0",
            ["notify_url"] = string.Empty, ["biz_content"] = "{\"out_trade_no\":\"does-not-exist\"}",
        };
        p["sign"] = AlipaySignature.Sign(key, AlipaySignature.Content(p!, dropEmpty: false));
        using var http = new HttpClient();
        var body = await (await http.PostAsync(hub.Alipay.GatewayUrl, new FormUrlEncodedContent(p))).Content.ReadAsStringAsync();
        Assert.Contains("ACQ.TRADE_NOT_EXIST", body, StringComparison.Ordinal); // got past the signature check
        var raw = AlipaySignature.ExtractResponseText(body, "alipay_trade_query_response")!;
        using var alipayKey = RSA.Create();
        alipayKey.ImportFromPem(hub.Alipay.AlipayPublicKeyPem);
        var sign = System.Text.Json.JsonDocument.Parse(body).RootElement.GetProperty("sign").GetString();
        Assert.True(AlipaySignature.Verify(alipayKey, raw, sign));
    }
}

[Collection("sqlite")]
public sealed class AlipayFlowTests_Sqlite(SqliteHub hub) : AlipayFlowTests(hub);

[Collection("postgres")]
public sealed class AlipayFlowTests_Postgres(PostgresHub hub) : AlipayFlowTests(hub);
