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
    public async Task Buyer_pays_a_UnionPay_QR_and_the_backUrl_notification_settles_it()
    {
        var (m, id, qr) = await PendingAsync();
        Assert.StartsWith("https://qr.95516.com/00010000/", qr, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await BuyerPaysAsync(qr)).StatusCode);
        var done = await m.WaitForStatusAsync(id, "succeeded");
        Assert.Equal("6216****4321", done.Json.GetProperty("payer").GetProperty("id").GetString());
        Assert.Equal("unionpay", done.Str("wallet"));
    }

    [Fact]
    public async Task A_notification_signed_by_the_right_key_but_another_certificate_is_refused()
    {
        var (m, id, qr) = await PendingAsync();
        hub.Sandbox.UnionPay.Faults.Inject("notify", SandboxFault.DropNotification, 1, match: id);
        await BuyerPaysAsync(qr);
        var order = hub.Sandbox.UnionPay.OrdersByQr[qr[(qr.LastIndexOf('/') + 1)..]];
        using var http = new HttpClient { BaseAddress = new Uri(hub.Hub.BaseUrl) };

        var fields = hub.Sandbox.UnionPay.NotificationFields(order);
        using var otherKey = System.Security.Cryptography.RSA.Create(2048);
        var otherCert = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=Not UnionPay", otherKey,
            System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1).CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        fields["signPubKeyCert"] = otherCert.ExportCertificatePem();
        fields["signature"] = UnionPaySignature.Sign(otherKey, fields);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.PostAsync("/notify/unionpay", new FormUrlEncodedContent(fields))).StatusCode);

        var tampered = hub.Sandbox.UnionPay.NotificationFields(order);
        tampered["txnAmt"] = "1";
        Assert.Equal(HttpStatusCode.BadRequest, (await http.PostAsync("/notify/unionpay", new FormUrlEncodedContent(tampered))).StatusCode);
        Assert.Equal("pending", (await m.GetAsync($"/v1/payments/{id}")).Str("status"));

        var genuine = await http.PostAsync("/notify/unionpay", new FormUrlEncodedContent(hub.Sandbox.UnionPay.NotificationFields(order)));
        Assert.Equal(HttpStatusCode.OK, genuine.StatusCode);
        Assert.Equal("succeeded", (await m.GetAsync($"/v1/payments/{id}")).Str("status"));
    }

    [Fact]
    public async Task A_UnionPay_timeout_is_unknown_until_a_query_finds_the_order()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync();
        hub.Sandbox.UnionPay.Faults.Inject("apply", SandboxFault.TimeoutAfter, 2, match: id);
        Assert.Equal("unknown", (await m.ConfirmAsync(id, wallet: "unionpay")).Str("status"));
        var pending = await m.WaitForStatusAsync(id, "pending");
        Assert.StartsWith("https://qr.95516.com/", pending.Json.GetProperty("next_action").GetProperty("code_url").GetString(), StringComparison.Ordinal);
        Assert.Single(hub.Sandbox.UnionPay.Orders.Values, o => o.ReqReserved == id);
    }

    [Fact]
    public async Task Cancel_without_a_close_API_queries_first_and_a_later_payment_is_refunded_automatically()
    {
        var (m, id, qr) = await PendingAsync();
        Assert.Equal("canceled", (await m.PostAsync($"/v1/payments/{id}/cancel")).Str("status"));
        var before = hub.Metrics.Total("hutong.payments.late_success");
        // UnionPay QR codes cannot be closed: a buyer may still pay until payTimeout. The hub notices, alerts, and
        // returns the money through UnionPay's 退货 (refund) API by itself.
        await BuyerPaysAsync(qr);
        await hub.EventuallyAsync(() => Task.FromResult(hub.Metrics.Total("hutong.payments.late_success")), n => n == before + 1, what: "late success alert");
        Assert.Equal("canceled", (await m.GetAsync($"/v1/payments/{id}")).Str("status"));
        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE payment_id = @id AND status = 'succeeded' AND initiated_by = 'system'", new { id }),
            n => n == 1, what: "automatic refund");
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE payment_id = @id", new { id }));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE type = 'refund.succeeded' AND payload LIKE @p", new { p = $"%{id}%" }));
        // UnionPay sends the 退货's result to its backUrl (txnType=04); the hub verifies and processes it.
        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM wallet_notifications WHERE event_type = 'backUrl.refund' AND processed_at IS NOT NULL"),
            n => n >= 1, what: "refund backUrl notification");
    }

    [Fact]
    public async Task A_late_payment_whose_notification_is_lost_is_still_found_and_refunded()
    {
        var (m, id, qr) = await PendingAsync();
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
