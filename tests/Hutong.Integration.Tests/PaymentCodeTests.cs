using System.Net;
using System.Net.Http.Json;
using Dapper;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Sandbox.WeChatPay;

namespace Hutong.Integration.Tests;

/// <summary>
/// The buyer's payment code (付款码) scanned at a till: POST /v1/payments/{id}/confirm with auth_code, against the
/// sandbox wallets' payment-code APIs (WeChat's v2 micropay), on both stores. The till's wait is 2 s in the test hub.
/// </summary>
public abstract class PaymentCodeTests(HubFixture hub)
{
    private async Task<string> WeChatCodeAsync(BuyerCodeBehaviour behaviour)
    {
        using var http = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
        var r = await http.PostAsJsonAsync("/sandbox/wechatpay/micropay/codes", new BuyerCodeRequest(behaviour), SandboxJson.Options);
        r.EnsureSuccessStatusCode();
        return (await r.Content.ReadFromJsonAsync<BuyerCodeResponse>(SandboxJson.Options))!.AuthCode;
    }

    private async Task BuyerConfirmsAsync(string code, string result = "SUCCESS")
    {
        using var http = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
        var r = await http.PostAsJsonAsync($"/sandbox/wechatpay/micropay/codes/{code}/confirm", new BuyerCodeConfirmRequest(result), SandboxJson.Options);
        Assert.True(r.IsSuccessStatusCode, await r.Content.ReadAsStringAsync());
    }

    private static Task<ApiResponse> ScanAsync(ApiClient m, string id, string authCode, string? wallet = null, string? idempotencyKey = "new") =>
        m.PostAsync($"/v1/payments/{id}/confirm", wallet is null ? new { auth_code = authCode } : new { wallet, auth_code = authCode }, idempotencyKey);

    private Task<List<(string Status, string? ErrorCode, string OutTradeNo)>> AttemptsAsync(string id) =>
        hub.Db.ReadAsync(async c => (await c.QueryAsync<(string, string?, string)>(
            "SELECT status, error_code, out_trade_no FROM payment_attempts WHERE payment_id = @id ORDER BY id", new { id })).ToList(), default);

    private SandboxOrder SandboxOrder(string outTradeNo) => hub.Sandbox.WeChat.Orders[(hub.WeChat.MchId, outTradeNo)];

    [Fact]
    public async Task A_code_that_pays_at_once_succeeds_in_the_confirm_answer_and_the_wallet_is_told_by_the_prefix()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(1850);
        var code = await WeChatCodeAsync(BuyerCodeBehaviour.Pay);

        var paid = await ScanAsync(m, id, code); // no wallet given: 13… is WeChat's
        Assert.Equal(HttpStatusCode.OK, paid.Status);
        Assert.Equal("succeeded", paid.Str("status"));
        Assert.Equal("wechatpay", paid.Str("wallet"));
        Assert.StartsWith("4200", paid.Str("wallet_transaction_id"), StringComparison.Ordinal);
        var order = SandboxOrder((await AttemptsAsync(id)).Single().OutTradeNo);
        Assert.Equal("SUCCESS", order.TradeState);
        Assert.Equal(1850, order.Total);
        await hub.AssertPayerAsync(paid, "wechatpay", order.PayerOpenId!); // a pseudonym: the openid stays in the hub
        Assert.DoesNotContain(code, await hub.Db.ReadAsync(c => c.ExecuteScalarAsync<string>(
            "SELECT COALESCE(code_url, '') || COALESCE(error_message, '') || COALESCE(flow, '') FROM payment_attempts WHERE payment_id = @id", new { id }), default), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_buyer_entering_the_password_leaves_the_payment_pending_until_the_wallet_says_paid()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(52_000);
        var code = await WeChatCodeAsync(BuyerCodeBehaviour.Password);

        var scanned = await ScanAsync(m, id, code, wallet: "wechatpay");
        Assert.Equal(HttpStatusCode.OK, scanned.Status);
        Assert.Equal("pending", scanned.Str("status")); // USERPAYING is pending, never failed
        Assert.False(scanned.Json.TryGetProperty("next_action", out _)); // no QR to show
        Assert.Equal("open", (await AttemptsAsync(id)).Single().Status);

        await BuyerConfirmsAsync(code);
        var done = await m.WaitForStatusAsync(id, "succeeded");
        Assert.Equal("wechatpay", done.Json.GetProperty("payer").GetProperty("wallet").GetString());
        Assert.Equal(("succeeded", (string?)null), (await AttemptsAsync(id)).Select(a => (a.Status, a.ErrorCode)).Single());
    }

    [Fact]
    public async Task A_buyer_who_never_enters_the_password_is_reversed_after_the_tills_wait_and_the_payment_fails()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(990);
        var code = await WeChatCodeAsync(BuyerCodeBehaviour.Password);

        Assert.Equal("pending", (await ScanAsync(m, id, code)).Str("status"));
        var failed = await m.WaitForStatusAsync(id, "failed");
        Assert.Equal("wallet_payment_failed", failed.Json.GetProperty("failure").GetProperty("code").GetString());
        var attempt = (await AttemptsAsync(id)).Single();
        Assert.Equal(("failed", "REVOKED"), (attempt.Status, attempt.ErrorCode));
        Assert.Equal("REVOKED", SandboxOrder(attempt.OutTradeNo).TradeState); // reversed at the wallet: nothing charged

        // Too late: the buyer's app cannot pay a reversed order.
        using var http = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
        var late = await http.PostAsJsonAsync($"/sandbox/wechatpay/micropay/codes/{code}/confirm", new BuyerCodeConfirmRequest("SUCCESS"), SandboxJson.Options);
        Assert.Equal(HttpStatusCode.BadRequest, late.StatusCode);
    }

    [Fact]
    public async Task An_unanswered_scan_is_unknown_then_queried_then_reversed_and_never_both_charged_and_failed()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(4321);
        var code = await WeChatCodeAsync(BuyerCodeBehaviour.Password);
        // The wallet takes the order (the buyer is asked for the password) but the till hears nothing, retry included.
        hub.Sandbox.WeChat.Faults.Inject("micropay", SandboxFault.TimeoutAfter, count: 3, match: id);

        var scanned = await ScanAsync(m, id, code);
        Assert.Equal(HttpStatusCode.OK, scanned.Status);
        Assert.Equal("unknown", scanned.Str("status"));

        var failed = await m.WaitForStatusAsync(id, "failed");
        Assert.Equal("wallet_payment_failed", failed.Json.GetProperty("failure").GetProperty("code").GetString());
        var attempt = (await AttemptsAsync(id)).Single();
        Assert.Equal(("failed", "REVOKED"), (attempt.Status, attempt.ErrorCode));
        Assert.Equal("REVOKED", SandboxOrder(attempt.OutTradeNo).TradeState);
    }

    [Fact]
    public async Task A_buyer_who_pays_when_the_hub_cannot_see_it_is_refunded_by_the_reversal_not_left_charged_and_failed()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(777);
        var code = await WeChatCodeAsync(BuyerCodeBehaviour.Password);
        hub.Sandbox.WeChat.Faults.Inject("orderquery", SandboxFault.ServerError, count: 200, match: id); // every query unanswered
        Assert.Equal("pending", (await ScanAsync(m, id, code)).Str("status"));
        var outTradeNo = (await AttemptsAsync(id)).Single().OutTradeNo;
        await BuyerConfirmsAsync(code); // paid at the wallet, but the hub never hears it before its wait is over

        var failed = await m.WaitForStatusAsync(id, "failed");
        Assert.Equal("wallet_payment_failed", failed.Json.GetProperty("failure").GetProperty("code").GetString());
        var order = SandboxOrder(outTradeNo);
        Assert.Equal("REVOKED", order.TradeState);
        Assert.Equal(777, order.Refunds["REVERSE"].Amount); // WeChat's reversal of a paid order refunds it in full
    }

    [Fact]
    public async Task Expired_invalid_and_underfunded_codes_are_clear_refusals_with_the_wallets_code()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        foreach (var (code, expected) in new[]
                 {
                     (await WeChatCodeAsync(BuyerCodeBehaviour.Expired), "AUTHCODEEXPIRE"),
                     ("134567890123456789", "AUTH_CODE_INVALID"), // well-formed, but no buyer shows it
                     (await WeChatCodeAsync(BuyerCodeBehaviour.NotEnough), "NOTENOUGH"),
                 })
        {
            var id = await m.CreatePaymentAsync(100);
            var refused = await ScanAsync(m, id, code);
            Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.Status);
            Assert.Equal("payment_code_refused", refused.Str("code"));
            Assert.Equal("auth_code", refused.Str("param"));
            Assert.Contains(expected, refused.Str("title"), StringComparison.Ordinal);
            var payment = await m.GetAsync($"/v1/payments/{id}");
            Assert.Equal("failed", payment.Str("status"));
            Assert.Equal(("failed", expected), (await AttemptsAsync(id)).Select(a => (a.Status, a.ErrorCode)).Single());

            // A fresh code pays the same payment.
            var again = await ScanAsync(m, id, await WeChatCodeAsync(BuyerCodeBehaviour.Pay));
            Assert.Equal("succeeded", again.Str("status"));
        }
    }

    [Fact]
    public async Task The_same_code_scanned_twice_charges_once()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(2500);
        var code = await WeChatCodeAsync(BuyerCodeBehaviour.Password);

        // Twice at once while the buyer is entering the password, and again with the same Idempotency-Key.
        var key = Guid.NewGuid().ToString("N");
        var both = await Task.WhenAll(ScanAsync(m, id, code), ScanAsync(m, id, code));
        Assert.All(both, r => Assert.True(r.Status is HttpStatusCode.OK or HttpStatusCode.Conflict, r.ToString()));
        Assert.Contains(both, r => r.Status == HttpStatusCode.OK && r.Str("status") == "pending");
        await BuyerConfirmsAsync(code);
        await m.WaitForStatusAsync(id, "succeeded");
        var first = await ScanAsync(m, id, code, idempotencyKey: key);
        var replay = await ScanAsync(m, id, code, idempotencyKey: key);
        Assert.Equal(first.Body, replay.Body);
        Assert.Equal(HttpStatusCode.Conflict, first.Status); // a paid payment is not paid again

        var attempt = (await AttemptsAsync(id)).Single();
        Assert.Equal("succeeded", attempt.Status);
        Assert.Single(hub.Sandbox.WeChat.Micropay.Sends, s => s == attempt.OutTradeNo);
        Assert.Equal(1, hub.Sandbox.WeChat.Orders.Values.Count(o => o.Attach == id && o.TradeState == "SUCCESS"));

        // The same code on another payment: single use at the wallet, so refused and nothing charged.
        var other = await m.CreatePaymentAsync(2500);
        var reused = await ScanAsync(m, other, code);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, reused.Status);
        Assert.Contains("AUTHCODEEXPIRE", reused.Str("title"), StringComparison.Ordinal);
        Assert.Equal(0, hub.Sandbox.WeChat.Orders.Values.Count(o => o.Attach == other));
    }

    [Theory]
    [InlineData("", "auth_code")]
    [InlineData("13456789012345678", "auth_code")] // 17 digits
    [InlineData("16456789012345678x", "auth_code")]
    [InlineData("094567890123456789", "auth_code")] // no wallet's prefix
    [InlineData("1345678901234567890123456", "auth_code")] // too long
    public async Task A_malformed_code_is_a_validation_problem_that_changes_nothing(string authCode, string param)
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(100);
        var refused = await ScanAsync(m, id, authCode);
        Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
        Assert.Equal(param, refused.Str("param"));
        Assert.Equal("created", (await m.GetAsync($"/v1/payments/{id}")).Str("status"));
        Assert.Empty(await AttemptsAsync(id));
    }

    [Fact]
    public async Task A_code_that_contradicts_the_given_wallet_is_refused_and_changes_nothing()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(100);
        var refused = await ScanAsync(m, id, await WeChatCodeAsync(BuyerCodeBehaviour.Pay), wallet: "alipay");
        Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
        Assert.Equal("auth_code", refused.Str("param"));
        Assert.Contains("wechatpay", refused.Body, StringComparison.Ordinal);
        Assert.Empty(await AttemptsAsync(id));
    }

    private async Task<string> AlipayCodeAsync(BuyerCodeBehaviour behaviour)
    {
        using var http = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
        var r = await http.PostAsJsonAsync("/sandbox/alipay/codes", new BuyerCodeRequest(behaviour), SandboxJson.Options);
        r.EnsureSuccessStatusCode();
        return (await r.Content.ReadFromJsonAsync<BuyerCodeResponse>(SandboxJson.Options))!.AuthCode;
    }

    [Fact]
    public async Task Alipay_codes_pay_at_once_or_after_the_buyer_confirms_or_are_canceled_after_the_wait()
    {
        var (m, _, _) = await hub.NewMerchantAsync();

        var now = await m.CreatePaymentAsync(1200);
        var paid = await ScanAsync(m, now, await AlipayCodeAsync(BuyerCodeBehaviour.Pay));
        Assert.Equal(HttpStatusCode.OK, paid.Status);
        Assert.Equal(("succeeded", "alipay"), (paid.Str("status"), paid.Str("wallet")));

        var later = await m.CreatePaymentAsync(3400);
        var code = await AlipayCodeAsync(BuyerCodeBehaviour.Password);
        Assert.Equal("pending", (await ScanAsync(m, later, code, wallet: "alipay")).Str("status")); // 10003 WAIT_BUYER_PAY
        using (var http = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) })
        {
            (await http.PostAsJsonAsync($"/sandbox/alipay/codes/{code}/confirm", new BuyerCodeConfirmRequest("SUCCESS"), SandboxJson.Options)).EnsureSuccessStatusCode();
        }

        await m.WaitForStatusAsync(later, "succeeded");

        var never = await m.CreatePaymentAsync(560);
        Assert.Equal("pending", (await ScanAsync(m, never, await AlipayCodeAsync(BuyerCodeBehaviour.Password))).Str("status"));
        await m.WaitForStatusAsync(never, "failed");
        var attempt = (await AttemptsAsync(never)).Single();
        Assert.Equal(("failed", "REVOKED"), (attempt.Status, attempt.ErrorCode));
        Assert.Equal("TRADE_CLOSED", hub.Sandbox.Alipay.Orders[(hub.Alipay.AppId, attempt.OutTradeNo)].TradeStatus); // alipay.trade.cancel closed it

        var refused = await ScanAsync(m, await m.CreatePaymentAsync(100), await AlipayCodeAsync(BuyerCodeBehaviour.Expired));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.Status);
        Assert.Contains("ACQ.PAYMENT_AUTH_CODE_INVALID", refused.Str("title"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Canceling_while_the_buyer_enters_the_password_reverses_the_order()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(300);
        var code = await WeChatCodeAsync(BuyerCodeBehaviour.Password);
        Assert.Equal("pending", (await ScanAsync(m, id, code)).Str("status"));

        var canceled = await m.PostAsync($"/v1/payments/{id}/cancel");
        Assert.Equal(HttpStatusCode.OK, canceled.Status);
        Assert.Equal("canceled", canceled.Str("status"));
        Assert.Equal("REVOKED", SandboxOrder((await AttemptsAsync(id)).Single().OutTradeNo).TradeState);
    }
}

[Collection("sqlite")]
public sealed class PaymentCodeTests_Sqlite(SqliteHub hub) : PaymentCodeTests(hub);

[Collection("postgres")]
public sealed class PaymentCodeTests_Postgres(PostgresHub hub) : PaymentCodeTests(hub);
