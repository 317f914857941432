using System.Net;
using System.Net.Http.Json;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Sandbox.UnionPay;
using Hutong.Demo;
using Hutong.Server.Features.Reconciliation;

namespace Hutong.Integration.Tests;

/// <summary>
/// A UnionPay settlement day with a 消费撤销 (txnType 31) row and a ZME 差错 entry: the bill is still reconciled, its
/// payment matched, and the two rows the hub cannot match are reported open for a person instead of failing the day.
/// </summary>
public abstract class UnionPayReconciliationReviewTests(HubFixture hub)
{
    private static DateOnly TodayInChina => DateOnly.FromDateTime(DateTimeOffset.UtcNow.ToOffset(TimeSpan.FromHours(8)).DateTime);

    [Fact]
    public async Task Rows_of_other_transaction_types_and_ZME_entries_are_reported_for_review_and_the_rest_still_matches()
    {
        // A channel of its own, so its bill holds only this test's rows.
        var channel = "up-rec-" + Guid.NewGuid().ToString("N")[..8];
        var config = await SandboxWiring.RegisterUnionPayMerchantAsync(hub.Sandbox.BaseUrl);
        Assert.Equal(HttpStatusCode.Created, (await hub.Admin().PostAsync("/admin/channels", new { id = channel, wallet = "unionpay", mode = "direct", config })).Status);
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        Assert.Equal(HttpStatusCode.OK, (await hub.Admin().PostAsync($"/admin/merchants/{merchantId}/routes/unionpay", new { rules = new[] { new { channel } } })).Status);

        var id = await m.CreatePaymentAsync(5_000);
        var qr = (await m.ConfirmAsync(id, wallet: "unionpay")).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        using var sandbox = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
        Assert.True((await sandbox.PostAsJsonAsync("/sandbox/unionpay/buyer/pay", new { qr_code = qr, acc_no = "6216****0001" }, SandboxJson.Options)).IsSuccessStatusCode);
        await m.WaitForStatusAsync(id, "succeeded");
        var paid = hub.Sandbox.UnionPay.Orders.Values.Single(o => o.MerId == config.MerId && o.RefundOf is null);

        var cancelNo = "cx" + Guid.NewGuid().ToString("N")[..20];
        hub.Sandbox.UnionPay.ExtraSettledRows.Enqueue(new UnionPaySettledRow(config.MerId, "31", cancelNo, "9" + paid.QueryId![1..], 5_000, DateTimeOffset.UtcNow, paid.QueryId));
        hub.Sandbox.UnionPay.ErrorFileRows.Enqueue(new UnionPayErrorFileRow(config.MerId, "E22", "424242", 123, DateTimeOffset.UtcNow));

        var ours = Assert.Single((await hub.Service<ReconciliationService>().RunAsync(TodayInChina, null, default)).Channels, c => c.Channel == channel);

        Assert.Equal(("completed", 3, 1), (ours.Status, ours.BillLines, ours.Matched)); // the payment still matches
        Assert.Equal(["unhandled_transaction_type", "wallet_adjustment"], ours.Discrepancies.Select(d => d.Kind).Order(StringComparer.Ordinal));
        Assert.All(ours.Discrepancies, d => Assert.Equal("open", d.Resolution));
        var cancel = ours.Discrepancies.Single(d => d.Kind == "unhandled_transaction_type");
        Assert.Equal((cancelNo, 5_000L), (cancel.OutTradeNo, cancel.WalletAmount));
        Assert.Contains($"origQryId {paid.QueryId}", cancel.Detail, StringComparison.Ordinal);
        var adjustment = ours.Discrepancies.Single(d => d.Kind == "wallet_adjustment");
        Assert.Equal(123L, adjustment.WalletAmount);
        Assert.Contains("交易代码 E22", adjustment.Detail, StringComparison.Ordinal);

        var date = TodayInChina.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var csv = (await hub.Admin().GetAsync($"/admin/reconciliations/{date}/report.csv")).Body;
        Assert.Contains($",{channel},unionpay,unhandled_transaction_type,{cancelNo},", csv, StringComparison.Ordinal);
        Assert.Contains($",{channel},unionpay,wallet_adjustment,", csv, StringComparison.Ordinal);
    }
}

[Collection("sqlite")]
public sealed class UnionPayReconciliationReviewTests_Sqlite(SqliteHub hub) : UnionPayReconciliationReviewTests(hub);

[Collection("postgres")]
public sealed class UnionPayReconciliationReviewTests_Postgres(PostgresHub hub) : UnionPayReconciliationReviewTests(hub);
