using System.Net;
using System.Net.Http.Json;
using Dapper;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Sandbox.Alipay;
using Hutong.Server.Features.Disputes;
using Hutong.Server.Features.Ledger;

namespace Hutong.Integration.Tests;

/// <summary>
/// Buyers' trade complaints at Alipay (交易投诉, at the sandbox) as /v1/disputes: the signed
/// alipay.merchant.tradecomplain.changed message brings the dispute in (dispute.created, linked to the payment), the
/// merchant's answer and close reach Alipay as feedback.submit, the buyer's confirmation closes it, a refund from the
/// dispute is a normal refund (ledger verified), and another merchant sees nothing.
/// </summary>
public abstract class AlipayDisputeTests(HubFixture hub)
{
    /// <summary>A merchant with a paid Alipay payment: its client, id, payment id and out_trade_no.</summary>
    private async Task<(ApiClient M, string MerchantId, string PaymentId, string OutTradeNo)> PaidAsync(long amount = 2_000)
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(amount);
        var qr = (await m.ConfirmAsync(id, wallet: "alipay")).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        (await hub.AlipayBuyerPaysAsync(qr)).EnsureSuccessStatusCode();
        await m.WaitForStatusAsync(id, "succeeded");
        var outTradeNo = await hub.Db.ReadAsync(c => c.ExecuteScalarAsync<string>(
            "SELECT out_trade_no FROM payment_attempts WHERE payment_id = @id AND status = 'succeeded'", new { id }), default);
        return (m, merchantId, id, outTradeNo!);
    }

    private async Task<string> ComplainAsync(string outTradeNo, string demand = "要求退款", bool drop = false)
    {
        using var http = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
        var r = await http.PostAsJsonAsync("/sandbox/alipay/buyer/complain",
            new { out_trade_no = outTradeNo, content = "商品未收到", leaf_category_name = demand, drop_notification = drop }, SandboxJson.Options);
        r.EnsureSuccessStatusCode();
        return (await r.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("complain_event_id").GetString()!;
    }

    private async Task BuyerAsync(string complaintId, string action)
    {
        using var http = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
        (await http.PostAsJsonAsync($"/sandbox/alipay/buyer/complaints/{complaintId}/{action}", new { content = "还没收到" }, SandboxJson.Options)).EnsureSuccessStatusCode();
    }

    private Task<ApiResponse> DisputeOfAsync(ApiClient m, string paymentId) =>
        hub.EventuallyAsync(() => m.GetAsync($"/v1/disputes?payment={paymentId}"), r => r.Json.GetProperty("data").GetArrayLength() == 1, what: "the dispute arrives");

    private Task<long> EventsAsync(string merchantId, string type) =>
        hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE merchant_id = @merchantId AND type = @type", new { merchantId, type });

    private AlipaySandboxComplaint Complaint(string id) => hub.Sandbox.Alipay.Complaints.Complaints[id];

    private int Calls(string call) => hub.Sandbox.Alipay.Complaints.Calls.Count(c => c == call);

    [Fact]
    public async Task A_complaint_message_creates_a_dispute_linked_to_the_payment_without_the_buyers_phone()
    {
        var (m, merchantId, paymentId, outTradeNo) = await PaidAsync();
        var complaintId = await ComplainAsync(outTradeNo);

        var id = (await DisputeOfAsync(m, paymentId)).Json.GetProperty("data")[0].GetProperty("id").GetString()!;
        var d = await m.GetAsync($"/v1/disputes/{id}");
        Assert.Equal(HttpStatusCode.OK, d.Status);
        Assert.Equal("alipay", d.Str("wallet"));
        Assert.Equal("needs_response", d.Str("status"));
        Assert.Equal("MERCHANT_PROCESSING", d.Str("wallet_status"));
        Assert.Equal(complaintId, d.Str("wallet_dispute_id"));
        Assert.Equal(paymentId, d.Json.GetProperty("payment").GetProperty("id").GetString());
        Assert.Equal(outTradeNo, d.Json.GetProperty("payment").GetProperty("out_trade_no").GetString());
        Assert.Equal(2_000, d.Json.GetProperty("amount").GetInt64()); // "20.00" yuan at Alipay, fen here
        var filed = d.Json.GetProperty("filed_at").GetDateTimeOffset();
        Assert.Equal(filed.AddHours(72), d.Json.GetProperty("respond_by").GetDateTimeOffset());
        Assert.Equal("buyer", d.Json.GetProperty("history")[0].GetProperty("actor").GetString());
        Assert.DoesNotContain(Complaint(complaintId).PhoneNo, d.Body, StringComparison.Ordinal);
        Assert.DoesNotContain("phone", d.Body, StringComparison.Ordinal);
        Assert.Equal(1, await EventsAsync(merchantId, "dispute.created"));

        // The sync job (or a repeated message) changes nothing and sends nothing more.
        await hub.Service<DisputeSyncJob>().RunOnceAsync(default);
        Assert.Equal(1, await EventsAsync(merchantId, "dispute.created"));
        Assert.Equal(0, await EventsAsync(merchantId, "dispute.updated"));
    }

    [Fact]
    public async Task A_forged_complaint_message_is_answered_failure_and_brings_nothing_in()
    {
        var (m, _, paymentId, outTradeNo) = await PaidAsync();
        var complaintId = await ComplainAsync(outTradeNo, drop: true);
        var forged = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["msg_method"] = "alipay.merchant.tradecomplain.changed", ["app_id"] = hub.Alipay.AppId, ["notify_id"] = "forged-" + Guid.NewGuid(),
            ["utc_timestamp"] = "1767225600000", ["version"] = "1.1", ["charset"] = "utf-8", ["sign_type"] = "RSA2",
            ["biz_content"] = $$"""{"complain_event_id":"{{complaintId}}"}""",
        };
        using var someoneElse = System.Security.Cryptography.RSA.Create(2048);
        forged["sign"] = Hutong.Connectors.Alipay.AlipaySignature.Sign(someoneElse, Hutong.Connectors.Alipay.AlipaySignature.Content(forged!, true, "sign_type"));
        using var http = new HttpClient { BaseAddress = new Uri(hub.Hub.BaseUrl) };
        var refused = await http.PostAsync("/notify/alipay", new FormUrlEncodedContent(forged));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal("failure", await refused.Content.ReadAsStringAsync());
        Assert.Equal(0, Calls($"query:{complaintId}"));
        Assert.Equal(0, (await m.GetAsync($"/v1/disputes?payment={paymentId}")).Json.GetProperty("data").GetArrayLength());

        // Alipay's own message (the buyer writes again) is taken and answered "success".
        await BuyerAsync(complaintId, "message");
        await DisputeOfAsync(m, paymentId);
    }

    [Fact]
    public async Task A_complaint_whose_message_was_lost_is_found_by_the_sync_job()
    {
        var (m, merchantId, paymentId, outTradeNo) = await PaidAsync();
        await ComplainAsync(outTradeNo, drop: true);
        await Task.Delay(300);
        Assert.Equal(0, (await m.GetAsync($"/v1/disputes?payment={paymentId}")).Json.GetProperty("data").GetArrayLength());

        await hub.Service<DisputeSyncJob>().RunOnceAsync(default);
        var list = await m.GetAsync($"/v1/disputes?payment={paymentId}&wallet=alipay");
        Assert.Equal(1, list.Json.GetProperty("data").GetArrayLength());
        Assert.Equal(1, await EventsAsync(merchantId, "dispute.created"));
        Assert.True(Calls("batchquery") >= 1);
    }

    [Fact]
    public async Task The_merchants_answer_and_close_reach_alipay_as_feedback_and_the_buyers_confirmation_closes_the_dispute()
    {
        var (m, merchantId, paymentId, outTradeNo) = await PaidAsync();
        var complaintId = await ComplainAsync(outTradeNo, demand: "商品问题");
        var id = (await DisputeOfAsync(m, paymentId)).Json.GetProperty("data")[0].GetProperty("id").GetString()!;

        // image_ids: an image id the merchant got from Alipay itself (here: the connector's upload) goes through as it is.
        var uploaded = await hub.Service<Hutong.Connectors.Alipay.AlipayConnector>().UploadComplaintImageAsync("receipt.jpg", "jpg", [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3], default);
        Assert.Equal(Hutong.Connectors.Abstractions.WalletCallOutcome.Ok, uploaded.Outcome);
        var imageId = uploaded.ImageId!;
        var key = "dp-" + Guid.NewGuid();
        var answered = await m.PostAsync($"/v1/disputes/{id}/respond", new { text = "已为您补发，请查收", image_ids = new[] { imageId } }, idempotencyKey: key);
        Assert.Equal(HttpStatusCode.OK, answered.Status);
        Assert.Equal("under_review", answered.Str("status"));
        Assert.Equal("MERCHANT_FEEDBACKED", answered.Str("wallet_status"));
        var again = await m.PostAsync($"/v1/disputes/{id}/respond", new { text = "已为您补发，请查收", image_ids = new[] { imageId } }, idempotencyKey: key);
        Assert.Equal(answered.Body, again.Body);
        Assert.Equal(1, Calls($"feedback:{complaintId}:04"));
        lock (Complaint(complaintId))
        {
            Assert.Equal([imageId], Complaint(complaintId).Replies.Single(r => r.Role == "MERCHANT").Images);
        }

        Assert.Contains(answered.Json.GetProperty("history").EnumerateArray(),
            h => h.GetProperty("actor").GetString() == "merchant" && h.GetProperty("text").GetString() == "已为您补发，请查收");

        // The buyer writes again: the merchant owes an answer once more.
        await BuyerAsync(complaintId, "message");
        await hub.EventuallyAsync(() => m.GetAsync($"/v1/disputes/{id}"), r => r.Str("status") == "needs_response", what: "the buyer's new message");

        var closed = await m.PostAsync($"/v1/disputes/{id}/close", null);
        Assert.Equal(HttpStatusCode.OK, closed.Status);
        Assert.Equal(1, Calls($"feedback:{complaintId}:05"));
        Assert.Equal("under_review", closed.Str("status")); // Alipay waits for the buyer's confirmation

        await BuyerAsync(complaintId, "finish");
        var done = await hub.EventuallyAsync(() => m.GetAsync($"/v1/disputes/{id}"), r => r.Str("status") == "closed", what: "the buyer confirms");
        Assert.Equal("FINISHED", done.Str("wallet_status"));
        Assert.Equal(1, await EventsAsync(merchantId, "dispute.closed"));

        // A closed dispute takes no further answer: 409, and nothing reaches Alipay.
        var late = await m.PostAsync($"/v1/disputes/{id}/respond", new { text = "再次回复" });
        Assert.Equal(HttpStatusCode.Conflict, late.Status);
        Assert.Equal(1, Calls($"feedback:{complaintId}:04"));
    }

    [Fact]
    public async Task A_refund_from_a_dispute_is_a_normal_refund_and_alipay_hears_of_it()
    {
        var (m, _, paymentId, outTradeNo) = await PaidAsync(3_000);
        var complaintId = await ComplainAsync(outTradeNo, demand: "要求退款");
        var id = (await DisputeOfAsync(m, paymentId)).Json.GetProperty("data")[0].GetProperty("id").GetString()!;

        var key = "dp-" + Guid.NewGuid();
        var refund = await m.PostAsync($"/v1/disputes/{id}/refund", new { reason = "投诉退款" }, idempotencyKey: key);
        Assert.Equal(HttpStatusCode.Created, refund.Status);
        var refundId = refund.Str("id");
        Assert.Equal(3_000, refund.Json.GetProperty("amount").GetInt64());
        Assert.Equal(refundId, (await m.PostAsync($"/v1/disputes/{id}/refund", new { reason = "投诉退款" }, idempotencyKey: key)).Str("id"));

        await hub.EventuallyAsync(() => m.GetAsync($"/v1/refunds/{refundId}"), r => r.Str("status") == "succeeded", what: "the dispute's refund succeeds");
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE payment_id = @paymentId", new { paymentId }));
        Assert.Equal(1, Calls($"feedback:{complaintId}:02"));
        Assert.Equal("MERCHANT_FEEDBACKED", Complaint(complaintId).Status);
        var d = await hub.EventuallyAsync(() => m.GetAsync($"/v1/disputes/{id}"), r => r.Str("refund_id") == refundId, what: "the refund on the dispute");
        Assert.Equal("under_review", d.Str("status"));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM disputes WHERE id = @id AND refund_reported = 1", new { id }));

        var more = await m.PostAsync($"/v1/disputes/{id}/refund", new { amount = 1 });
        Assert.Equal(HttpStatusCode.Conflict, more.Status);
        var verified = await hub.Service<LedgerStore>().VerifyAsync(null, default);
        Assert.True(verified.Ok, string.Join('\n', verified.Problems));
    }

    [Fact]
    public async Task Another_merchants_alipay_dispute_is_404_and_nothing_reaches_alipay()
    {
        var (m, _, paymentId, outTradeNo) = await PaidAsync();
        var complaintId = await ComplainAsync(outTradeNo);
        var id = (await DisputeOfAsync(m, paymentId)).Json.GetProperty("data")[0].GetProperty("id").GetString()!;
        var before = await m.GetAsync($"/v1/disputes/{id}");

        var (other, _, _) = await hub.NewMerchantAsync("别的商户");
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/v1/disputes/{id}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await other.PostAsync($"/v1/disputes/{id}/respond", new { text = "不是我的" })).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await other.PostAsync($"/v1/disputes/{id}/close", null)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await other.PostAsync($"/v1/disputes/{id}/refund", new { })).Status);
        Assert.Equal(0, (await other.GetAsync("/v1/disputes?wallet=alipay")).Json.GetProperty("data").GetArrayLength());

        Assert.Equal(0, hub.Sandbox.Alipay.Complaints.Calls.Count(c => c.StartsWith($"feedback:{complaintId}", StringComparison.Ordinal)));
        Assert.Equal("MERCHANT_PROCESSING", Complaint(complaintId).Status);
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE payment_id = @paymentId", new { paymentId }));
        Assert.Equal(before.Body, (await m.GetAsync($"/v1/disputes/{id}")).Body);
    }
}

[Collection("sqlite")]
public sealed class AlipayDisputeTests_Sqlite(SqliteHub hub) : AlipayDisputeTests(hub);

[Collection("postgres")]
public sealed class AlipayDisputeTests_Postgres(PostgresHub hub) : AlipayDisputeTests(hub);
