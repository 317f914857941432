using System.Net;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Demo;
using Hutong.Sandbox;
using Hutong.Server.Features.Reconciliation;

namespace Hutong.Integration.Tests;

/// <summary>
/// 分账账单 reconciled: the sandbox bills a day's finished splits and returns, the hub's reconciliation matches them with
/// its split lines and return orders, finds a row the bill lacks, has with another amount or that the hub never made,
/// and reports a garbled bill instead of failing the run.
/// </summary>
public abstract class ProfitSharingBillTests(HubFixture hub)
{
    private static DateOnly TodayInChina => DateOnly.FromDateTime(DateTimeOffset.UtcNow.ToOffset(TimeSpan.FromHours(8)).DateTime);

    [Fact]
    public async Task A_clean_day_matches_and_split_rows_the_bill_lacks_alters_or_invents_are_reported()
    {
        // A WeChat Pay merchant of its own, so its bills hold exactly this test's orders.
        var channel = "wx-psb-" + Guid.NewGuid().ToString("N")[..8];
        var mchId = "16" + Random.Shared.Next(10_000_000, 99_999_999);
        var config = await SandboxWiring.RegisterWeChatMerchantAsync(hub.Sandbox.BaseUrl, mchId);
        Assert.Equal(HttpStatusCode.Created, (await hub.Admin().PostAsync("/admin/channels", new { id = channel, wallet = "wechatpay", mode = "direct", config })).Status);
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        Assert.Equal(HttpStatusCode.OK, (await hub.Admin().PostAsync($"/admin/merchants/{merchantId}/routes/wechatpay", new { rules = new[] { new { channel } } })).Status);

        var receiverAccount = "19" + Random.Shared.NextInt64(10_000_000, 99_999_999);
        var receiver = await m.PostAsync("/v1/split_receivers", new { wallet = "wechatpay", role = "platform", type = "merchant", account = receiverAccount, name = "互通平台科技有限公司" });
        Assert.True(receiver.Status == HttpStatusCode.Created, receiver.ToString());
        var created = await m.PostAsync("/v1/payments", new
        {
            amount = 10_000, currency = "CNY", description = "直播间商品", merchant_order_id = "psb-" + Guid.NewGuid().ToString("N")[..12],
            profit_sharing = new { splits = new object[] { new { receiver = receiver.Str("id"), ratio_bps = 1_000 } } },
        });
        Assert.True(created.Status == HttpStatusCode.Created, created.ToString());
        var id = created.Str("id");
        var code = (await m.ConfirmAsync(id)).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        await hub.BuyerPaysAsync(code);
        await m.WaitForStatusAsync(id, "succeeded");
        await hub.EventuallyAsync(() => m.GetAsync($"/v1/payments/{id}/splits"),
            r => r.Json.GetProperty("data").EnumerateArray().Any(s => s.GetProperty("status").GetString() == "succeeded"), what: "the rules split");
        Assert.Equal(HttpStatusCode.Created, (await m.PostAsync($"/v1/payments/{id}/refunds", new { amount = 5_000 })).Status);
        await hub.EventuallyAsync(() => m.GetAsync($"/v1/payments/{id}/splits"),
            r => r.Json.GetProperty("returns").EnumerateArray().Any(x => x.GetProperty("status").GetString() == "succeeded"), what: "the return order");
        await hub.EventuallyAsync(() => m.GetAsync($"/v1/payments/{id}"), p => p.Json.GetProperty("amount_refunded").GetInt64() == 5_000, what: "refund");

        var order = hub.Sandbox.WeChat.Orders.Values.Single(o => o.Attach == id);
        var outOrderNo = order.Splits.Keys.Single();
        var outReturnNo = order.SplitReturns.Keys.Single();
        var service = hub.Service<ReconciliationService>();

        // A clean day: the payment, its refund, the split (9.94 of 99.40 net) and the return (4.97) all match.
        var clean = Assert.Single((await service.RunAsync(TodayInChina, null, default)).Channels, c => c.Channel == channel);
        Assert.Equal("completed", clean.Status);
        Assert.Empty(clean.Discrepancies);
        Assert.Equal((4, 4), (clean.Matched, clean.BillLines));

        // The wallet bills the split with another amount and leaves out the return.
        hub.Sandbox.WeChat.ProfitSharingBillEdits[(mchId, outOrderNo)] = 900;
        hub.Sandbox.WeChat.ProfitSharingBillEdits[(mchId, outReturnNo)] = null;
        var differs = Assert.Single((await service.RunAsync(TodayInChina, null, default)).Channels, c => c.Channel == channel);
        Assert.Equal("completed", differs.Status);
        Assert.Equal(
            new[] { ("split_amount_mismatch", outOrderNo, (long?)994, (long?)900), ("split_missing_in_wallet", outReturnNo, 497, null) },
            differs.Discrepancies.Select(d => (d.Kind, d.OutTradeNo, d.HubAmount, d.WalletAmount)).OrderBy(d => d.Kind, StringComparer.Ordinal));
        Assert.All(differs.Discrepancies, d => Assert.Equal("open", d.Resolution));

        // A bill row the hub never made: missing in the hub.
        const string header = "分账时间,分账发起方,分账方,微信订单号,微信分账/回退单号,分账明细单号,商户分账/回退单号,订单金额,分账接收方,金额,业务类型,处理状态,备注";
        var stranger = "P" + Guid.NewGuid().ToString("N")[..16];
        hub.Sandbox.WeChat.ProfitSharingBillReplacements[mchId] =
            $"{header}\r\n`2026-11-22 10:00:00,`{mchId},`{mchId},`4200000000000000000000000001,`3008001,`3008001001,`{stranger},`1.00,`{receiverAccount},`0.30,`分账,`成功,`\r\n";
        var invented = Assert.Single((await service.RunAsync(TodayInChina, null, default)).Channels, c => c.Channel == channel);
        Assert.Contains(invented.Discrepancies, d => (d.Kind, d.OutTradeNo, d.WalletAmount) == ("split_missing_in_hub", stranger, 30));
        Assert.Contains(invented.Discrepancies, d => (d.Kind, d.OutTradeNo) == ("split_missing_in_wallet", outOrderNo));

        // A garbled bill is reported and the rest of the run stands.
        hub.Sandbox.WeChat.ProfitSharingBillReplacements[mchId] = $"{header}\r\n`2026-11-22 10:00:00,`x,`y,`z\r\n";
        var garbled = Assert.Single((await service.RunAsync(TodayInChina, null, default)).Channels, c => c.Channel == channel);
        Assert.Equal("completed", garbled.Status);
        var unreadable = Assert.Single(garbled.Discrepancies);
        Assert.Equal(("split_bill_unavailable", "open"), (unreadable.Kind, unreadable.Resolution));
        Assert.Contains("cells", unreadable.Detail, StringComparison.Ordinal);
        Assert.Equal(2, garbled.Matched); // the trade bill still matched

        // The stored report shows the new kinds like the others.
        var date = TodayInChina.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains($",{channel},wechatpay,split_bill_unavailable,", (await hub.Admin().GetAsync($"/admin/reconciliations/{date}/report.csv")).Body, StringComparison.Ordinal);
        Assert.Contains("split_bill_unavailable", (await hub.Admin().GetAsync($"/admin/reconciliations/{date}")).Body, StringComparison.Ordinal);
    }
}

[Collection("sqlite")]
public sealed class ProfitSharingBillTests_Sqlite(SqliteHub hub) : ProfitSharingBillTests(hub);

[Collection("postgres")]
public sealed class ProfitSharingBillTests_Postgres(PostgresHub hub) : ProfitSharingBillTests(hub);
