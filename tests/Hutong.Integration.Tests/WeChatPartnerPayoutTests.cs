using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Hutong.Domain;
using Hutong.Domain.Ledger;
using Hutong.Domain.Payouts;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Sandbox.WeChatPay;
using Hutong.Server.Features.Ledger;

namespace Hutong.Integration.Tests;

/// <summary>
/// POST /v1/payouts on a hub whose WeChat Pay account is a service provider's (服务商, WeChatPay:SubMchId): the transfer
/// goes to the partner API (/v3/fund-app/mch-transfer/partner/transfer-bills with sub_mchid, docs/payouts-partner.md) and
/// is the sub-merchant's bill at the sandbox; the payee confirms with next_action.wechat.sub_mch_id (wx.requestMerchantTransfer
/// subMchId, 服务商模式下必填), declines, or the sub-merchant has not authorised the service provider (the sandbox's
/// NO_AUTH); a lost answer is resolved by the partner query (?sub_mchid=). Ledger verified after each.
/// </summary>
public abstract class WeChatPartnerPayoutTests(HubFixture hub)
{
    private static string NewOpenId() => "oWxPartner" + Guid.NewGuid().ToString("N")[..20];

    private string SpMchId => hub.WeChat.MchId;

    private async Task<(ApiClient M, string MerchantId)> FundedAsync(long fen)
    {
        // Guards every test: a direct merchant's account would make these tests pass through the direct API.
        Assert.True(hub.WeChat.IsServiceProvider, "the hub's WeChat Pay account must be in service-provider mode");
        Assert.Equal(PartnerHub.SubMchId, hub.WeChat.SubMchId);
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        await hub.Db.WriteAsync((c, t) => hub.Service<LedgerStore>().AppendAsync(c, t, "payment_captured", Ids.New("pay"), merchantId,
            Postings.Captured("wechatpay", merchantId, new Money(fen, Currency.Parse("CNY"))), DateTimeOffset.UtcNow), default);
        return (m, merchantId);
    }

    private static object Body(long amount, string openId) => new
    {
        amount,
        currency = "CNY",
        wallet = "wechatpay",
        payee = new { type = "WECHAT_OPENID", identity = openId },
        description = "服务商佣金",
    };

    private static string Key() => "wxsp-" + Guid.NewGuid();

    private Task<long> BalanceAsync(string account) =>
        hub.Db.ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT COALESCE(SUM(amount), 0) FROM ledger_lines WHERE account = @account", new { account }), default);

    private async Task LedgerVerifiesAsync()
    {
        var verified = await hub.Service<LedgerStore>().VerifyAsync(null, default);
        Assert.True(verified.Ok, string.Join('\n', verified.Problems));
    }

    private Task<ApiResponse> StatusAsync(ApiClient m, string id, params string[] statuses) =>
        hub.EventuallyAsync(() => m.GetAsync($"/v1/payouts/{id}"), r => statuses.Contains(r.Str("status")), what: $"payout {id} is {string.Join(" or ", statuses)}");

    private Task<string> OutBillNoAsync(string id) =>
        hub.Db.ReadAsync(c => c.ExecuteScalarAsync<string>("SELECT out_biz_no FROM payouts WHERE id = @id", new { id }), default)!;

    private int Calls(string call, string outBillNo) => hub.Sandbox.WeChat.TransferCalls.Count(x => x.Call == call && x.OutBillNo == outBillNo);

    /// <summary>
    /// The bill at the sandbox, kept under the sub-merchant that funds it and marked with the service provider that made it:
    /// only the partner create path (with that sub_mchid) makes such a bill; the direct path would keep it under the caller.
    /// </summary>
    private SandboxTransferBill PartnerBill(string outBillNo)
    {
        Assert.False(hub.Sandbox.WeChat.TransferBills.ContainsKey((SpMchId, outBillNo)), "a direct-API bill under the service provider's own mchid");
        Assert.True(hub.Sandbox.WeChat.TransferBills.TryGetValue((PartnerHub.SubMchId, outBillNo), out var bill), "no bill under the sub-merchant");
        Assert.Equal(SpMchId, bill.SpMchId);
        return bill;
    }

    private async Task<HttpResponseMessage> PayeeAsync(string packageInfo, string action)
    {
        using var http = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
        return await http.PostAsJsonAsync("/sandbox/wechatpay/buyer/transfer", new { package_info = packageInfo, action }, SandboxJson.Options);
    }

    private Task<long> EventsAsync(string merchantId, string type) =>
        hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE type = @type AND merchant_id = @merchantId", new { type, merchantId });

    /// <summary>The sandbox told the hub of the bill's end (MCHTRANSFER.BILL.FINISHED naming the service provider and sub_mchid) and the hub took it (2xx).</summary>
    private Task AcceptedNotificationAsync(string outBillNo) =>
        hub.EventuallyAsync(() => Task.FromResult(hub.Sandbox.WeChat.NotificationLog.Where(a => a.OutTradeNo == outBillNo).Select(a => a.HttpStatus).ToList()),
            s => s.Any(x => x is 200 or 204), what: $"the hub accepting the partner transfer notification for {outBillNo}");

    private static JsonElement Wechat(ApiResponse payout) => payout.Json.GetProperty("next_action").GetProperty("wechat");

    [Fact]
    public async Task A_payout_goes_to_the_partner_api_for_the_sub_merchant_waits_for_the_payee_with_sub_mch_id_and_succeeds()
    {
        var (m, merchantId) = await FundedAsync(100_000);
        var openId = NewOpenId();
        var created = await m.PostAsync("/v1/payouts", Body(20_000, openId), idempotencyKey: Key());
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var id = created.Str("id");
        Assert.Equal(-80_000, await BalanceAsync($"merchant_payable:{merchantId}"));

        var waiting = await StatusAsync(m, id, "awaiting_confirmation");
        Assert.Equal("wechat_merchant_transfer", waiting.Json.GetProperty("next_action").GetProperty("type").GetString());
        var wechat = Wechat(waiting);
        Assert.Equal(SpMchId, wechat.GetProperty("mch_id").GetString()); // the service provider …
        Assert.Equal(PartnerHub.SubMchId, wechat.GetProperty("sub_mch_id").GetString()); // … for its sub-merchant (subMchId, 服务商模式下必填)
        Assert.Equal(hub.WeChat.AppId, wechat.GetProperty("app_id").GetString());
        var package = wechat.GetProperty("package_info").GetString()!;
        Assert.False(string.IsNullOrEmpty(package));
        Assert.Equal(1, await EventsAsync(merchantId, "payout.awaiting_confirmation"));

        var outBillNo = await OutBillNoAsync(id);
        var bill = PartnerBill(outBillNo);
        Assert.Equal((20_000L, openId, "服务商佣金", "WAIT_USER_CONFIRM"), (bill.Amount, bill.OpenId, bill.Remark, bill.State));
        Assert.Equal(package, bill.PackageInfo); // the partner create answer (no state) carried it

        Assert.True((await PayeeAsync(package, "confirm")).IsSuccessStatusCode);
        var done = await StatusAsync(m, id, "succeeded", "failed");
        Assert.Equal("succeeded", done.Str("status"));
        Assert.Equal("SUCCESS", bill.State);
        Assert.Equal(bill.TransferBillNo, done.Str("wallet_order_id"));
        Assert.False(done.Json.TryGetProperty("next_action", out var na) && na.ValueKind != JsonValueKind.Null);
        Assert.Equal(1, Calls("create", outBillNo));
        await AcceptedNotificationAsync(outBillNo);

        Assert.Equal(-80_000, await BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(0, await BalanceAsync(PayoutPostings.Reserve(merchantId)));
        Assert.Equal(1, await EventsAsync(merchantId, "payout.created"));
        Assert.Equal(1, await EventsAsync(merchantId, "payout.succeeded"));
        Assert.Equal(0, await EventsAsync(merchantId, "payout.failed"));
        await LedgerVerifiesAsync();
    }

    [Fact]
    public async Task A_payee_who_declines_fails_the_partner_payout_and_the_reservation_goes_back()
    {
        var (m, merchantId) = await FundedAsync(30_000);
        var id = (await m.PostAsync("/v1/payouts", Body(25_000, NewOpenId()), idempotencyKey: Key())).Str("id");
        var waiting = await StatusAsync(m, id, "awaiting_confirmation");
        Assert.Equal(PartnerHub.SubMchId, Wechat(waiting).GetProperty("sub_mch_id").GetString());
        Assert.Equal(-5_000, await BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(-25_000, await BalanceAsync(PayoutPostings.Reserve(merchantId))); // held while the payee decides

        Assert.True((await PayeeAsync(Wechat(waiting).GetProperty("package_info").GetString()!, "decline")).IsSuccessStatusCode);
        var done = await StatusAsync(m, id, "succeeded", "failed");
        Assert.Equal("failed", done.Str("status"));
        Assert.Equal("USER_DECLINED", done.Json.GetProperty("failure").GetProperty("code").GetString());
        var outBillNo = await OutBillNoAsync(id);
        Assert.Equal("FAIL", PartnerBill(outBillNo).State);
        await AcceptedNotificationAsync(outBillNo);

        Assert.Equal(-30_000, await BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(0, await BalanceAsync(PayoutPostings.Reserve(merchantId)));
        Assert.Equal(1, await EventsAsync(merchantId, "payout.failed"));
        Assert.Equal(0, await EventsAsync(merchantId, "payout.succeeded"));
        await LedgerVerifiesAsync();
    }

    [Fact]
    public async Task A_sub_merchant_that_has_not_authorised_the_service_provider_fails_the_payout_with_the_wallets_code_and_the_reservation_goes_back()
    {
        var (m, merchantId) = await FundedAsync(40_000);
        var sp = hub.Sandbox.WeChat.Merchants[SpMchId];
        // The sub-merchant withdraws its authorisation (partner/sub-mch-authorizations): the sandbox answers 403 NO_AUTH.
        Assert.True(sp.SubMerchants.TryRemove(PartnerHub.SubMchId, out _));
        string id;
        try
        {
            id = (await m.PostAsync("/v1/payouts", Body(40_000, NewOpenId()), idempotencyKey: Key())).Str("id");
            var done = await StatusAsync(m, id, "succeeded", "failed", "awaiting_confirmation");
            Assert.Equal("failed", done.Str("status"));
            Assert.Equal("NO_AUTH", done.Json.GetProperty("failure").GetProperty("code").GetString());
        }
        finally
        {
            sp.SubMerchants[PartnerHub.SubMchId] = true;
        }

        var outBillNo = await OutBillNoAsync(id);
        // Refused, so nothing was made at the wallet and nothing is sent again: the failure is final.
        Assert.DoesNotContain(hub.Sandbox.WeChat.TransferBills.Keys, k => k.OutBillNo == outBillNo);
        await hub.Service<Hutong.Server.Features.Payouts.PayoutService>().RunDueAsync(default);
        Assert.Equal(1, Calls("create", outBillNo));
        Assert.Equal("failed", (await m.GetAsync($"/v1/payouts/{id}")).Str("status"));

        Assert.Equal(-40_000, await BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(0, await BalanceAsync(PayoutPostings.Reserve(merchantId)));
        Assert.Equal(1, await EventsAsync(merchantId, "payout.failed"));
        Assert.Equal(0, await EventsAsync(merchantId, "payout.awaiting_confirmation"));
        await LedgerVerifiesAsync();
    }

    [Fact]
    public async Task A_partner_transfer_whose_answer_was_lost_is_found_by_the_partner_query_and_never_sent_twice()
    {
        var (m, merchantId) = await FundedAsync(50_000);
        // The bill is made at WeChat, then the answer never comes: unknown, resolved by the partner query by out_bill_no.
        hub.Sandbox.WeChat.Faults.Inject("transfer", SandboxFault.TimeoutAfter, 1);
        var id = (await m.PostAsync("/v1/payouts", Body(12_345, NewOpenId()), idempotencyKey: Key())).Str("id");
        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM payouts WHERE id = @id AND status = 'unknown'", new { id }), n => n == 1, what: "the payout is unknown");
        var waiting = await StatusAsync(m, id, "awaiting_confirmation");
        var outBillNo = await OutBillNoAsync(id);
        // Only the partner query (with ?sub_mchid=) finds the sub-merchant's bill: the direct one answers NOT_FOUND, which
        // would have sent it again (a second create, a bill under the service provider's own mchid — PartnerBill refuses).
        var bill = PartnerBill(outBillNo);
        Assert.True(Calls("query", outBillNo) >= 1);
        Assert.Equal(1, Calls("create", outBillNo));
        Assert.Equal(PartnerHub.SubMchId, Wechat(waiting).GetProperty("sub_mch_id").GetString());
        Assert.Equal(SpMchId, Wechat(waiting).GetProperty("mch_id").GetString());

        // The package came only with the lost answer; the payee opens the bill all the same (the sandbox phone has it).
        Assert.True((await PayeeAsync(bill.PackageInfo, "confirm")).IsSuccessStatusCode);
        Assert.Equal("succeeded", (await StatusAsync(m, id, "succeeded", "failed")).Str("status"));
        Assert.Equal(1, Calls("create", outBillNo));
        Assert.Single(hub.Sandbox.WeChat.TransferBills.Values, b => b.OutBillNo == outBillNo);
        Assert.Equal(-(50_000 - 12_345), await BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(0, await BalanceAsync(PayoutPostings.Reserve(merchantId)));
        Assert.Equal(1, await EventsAsync(merchantId, "payout.succeeded"));
        await LedgerVerifiesAsync();
    }
}

[Collection("sqlite-wechat-partner")]
public sealed class WeChatPartnerPayoutTests_Sqlite(SqlitePartnerHub hub) : WeChatPartnerPayoutTests(hub);

[Collection("postgres-wechat-partner")]
public sealed class WeChatPartnerPayoutTests_Postgres(PostgresPartnerHub hub) : WeChatPartnerPayoutTests(hub);
