using System.Net;
using System.Net.Http.Json;
using Hutong.Connectors.Abstractions;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Server.Features;
using Hutong.Demo;
using Hutong.Server.Features.Reconciliation;

namespace Hutong.Integration.Tests;

/// <summary>对账 against the sandboxes' bills: seeded discrepancies of every kind are found, nothing else is reported.</summary>
public abstract class ReconciliationTests(HubFixture hub)
{
    private static DateOnly TodayInChina => DateOnly.FromDateTime(DateTimeOffset.UtcNow.ToOffset(TimeSpan.FromHours(8)).DateTime);

    private async Task<string> PaidAsync(ApiClient m, long amount)
    {
        var id = await m.CreatePaymentAsync(amount);
        var code = (await m.ConfirmAsync(id)).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await hub.BuyerPaysAsync(code)).StatusCode);
        await m.WaitForStatusAsync(id, "succeeded");
        return id;
    }

    private Task<string> OutTradeNoAsync(string paymentId) =>
        hub.Db.ReadAsync(c => Dapper.SqlMapper.ExecuteScalarAsync<string>(c, "SELECT out_trade_no FROM payment_attempts WHERE payment_id = @paymentId", new { paymentId }), default)!;

    [Fact]
    public async Task Every_kind_of_discrepancy_is_found_what_a_re_query_proves_is_repaired_and_nothing_is_invented()
    {
        // A channel of its own (a fresh WeChat Pay merchant), so its bill holds exactly this test's orders.
        var channel = "wx-rec-" + Guid.NewGuid().ToString("N")[..8];
        var mchId = "16" + Random.Shared.Next(10_000_000, 99_999_999);
        var config = await SandboxWiring.RegisterWeChatMerchantAsync(hub.Sandbox.BaseUrl, mchId);
        Assert.Equal(HttpStatusCode.Created, (await hub.Admin().PostAsync("/admin/channels", new { id = channel, wallet = "wechatpay", mode = "direct", config })).Status);
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        Assert.Equal(HttpStatusCode.OK, (await hub.Admin().PostAsync($"/admin/merchants/{merchantId}/routes/wechatpay", new { rules = new[] { new { channel } } })).Status);

        var clean = await PaidAsync(m, 1_000);
        Assert.Equal(HttpStatusCode.Created, (await m.PostAsync($"/v1/payments/{clean}/refunds", new { amount = 300 })).Status);
        await hub.EventuallyAsync(() => m.GetAsync($"/v1/payments/{clean}"), p => p.Json.GetProperty("amount_refunded").GetInt64() == 300, what: "refund");

        var lost = await PaidAsync(m, 2_000); // the wallet "loses" it: missing in wallet
        Assert.True(hub.Sandbox.WeChat.Orders.TryRemove((mchId, await OutTradeNoAsync(lost)), out _));

        var altered = await PaidAsync(m, 3_000); // the wallet settled another amount: amount mismatch
        hub.Sandbox.WeChat.Orders[(mchId, await OutTradeNoAsync(altered))].Total = 3_100;

        var unheard = await m.CreatePaymentAsync(4_000); // paid, but every notification lost: the hub still says pending
        hub.Sandbox.WeChat.Faults.Inject("notify", SandboxFault.DropNotification, 1_000, match: unheard);
        var code = (await m.ConfirmAsync(unheard)).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await hub.BuyerPaysAsync(code)).StatusCode);
        Assert.Equal("pending", (await m.GetAsync($"/v1/payments/{unheard}")).Str("status"));

        // An order the hub never made (paid at the wallet): missing in hub.
        var stranger = Guid.CreateVersion7().ToString("N");
        var connector = (await hub.Service<WalletRegistry>().ChannelAsync(channel, default))!;
        var made = await connector.CreateQrOrderAsync(new CreateOrderRequest(stranger, Hutong.Domain.Money.Of(500, "CNY"), "not ours", DateTimeOffset.UtcNow.AddMinutes(10), "http://127.0.0.1:9/none"), default);
        Assert.Equal(HttpStatusCode.OK, (await hub.BuyerPaysAsync(made.CodeUrl!)).StatusCode);

        var report = await hub.Service<ReconciliationService>().RunAsync(TodayInChina, null, default);
        var ours = Assert.Single(report.Channels, c => c.Channel == channel);
        Assert.Equal("completed", ours.Status);
        var expected = new[]
        {
            ("missing_in_wallet", await OutTradeNoAsync(lost), "open"),
            ("amount_mismatch", await OutTradeNoAsync(altered), "open"),
            ("status_mismatch", await OutTradeNoAsync(unheard), "repaired"),
            ("missing_in_hub", stranger, "open"),
        };
        Assert.Equal(expected.OrderBy(e => e.Item1), ours.Discrepancies.Select(d => (d.Kind, d.OutTradeNo, d.Resolution)).OrderBy(e => e.Kind)); // all found, none invented
        Assert.Equal(2, ours.Matched); // the clean payment and its refund
        Assert.Equal(1, ours.Repaired);
        Assert.Equal((3_000L, 3_100L), ours.Discrepancies.Where(d => d.Kind == "amount_mismatch").Select(d => (d.HubAmount!.Value, d.WalletAmount!.Value)).Single());
        Assert.Equal("succeeded", (await m.GetAsync($"/v1/payments/{unheard}")).Str("status")); // repaired through the normal path

        // Run again: the repaired one now matches; the rest stay open. Reports come back as JSON, CSV and HTML.
        var again = Assert.Single((await hub.Service<ReconciliationService>().RunAsync(TodayInChina, null, default)).Channels, c => c.Channel == channel);
        Assert.Equal(3, again.Discrepancies.Count);
        Assert.Equal(3, again.Matched);
        var date = TodayInChina.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var csv = (await hub.Admin().GetAsync($"/admin/reconciliations/{date}/report.csv")).Body;
        Assert.Contains($",{channel},wechatpay,missing_in_hub,{stranger},", csv, StringComparison.Ordinal);
        Assert.Contains("amount_mismatch", (await hub.Admin().GetAsync($"/admin/reconciliations/{date}/report.html")).Body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, (await hub.Anonymous().GetAsync($"/admin/reconciliations/{date}")).Status);
    }

    [Fact]
    public async Task Alipay_and_UnionPay_bills_match_payments_and_refunds_and_find_a_lost_order()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        async Task<string> PayAsync(string wallet, long amount)
        {
            var id = await m.CreatePaymentAsync(amount);
            var qr = (await m.ConfirmAsync(id, wallet: wallet)).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
            using var sandbox = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
            var paid = wallet == "alipay"
                ? await sandbox.PostAsJsonAsync("/sandbox/alipay/buyer/pay", new { qr_code = qr }, SandboxJson.Options)
                : await sandbox.PostAsJsonAsync("/sandbox/unionpay/buyer/pay", new { qr_code = qr, acc_no = "6216****0001" }, SandboxJson.Options);
            Assert.True(paid.IsSuccessStatusCode);
            await m.WaitForStatusAsync(id, "succeeded");
            return id;
        }

        var ali = await PayAsync("alipay", 2_345);
        var aliLost = await PayAsync("alipay", 1_111);
        var union = await PayAsync("unionpay", 5_432);
        Assert.Equal(HttpStatusCode.Created, (await m.PostAsync($"/v1/payments/{ali}/refunds", new { amount = 345 })).Status);
        Assert.Equal(HttpStatusCode.Created, (await m.PostAsync($"/v1/payments/{union}/refunds", new { amount = 432 })).Status);
        await hub.EventuallyAsync(() => m.GetAsync($"/v1/payments/{ali}"), p => p.Json.GetProperty("amount_refunded").GetInt64() == 345, what: "alipay refund");
        await hub.EventuallyAsync(() => m.GetAsync($"/v1/payments/{union}"), p => p.Json.GetProperty("amount_refunded").GetInt64() == 432, what: "unionpay refund");
        var lostNo = await OutTradeNoAsync(aliLost);
        Assert.True(hub.Sandbox.Alipay.Orders.TryRemove((hub.Alipay.AppId, lostNo), out _));

        var report = await hub.Service<ReconciliationService>().RunAsync(TodayInChina, null, default);
        var alipay = Assert.Single(report.Channels, c => c.Channel == "alipay");
        var unionpay = Assert.Single(report.Channels, c => c.Channel == "unionpay");
        Assert.Equal(("completed", "completed"), (alipay.Status, unionpay.Status));
        var mine = new[] { await OutTradeNoAsync(ali), await OutTradeNoAsync(union), lostNo };
        var found = report.Discrepancies.Where(d => mine.Contains(d.OutTradeNo) || mine.Contains(d.OutRefundNo)).ToList();
        var only = Assert.Single(found); // shared channels carry other tests' orders too; of this test's, only the lost one differs
        Assert.Equal(("missing_in_wallet", lostNo, "alipay"), (only.Kind, only.OutTradeNo, only.Channel));
        Assert.True(alipay.Matched >= 2 && unionpay.Matched >= 2); // payments and refunds matched (fees included)
    }
}

[Collection("sqlite")]
public sealed class ReconciliationTests_Sqlite(SqliteHub hub) : ReconciliationTests(hub);

[Collection("postgres")]
public sealed class ReconciliationTests_Postgres(PostgresHub hub) : ReconciliationTests(hub);

public sealed class ReconciliationScheduleTests
{
    [Theory]
    [InlineData("2026-11-23T01:59:00Z", false, null)] // 09:59 in China: the bills are not out yet
    [InlineData("2026-11-23T02:00:00Z", false, "2026-11-22")] // 10:00 in China: yesterday is due
    [InlineData("2026-11-23T02:00:00Z", true, null)] // already reconciled
    [InlineData("2026-11-22T16:30:00Z", false, null)] // 00:30 on the 23rd in China, before 10:00
    [InlineData("2026-11-23T15:59:00Z", false, "2026-11-22")] // 23:59 in China: still yesterday's turn
    public void Yesterday_is_reconciled_once_after_the_daily_time_in_China(string nowUtc, bool alreadyRan, string? expected)
    {
        var due = ReconciliationScheduler.Due(DateTimeOffset.Parse(nowUtc, System.Globalization.CultureInfo.InvariantCulture), TimeSpan.FromHours(10), alreadyRan);
        Assert.Equal(expected, due?.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture));
    }
}
