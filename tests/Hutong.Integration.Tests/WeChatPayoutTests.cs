using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Hutong.Domain;
using Hutong.Domain.Ledger;
using Hutong.Domain.Payouts;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Server.Features.Ledger;

namespace Hutong.Integration.Tests;

/// <summary>
/// POST /v1/payouts to WeChat Pay (merchant transfer, /v3/fund-app/mch-transfer/transfer-bills at the sandbox): the payee
/// must accept it in WeChat (awaiting_confirmation with next_action), the sandbox's buyer phone confirms, declines or lets
/// it lapse, the merchant may cancel it meanwhile; checked before any wallet call, reserved on creation, sent once,
/// settled or given back — ledger verified after each.
/// </summary>
public abstract class WeChatPayoutTests(HubFixture hub)
{
    private static string NewOpenId() => "oWxPayee" + Guid.NewGuid().ToString("N")[..20];

    private async Task<(ApiClient M, string MerchantId)> FundedAsync(long fen)
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        await hub.Db.WriteAsync((c, t) => hub.Service<LedgerStore>().AppendAsync(c, t, "payment_captured", Ids.New("pay"), merchantId,
            Postings.Captured("wechatpay", merchantId, new Money(fen, Currency.Parse("CNY"))), DateTimeOffset.UtcNow), default);
        return (m, merchantId);
    }

    private static object Body(long amount, string openId, string? name = null, string description = "12月佣金", string wallet = "wechatpay", string type = "WECHAT_OPENID") => new
    {
        amount,
        currency = "CNY",
        wallet,
        payee = new { type, identity = openId, name },
        description,
    };

    private static string Key() => "wxpo-" + Guid.NewGuid();

    private Task<ApiResponse> StatusAsync(ApiClient m, string id, params string[] statuses) =>
        hub.EventuallyAsync(() => m.GetAsync($"/v1/payouts/{id}"), r => statuses.Contains(r.Str("status")), what: $"payout {id} is {string.Join(" or ", statuses)}");

    private Task<string> OutBillNoAsync(string id) =>
        hub.Db.ReadAsync(c => c.ExecuteScalarAsync<string>("SELECT out_biz_no FROM payouts WHERE id = @id", new { id }), default)!;

    private int Calls(string call, string outBillNo) => hub.Sandbox.WeChat.TransferCalls.Count(x => x.Call == call && x.OutBillNo == outBillNo);

    private Hutong.Sandbox.WeChatPay.SandboxTransferBill Bill(string outBillNo) => hub.Sandbox.WeChat.TransferBills[(hub.WeChat.MchId, outBillNo)];

    /// <summary>The payee's phone opens the confirmation page with package_info (real HTTP to the sandbox's buyer emulator).</summary>
    private async Task<HttpResponseMessage> PayeeAsync(string packageInfo, string action)
    {
        using var http = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
        return await http.PostAsJsonAsync("/sandbox/wechatpay/buyer/transfer", new { package_info = packageInfo, action }, SandboxJson.Options);
    }

    private Task<long> EventsAsync(string merchantId, string type) =>
        hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE type = @type AND merchant_id = @merchantId", new { type, merchantId });

    private static string Reserve(string merchantId) => PayoutPostings.Reserve(merchantId);

    [Fact]
    public async Task A_payout_waits_for_the_payee_who_confirms_in_WeChat_and_the_ledger_follows()
    {
        var (m, merchantId) = await FundedAsync(100_000);
        var openId = NewOpenId();
        var created = await m.PostAsync("/v1/payouts", Body(20_000, openId), idempotencyKey: Key());
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var id = created.Str("id");
        Assert.Equal(-80_000, await hub.BalanceAsync($"merchant_payable:{merchantId}"));

        var waiting = await StatusAsync(m, id, "awaiting_confirmation");
        var action = waiting.Json.GetProperty("next_action");
        Assert.Equal("wechat_merchant_transfer", action.GetProperty("type").GetString());
        var wechat = action.GetProperty("wechat");
        Assert.Equal(hub.WeChat.MchId, wechat.GetProperty("mch_id").GetString());
        Assert.Equal(hub.WeChat.AppId, wechat.GetProperty("app_id").GetString());
        var package = wechat.GetProperty("package_info").GetString()!;
        Assert.False(string.IsNullOrEmpty(package));
        Assert.Equal(1, await EventsAsync(merchantId, "payout.awaiting_confirmation"));

        var outBillNo = await OutBillNoAsync(id);
        var bill = Bill(outBillNo);
        Assert.Equal(20_000, bill.Amount);
        Assert.Equal(openId, bill.OpenId);
        Assert.Equal("12月佣金", bill.Remark);
        Assert.Equal("1005", bill.SceneId);
        Assert.Null(bill.UserName); // below ¥2,000 and none given

        using (var phone = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) })
        {
            // The payee's page (what wx.requestMerchantTransfer opens) shows the transfer.
            var page = await phone.GetStringAsync($"/sandbox/wechatpay/buyer/transfer?package_info={Uri.EscapeDataString(package)}");
            Assert.Contains("¥200.00", page, StringComparison.Ordinal);
        }

        Assert.True((await PayeeAsync(package, "confirm")).IsSuccessStatusCode);
        var done = await StatusAsync(m, id, "succeeded", "failed");
        Assert.Equal("succeeded", done.Str("status"));
        Assert.Equal(bill.TransferBillNo, done.Str("wallet_order_id"));
        Assert.False(done.Json.TryGetProperty("next_action", out var na) && na.ValueKind != JsonValueKind.Null);
        Assert.Equal(1, Calls("create", outBillNo));
        // The result reached the hub as a verified MCHTRANSFER.BILL.FINISHED notification.
        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM wallet_notifications WHERE event_type = 'MCHTRANSFER.BILL.FINISHED'"),
            n => n >= 1, what: "the transfer notification is recorded");

        Assert.Equal(-80_000, await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(0, await hub.BalanceAsync(Reserve(merchantId)));
        Assert.Equal(1, await EventsAsync(merchantId, "payout.created"));
        Assert.Equal(1, await EventsAsync(merchantId, "payout.succeeded"));
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task A_payee_who_declines_fails_the_payout_and_the_reservation_goes_back()
    {
        var (m, merchantId) = await FundedAsync(30_000);
        var id = (await m.PostAsync("/v1/payouts", Body(25_000, NewOpenId()), idempotencyKey: Key())).Str("id");
        var waiting = await StatusAsync(m, id, "awaiting_confirmation");
        var package = waiting.Json.GetProperty("next_action").GetProperty("wechat").GetProperty("package_info").GetString()!;
        Assert.True((await PayeeAsync(package, "decline")).IsSuccessStatusCode);

        var done = await StatusAsync(m, id, "succeeded", "failed");
        Assert.Equal("failed", done.Str("status"));
        Assert.Equal("USER_DECLINED", done.Json.GetProperty("failure").GetProperty("code").GetString());
        Assert.Equal(-30_000, await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(0, await hub.BalanceAsync(Reserve(merchantId)));
        Assert.Equal(1, await EventsAsync(merchantId, "payout.failed"));

        // A lapsed confirmation (WeChat closes the bill unconfirmed: CANCELLED without the merchant asking) fails it as well.
        var lapsed = (await m.PostAsync("/v1/payouts", Body(30_000, NewOpenId()), idempotencyKey: Key())).Str("id");
        var w2 = await StatusAsync(m, lapsed, "awaiting_confirmation");
        Assert.True((await PayeeAsync(w2.Json.GetProperty("next_action").GetProperty("wechat").GetProperty("package_info").GetString()!, "expire")).IsSuccessStatusCode);
        var d2 = await StatusAsync(m, lapsed, "succeeded", "failed", "canceled");
        Assert.Equal("failed", d2.Str("status"));
        Assert.Equal("CANCELLED", d2.Json.GetProperty("failure").GetProperty("code").GetString());
        Assert.Equal(-30_000, await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(0, await hub.BalanceAsync(Reserve(merchantId)));
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task The_merchant_cancels_a_payout_awaiting_the_payee_once_and_the_reservation_goes_back()
    {
        var (m, merchantId) = await FundedAsync(50_000);
        var id = (await m.PostAsync("/v1/payouts", Body(40_000, NewOpenId()), idempotencyKey: Key())).Str("id");
        var waiting = await StatusAsync(m, id, "awaiting_confirmation");
        var package = waiting.Json.GetProperty("next_action").GetProperty("wechat").GetProperty("package_info").GetString()!;

        var missingKey = await m.PostAsync($"/v1/payouts/{id}/cancel", new { }, idempotencyKey: null);
        Assert.Equal(HttpStatusCode.BadRequest, missingKey.Status);
        var key = Key();
        var cancel = await m.PostAsync($"/v1/payouts/{id}/cancel", new { }, idempotencyKey: key);
        Assert.Equal(HttpStatusCode.OK, cancel.Status);
        Assert.True(cancel.Json.GetProperty("cancel_requested").GetBoolean());
        var again = await m.PostAsync($"/v1/payouts/{id}/cancel", new { }, idempotencyKey: key);
        Assert.Equal(HttpStatusCode.OK, again.Status);
        Assert.Equal(id, again.Str("id"));

        var done = await StatusAsync(m, id, "canceled", "succeeded", "failed");
        Assert.Equal("canceled", done.Str("status"));
        var outBillNo = await OutBillNoAsync(id);
        Assert.Equal("CANCELLED", Bill(outBillNo).State);
        Assert.Equal(1, Calls("create", outBillNo));
        Assert.True(Calls("cancel", outBillNo) >= 1);
        Assert.True(Calls("query", outBillNo) >= 1); // CANCELING: asked where it is, not cancelled blind again
        // The payee is too late: the page opens nothing.
        Assert.Equal(HttpStatusCode.BadRequest, (await PayeeAsync(package, "confirm")).StatusCode);

        // Asked again with another key: the payout as it is, nothing moves.
        var late = await m.PostAsync($"/v1/payouts/{id}/cancel", new { }, idempotencyKey: Key());
        Assert.Equal(HttpStatusCode.OK, late.Status);
        Assert.Equal("canceled", late.Str("status"));
        Assert.Equal(-50_000, await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(0, await hub.BalanceAsync(Reserve(merchantId)));
        Assert.Equal(1, await EventsAsync(merchantId, "payout.canceled"));
        Assert.Equal(0, await EventsAsync(merchantId, "payout.failed"));

        // One the payee accepted cannot be canceled (409), and nothing changes.
        var paid = (await m.PostAsync("/v1/payouts", Body(10_000, NewOpenId()), idempotencyKey: Key())).Str("id");
        var pw = await StatusAsync(m, paid, "awaiting_confirmation");
        await PayeeAsync(pw.Json.GetProperty("next_action").GetProperty("wechat").GetProperty("package_info").GetString()!, "confirm");
        await StatusAsync(m, paid, "succeeded");
        var refused = await m.PostAsync($"/v1/payouts/{paid}/cancel", new { }, idempotencyKey: Key());
        Assert.Equal(HttpStatusCode.Conflict, refused.Status);
        Assert.Equal("payout_not_cancelable", refused.Str("code"));
        Assert.Equal(-40_000, await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task A_transfer_whose_answer_was_lost_is_queried_and_never_sent_twice()
    {
        var (m, merchantId) = await FundedAsync(50_000);
        // The bill is made at WeChat, then the answer never comes: UNKNOWN, resolved by query by out_bill_no.
        hub.Sandbox.WeChat.Faults.Inject("transfer", SandboxFault.TimeoutAfter, 1);
        var id = (await m.PostAsync("/v1/payouts", Body(12_345, NewOpenId()), idempotencyKey: Key())).Str("id");
        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM payouts WHERE id = @id AND status = 'unknown'", new { id }), n => n == 1, what: "the payout is unknown");
        await StatusAsync(m, id, "awaiting_confirmation");
        var outBillNo = await OutBillNoAsync(id);
        Assert.True(Calls("query", outBillNo) >= 1);
        Assert.Equal(1, Calls("create", outBillNo));

        // The package came only with the lost answer; the payee opens the bill all the same (the sandbox phone has it).
        Assert.True((await PayeeAsync(Bill(outBillNo).PackageInfo, "confirm")).IsSuccessStatusCode);
        Assert.Equal("succeeded", (await StatusAsync(m, id, "succeeded", "failed")).Str("status"));
        Assert.Equal(1, Calls("create", outBillNo));
        Assert.Single(hub.Sandbox.WeChat.TransferBills.Values, b => b.OutBillNo == outBillNo);
        Assert.Equal(-(50_000 - 12_345), await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(0, await hub.BalanceAsync(Reserve(merchantId)));
        Assert.Equal(1, await EventsAsync(merchantId, "payout.succeeded"));
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task Limits_balance_and_bad_payees_are_refused_before_the_wallet_and_change_nothing()
    {
        var (m, merchantId) = await FundedAsync(10_000_000);
        var calls = hub.Sandbox.WeChat.TransferCalls.Count;
        var openId = NewOpenId();

        var tooBig = await m.PostAsync("/v1/payouts", Body(5_000_001, openId, name: "张三"), idempotencyKey: Key()); // Payouts:MaxPerPayout ¥50,000
        Assert.Equal(HttpStatusCode.UnprocessableEntity, tooBig.Status);
        Assert.Equal("payout_limit_exceeded", tooBig.Str("code"));

        foreach (var (body, param) in new (object Body, string Param)[]
        {
            (Body(1_000, "bad openid!"), "payee.identity"),
            (Body(1_000, "o\u200bpenid123"), "payee.identity"),
            (Body(1_000, openId, type: "ALIPAY_USER_ID"), "payee.identity"),
            (Body(1_000, openId, wallet: "alipay"), "payee.type"),
            (Body(9, openId), "amount"),
            (Body(200_000, openId), "payee.name"), // ¥2,000 and more: the real name is required
            (Body(1_000, openId, description: new string('佣', 33)), "description"),
            (Body(1_000, openId, name: "张\u202e三"), "payee.name"),
        })
        {
            var bad = await m.PostAsync("/v1/payouts", body, idempotencyKey: Key());
            Assert.True(bad.Status == HttpStatusCode.BadRequest && bad.Body.Contains($"\"{param}\"", StringComparison.Ordinal), param + ": " + bad);
        }

        var (poor, poorId) = await FundedAsync(1_000);
        var broke = await poor.PostAsync("/v1/payouts", Body(1_001, openId), idempotencyKey: Key());
        Assert.Equal(HttpStatusCode.UnprocessableEntity, broke.Status);
        Assert.Equal("insufficient_balance", broke.Str("code"));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM payouts WHERE merchant_id IN (@merchantId, @poorId)", new { merchantId, poorId }));
        Assert.Equal(-1_000, await hub.BalanceAsync($"merchant_payable:{poorId}"));
        Assert.Equal(-10_000_000, await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        // Nothing reached WeChat: every refusal was decided before any call.
        Assert.Equal(calls, hub.Sandbox.WeChat.TransferCalls.Count);
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task WeChat_refusing_for_its_own_balance_fails_the_payout_and_gives_the_reservation_back()
    {
        var (m, merchantId) = await FundedAsync(40_000);
        var mchId = hub.WeChat.MchId;
        var before = hub.Sandbox.WeChat.TransferBalanceFen.GetOrAdd(mchId, Hutong.Sandbox.WeChatPay.WeChatSandboxState.DefaultTransferBalanceFen);
        hub.Sandbox.WeChat.TransferBalanceFen[mchId] = 100; // the ledger says 400.00, the WeChat account holds 1.00
        try
        {
            var id = (await m.PostAsync("/v1/payouts", Body(40_000, NewOpenId()), idempotencyKey: Key())).Str("id");
            var done = await StatusAsync(m, id, "succeeded", "failed");
            Assert.Equal("failed", done.Str("status"));
            Assert.Equal("NOT_ENOUGH", done.Json.GetProperty("failure").GetProperty("code").GetString());
        }
        finally
        {
            hub.Sandbox.WeChat.TransferBalanceFen[mchId] = before;
        }

        Assert.Equal(-40_000, await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(0, await hub.BalanceAsync(Reserve(merchantId)));
        Assert.Equal(1, await EventsAsync(merchantId, "payout.failed"));
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task The_same_Idempotency_Key_is_the_same_payout_and_its_out_bill_no_reaches_WeChat_once()
    {
        var (m, merchantId) = await FundedAsync(50_000);
        var key = Key();
        var openId = NewOpenId();
        var first = await m.PostAsync("/v1/payouts", Body(10_000, openId), idempotencyKey: key);
        var again = await m.PostAsync("/v1/payouts", Body(10_000, openId), idempotencyKey: key);
        Assert.Equal(HttpStatusCode.Created, first.Status);
        Assert.Equal(first.Str("id"), again.Str("id"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await m.PostAsync("/v1/payouts", Body(10_001, openId), idempotencyKey: key)).Status);
        var id = first.Str("id");
        await StatusAsync(m, id, "awaiting_confirmation");
        await hub.Service<Hutong.Server.Features.Payouts.PayoutService>().RunDueAsync(default);
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM payouts WHERE merchant_id = @merchantId", new { merchantId }));
        Assert.Equal(1, Calls("create", await OutBillNoAsync(id)));
        Assert.Equal(-40_000, await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task From_2000_yuan_the_real_name_travels_encrypted_and_WeChat_checks_it()
    {
        var (m, merchantId) = await FundedAsync(1_000_000);
        var openId = NewOpenId();
        hub.Sandbox.WeChat.TransferRealNames[openId] = "张三";

        var id = (await m.PostAsync("/v1/payouts", Body(250_000, openId, name: "张三"), idempotencyKey: Key())).Str("id");
        var waiting = await StatusAsync(m, id, "awaiting_confirmation");
        var outBillNo = await OutBillNoAsync(id);
        // The sandbox decrypted user_name with the platform private key (RSA-OAEP, named by Wechatpay-Serial).
        Assert.Equal("张三", Bill(outBillNo).UserName);
        await PayeeAsync(waiting.Json.GetProperty("next_action").GetProperty("wechat").GetProperty("package_info").GetString()!, "confirm");
        Assert.Equal("succeeded", (await StatusAsync(m, id, "succeeded", "failed")).Str("status"));

        // A name that is not the openid's: WeChat fails the bill; the reservation goes back.
        var wrong = (await m.PostAsync("/v1/payouts", Body(300_000, openId, name: "李四"), idempotencyKey: Key())).Str("id");
        var failed = await StatusAsync(m, wrong, "succeeded", "failed");
        Assert.Equal("failed", failed.Str("status"));
        Assert.Equal("NAME_NOT_CORRECT", failed.Json.GetProperty("failure").GetProperty("code").GetString());
        Assert.Equal(-(1_000_000 - 250_000), await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(0, await hub.BalanceAsync(Reserve(merchantId)));
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task An_independent_npm_client_creates_and_queries_a_transfer_at_the_sandbox_and_verifies_its_signatures()
    {
        await E2eModules.EnsureInstalledAsync();
        var openId = NewOpenId();
        hub.Sandbox.WeChat.TransferRealNames[openId] = "张三";
        var psi = E2eModules.WeChatPayClient("wechatpay-transfer-interop.mjs", hub.Sandbox.BaseUrl, hub.WeChat);
        psi.Environment["WX_OPENID"] = openId;
        var (exitCode, stdout, stderr) = await E2eModules.RunNodeAsync(psi);

        Assert.True(exitCode == 0, stderr);
        var r = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;
        Assert.False(r.TryGetProperty("error", out var error), error.ToString());
        Assert.Equal("WAIT_USER_CONFIRM", r.GetProperty("state").GetString());
        Assert.False(string.IsNullOrEmpty(r.GetProperty("package_info").GetString()));
        Assert.Equal("WAIT_USER_CONFIRM", r.GetProperty("query_state").GetString());
        Assert.Equal(250_000, r.GetProperty("query_amount").GetInt64());
        Assert.Equal(hub.WeChat.MchId, r.GetProperty("query_mch_id").GetString());
        Assert.Equal(404, r.GetProperty("missing_status").GetInt32());
        Assert.Equal("NOT_FOUND", r.GetProperty("missing_code").GetString());
        // The plugin's RSA-OAEP ciphertext decrypted at the sandbox.
        Assert.Equal("张三", hub.Sandbox.WeChat.TransferBills[(hub.WeChat.MchId, r.GetProperty("out_bill_no").GetString()!)].UserName);
    }
}

[Collection("sqlite")]
public sealed class WeChatPayoutTests_Sqlite(SqliteHub hub) : WeChatPayoutTests(hub);

[Collection("postgres")]
public sealed class WeChatPayoutTests_Postgres(PostgresHub hub) : WeChatPayoutTests(hub);
