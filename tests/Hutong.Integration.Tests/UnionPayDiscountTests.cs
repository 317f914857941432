using System.Net;
using System.Net.Http.Json;
using Dapper;
using Hutong.Demo;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Sandbox.UnionPay;
using Hutong.Server.Features.Ledger;
using Hutong.Server.Features.Reconciliation;

namespace Hutong.Integration.Tests;

/// <summary>
/// UnionPay discounts (docs/discounts-unionpay.md), as <see cref="WalletDiscountTests"/> does for WeChat Pay and Alipay: a
/// card holds a discount activity funded by UnionPay (spnsrId 00010000), the issuer bank (8-digit institution code) and the
/// merchant (its 15-digit merId); the backUrl notification (or the query answer) carries couponInfo and settleAmt; the
/// payment shows how it was funded, the ledger books each source to its own account, partial and full 退货 return the
/// parts pro rata as the sandbox does, the day's ZM file reconciles clean (its 结算金额 included), and the ledger verifies
/// after each step. A couponInfo that cannot be read is never booked.
/// </summary>
public abstract class UnionPayDiscountTests(HubFixture hub)
{
    private static DateOnly TodayInChina => DateOnly.FromDateTime(DateTimeOffset.UtcNow.ToOffset(TimeSpan.FromHours(8)).DateTime);

    private async Task<(ApiClient M, string MerchantId, string Channel, string MerId)> UnionPayChannelAsync()
    {
        // A channel of its own (a fresh UnionPay merchant), so its settlement file holds exactly this test's orders.
        var channel = "up-cpn-" + Guid.NewGuid().ToString("N")[..8];
        var config = await SandboxWiring.RegisterUnionPayMerchantAsync(hub.Sandbox.BaseUrl);
        Assert.Equal(HttpStatusCode.Created, (await hub.Admin().PostAsync("/admin/channels", new { id = channel, wallet = "unionpay", mode = "direct", config })).Status);
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        Assert.Equal(HttpStatusCode.OK, (await hub.Admin().PostAsync($"/admin/merchants/{merchantId}/routes/unionpay", new { rules = new[] { new { channel } } })).Status);
        return (m, merchantId, channel, config.MerId);
    }

    private static string NewCard() => "6216****" + Random.Shared.Next(1000, 9999) + Guid.NewGuid().ToString("N")[..6];

    private async Task GrantAsync(string accNo, string type, long unionPay = 0, long bank = 0, long merchant = 0, string? raw = null)
    {
        using var http = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
        var r = await http.PostAsJsonAsync("/sandbox/unionpay/buyer/coupons",
            new { acc_no = accNo, type, union_pay = unionPay, bank, merchant, raw_coupon_info = raw }, SandboxJson.Options);
        Assert.True(r.IsSuccessStatusCode, await r.Content.ReadAsStringAsync());
    }

    private async Task<string> PayAsync(ApiClient m, long amount, string accNo, string waitFor = "succeeded", bool dropNotification = false)
    {
        var id = await m.CreatePaymentAsync(amount);
        var qr = (await m.ConfirmAsync(id, wallet: "unionpay")).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        if (dropNotification)
        {
            hub.Sandbox.UnionPay.Faults.Inject("notify", SandboxFault.DropNotification, 1, match: id); // the hub must find it by query
        }

        using var http = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
        var paid = await http.PostAsJsonAsync("/sandbox/unionpay/buyer/pay", new { qr_code = qr, acc_no = accNo }, SandboxJson.Options);
        Assert.True(paid.IsSuccessStatusCode, await paid.Content.ReadAsStringAsync());
        if (dropNotification)
        {
            // The order's poll comes (brought forward here): the query answer says paid, with couponInfo and settleAmt.
            await hub.EventuallyAsync(async () =>
            {
                await hub.ExecAsync("UPDATE payment_attempts SET poll_at = @now WHERE payment_id = @id AND status = 'open'",
                    new { now = hub.Service<TimeProvider>().GetUtcNow().ToUnixTimeMilliseconds(), id });
                return (await m.GetAsync($"/v1/payments/{id}")).Str("status");
            }, s => s == "succeeded", TimeSpan.FromSeconds(20), "the poll finds the payment");
            Assert.Equal(0, await hub.CountAsync(
                "SELECT COUNT(*) FROM wallet_notifications n JOIN payment_attempts a ON a.out_trade_no = n.out_trade_no WHERE a.payment_id = @id", new { id }));
        }
        else if (waitFor == "succeeded")
        {
            await m.WaitForStatusAsync(id, "succeeded");
        }

        return id;
    }

    private async Task<UnionPaySandboxOrder> SandboxOrderAsync(string merId, string paymentId)
    {
        var outTradeNo = await hub.Db.ReadAsync(c => c.ExecuteScalarAsync<string>("SELECT out_trade_no FROM payment_attempts WHERE payment_id = @paymentId", new { paymentId }), default);
        return hub.Sandbox.UnionPay.Orders[(merId, outTradeNo!)];
    }

    private async Task<string> RefundAsync(ApiClient m, string paymentId, long amount, long refundedAfter)
    {
        var created = await m.PostAsync($"/v1/payments/{paymentId}/refunds", new { amount });
        Assert.Equal(HttpStatusCode.Created, created.Status);
        await hub.EventuallyAsync(() => m.GetAsync($"/v1/payments/{paymentId}"), p => p.Json.GetProperty("amount_refunded").GetInt64() == refundedAfter, what: "refund settles");
        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'refund' AND reference = @id", new { id = created.Str("id") }), n => n == 1, what: "refund posted");
        return created.Str("id");
    }

    [Fact]
    public async Task A_discount_funded_by_UnionPay_the_issuer_bank_and_the_merchant_is_booked_by_source_returned_pro_rata_and_reconciles_clean()
    {
        var (m, merchantId, channel, merId) = await UnionPayChannelAsync();
        var card = NewCard();
        // One DD01 (随机立减) activity of 6.00: UnionPay 3.00 and the issuer bank 2.00 (settled to the merchant), the merchant 1.00 (not).
        await GrantAsync(card, "DD01", unionPay: 300, bank: 200, merchant: 100);

        var id = await PayAsync(m, 10_000, card);
        var paid = await m.GetAsync($"/v1/payments/{id}");
        Assert.Equal(10_000, paid.Json.GetProperty("amount").GetInt64());
        var details = paid.Json.GetProperty("amount_details");
        Assert.Equal((9_400L, 500L, 100L, 9_900L), (details.GetProperty("buyer_paid").GetInt64(), details.GetProperty("wallet_discount").GetInt64(),
            details.GetProperty("merchant_discount").GetInt64(), details.GetProperty("settlement_amount").GetInt64()));

        // What UnionPay's side sent: couponInfo with one entry per sponsor, and settleAmt less the merchant's part only.
        var order = await SandboxOrderAsync(merId, id);
        var notified = hub.Sandbox.UnionPay.NotificationFields(order);
        Assert.Equal("9900", notified["settleAmt"]);
        Assert.Equal([("00010000", 300L), (UnionPaySandboxCoupons.DefaultBankCode, 200L), (merId, 100L)], order.Coupons.Select(c => (c.SpnsrId, c.OffstAmt)));
        Assert.Contains($"\"spnsrId\":\"{merId}\",\"offstAmt\":\"100\"", notified["couponInfo"], StringComparison.Ordinal);

        // Ledger: the buyer's 94.00 in clearing less the fee on the settled 99.00 (0.6 % = 0.594 → 0.59), UnionPay's and the
        // bank's 5.00 receivable from UnionPay, the merchant owed 99.00 less the fee, its own 1.00 its discount expense.
        Assert.Equal(9_400 - 59, await hub.PostedAsync(id, "wallet_clearing:"));
        Assert.Equal(500, await hub.PostedAsync(id, "wallet_discount_receivable:"));
        Assert.Equal(-(9_900 - 59), await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(100, await hub.BalanceAsync($"merchant_discount_expense:{merchantId}"));
        Assert.Equal(-100, await hub.BalanceAsync($"merchant_discount_granted:{merchantId}"));
        await hub.LedgerVerifiesAsync();

        // A 退货 of 30.00 returns 30 % of each part (UnionPay and bank 1.50, the merchant 0.30), the buyer 28.20; the fee
        // returned is 30 % of 0.59 (0.177 → 0.18); UnionPay takes the settlement refund 29.70 less it from the merchant.
        var first = await RefundAsync(m, id, 3_000, 3_000);
        var firstAtWallet = hub.Sandbox.UnionPay.Orders.Values.Single(o => o.RefundOf == order.QueryId);
        Assert.Equal((30L, 180L, 2_970L), (firstAtWallet.MerchantDiscountReturned, firstAtWallet.DiscountReturned, firstAtWallet.SettleAmt));
        Assert.Equal(-150, await hub.PostedAsync(first, "wallet_discount_receivable:"));
        Assert.Equal(-(2_820 - 18), await hub.PostedAsync(first, "wallet_clearing:"));
        Assert.Equal(-(9_900 - 59 - (2_970 - 18)), await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(70, await hub.BalanceAsync($"merchant_discount_expense:{merchantId}"));
        await hub.LedgerVerifiesAsync();

        // The rest: every part is back in full, the buyer has exactly what they paid, nothing is owed either way.
        var rest = await RefundAsync(m, id, 7_000, 10_000);
        var restAtWallet = hub.Sandbox.UnionPay.Orders.Values.Single(o => o.RefundOf == order.QueryId && o != firstAtWallet);
        Assert.Equal((70L, 420L), (restAtWallet.MerchantDiscountReturned, restAtWallet.DiscountReturned));
        Assert.Equal(0, await hub.PostedAsync(id, "wallet_discount_receivable:") + await hub.PostedAsync(first, "wallet_discount_receivable:") + await hub.PostedAsync(rest, "wallet_discount_receivable:"));
        Assert.Equal(0, await hub.PostedAsync(id, "wallet_clearing:") + await hub.PostedAsync(first, "wallet_clearing:") + await hub.PostedAsync(rest, "wallet_clearing:"));
        Assert.Equal(0, await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(0, await hub.BalanceAsync($"merchant_discount_expense:{merchantId}"));
        Assert.Equal(0, await hub.BalanceAsync($"merchant_discount_granted:{merchantId}"));
        await hub.LedgerVerifiesAsync();

        // The day's ZM file: the payment's 结算金额 (99.00 less the fee) and each 退货's (less the merchant's part returned)
        // agree with the hub's books, and the fee on the settled amount too.
        var report = await hub.Service<ReconciliationService>().RunAsync(TodayInChina, null, default);
        var ours = Assert.Single(report.Channels, c => c.Channel == channel);
        Assert.Equal("completed", ours.Status);
        Assert.Empty(ours.Discrepancies);
        Assert.Equal(3, ours.Matched); // the payment and its two 退货
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task A_merchant_funded_coupon_found_by_query_is_booked_and_a_wallet_that_later_settles_it_shows_in_reconciliation()
    {
        var (m, merchantId, channel, merId) = await UnionPayChannelAsync();
        var card = NewCard();
        await GrantAsync(card, "CP02", merchant: 500); // 抵金券2 (事前领取), all the merchant's

        // The backUrl notification is lost: the hub learns the payment, couponInfo and settleAmt from the query answer.
        var id = await PayAsync(m, 2_000, card, dropNotification: true);
        var details = (await m.GetAsync($"/v1/payments/{id}")).Json.GetProperty("amount_details");
        Assert.Equal((1_500L, 0L, 500L, 1_500L), (details.GetProperty("buyer_paid").GetInt64(), details.GetProperty("wallet_discount").GetInt64(),
            details.GetProperty("merchant_discount").GetInt64(), details.GetProperty("settlement_amount").GetInt64()));
        Assert.Equal(-(1_500 - 9), await hub.BalanceAsync($"merchant_payable:{merchantId}")); // 0.6 % of 15.00
        Assert.Equal(500, await hub.BalanceAsync($"merchant_discount_expense:{merchantId}"));
        await hub.LedgerVerifiesAsync();

        // UnionPay's records drift: the part is now UnionPay's, so its file settles the whole 20.00.
        var order = await SandboxOrderAsync(merId, id);
        order.Coupons[0] = order.Coupons[0] with { SpnsrId = "00010000" };
        var report = await hub.Service<ReconciliationService>().RunAsync(TodayInChina, null, default);
        var ours = Assert.Single(report.Channels, c => c.Channel == channel);
        var found = Assert.Single(ours.Discrepancies);
        Assert.Equal(("settlement_mismatch", order.OrderId, 1_500L, 2_000L), (found.Kind, found.OutTradeNo, found.HubAmount!.Value, found.WalletAmount!.Value));
        await hub.LedgerVerifiesAsync();
    }

    [Theory]
    [InlineData("[{\"type\":\"DD01\",\"spnsrId\":\"00010000\",\"offstAmt\":\"1.00\",\"id\":\"cupcp1\"}]")] // offstAmt is fen, digits only
    // The merchant's 3.00, yet settleAmt is the whole 10.00 (the sandbox's parts are UnionPay's): the parts do not add up.
    [InlineData("[{\"type\":\"DD01\",\"spnsrId\":\"777290058000000\",\"offstAmt\":\"300\",\"id\":\"cupcp1\"}]")]
    [InlineData("not json")]
    public async Task A_couponInfo_that_cannot_be_read_or_does_not_add_up_is_never_booked(string couponInfo)
    {
        var (m, merchantId, _, _) = await UnionPayChannelAsync();
        var card = NewCard();
        await GrantAsync(card, "DD01", unionPay: 100, raw: couponInfo);
        var id = await PayAsync(m, 1_000, card, waitFor: "none");

        await hub.EventuallyAsync(() => hub.Db.ReadAsync(c => c.ExecuteScalarAsync<string?>("SELECT error_code FROM payment_attempts WHERE payment_id = @id", new { id }), default),
            code => code == "discount_mismatch", what: "the mismatch is recorded on the attempt");
        Assert.Equal("pending", (await m.GetAsync($"/v1/payments/{id}")).Str("status"));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM ledger_entries WHERE reference = @id", new { id }));
        Assert.Equal(0, await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        await hub.LedgerVerifiesAsync();
    }
}

[Collection("sqlite")]
public sealed class UnionPayDiscountTests_Sqlite(SqliteHub hub) : UnionPayDiscountTests(hub);

[Collection("postgres")]
public sealed class UnionPayDiscountTests_Postgres(PostgresHub hub) : UnionPayDiscountTests(hub);
