using System.Net;
using System.Net.Http.Json;
using Dapper;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Sandbox.UnionPay;
using Hutong.Sandbox.WeChatPay;

namespace Hutong.Integration.Tests;

/// <summary>
/// UnionPay's in-app flows behind the same API, on both stores: the buyer's payment code (二维码消费 被扫: backTransReq
/// txnSubType=06 with qrNo, followed by queryTrans and undone by 冲正 txnType=99) and app pay (appTransReq → tn, paid by
/// the buyer's UnionPay SDK, then the backUrl notification). The sandbox refuses a request whose txnType, txnSubType,
/// bizType, channelType or qrNo is not the flow's, so every answer here also pins the wire fields. The till's wait is 2 s.
/// </summary>
public abstract class UnionPayInAppTests(HubFixture hub)
{
    private UnionPaySandbox Sandbox => hub.Sandbox.UnionPay;

    private async Task<string> CodeAsync(BuyerCodeBehaviour behaviour)
    {
        using var http = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
        var r = await http.PostAsJsonAsync("/sandbox/unionpay/codes", new BuyerCodeRequest(behaviour), SandboxJson.Options);
        r.EnsureSuccessStatusCode();
        return (await r.Content.ReadFromJsonAsync<BuyerCodeResponse>(SandboxJson.Options))!.AuthCode;
    }

    private async Task<HttpResponseMessage> BuyerConfirmsAsync(string code, string result = "SUCCESS")
    {
        using var http = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
        return await http.PostAsJsonAsync($"/sandbox/unionpay/codes/{code}/confirm", new BuyerCodeConfirmRequest(result), SandboxJson.Options);
    }

    private static Task<ApiResponse> ScanAsync(ApiClient m, string id, string authCode, string? wallet = "unionpay", string? idempotencyKey = "new") =>
        m.PostAsync($"/v1/payments/{id}/confirm", wallet is null ? new { auth_code = authCode } : new { wallet, auth_code = authCode }, idempotencyKey);

    private Task<List<(string Status, string? ErrorCode, string OutTradeNo, string? Flow)>> AttemptsAsync(string id) =>
        hub.Db.ReadAsync(async c => (await c.QueryAsync<(string, string?, string, string?)>(
            "SELECT status, error_code, out_trade_no, flow FROM payment_attempts WHERE payment_id = @id ORDER BY id", new { id })).ToList(), default);

    private Task<long> SucceededEventsAsync(string id) =>
        hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE type = 'payment.succeeded' AND payload LIKE @p", new { p = $"%\"{id}\"%" });

    private UnionPaySandboxOrder Order(string orderId) => Sandbox.Orders[(hub.UnionPay.MerId, orderId)];

    [Fact]
    public async Task A_code_that_pays_at_once_succeeds_in_the_confirm_answer_and_its_notification_changes_nothing_more()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(1850);
        var code = await CodeAsync(BuyerCodeBehaviour.Pay);
        Assert.Matches("^62[0-9]{17}$", code);

        // The 消费结果通知 is held back (and then sent twice): the confirm answer's success is the connector's own query.
        Assert.True(Sandbox.Notifications.Hold(id));
        Sandbox.Faults.Inject("notify", SandboxFault.DuplicateNotification, count: 1, match: id);

        var paid = await ScanAsync(m, id, code, wallet: null); // 62… (19 digits) is UnionPay's
        Assert.Equal(HttpStatusCode.OK, paid.Status);
        Assert.Equal(("succeeded", "unionpay"), (paid.Str("status"), paid.Str("wallet")));
        var attempt = (await AttemptsAsync(id)).Single();
        Assert.Equal(("succeeded", "payment_code"), (attempt.Status, attempt.Flow));
        var order = Order(attempt.OutTradeNo);
        Assert.Equal(("06", "00", 1850L), (order.TxnSubType, order.OrigRespCode, order.TxnAmt));
        Assert.Equal(order.QueryId, paid.Str("wallet_transaction_id"));
        Assert.StartsWith("/notify/", new Uri(order.BackUrl).AbsolutePath, StringComparison.Ordinal); // the attempt's notify URL is the backUrl

        Assert.Equal(2, (await Sandbox.Notifications.ReleaseAsync([id], [])).Count);
        // Both notifications are acknowledged and the payment stays as it is.
        await hub.EventuallyAsync(() => Task.FromResult(Sandbox.NotificationLog.Where(n => n.OutTradeNo == attempt.OutTradeNo && n.HttpStatus == 200).ToList()),
            l => l.Count >= 2, what: "both backUrl notifications acknowledged");
        Assert.Equal(1, await SucceededEventsAsync(id));
    }

    [Fact]
    public async Task A_buyer_entering_the_password_leaves_the_payment_pending_until_UnionPay_says_paid()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(52_000);
        var code = await CodeAsync(BuyerCodeBehaviour.Password);

        var scanned = await ScanAsync(m, id, code);
        Assert.Equal(HttpStatusCode.OK, scanned.Status);
        Assert.Equal("pending", scanned.Str("status")); // accepted, origRespCode 03: pending, never failed
        Assert.False(scanned.Json.TryGetProperty("next_action", out _));
        Assert.Equal("open", (await AttemptsAsync(id)).Single().Status);

        Assert.Equal(HttpStatusCode.OK, (await BuyerConfirmsAsync(code)).StatusCode);
        var done = await m.WaitForStatusAsync(id, "succeeded");
        Assert.Equal("unionpay", done.Json.GetProperty("payer").GetProperty("wallet").GetString());
        var attempt = (await AttemptsAsync(id)).Single();
        Assert.Equal("succeeded", attempt.Status);
        Assert.Equal(Order(attempt.OutTradeNo).QueryId, done.Str("wallet_transaction_id"));
    }

    [Fact]
    public async Task A_buyer_who_never_enters_the_password_is_reversed_after_the_tills_wait()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(990);
        var code = await CodeAsync(BuyerCodeBehaviour.Password);

        Assert.Equal("pending", (await ScanAsync(m, id, code)).Str("status"));
        var failed = await m.WaitForStatusAsync(id, "failed");
        Assert.Equal("wallet_payment_failed", failed.Json.GetProperty("failure").GetProperty("code").GetString());
        var attempt = (await AttemptsAsync(id)).Single();
        Assert.Equal(("failed", "REVOKED"), (attempt.Status, attempt.ErrorCode));
        Assert.True(Order(attempt.OutTradeNo).Reversed); // 冲正 at UnionPay: nothing charged

        // Too late: the buyer's app cannot pay a reversed consumption.
        Assert.Equal(HttpStatusCode.BadRequest, (await BuyerConfirmsAsync(code)).StatusCode);
    }

    [Fact]
    public async Task An_unanswered_scan_is_unknown_then_queried_then_reversed_and_never_both_charged_and_failed()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(4321);
        var code = await CodeAsync(BuyerCodeBehaviour.Password);
        // UnionPay takes the consumption (the buyer is asked for the password) but the till hears nothing.
        Sandbox.Faults.Inject("apply", SandboxFault.TimeoutAfter, count: 1, match: id);

        var scanned = await ScanAsync(m, id, code);
        Assert.Equal(HttpStatusCode.OK, scanned.Status);
        Assert.Equal("unknown", scanned.Str("status"));

        var failed = await m.WaitForStatusAsync(id, "failed");
        Assert.Equal("wallet_payment_failed", failed.Json.GetProperty("failure").GetProperty("code").GetString());
        var attempt = (await AttemptsAsync(id)).Single();
        Assert.Equal(("failed", "REVOKED"), (attempt.Status, attempt.ErrorCode));
        var order = Order(attempt.OutTradeNo);
        Assert.True(order.Reversed);
        Assert.Null(order.Paid);
    }

    [Fact]
    public async Task A_buyer_who_pays_when_the_hub_cannot_see_it_is_reversed_not_left_charged_and_failed()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(777);
        var code = await CodeAsync(BuyerCodeBehaviour.Password);
        Sandbox.Faults.Inject("query", SandboxFault.ServerError, count: 200, match: id); // every query unanswered
        Sandbox.Faults.Inject("notify", SandboxFault.DropNotification, count: 5, match: id); // and no 消费结果通知
        Assert.Equal("pending", (await ScanAsync(m, id, code)).Str("status"));
        var outTradeNo = (await AttemptsAsync(id)).Single().OutTradeNo;
        Assert.Equal(HttpStatusCode.OK, (await BuyerConfirmsAsync(code)).StatusCode); // paid at UnionPay, unseen by the hub

        var failed = await m.WaitForStatusAsync(id, "failed");
        Assert.Equal("wallet_payment_failed", failed.Json.GetProperty("failure").GetProperty("code").GetString());
        var order = Order(outTradeNo);
        Assert.NotNull(order.Paid);
        Assert.True(order.Reversed); // 冲正 of a paid consumption returns it in full
    }

    [Fact]
    public async Task Expired_unknown_and_underfunded_codes_are_clear_refusals_with_UnionPays_respCode()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        foreach (var (code, expected) in new[]
                 {
                     (await CodeAsync(BuyerCodeBehaviour.Expired), "61"),
                     ("6212345678901234567", "61"), // well-formed, but no buyer shows it
                     (await CodeAsync(BuyerCodeBehaviour.NotEnough), "64"),
                 })
        {
            var id = await m.CreatePaymentAsync(100);
            var refused = await ScanAsync(m, id, code);
            Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.Status);
            Assert.Equal(("payment_code_refused", "auth_code"), (refused.Str("code"), refused.Str("param")));
            Assert.Contains($"unionpay refused the payment code: {expected}", refused.Str("title"), StringComparison.Ordinal);
            Assert.Equal("failed", (await m.GetAsync($"/v1/payments/{id}")).Str("status"));
            Assert.Equal(("failed", expected), (await AttemptsAsync(id)).Select(a => (a.Status, a.ErrorCode)).Single());

            var again = await ScanAsync(m, id, await CodeAsync(BuyerCodeBehaviour.Pay)); // a fresh code pays the same payment
            Assert.Equal("succeeded", again.Str("status"));
        }

        // A code of the wrong shape never reaches UnionPay.
        var untouched = await m.CreatePaymentAsync(100);
        var malformed = await ScanAsync(m, untouched, "621234567890123456"); // 18 digits
        Assert.Equal((HttpStatusCode.BadRequest, "auth_code"), (malformed.Status, malformed.Str("param")));
        Assert.Empty(await AttemptsAsync(untouched));
    }

    [Fact]
    public async Task The_same_code_scanned_twice_charges_once()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(2500);
        var code = await CodeAsync(BuyerCodeBehaviour.Password);

        var both = await Task.WhenAll(ScanAsync(m, id, code), ScanAsync(m, id, code));
        Assert.All(both, r => Assert.True(r.Status is HttpStatusCode.OK or HttpStatusCode.Conflict, r.ToString()));
        Assert.Contains(both, r => r.Status == HttpStatusCode.OK && r.Str("status") == "pending");
        Assert.Equal(HttpStatusCode.OK, (await BuyerConfirmsAsync(code)).StatusCode);
        await m.WaitForStatusAsync(id, "succeeded");
        var key = Guid.NewGuid().ToString("N");
        var first = await ScanAsync(m, id, code, idempotencyKey: key);
        var replay = await ScanAsync(m, id, code, idempotencyKey: key);
        Assert.Equal(HttpStatusCode.Conflict, first.Status); // a paid payment is not paid again
        Assert.Equal(first.Body, replay.Body);

        Assert.Equal("succeeded", (await AttemptsAsync(id)).Single().Status);
        Assert.Single(Sandbox.Orders.Values, o => o.ReqReserved == id);
        Assert.Equal(1, await SucceededEventsAsync(id));

        // The same code on another payment: single use at UnionPay, so refused and nothing charged.
        var other = await m.CreatePaymentAsync(2500);
        var reused = await ScanAsync(m, other, code);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, reused.Status);
        Assert.Contains("61", reused.Str("title"), StringComparison.Ordinal);
        Assert.DoesNotContain(Sandbox.Orders.Values, o => o.ReqReserved == other);
    }

    [Fact]
    public async Task Canceling_while_the_buyer_enters_the_password_reverses_the_consumption()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(300);
        var code = await CodeAsync(BuyerCodeBehaviour.Password);
        Assert.Equal("pending", (await ScanAsync(m, id, code)).Str("status"));

        var canceled = await m.PostAsync($"/v1/payments/{id}/cancel");
        Assert.Equal((HttpStatusCode.OK, "canceled"), (canceled.Status, canceled.Str("status")));
        Assert.True(Order((await AttemptsAsync(id)).Single().OutTradeNo).Reversed);
        Assert.Equal(HttpStatusCode.BadRequest, (await BuyerConfirmsAsync(code)).StatusCode);
    }

    [Fact]
    public async Task An_app_confirm_answers_a_tn_the_buyers_app_pays_and_the_merchant_gets_the_webhook()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var endpoint = await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url("/hooks/" + Guid.NewGuid().ToString("N")) });
        var path = new Uri(endpoint.Str("url")).AbsolutePath;
        var id = await m.CreatePaymentAsync(6600);

        var r = await m.PostAsync($"/v1/payments/{id}/confirm", new { wallet = "unionpay", flow = "app" });
        Assert.True(r.Status == HttpStatusCode.OK, r.ToString());
        Assert.Equal("pending", r.Str("status"));
        var action = r.Json.GetProperty("next_action");
        Assert.Equal("app_pay", action.GetProperty("type").GetString());
        var tn = action.GetProperty("params").GetProperty("tn").GetString()!;
        Assert.Matches("^[0-9]{21}$", tn);
        var attempt = (await AttemptsAsync(id)).Single();
        Assert.Equal(("open", "app"), (attempt.Status, attempt.Flow));
        var order = Order(attempt.OutTradeNo);
        Assert.Equal((tn, "01", "000201", 6600L), (order.Tn, order.TxnSubType, order.BizType, order.TxnAmt));

        using var http = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsJsonAsync("/sandbox/unionpay/app/pay", new UnionPayAppPayRequest(tn, null), SandboxJson.Options)).StatusCode);
        var done = await m.WaitForStatusAsync(id, "succeeded");
        Assert.Equal(order.QueryId, done.Str("wallet_transaction_id"));
        var hooks = await hub.EventuallyAsync(
            () => Task.FromResult(hub.Receiver.Deliveries.Where(d => d.Path == path && d.Body.Contains("payment.succeeded", StringComparison.Ordinal)).ToList()),
            l => l.Count > 0, what: "payment.succeeded webhook");
        Assert.Contains(id, hooks[0].Body, StringComparison.Ordinal);

        // The tn is paid once.
        Assert.Equal(HttpStatusCode.BadRequest, (await http.PostAsJsonAsync("/sandbox/unionpay/app/pay", new UnionPayAppPayRequest(tn, null), SandboxJson.Options)).StatusCode);
        Assert.Equal(1, await SucceededEventsAsync(id));
    }

    [Fact]
    public async Task Capabilities_list_UnionPays_app_and_payment_code_flows()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var caps = await m.GetAsync("/v1/capabilities");
        var unionpay = caps.Json.GetProperty("data").EnumerateArray().Single(w => w.GetProperty("wallet").GetString() == "unionpay");
        Assert.Equal(["native", "app", "payment_code"], unionpay.GetProperty("flows").EnumerateArray().Select(f => f.GetString()!));
    }
}

[Collection("sqlite")]
public sealed class UnionPayInAppTests_Sqlite(SqliteHub hub) : UnionPayInAppTests(hub);

[Collection("postgres")]
public sealed class UnionPayInAppTests_Postgres(PostgresHub hub) : UnionPayInAppTests(hub);
