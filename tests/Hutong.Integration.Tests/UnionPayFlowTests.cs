using System.Net;
using System.Net.Http.Json;
using Hutong.Connectors.UnionPay;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;

namespace Hutong.Integration.Tests;

/// <summary>UnionPay QuickPass (全渠道 ACP) behind the same API: QR application, signed backUrl notification, query, no close.</summary>
public abstract class UnionPayFlowTests(HubFixture hub)
{
    private async Task<HttpResponseMessage> BuyerPaysAsync(string qr)
    {
        using var http = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
        return await http.PostAsJsonAsync("/sandbox/unionpay/buyer/pay", new { qr_code = qr, acc_no = "6216****4321" }, SandboxJson.Options);
    }

    private async Task<(ApiClient M, string Id, string Qr)> PendingAsync(long amount = 3300)
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(amount);
        var confirm = await m.ConfirmAsync(id, wallet: "unionpay");
        Assert.Equal("pending", confirm.Str("status"));
        return (m, id, confirm.Json.GetProperty("next_action").GetProperty("code_url").GetString()!);
    }

    [Fact]
    public async Task A_late_payment_whose_notification_is_lost_is_still_found_and_refunded()
    {
        var (m, id, qr) = await PendingAsync();
        Assert.StartsWith("https://qr.95516.com/00010000/", qr, StringComparison.Ordinal);
        hub.Sandbox.UnionPay.Faults.Inject("notify", SandboxFault.DropNotification, 100, match: id); // UnionPay never tells
        Assert.Equal("canceled", (await m.PostAsync($"/v1/payments/{id}/cancel")).Str("status"));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM payment_attempts WHERE payment_id = @id AND status = 'open'", new { id })); // watched until it lapses

        Assert.Equal(HttpStatusCode.OK, (await BuyerPaysAsync(qr)).StatusCode);
        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE payment_id = @id AND status = 'succeeded' AND initiated_by = 'system'", new { id }),
            n => n == 1, what: "the watcher finds the payment by query and the hub refunds it");
        Assert.Equal("canceled", (await m.GetAsync($"/v1/payments/{id}")).Str("status"));
    }

    [Fact]
    public async Task A_response_without_UnionPays_pinned_signature_is_not_believed()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync();
        hub.Sandbox.UnionPay.Faults.Inject("apply", SandboxFault.BadResponseSignature, 1, match: id);
        Assert.Equal("unknown", (await m.ConfirmAsync(id, wallet: "unionpay")).Str("status"));
        await m.WaitForStatusAsync(id, "pending");
    }

    [Theory]
    [InlineData("00", Hutong.Connectors.Abstractions.WalletStatus.Succeeded)]
    [InlineData("05", Hutong.Connectors.Abstractions.WalletStatus.NotPaid)]
    [InlineData("03", Hutong.Connectors.Abstractions.WalletStatus.Paying)]
    [InlineData("01", Hutong.Connectors.Abstractions.WalletStatus.Failed)]
    [InlineData("12", Hutong.Connectors.Abstractions.WalletStatus.Closed)]
    [InlineData("99", Hutong.Connectors.Abstractions.WalletStatus.Unrecognised)]
    public void Every_orig_resp_code_maps(string code, Hutong.Connectors.Abstractions.WalletStatus status) =>
        Assert.Equal(status, UnionPayStatusMap.Map(code));

    [Fact]
    public void The_txn_time_is_derived_from_the_UUIDv7_order_id()
    {
        var at = new DateTimeOffset(2026, 11, 22, 4, 5, 6, TimeSpan.Zero);
        Assert.Equal("20261122120506", UnionPayConnector.TxnTimeOf(Guid.CreateVersion7(at).ToString("N")));
        Assert.Throws<ArgumentException>(() => UnionPayConnector.TxnTimeOf("short"));
    }
}

[Collection("sqlite")]
public sealed class UnionPayFlowTests_Sqlite(SqliteHub hub) : UnionPayFlowTests(hub);

[Collection("postgres")]
public sealed class UnionPayFlowTests_Postgres(PostgresHub hub) : UnionPayFlowTests(hub);
