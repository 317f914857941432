using System.Net;
using Dapper;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server.Features.Ledger;
using Hutong.Server.Features.Workers;

namespace Hutong.Integration.Tests;

/// <summary>
/// Platform subsidy campaigns end to end at the WeChat Pay sandbox: the cashier's offer, the wallet order for the reduced
/// amount, the reservation against the budget and the buyer's limit (exact under 200 concurrent buyers), its release on
/// failure, expiry and switch, the posting in the success transaction (the merchant is owed the full order), refunds
/// returning the subsidy proportionally, and the report — the ledger verified after each.
/// </summary>
public abstract class SubsidyCampaignTests(HubFixture hub)
{
    private static object Campaign(
        long? amountOff = 500, int? percentOffBps = null, long? maxOff = null, string[]? wallets = null, object? targeting = null, long budget = 100_000,
        object? perBuyerLimit = null) => new
        {
            name = "微信支付立减 ¥5",
            amount_off = amountOff,
            percent_off_bps = percentOffBps,
            max_off = maxOff,
            wallets = wallets ?? ["wechatpay"],
            targeting,
            budget,
            per_buyer_limit = perBuyerLimit,
            starts_at = DateTimeOffset.UtcNow.AddMinutes(-1),
            ends_at = DateTimeOffset.UtcNow.AddDays(1),
        };

    /// <summary>The platform pays a campaign, so only its operator creates one (/admin), for a merchant's checkout.</summary>
    private async Task<string> CreateCampaignAsync(string merchantId, object body)
    {
        var r = await hub.Admin().PostAsync($"/admin/merchants/{merchantId}/subsidy_campaigns", body, idempotencyKey: "sc-" + Guid.NewGuid());
        Assert.True(r.Status == HttpStatusCode.Created, r.ToString());
        return r.Str("id");
    }

    private static async Task<(string Id, string Token)> PaymentAsync(ApiClient m, long amount, string? buyer, string? category = null)
    {
        var r = await m.PostAsync("/v1/payments", new
        {
            amount,
            currency = "CNY",
            description = "测试商品",
            merchant_order_id = "ord-" + Guid.NewGuid().ToString("N")[..12],
            buyer_id = buyer,
            product_category = category,
        });
        Assert.True(r.Status == HttpStatusCode.Created, r.ToString());
        return (r.Str("id"), r.Str("checkout_url").Split("/pay/")[1]);
    }

    private async Task<string> CodeUrlAsync(ApiClient m, string id, string wallet = "wechatpay")
    {
        var r = await m.ConfirmAsync(id, wallet: wallet);
        Assert.True(r.Status == HttpStatusCode.OK, r.ToString());
        return r.Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
    }

    private long WeChatOrderTotal(string paymentId) => hub.Sandbox.WeChat.Orders.Values.Where(o => o.Attach == paymentId).OrderBy(o => o.OutTradeNo).Last().Total;

    private Task<long> CommittedAsync(string campaign) =>
        hub.Db.ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT committed FROM subsidy_campaigns WHERE id = @campaign", new { campaign }), default);

    private async Task<string> CashierAsync(string token)
    {
        using var browser = new BrowserLikeClient(hub.Hub.BaseUrl);
        var (status, html) = await browser.PageAsync($"/pay/{token}?lang=en");
        Assert.Equal(HttpStatusCode.OK, status);
        return html;
    }

    private static string Expense(string campaign) => $"platform_subsidy_expense:{campaign}";

    [Fact]
    public async Task A_subsidised_payment_asks_the_wallet_for_less_and_the_merchant_is_owed_the_whole_order()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var campaign = await CreateCampaignAsync(merchantId, Campaign());
        var (id, token) = await PaymentAsync(m, 10_000, "buyer-a");

        var page = await CashierAsync(token);
        Assert.Contains("id=\"subsidy-wechatpay\"", page);
        Assert.Contains("data-pay=\"9500\"", page);
        Assert.Contains("¥5.00 off with WeChat Pay: you pay ¥95.00", page);
        Assert.DoesNotContain("id=\"subsidy-alipay\"", page); // the campaign covers WeChat Pay only

        var code = await CodeUrlAsync(m, id);
        Assert.Equal(9_500, WeChatOrderTotal(id)); // the wallet order is for the reduced amount
        var pending = await m.GetAsync($"/v1/payments/{id}");
        Assert.Equal(10_000, pending.Json.GetProperty("amount").GetInt64());
        var subsidy = pending.Json.GetProperty("subsidy");
        Assert.Equal(("reserved", 500L, 9_500L, campaign), (subsidy.GetProperty("status").GetString(), subsidy.GetProperty("amount").GetInt64(),
            subsidy.GetProperty("wallet_amount").GetInt64(), subsidy.GetProperty("campaign").GetString()));
        Assert.Equal(500, await CommittedAsync(campaign));

        await hub.BuyerPaysAsync(code);
        var paid = await m.WaitForStatusAsync(id, "succeeded");
        Assert.Equal("consumed", paid.Json.GetProperty("subsidy").GetProperty("status").GetString());
        // Captured 95.00 less the 0.6 % fee on it (0.57), plus the platform's 5.00: the merchant is owed 100.00 - 0.57.
        Assert.Equal(-(10_000 - 57), await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(500, await hub.BalanceAsync(Expense(campaign)));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM ledger_entries WHERE reference = @id AND kind = 'subsidy_granted'", new { id }));
        Assert.Equal(9_500 - 57, await hub.CountAsync(
            "SELECT COALESCE(SUM(l.amount), 0) FROM ledger_lines l JOIN ledger_entries e ON e.id = l.entry_id WHERE l.account = 'wallet_clearing:wechatpay' AND e.merchant_id = @merchantId",
            new { merchantId }));
        var succeeded = await hub.Db.ReadAsync(c => c.ExecuteScalarAsync<string>(
            "SELECT payload FROM outbox WHERE type = 'payment.succeeded' AND merchant_id = @merchantId", new { merchantId }), default);
        Assert.Contains("\"consumed\"", succeeded);
        Assert.Equal(500, await CommittedAsync(campaign));
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task Two_hundred_concurrent_buyers_against_a_budget_for_fifty_reserve_exactly_fifty()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var campaign = await CreateCampaignAsync(merchantId, Campaign(budget: 25_000)); // 50 × ¥5
        var payments = new List<string>();
        for (var i = 0; i < 200; i++)
        {
            payments.Add((await PaymentAsync(m, 2_000, $"race-{i}")).Id);
        }

        var confirms = await Task.WhenAll(payments.Select(id => m.ConfirmAsync(id)));
        Assert.All(confirms, c => Assert.True(c.Status == HttpStatusCode.OK, c.ToString()));
        Assert.Equal(50, confirms.Count(c => c.Json.TryGetProperty("subsidy", out var s) && s.ValueKind == System.Text.Json.JsonValueKind.Object));
        Assert.Equal(25_000, await CommittedAsync(campaign));
        Assert.Equal(50, payments.Count(id => WeChatOrderTotal(id) == 1_500));
        Assert.Equal(150, payments.Count(id => WeChatOrderTotal(id) == 2_000));

        foreach (var batch in confirms.Chunk(20))
        {
            await Task.WhenAll(batch.Select(c => hub.BuyerPaysAsync(c.Json.GetProperty("next_action").GetProperty("code_url").GetString()!)));
        }

        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM payments WHERE merchant_id = @merchantId AND status = 'succeeded'", new { merchantId }),
            n => n == 200, TimeSpan.FromSeconds(60), "all 200 payments succeed");
        Assert.Equal(50, await hub.CountAsync("SELECT COUNT(*) FROM payments WHERE subsidy_campaign_id = @campaign AND subsidy_status = 'consumed'", new { campaign }));
        Assert.Equal(25_000, await hub.BalanceAsync(Expense(campaign))); // never a fen over
        Assert.Equal(25_000, await CommittedAsync(campaign));
        Assert.Equal(-(200 * 2_000L) + (50 * 9L) + (150 * 12L), await hub.BalanceAsync($"merchant_payable:{merchantId}")); // fees: 0.6 % of 15.00 and of 20.00
        var report = await m.GetAsync($"/v1/subsidy_campaigns/{campaign}/report");
        Assert.Equal((50L, 50L, 25_000L), (report.Json.GetProperty("payments").GetInt64(), report.Json.GetProperty("buyers").GetInt64(), report.Json.GetProperty("cost").GetInt64()));
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task The_per_buyer_limit_holds_and_a_failed_expired_or_switched_payment_releases_its_reservation()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var campaign = await CreateCampaignAsync(merchantId, Campaign(perBuyerLimit: new { count = 1 }));

        // The wallet refuses the order: the payment fails and its reservation is released, budget and limit back.
        var (failing, _) = await PaymentAsync(m, 3_000, "limited");
        hub.Sandbox.WeChat.Faults.Inject("native", Hutong.Sandbox.SandboxFault.ParamError, 1, match: failing);
        var failed = await m.ConfirmAsync(failing);
        Assert.Equal("failed", failed.Str("status"));
        Assert.Equal("released", failed.Json.GetProperty("subsidy").GetProperty("status").GetString());
        Assert.Equal(0, await CommittedAsync(campaign));
        // The buyer tries again: reserved anew (the limit is free again), and then the wallet order is left to expire.
        var retried = await m.ConfirmAsync(failing);
        Assert.Equal(("pending", "reserved"), (retried.Str("status"), retried.Json.GetProperty("subsidy").GetProperty("status").GetString()));
        Assert.Equal(500, await CommittedAsync(campaign));
        await hub.ExecAsync("UPDATE payments SET expires_at = 0 WHERE id = @failing", new { failing });
        await hub.Service<Jobs>().RunOnceAsync(default);
        await m.WaitForStatusAsync(failing, "expired");
        Assert.Equal(0, await CommittedAsync(campaign));

        // The payment expires: released.
        var (expiring, _) = await PaymentAsync(m, 3_000, "limited");
        await CodeUrlAsync(m, expiring);
        Assert.Equal(500, await CommittedAsync(campaign));
        await hub.ExecAsync("UPDATE payments SET expires_at = 0 WHERE id = @expiring", new { expiring }); // time passes
        await hub.Service<Jobs>().RunOnceAsync(default);
        var expired = await m.WaitForStatusAsync(expiring, "expired");
        Assert.Equal("released", expired.Json.GetProperty("subsidy").GetProperty("status").GetString());
        Assert.Equal(0, await CommittedAsync(campaign));

        // The buyer switches to a wallet the campaign does not cover: released, and that order is for the whole amount.
        var (switching, _) = await PaymentAsync(m, 3_000, "limited");
        await CodeUrlAsync(m, switching);
        Assert.Equal(2_500, WeChatOrderTotal(switching));
        var alipay = await m.ConfirmAsync(switching, wallet: "alipay");
        Assert.True(alipay.Status == HttpStatusCode.OK, alipay.ToString());
        Assert.Equal("released", alipay.Json.GetProperty("subsidy").GetProperty("status").GetString());
        Assert.Equal(0, await CommittedAsync(campaign));
        var alipayNo = await hub.Db.ReadAsync(c => c.ExecuteScalarAsync<string>(
            "SELECT out_trade_no FROM payment_attempts WHERE payment_id = @switching AND wallet = 'alipay'", new { switching }), default);
        Assert.Equal(3_000, hub.Sandbox.Alipay.Orders.Values.Single(o => o.OutTradeNo == alipayNo).TotalFen);

        // Within the limit: one subsidised payment; the buyer's next payment is offered nothing and charged in full.
        var (first, _) = await PaymentAsync(m, 3_000, "limited");
        await hub.BuyerPaysAsync(await CodeUrlAsync(m, first));
        Assert.Equal("consumed", (await m.WaitForStatusAsync(first, "succeeded")).Json.GetProperty("subsidy").GetProperty("status").GetString());
        var (second, secondToken) = await PaymentAsync(m, 3_000, "limited");
        Assert.DoesNotContain("id=\"subsidy-wechatpay\"", await CashierAsync(secondToken));
        await CodeUrlAsync(m, second);
        Assert.Equal(3_000, WeChatOrderTotal(second));
        Assert.False((await m.GetAsync($"/v1/payments/{second}")).Json.TryGetProperty("subsidy", out var none) && none.ValueKind == System.Text.Json.JsonValueKind.Object);
        // Another buyer still has theirs.
        var (other, otherToken) = await PaymentAsync(m, 3_000, "someone-else");
        Assert.Contains("id=\"subsidy-wechatpay\"", await CashierAsync(otherToken));
        await CodeUrlAsync(m, other);
        Assert.Equal(2_500, WeChatOrderTotal(other));
        Assert.Equal(1_000, await CommittedAsync(campaign));
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task Partial_and_full_refunds_return_the_subsidy_proportionally()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var campaign = await CreateCampaignAsync(merchantId, Campaign(amountOff: null, percentOffBps: 1_000, maxOff: 2_000)); // 10 %, at most ¥20
        var (id, _) = await PaymentAsync(m, 10_000, "refunded");
        await hub.BuyerPaysAsync(await CodeUrlAsync(m, id));
        await m.WaitForStatusAsync(id, "succeeded");
        Assert.Equal(9_000, WeChatOrderTotal(id));

        var partial = await m.PostAsync($"/v1/payments/{id}/refunds", new { amount = 3_333 });
        Assert.Equal(HttpStatusCode.Created, partial.Status);
        await hub.EventuallyAsync(() => m.GetAsync($"/v1/payments/{id}"), p => p.Json.GetProperty("amount_refunded").GetInt64() == 3_333, what: "the partial refund succeeds");
        var order = hub.Sandbox.WeChat.Orders.Values.Single(o => o.Attach == id);
        Assert.Equal(3_000, order.Refunds.Values.Sum(r => r.Amount)); // 3,333 less the platform's 333 (333.3 rounded half up)
        Assert.Equal(1_000 - 333, await hub.BalanceAsync(Expense(campaign)));
        Assert.Equal(333, (await m.GetAsync($"/v1/payments/{id}")).Json.GetProperty("subsidy").GetProperty("returned").GetInt64());

        var rest = await m.PostAsync($"/v1/payments/{id}/refunds", new { reason = "the rest" });
        Assert.Equal(6_667, rest.Json.GetProperty("amount").GetInt64());
        await hub.EventuallyAsync(() => m.GetAsync($"/v1/payments/{id}"), p => p.Json.GetProperty("amount_refunded").GetInt64() == 10_000, what: "the last refund succeeds");
        Assert.Equal(9_000, order.Refunds.Values.Sum(r => r.Amount)); // the wallet returned all it captured
        Assert.Equal(0, await hub.BalanceAsync(Expense(campaign)));     // the platform got all its subsidy back: the last refund took the remainder
        Assert.Equal(0, await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(0, await hub.CountAsync(
            "SELECT COALESCE(SUM(l.amount), 0) FROM ledger_lines l JOIN ledger_entries e ON e.id = l.entry_id WHERE l.account = 'wallet_clearing:wechatpay' AND e.merchant_id = @merchantId",
            new { merchantId }));
        Assert.Equal(2, await hub.CountAsync("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'subsidy_returned' AND merchant_id = @merchantId", new { merchantId }));
        var report = (await m.GetAsync($"/v1/subsidy_campaigns/{campaign}/report")).Json;
        Assert.Equal((1_000L, 1_000L, 0L), (report.GetProperty("consumed").GetInt64(), report.GetProperty("returned").GetInt64(), report.GetProperty("cost").GetInt64()));
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task A_buyer_outside_the_targeting_sees_no_offer_and_pays_in_full()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        await CreateCampaignAsync(merchantId, Campaign(targeting: new { percentage = 0, allow_users = new[] { "vip" }, categories = new[] { "food" } }));
        var (outsider, outsiderToken) = await PaymentAsync(m, 4_000, "nobody", "food");
        Assert.DoesNotContain("id=\"subsidies\"", await CashierAsync(outsiderToken));
        await CodeUrlAsync(m, outsider);
        Assert.Equal(4_000, WeChatOrderTotal(outsider));

        var (vip, vipToken) = await PaymentAsync(m, 4_000, "vip", "books"); // the allow list skips category and percentage, as in the rollout
        Assert.Contains("id=\"subsidy-wechatpay\"", await CashierAsync(vipToken));
        await CodeUrlAsync(m, vip);
        Assert.Equal(3_500, WeChatOrderTotal(vip));
    }

    [Fact]
    public async Task The_report_counts_cost_payments_buyers_and_conversion_by_wallet()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var campaign = await CreateCampaignAsync(merchantId, Campaign(wallets: ["wechatpay", "alipay"]));
        var paidIds = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var (id, token) = await PaymentAsync(m, 2_000, i < 3 ? $"reader-{i}" : "reader-0");
            await CashierAsync(token);
            await CashierAsync(token); // a reload is not a second view
            if (i < 3)
            {
                await hub.BuyerPaysAsync(await CodeUrlAsync(m, id));
                await m.WaitForStatusAsync(id, "succeeded");
                paidIds.Add(id);
            }
        }

        var r = (await m.GetAsync($"/v1/subsidy_campaigns/{campaign}/report")).Json;
        Assert.Equal(3, r.GetProperty("payments").GetInt64());
        Assert.Equal(3, r.GetProperty("buyers").GetInt64());
        Assert.Equal(1_500, r.GetProperty("cost").GetInt64());
        Assert.Equal(1_500, r.GetProperty("committed").GetInt64());
        Assert.Equal(0, r.GetProperty("reserved").GetInt64());
        var byWallet = r.GetProperty("by_wallet").EnumerateArray().ToDictionary(w => w.GetProperty("wallet").GetString()!, w => w);
        Assert.Equal((4L, 3L, 7_500), (byWallet["wechatpay"].GetProperty("views").GetInt64(), byWallet["wechatpay"].GetProperty("paid").GetInt64(), byWallet["wechatpay"].GetProperty("conversion_bps").GetInt32()));
        Assert.Equal((4L, 0L, 0), (byWallet["alipay"].GetProperty("views").GetInt64(), byWallet["alipay"].GetProperty("paid").GetInt64(), byWallet["alipay"].GetProperty("conversion_bps").GetInt32()));
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task Campaigns_are_validated_idempotent_scoped_and_can_be_ended()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var admin = hub.Admin();
        foreach (var (body, param) in new (object Body, string Param)[]
        {
            (Campaign(amountOff: null), "amount_off"),
            (Campaign(amountOff: 100, percentOffBps: 1_000), "percent_off_bps"),
            (Campaign(amountOff: null, percentOffBps: 10_001), "percent_off_bps"),
            (Campaign(maxOff: 100), "max_off"),
            (Campaign(wallets: ["nopay"]), "wallets"),
            (Campaign(budget: 0), "budget"),
            (Campaign(targeting: new { percentage = 101 }), "targeting.percentage"),
            (Campaign(perBuyerLimit: new { count = 0 }), "per_buyer_limit.count"),
            (new { name = "x", amount_off = 1, wallets = new[] { "wechatpay" }, budget = 10 }, "ends_at"),
        })
        {
            var bad = await admin.PostAsync($"/admin/merchants/{merchantId}/subsidy_campaigns", body, idempotencyKey: "sc-" + Guid.NewGuid());
            Assert.True(bad.Status == HttpStatusCode.BadRequest && bad.Str("param") == param, $"{param}: {bad}");
        }

        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM subsidy_campaigns WHERE merchant_id = @merchantId", new { merchantId })); // refusals change nothing
        var key = "sc-" + Guid.NewGuid();
        var body1 = Campaign();
        // The platform pays a campaign: a merchant's key can neither create nor end one (it would pay itself), only the operator.
        Assert.True((await m.PostAsync("/v1/subsidy_campaigns", body1, idempotencyKey: "sc-" + Guid.NewGuid())).Status is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed);
        Assert.Equal(HttpStatusCode.Unauthorized, (await m.PostAsync($"/admin/merchants/{merchantId}/subsidy_campaigns", body1, idempotencyKey: "sc-" + Guid.NewGuid())).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.PostAsync("/admin/merchants/mch_nope/subsidy_campaigns", body1, idempotencyKey: "sc-" + Guid.NewGuid())).Status);
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM subsidy_campaigns WHERE merchant_id = @merchantId", new { merchantId }));
        var created = await admin.PostAsync($"/admin/merchants/{merchantId}/subsidy_campaigns", body1, idempotencyKey: key);
        var again = await admin.PostAsync($"/admin/merchants/{merchantId}/subsidy_campaigns", body1, idempotencyKey: key);
        Assert.Equal(created.Str("id"), again.Str("id"));
        var id = created.Str("id");
        Assert.Equal(id, (await m.GetAsync("/v1/subsidy_campaigns")).Json.GetProperty("data")[0].GetProperty("id").GetString());
        var (other, _, _) = await hub.NewMerchantAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/v1/subsidy_campaigns/{id}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/v1/subsidy_campaigns/{id}/report")).Status);

        Assert.True((await m.PostAsync($"/v1/subsidy_campaigns/{id}/end", null, idempotencyKey: "end-" + Guid.NewGuid())).Status is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed);
        var (_, otherId, _) = await hub.NewMerchantAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await admin.PostAsync($"/admin/merchants/{otherId}/subsidy_campaigns/{id}/end", null, idempotencyKey: "end-" + Guid.NewGuid())).Status);
        var ended = await admin.PostAsync($"/admin/merchants/{merchantId}/subsidy_campaigns/{id}/end", null, idempotencyKey: "end-" + Guid.NewGuid());
        Assert.Equal("ended", ended.Str("status"));
        var (pay, token) = await PaymentAsync(m, 2_000, "late-buyer");
        Assert.DoesNotContain("id=\"subsidies\"", await CashierAsync(token));
        await CodeUrlAsync(m, pay);
        Assert.Equal(2_000, WeChatOrderTotal(pay));
    }
}

[Collection("sqlite")]
public sealed class SubsidyCampaignTests_Sqlite(SqliteHub hub) : SubsidyCampaignTests(hub);

[Collection("postgres")]
public sealed class SubsidyCampaignTests_Postgres(PostgresHub hub) : SubsidyCampaignTests(hub);
