using System.Net;
using System.Text.Json;
using Hutong.Domain.Rollout;
using Hutong.Domain.Subsidies;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server.Features.Ledger;

namespace Hutong.Integration.Tests;

/// <summary>
/// A subsidy campaign's control group end to end at the WeChat Pay sandbox: 60 buyers open the cashier; the ones the
/// stable bucket holds out see the normal price and the wallet is asked for the full order, the others get the subsidy;
/// the assignment holds across reloads and further payments; the report's treatment and control counts are exactly what
/// the buyers did, and its lift and cost per incremental conversion are the domain's figures for those counts.
/// </summary>
public abstract class SubsidyHoldoutTests(HubFixture hub)
{
    private const int Holdout = 30;

    private static object Campaign(object? holdout, string[]? wallets = null) => new
    {
        name = "微信支付立减 ¥5（对照组）",
        amount_off = 500,
        wallets = wallets ?? ["wechatpay", "alipay"],
        budget = 1_000_000,
        holdout_percent = holdout,
        starts_at = DateTimeOffset.UtcNow.AddMinutes(-1),
        ends_at = DateTimeOffset.UtcNow.AddDays(1),
    };

    private static async Task<(string Id, string Token)> PaymentAsync(ApiClient m, long amount, string? buyer)
    {
        var r = await m.PostAsync("/v1/payments", new
        {
            amount,
            currency = "CNY",
            description = "测试商品",
            merchant_order_id = "ord-" + Guid.NewGuid().ToString("N")[..12],
            buyer_id = buyer,
        });
        Assert.True(r.Status == HttpStatusCode.Created, r.ToString());
        return (r.Str("id"), r.Str("checkout_url").Split("/pay/")[1]);
    }

    private async Task<string> CashierAsync(string token)
    {
        using var browser = new BrowserLikeClient(hub.Hub.BaseUrl);
        var (status, html) = await browser.PageAsync($"/pay/{token}?lang=en");
        Assert.Equal(HttpStatusCode.OK, status);
        return html;
    }

    /// <summary>The amount of the payment's (last) order at the WeChat Pay sandbox: what the buyer's wallet was asked for.</summary>
    private long WeChatOrderTotal(string paymentId) => hub.Sandbox.WeChat.Orders.Values.Where(o => o.Attach == paymentId).OrderBy(o => o.OutTradeNo).Last().Total;

    private static ArmCounts ArmOf(JsonElement experiment, string arm) =>
        new(experiment.GetProperty(arm).GetProperty("views").GetInt64(), experiment.GetProperty(arm).GetProperty("paid").GetInt64());

    [Fact]
    public async Task Held_out_buyers_pay_full_price_and_the_report_compares_them_with_the_treated()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var created = await hub.Admin().PostAsync($"/admin/merchants/{merchantId}/subsidy_campaigns", Campaign(Holdout), idempotencyKey: "sc-" + Guid.NewGuid());
        Assert.True(created.Status == HttpStatusCode.Created, created.ToString());
        Assert.Equal(Holdout, created.Json.GetProperty("holdout_percent").GetInt32());
        var campaign = created.Str("id");

        // The published rule, computed here independently of the hub: MurmurHash3 bucket of "subsidy-holdout:{campaign}:{buyer}" ≤ 30.
        var buyers = Enumerable.Range(0, 60).Select(i => $"holdout-buyer-{i:D2}").ToList();
        bool IsControl(string buyer) => StableBucket.Of($"subsidy-holdout:{campaign}", buyer) <= Holdout;
        Assert.InRange(buyers.Count(IsControl), 5, 35); // both arms are populated (30 % of 60 = 18)

        var treatment = new ArmCounts(0, 0);
        var control = new ArmCounts(0, 0);
        var treatmentCost = 0L;
        // Every buyer opens one payment's cashier; every fourth buyer comes back with a second payment (the arm must hold).
        foreach (var buyer in buyers.Concat(buyers.Where((_, n) => n % 4 == 0)))
        {
            var held = IsControl(buyer);
            var (id, token) = await PaymentAsync(m, 2_000, buyer);
            for (var view = 0; view < 2; view++) // a reload: the same page, and not a second view
            {
                var page = await CashierAsync(token);
                if (held)
                {
                    Assert.DoesNotContain("id=\"subsidies\"", page);
                    Assert.DoesNotContain("data-pay=", page);
                }
                else
                {
                    Assert.Contains("id=\"subsidy-wechatpay\"", page);
                    Assert.Contains("¥5.00 off with WeChat Pay: you pay ¥15.00", page);
                }
            }

            // Of each arm's payments in turn, treated buyers pay two in three, held-out buyers one in three (a lift the report must find).
            var pays = held ? control.Views % 3 == 0 : treatment.Views % 3 != 0;
            if (held)
            {
                control = control with { Views = control.Views + 1, Paid = control.Paid + (pays ? 1 : 0) };
            }
            else
            {
                treatment = treatment with { Views = treatment.Views + 1, Paid = treatment.Paid + (pays ? 1 : 0) };
            }

            if (!pays)
            {
                continue;
            }

            var confirmed = await m.ConfirmAsync(id);
            Assert.True(confirmed.Status == HttpStatusCode.OK, confirmed.ToString());
            Assert.Equal(held ? 2_000 : 1_500, WeChatOrderTotal(id)); // what the buyer's wallet is asked for
            await hub.BuyerPaysAsync(confirmed.Json.GetProperty("next_action").GetProperty("code_url").GetString()!);
            var paid = await m.WaitForStatusAsync(id, "succeeded");
            Assert.Equal(2_000, paid.Json.GetProperty("amount").GetInt64());
            Assert.Equal(held, !paid.Json.TryGetProperty("subsidy", out var s) || s.ValueKind != JsonValueKind.Object);
            treatmentCost += held ? 0 : 500;
        }

        // A buyer without buyer_id cannot be assigned: offered the subsidy as before, counted in neither arm.
        var (guest, guestToken) = await PaymentAsync(m, 2_000, null);
        Assert.Contains("id=\"subsidy-wechatpay\"", await CashierAsync(guestToken));

        var r = await m.GetAsync($"/v1/subsidy_campaigns/{campaign}/report");
        Assert.True(r.Status == HttpStatusCode.OK, r.ToString());
        var report = r.Json;
        Assert.Equal(Holdout, report.GetProperty("holdout_percent").GetInt32());
        var experiment = report.GetProperty("experiment");
        Assert.Equal(treatment, ArmOf(experiment, "treatment"));
        Assert.Equal(control, ArmOf(experiment, "control"));
        Assert.Equal(new ArmCounts(1, 0), ArmOf(experiment, "unassigned"));
        Assert.Equal(treatmentCost, experiment.GetProperty("treatment_cost").GetInt64());
        Assert.Equal(treatmentCost, report.GetProperty("cost").GetInt64()); // the held out cost nothing
        Assert.Equal(treatment.Paid, report.GetProperty("payments").GetInt64());

        var expected = HoldoutMeasure.Measure(treatment, control, treatmentCost);
        Assert.True(expected.LiftBps > 0, $"{treatment} vs {control}");
        Assert.Equal(expected.LiftBps, experiment.GetProperty("lift_bps").GetInt32());
        Assert.Equal(expected.IncrementalConversions, experiment.GetProperty("incremental_conversions").GetDecimal());
        Assert.Equal(expected.CostPerIncremental, experiment.GetProperty("cost_per_incremental_conversion").GetInt64());
        Assert.Equal(new[] { expected.LiftLowBps!.Value, expected.LiftHighBps!.Value }, experiment.GetProperty("lift_ci95_bps").EnumerateArray().Select(e => e.GetInt32()));
        // By hand, not through the domain: cost × control views / (treated paid × control views − treated views × control paid), half up.
        var excess = (treatment.Paid * control.Views) - (treatment.Views * control.Paid);
        Assert.Equal(((2 * treatmentCost * control.Views) + excess) / (2 * excess), experiment.GetProperty("cost_per_incremental_conversion").GetInt64());

        // Per wallet: both covered wallets were viewed by every payment; all paid at WeChat Pay.
        var byWallet = report.GetProperty("by_wallet").EnumerateArray().ToDictionary(w => w.GetProperty("wallet").GetString()!, w => w.GetProperty("experiment"));
        Assert.Equal(treatment, ArmOf(byWallet["wechatpay"], "treatment"));
        Assert.Equal(control, ArmOf(byWallet["wechatpay"], "control"));
        Assert.Equal(new ArmCounts(treatment.Views, 0), ArmOf(byWallet["alipay"], "treatment"));
        Assert.Equal(new ArmCounts(control.Views, 0), ArmOf(byWallet["alipay"], "control"));
        Assert.Equal(treatmentCost, byWallet["wechatpay"].GetProperty("treatment_cost").GetInt64());
        // The offer's own views are the treated and unassigned ones (the held out were not shown it).
        Assert.Equal(treatment.Views + 1, report.GetProperty("by_wallet").EnumerateArray().First(w => w.GetProperty("wallet").GetString() == "wechatpay").GetProperty("views").GetInt64());

        // Stored once per payment and wallet, each payment's views in its buyer's arm.
        Assert.Equal(2 * (treatment.Views + control.Views + 1), await hub.CountAsync("SELECT COUNT(*) FROM subsidy_views WHERE campaign_id = @campaign", new { campaign }));
        Assert.Equal(0, await hub.CountAsync(
            "SELECT COUNT(*) FROM (SELECT p.buyer_id FROM subsidy_views v JOIN payments p ON p.id = v.payment_id WHERE v.campaign_id = @campaign GROUP BY p.buyer_id HAVING COUNT(DISTINCT v.arm) > 1) x",
            new { campaign }));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM subsidy_views WHERE payment_id = @guest AND arm = 'unassigned' AND wallet = 'wechatpay'", new { guest }));
        var verified = await hub.Service<LedgerStore>().VerifyAsync(null, default);
        Assert.True(verified.Ok, string.Join('\n', verified.Problems));
    }

    [Fact]
    public async Task A_campaign_without_a_holdout_reports_no_comparison()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var created = await hub.Admin().PostAsync($"/admin/merchants/{merchantId}/subsidy_campaigns", Campaign(null, ["wechatpay"]), idempotencyKey: "sc-" + Guid.NewGuid());
        Assert.Equal(0, created.Json.GetProperty("holdout_percent").GetInt32());
        var campaign = created.Str("id");
        for (var n = 0; n < 5; n++)
        {
            Assert.Contains("id=\"subsidy-wechatpay\"", await CashierAsync((await PaymentAsync(m, 2_000, $"all-in-{n}")).Token)); // nobody held out
        }

        var experiment = (await m.GetAsync($"/v1/subsidy_campaigns/{campaign}/report")).Json.GetProperty("experiment");
        Assert.Equal(new ArmCounts(5, 0), ArmOf(experiment, "treatment"));
        Assert.Equal(new ArmCounts(0, 0), ArmOf(experiment, "control"));
        foreach (var field in new[] { "lift_bps", "lift_ci95_bps", "incremental_conversions", "cost_per_incremental_conversion" })
        {
            Assert.True(!experiment.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null, $"{field}: {v}");
        }
    }

    [Theory]
    [InlineData(51)]
    [InlineData(-1)]
    [InlineData(100)]
    public async Task A_holdout_outside_0_to_50_is_refused_and_nothing_is_stored(int holdout)
    {
        var (_, merchantId, _) = await hub.NewMerchantAsync();
        var bad = await hub.Admin().PostAsync($"/admin/merchants/{merchantId}/subsidy_campaigns", Campaign(holdout), idempotencyKey: "sc-" + Guid.NewGuid());
        Assert.True(bad.Status == HttpStatusCode.BadRequest && bad.Str("param") == "holdout_percent", bad.ToString());
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM subsidy_campaigns WHERE merchant_id = @merchantId", new { merchantId }));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE merchant_id = @merchantId AND type = 'subsidy_campaign.created'", new { merchantId }));
    }
}

[Collection("sqlite")]
public sealed class SubsidyHoldoutTests_Sqlite(SqliteHub hub) : SubsidyHoldoutTests(hub);

[Collection("postgres")]
public sealed class SubsidyHoldoutTests_Postgres(PostgresHub hub) : SubsidyHoldoutTests(hub);
