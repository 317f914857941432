using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Hutong.Demo;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Server.Features.Ledger;
using Hutong.Server.Features.Reconciliation;

namespace Hutong.Integration.Tests;

/// <summary>
/// Wallet coupons (docs/discounts.md), WeChat Pay: a buyer pays with a pre-funded CASH coupon and a merchant-borne NOCASH one;
/// the payment shows how it was funded, the ledger books each source to its own account, partial and full refunds return the
/// coupons pro rata as the sandbox wallet does, the day's bill reconciles clean (settlement and coupon columns included), and
/// the ledger verifies after each step. A report whose coupons do not add up is never booked.
/// </summary>
public abstract class WalletDiscountTests(HubFixture hub)
{
    private static DateOnly TodayInChina => DateOnly.FromDateTime(DateTimeOffset.UtcNow.ToOffset(TimeSpan.FromHours(8)).DateTime);

    private async Task<(ApiClient M, string MerchantId, string Channel, string MchId)> WeChatChannelAsync()
    {
        // A channel of its own (a fresh WeChat Pay merchant), so its bill holds exactly this test's orders.
        var channel = "wx-cpn-" + Guid.NewGuid().ToString("N")[..8];
        var mchId = "17" + Random.Shared.Next(10_000_000, 99_999_999);
        var config = await SandboxWiring.RegisterWeChatMerchantAsync(hub.Sandbox.BaseUrl, mchId);
        Assert.Equal(HttpStatusCode.Created, (await hub.Admin().PostAsync("/admin/channels", new { id = channel, wallet = "wechatpay", mode = "direct", config })).Status);
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        Assert.Equal(HttpStatusCode.OK, (await hub.Admin().PostAsync($"/admin/merchants/{merchantId}/routes/wechatpay", new { rules = new[] { new { channel } } })).Status);
        return (m, merchantId, channel, mchId);
    }

    private async Task GrantAsync(string openId, string type, long amount, long? wechatpay = null, long? merchant = null)
    {
        using var http = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
        var r = await http.PostAsJsonAsync("/sandbox/wechatpay/buyer/coupons",
            new { open_id = openId, type, amount, wechatpay_contribute = wechatpay, merchant_contribute = merchant }, SandboxJson.Options);
        Assert.True(r.IsSuccessStatusCode, await r.Content.ReadAsStringAsync());
    }

    private async Task<string> PayWithCouponsAsync(ApiClient m, long amount, string openId, string waitFor = "succeeded")
    {
        var id = await m.CreatePaymentAsync(amount);
        var code = (await m.ConfirmAsync(id)).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await hub.BuyerPaysAsync(code, openId)).StatusCode);
        if (waitFor == "succeeded")
        {
            await m.WaitForStatusAsync(id, "succeeded");
        }

        return id;
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
    public async Task WeChat_CASH_and_NOCASH_coupons_are_booked_by_funding_source_returned_pro_rata_and_reconcile_clean()
    {
        var (m, merchantId, channel, mchId) = await WeChatChannelAsync();
        var openId = "oCoupon" + Guid.NewGuid().ToString("N")[..16];
        await GrantAsync(openId, "CASH", 300);   // pre-funded: WeChat settles it to the merchant
        await GrantAsync(openId, "NOCASH", 200); // merchant-borne: WeChat settles the order less it

        var id = await PayWithCouponsAsync(m, 10_000, openId);
        var paid = await m.GetAsync($"/v1/payments/{id}");
        Assert.Equal(10_000, paid.Json.GetProperty("amount").GetInt64()); // the amount keeps its meaning: the order's
        var details = paid.Json.GetProperty("amount_details");
        Assert.Equal((9_500L, 300L, 200L, 9_800L), (details.GetProperty("buyer_paid").GetInt64(), details.GetProperty("wallet_discount").GetInt64(),
            details.GetProperty("merchant_discount").GetInt64(), details.GetProperty("settlement_amount").GetInt64()));
        // The webhook carries the same (the event is the API's payment).
        var payload = await hub.Db.ReadAsync(c => c.ExecuteScalarAsync<string>(
            "SELECT payload FROM outbox WHERE type = 'payment.succeeded' AND merchant_id = @merchantId", new { merchantId }), default);
        Assert.Contains("\"amount_details\":{\"buyer_paid\":9500,\"wallet_discount\":300,\"merchant_discount\":200,\"settlement_amount\":9800}", payload, StringComparison.Ordinal);

        // Ledger: the buyer's 95.00 in clearing, the CASH coupon's 3.00 receivable from the wallet, the merchant owed the
        // settlement 98.00 less the fee on it (0.6 % of 98.00 = 0.588 → 0.59), the NOCASH 2.00 its discount expense.
        Assert.Equal(9_500, await hub.PostedAsync(id, "wallet_clearing:") + 59);
        Assert.Equal(300, await hub.PostedAsync(id, "wallet_discount_receivable:"));
        Assert.Equal(-(9_800 - 59), await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(200, await hub.BalanceAsync($"merchant_discount_expense:{merchantId}"));
        Assert.Equal(-200, await hub.BalanceAsync($"merchant_discount_granted:{merchantId}"));
        await hub.LedgerVerifiesAsync();

        // A partial refund of 30.00 returns 30 % of each coupon (0.90 CASH, 0.60 NOCASH), the buyer gets 28.50, the fee
        // returned is 30 % of 0.59 (0.177 → 0.18); the merchant's payable drops by the settlement refund 29.40 less it.
        var first = await RefundAsync(m, id, 3_000, 3_000);
        var outTradeNo = await hub.Db.ReadAsync(c => c.ExecuteScalarAsync<string>("SELECT out_trade_no FROM payment_attempts WHERE payment_id = @id", new { id }), default);
        var order = hub.Sandbox.WeChat.Orders[(mchId, outTradeNo!)];
        var firstAtWallet = order.Refunds.Values.Single();
        Assert.Equal((150L, 60L), (firstAtWallet.DiscountRefund, firstAtWallet.NoCashRefund));
        Assert.Equal(-90, await hub.PostedAsync(first, "wallet_discount_receivable:"));
        Assert.Equal(-(2_850 - 18), await hub.PostedAsync(first, "wallet_clearing:"));
        Assert.Equal(-(9_800 - 59 - (2_940 - 18)), await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(140, await hub.BalanceAsync($"merchant_discount_expense:{merchantId}"));
        await hub.LedgerVerifiesAsync();

        // The rest: every coupon is back in full, the buyer has exactly what they paid, nothing is owed either way.
        var rest = await RefundAsync(m, id, 7_000, 10_000);
        var restAtWallet = order.Refunds.Values.Single(r => r != firstAtWallet);
        Assert.Equal((210L + 140L, 140L), (restAtWallet.DiscountRefund, restAtWallet.NoCashRefund));
        Assert.Equal(0, await hub.PostedAsync(id, "wallet_discount_receivable:") + await hub.PostedAsync(first, "wallet_discount_receivable:") + await hub.PostedAsync(rest, "wallet_discount_receivable:"));
        Assert.Equal(0, await hub.PostedAsync(id, "wallet_clearing:") + await hub.PostedAsync(first, "wallet_clearing:") + await hub.PostedAsync(rest, "wallet_clearing:"));
        Assert.Equal(0, await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(0, await hub.BalanceAsync($"merchant_discount_expense:{merchantId}"));
        Assert.Equal(0, await hub.BalanceAsync($"merchant_discount_granted:{merchantId}"));
        await hub.LedgerVerifiesAsync();

        // The day's bill: 应结订单金额 98.00, 代金券金额 2.00, refunds' 退款金额 (settled) and 充值券退款金额 all agree.
        var report = await hub.Service<ReconciliationService>().RunAsync(TodayInChina, null, default);
        var ours = Assert.Single(report.Channels, c => c.Channel == channel);
        Assert.Equal("completed", ours.Status);
        Assert.Empty(ours.Discrepancies);
        Assert.Equal(3, ours.Matched); // the payment and its two refunds
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task The_bill_s_coupon_columns_are_compared_with_what_the_hub_booked()
    {
        var (m, _, channel, mchId) = await WeChatChannelAsync();
        var openId = "oCoupon" + Guid.NewGuid().ToString("N")[..16];
        await GrantAsync(openId, "NOCASH", 500);
        var id = await PayWithCouponsAsync(m, 2_000, openId);
        Assert.Equal(1_500, (await m.GetAsync($"/v1/payments/{id}")).Json.GetProperty("amount_details").GetProperty("settlement_amount").GetInt64());

        // The wallet's records drift: the NOCASH coupon is now a CASH one, so its bill settles the whole 20.00.
        var outTradeNo = await hub.Db.ReadAsync(c => c.ExecuteScalarAsync<string>("SELECT out_trade_no FROM payment_attempts WHERE payment_id = @id", new { id }), default);
        var order = hub.Sandbox.WeChat.Orders[(mchId, outTradeNo!)];
        order.Promotions[0] = order.Promotions[0] with { Type = "CASH" };

        var report = await hub.Service<ReconciliationService>().RunAsync(TodayInChina, null, default);
        var ours = Assert.Single(report.Channels, c => c.Channel == channel);
        var found = Assert.Single(ours.Discrepancies);
        Assert.Equal(("settlement_mismatch", outTradeNo, 1_500L, 2_000L), (found.Kind, found.OutTradeNo, found.HubAmount!.Value, found.WalletAmount!.Value));
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task A_coupon_report_that_does_not_add_up_is_never_booked()
    {
        var (m, merchantId, _, _) = await WeChatChannelAsync();
        var openId = "oCoupon" + Guid.NewGuid().ToString("N")[..16];
        await GrantAsync(openId, "CASH", 100, wechatpay: 50, merchant: 10); // contributions 60 ≠ the coupon's 100
        var id = await PayWithCouponsAsync(m, 1_000, openId, waitFor: "none");

        await hub.EventuallyAsync(() => hub.Db.ReadAsync(c => c.ExecuteScalarAsync<string?>("SELECT error_code FROM payment_attempts WHERE payment_id = @id", new { id }), default),
            code => code == "discount_mismatch", what: "the mismatch is recorded on the attempt");
        Assert.Equal("pending", (await m.GetAsync($"/v1/payments/{id}")).Str("status"));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM ledger_entries WHERE reference = @id", new { id }));
        Assert.Equal(0, await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task A_coupon_paying_the_whole_order_books_only_the_merchant_s_discount()
    {
        var (m, merchantId, _, _) = await WeChatChannelAsync();
        var openId = "oCoupon" + Guid.NewGuid().ToString("N")[..16];
        await GrantAsync(openId, "NOCASH", 800);
        var id = await PayWithCouponsAsync(m, 800, openId);
        var details = (await m.GetAsync($"/v1/payments/{id}")).Json.GetProperty("amount_details");
        Assert.Equal((0L, 800L, 0L), (details.GetProperty("buyer_paid").GetInt64(), details.GetProperty("merchant_discount").GetInt64(), details.GetProperty("settlement_amount").GetInt64()));
        Assert.Equal(0, await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(800, await hub.BalanceAsync($"merchant_discount_expense:{merchantId}"));
        await hub.LedgerVerifiesAsync();

        await RefundAsync(m, id, 800, 800);
        Assert.Equal(0, await hub.BalanceAsync($"merchant_discount_expense:{merchantId}"));
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task Alipay_vouchers_split_between_merchant_and_Alipay_are_booked_returned_pro_rata_and_reconcile_clean()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var buyer = "2088" + Random.Shared.NextInt64(100_000_000_000, 999_999_999_999);
        using (var http = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) })
        {
            // One voucher of 3.00: 1.00 from the merchant (never settled), 2.00 from Alipay (settled with the order).
            var granted = await http.PostAsJsonAsync("/sandbox/alipay/buyer/vouchers", new { buyer_id = buyer, amount = 300, merchant_contribute = 100, other_contribute = 200 }, SandboxJson.Options);
            Assert.True(granted.IsSuccessStatusCode, await granted.Content.ReadAsStringAsync());
        }

        var id = await m.CreatePaymentAsync(5_000);
        var qr = (await m.ConfirmAsync(id, wallet: "alipay")).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        Assert.True((await hub.AlipayBuyerPaysAsync(qr, buyer)).IsSuccessStatusCode);
        await m.WaitForStatusAsync(id, "succeeded");
        var details = (await m.GetAsync($"/v1/payments/{id}")).Json.GetProperty("amount_details");
        Assert.Equal((4_700L, 200L, 100L, 4_900L), (details.GetProperty("buyer_paid").GetInt64(), details.GetProperty("wallet_discount").GetInt64(),
            details.GetProperty("merchant_discount").GetInt64(), details.GetProperty("settlement_amount").GetInt64()));
        // The fee on what the merchant receives: 0.6 % of 49.00 = 0.294 → 0.29.
        Assert.Equal(-(4_900 - 29), await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(200, await hub.PostedAsync(id, "wallet_discount_receivable:"));
        Assert.Equal(100, await hub.BalanceAsync($"merchant_discount_expense:{merchantId}"));
        await hub.LedgerVerifiesAsync();

        // 20 % back: 0.20 of the merchant's part, 0.40 of Alipay's, 9.40 to the buyer (present_refund_* at the sandbox).
        var first = await RefundAsync(m, id, 1_000, 1_000);
        var outTradeNo = await hub.Db.ReadAsync(c => c.ExecuteScalarAsync<string>("SELECT out_trade_no FROM payment_attempts WHERE payment_id = @id", new { id }), default);
        var order = hub.Sandbox.Alipay.Orders[(hub.Alipay.AppId, outTradeNo!)];
        Assert.Equal((20L, 40L), order.RefundVouchers.Values.Single());
        Assert.Equal(-40, await hub.PostedAsync(first, "wallet_discount_receivable:"));
        Assert.Equal(80, await hub.BalanceAsync($"merchant_discount_expense:{merchantId}"));
        await hub.LedgerVerifiesAsync();

        var rest = await RefundAsync(m, id, 4_000, 5_000);
        Assert.Equal(0, await hub.PostedAsync(id, "wallet_discount_receivable:") + await hub.PostedAsync(first, "wallet_discount_receivable:") + await hub.PostedAsync(rest, "wallet_discount_receivable:"));
        Assert.Equal(0, await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(0, await hub.BalanceAsync($"merchant_discount_expense:{merchantId}"));
        await hub.LedgerVerifiesAsync();

        // The 业务明细 bill: 订单金额, 商家实收, 支付宝优惠 and 商家优惠 agree with the hub's books for this order.
        var report = await hub.Service<ReconciliationService>().RunAsync(TodayInChina, null, default);
        var alipay = Assert.Single(report.Channels, c => c.Channel == "alipay");
        Assert.Equal("completed", alipay.Status);
        Assert.DoesNotContain(alipay.Discrepancies, d => d.OutTradeNo == outTradeNo);
        await hub.LedgerVerifiesAsync();

        // Alipay's own SDK accepts the sandbox's voucher-bearing query answer and notification (and refuses a tampered one).
        var notificationFile = Path.GetTempFileName();
        await File.WriteAllTextAsync(notificationFile, JsonSerializer.Serialize(hub.Sandbox.AlipayNotifier.BuildForm(order, "coupon-" + Guid.NewGuid().ToString("N")[..8])));
        await E2eModules.EnsureInstalledAsync();
        var psi = new ProcessStartInfo("node", "alipay-coupon-interop.mjs") { WorkingDirectory = E2eModules.Dir, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["TZ"] = "Asia/Shanghai"; // the SDK's timestamp is local time; Alipay reads it as China time
        psi.Environment["ALI_SANDBOX"] = hub.Sandbox.BaseUrl.TrimEnd('/');
        psi.Environment["ALI_APPID"] = hub.Alipay.AppId;
        psi.Environment["ALI_PRIVATE_KEY"] = hub.Alipay.AppPrivateKeyPem;
        psi.Environment["ALI_PUBLIC_KEY"] = hub.Alipay.AlipayPublicKeyPem;
        psi.Environment["ALI_OUT_TRADE_NO"] = outTradeNo;
        psi.Environment["ALI_NOTIFICATION_FILE"] = notificationFile;
        var (exitCode, stdout, stderr) = await E2eModules.RunNodeAsync(psi);
        File.Delete(notificationFile);
        Assert.True(exitCode == 0, stderr);
        var r = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;
        Assert.False(r.TryGetProperty("error", out var error), error.ToString());
        Assert.Equal(("50.00", "49.00", "47.00", "3.00=1.00+2.00"), (r.GetProperty("total_amount").GetString(), r.GetProperty("receipt_amount").GetString(),
            r.GetProperty("buyer_pay_amount").GetString(), r.GetProperty("vouchers").GetString()));
        Assert.True(r.GetProperty("notification_sign_ok").GetBoolean());
        Assert.False(r.GetProperty("tampered_sign_ok").GetBoolean());
        Assert.Equal(1, r.GetProperty("notification_vouchers").GetInt32());
    }

    [Fact]
    public async Task An_independent_npm_WeChat_Pay_client_accepts_the_sandbox_s_coupon_bearing_answers_and_notification()
    {
        // The hub's own WeChat merchant (the npm client signs as it).
        var (m, _, _) = await hub.NewMerchantAsync();
        var openId = "oCoupon" + Guid.NewGuid().ToString("N")[..16];
        await GrantAsync(openId, "CASH", 100);
        await GrantAsync(openId, "NOCASH", 50);
        var id = await PayWithCouponsAsync(m, 1_000, openId);
        var refundId = await RefundAsync(m, id, 400, 400);
        var outTradeNo = await hub.Db.ReadAsync(c => c.ExecuteScalarAsync<string>("SELECT out_trade_no FROM payment_attempts WHERE payment_id = @id", new { id }), default);
        var outRefundNo = await hub.Db.ReadAsync(c => c.ExecuteScalarAsync<string>("SELECT out_refund_no FROM refunds WHERE id = @refundId", new { refundId }), default);
        var order = hub.Sandbox.WeChat.Orders[(hub.WeChat.MchId, outTradeNo!)];

        using var n = hub.Sandbox.WeChatNotifier.BuildRequest(order, "coupon-interop-" + Guid.NewGuid().ToString("N")[..8]);
        var notificationFile = Path.GetTempFileName();
        await File.WriteAllTextAsync(notificationFile, JsonSerializer.Serialize(new
        {
            timestamp = n.Headers.GetValues("Wechatpay-Timestamp").Single(),
            nonce = n.Headers.GetValues("Wechatpay-Nonce").Single(),
            signature = n.Headers.GetValues("Wechatpay-Signature").Single(),
            body = await n.Content!.ReadAsStringAsync(),
        }));

        await E2eModules.EnsureInstalledAsync();
        var psi = E2eModules.WeChatPayClient("wechatpay-coupon-interop.mjs", hub.Sandbox.BaseUrl, hub.WeChat);
        psi.Environment["WX_APIV3_KEY"] = hub.WeChat.ApiV3Key;
        psi.Environment["WX_NOTIFICATION_FILE"] = notificationFile;
        psi.Environment["WX_OUT_TRADE_NO"] = outTradeNo;
        psi.Environment["WX_OUT_REFUND_NO"] = outRefundNo;
        var (exitCode, stdout, stderr) = await E2eModules.RunNodeAsync(psi);
        File.Delete(notificationFile);

        Assert.True(exitCode == 0, stderr);
        var r = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;
        Assert.False(r.TryGetProperty("error", out var error), error.ToString());
        Assert.Equal((1_000, 850, "CASH,NOCASH", 150), (r.GetProperty("total").GetInt32(), r.GetProperty("payer_total").GetInt32(),
            r.GetProperty("promotion_types").GetString(), r.GetProperty("promotion_sum").GetInt32()));
        // 40 % of each coupon comes back: 0.40 CASH + 0.20 NOCASH; the buyer gets 3.40; WeChat keeps 3.80 of the settlement.
        Assert.Equal((400, 340, 380, 950, 60), (r.GetProperty("refund").GetInt32(), r.GetProperty("payer_refund").GetInt32(),
            r.GetProperty("settlement_refund").GetInt32(), r.GetProperty("settlement_total").GetInt32(), r.GetProperty("discount_refund").GetInt32()));
        Assert.Equal("COUPON,DISCOUNT", r.GetProperty("refund_promotion_types").GetString());
        Assert.True(r.GetProperty("notification_signature_ok").GetBoolean());
        Assert.Equal((850, 2), (r.GetProperty("notification_payer_total").GetInt32(), r.GetProperty("notification_promotions").GetInt32()));
        await hub.LedgerVerifiesAsync();
    }
}

[Collection("sqlite")]
public sealed class WalletDiscountTests_Sqlite(SqliteHub hub) : WalletDiscountTests(hub);

[Collection("postgres")]
public sealed class WalletDiscountTests_Postgres(PostgresHub hub) : WalletDiscountTests(hub);
