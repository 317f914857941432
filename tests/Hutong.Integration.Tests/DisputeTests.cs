using System.Net;
using System.Net.Http.Json;
using Dapper;
using Hutong.Connectors.Abstractions;
using Hutong.Connectors.WeChatPay;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Server.Features.Disputes;
using Hutong.Server.Features.Ledger;

namespace Hutong.Integration.Tests;

/// <summary>
/// Buyers' complaints at WeChat Pay (消费者投诉2.0, at the sandbox) as /v1/disputes: the notification brings the dispute
/// in (dispute.created, linked to the payment), the sync job finds one whose notification was lost, the merchant's
/// answer, close and refund reach the wallet, the deadline job alerts once; bad input and other merchants change nothing.
/// </summary>
public abstract class DisputeTests(HubFixture hub)
{
    private async Task RegisterNotifyUrlAsync()
    {
        var set = await hub.Service<WeChatPayConnector>().SetComplaintNotifyUrlAsync(hub.Hub.BaseUrl + "/notify/wechatpay", default);
        Assert.Equal(WalletCallOutcome.Ok, set.Outcome);
    }

    /// <summary>A merchant with a paid WeChat Pay payment: its client, id, payment id and out_trade_no.</summary>
    private async Task<(ApiClient M, string MerchantId, string PaymentId, string OutTradeNo)> PaidAsync(long amount = 2_000)
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(amount);
        var code = (await m.ConfirmAsync(id)).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        (await hub.BuyerPaysAsync(code)).EnsureSuccessStatusCode();
        await m.WaitForStatusAsync(id, "succeeded");
        var outTradeNo = await hub.Db.ReadAsync(c => c.ExecuteScalarAsync<string>(
            "SELECT out_trade_no FROM payment_attempts WHERE payment_id = @id AND status = 'succeeded'", new { id }), default);
        return (m, merchantId, id, outTradeNo!);
    }

    private async Task<string> ComplainAsync(string outTradeNo, string problemType = "OTHERS", bool drop = false)
    {
        using var http = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
        var r = await http.PostAsJsonAsync("/sandbox/wechatpay/buyer/complain",
            new { out_trade_no = outTradeNo, detail = "商品未收到", problem_type = problemType, drop_notification = drop }, SandboxJson.Options);
        r.EnsureSuccessStatusCode();
        return (await r.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("complaint_id").GetString()!;
    }

    private Task<ApiResponse> DisputeOfAsync(ApiClient m, string paymentId) =>
        hub.EventuallyAsync(() => m.GetAsync($"/v1/disputes?payment={paymentId}"), r => r.Json.GetProperty("data").GetArrayLength() == 1, what: "the dispute arrives");

    private Task<long> EventsAsync(string merchantId, string type) =>
        hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE merchant_id = @merchantId AND type = @type", new { merchantId, type });

    private SandboxComplaintView Complaint(string complaintId) => new(hub.Sandbox.WeChat.Complaints.Complaints[complaintId]);

    private sealed record SandboxComplaintView(Hutong.Sandbox.WeChatPay.SandboxComplaint C)
    {
        public int Count(string type)
        {
            lock (C)
            {
                return C.History.Count(h => h.OperateType == type);
            }
        }
    }

    [Fact]
    public async Task A_complaint_notification_creates_a_dispute_linked_to_the_payment_without_the_buyers_phone()
    {
        await RegisterNotifyUrlAsync();
        var (m, merchantId, paymentId, outTradeNo) = await PaidAsync();
        var complaintId = await ComplainAsync(outTradeNo);

        var list = await DisputeOfAsync(m, paymentId);
        var id = list.Json.GetProperty("data")[0].GetProperty("id").GetString()!;
        Assert.StartsWith("dp_", id);
        var d = await m.GetAsync($"/v1/disputes/{id}");
        Assert.Equal(HttpStatusCode.OK, d.Status);
        Assert.Equal("needs_response", d.Str("status"));
        Assert.Equal("PENDING", d.Str("wallet_status"));
        Assert.Equal(complaintId, d.Str("wallet_dispute_id"));
        Assert.Equal(paymentId, d.Json.GetProperty("payment").GetProperty("id").GetString());
        Assert.Equal(outTradeNo, d.Json.GetProperty("payment").GetProperty("out_trade_no").GetString());
        Assert.Equal(2_000, d.Json.GetProperty("amount").GetInt64());
        // respond_by is the wallet's 24-hour window from the complaint.
        var filed = d.Json.GetProperty("filed_at").GetDateTimeOffset();
        Assert.Equal(filed.AddHours(24), d.Json.GetProperty("respond_by").GetDateTimeOffset());
        Assert.Equal(filed.AddHours(72), d.Json.GetProperty("resolve_by").GetDateTimeOffset());
        Assert.Equal("buyer", d.Json.GetProperty("history")[0].GetProperty("actor").GetString());
        Assert.DoesNotContain("payer_phone", d.Body, StringComparison.Ordinal);
        Assert.DoesNotContain(Complaint(complaintId).C.PayerPhone, d.Body, StringComparison.Ordinal);
        Assert.Equal(1, await EventsAsync(merchantId, "dispute.created"));

        // The wallet's repeat of the same notification (or a later sync) changes nothing and sends nothing more.
        await hub.Service<DisputeSyncJob>().RunOnceAsync(default);
        Assert.Equal(1, await EventsAsync(merchantId, "dispute.created"));
        Assert.Equal(0, await EventsAsync(merchantId, "dispute.updated"));
    }

    [Fact]
    public async Task A_complaint_whose_notification_was_lost_is_found_by_the_sync_job()
    {
        await RegisterNotifyUrlAsync();
        var (m, merchantId, paymentId, outTradeNo) = await PaidAsync();
        await ComplainAsync(outTradeNo, drop: true);
        await Task.Delay(300);
        Assert.Equal(0, (await m.GetAsync($"/v1/disputes?payment={paymentId}")).Json.GetProperty("data").GetArrayLength());

        await hub.Service<DisputeSyncJob>().RunOnceAsync(default);
        var list = await m.GetAsync($"/v1/disputes?payment={paymentId}&status=needs_response&wallet=wechatpay");
        Assert.Equal(1, list.Json.GetProperty("data").GetArrayLength());
        Assert.Equal(1, await EventsAsync(merchantId, "dispute.created"));
        Assert.Contains(hub.Sandbox.WeChat.Complaints.Calls, c => c == "list");
    }

    [Fact]
    public async Task The_merchants_answer_reaches_the_wallet_once_and_shows_in_the_history_then_close_closes_it()
    {
        await RegisterNotifyUrlAsync();
        var (m, merchantId, paymentId, outTradeNo) = await PaidAsync();
        var complaintId = await ComplainAsync(outTradeNo);
        var id = (await DisputeOfAsync(m, paymentId)).Json.GetProperty("data")[0].GetProperty("id").GetString()!;

        // image_ids: a media id the merchant got from WeChat itself (here: the connector's upload) goes through as it is.
        var uploaded = await hub.Service<WeChatPayConnector>().UploadComplaintImageAsync("receipt.png", "png", [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3], default);
        Assert.Equal(WalletCallOutcome.Ok, uploaded.Outcome);
        var mediaId = uploaded.ImageId!;
        var key = "dp-" + Guid.NewGuid();
        var answered = await m.PostAsync($"/v1/disputes/{id}/respond", new { text = "已为您补发，请查收", image_ids = new[] { mediaId } }, idempotencyKey: key);
        Assert.Equal(HttpStatusCode.OK, answered.Status);
        Assert.Equal("under_review", answered.Str("status"));
        var again = await m.PostAsync($"/v1/disputes/{id}/respond", new { text = "已为您补发，请查收", image_ids = new[] { mediaId } }, idempotencyKey: key);
        Assert.Equal(answered.Body, again.Body);
        Assert.Equal(1, Complaint(complaintId).Count("MERCHANT_RESPONSE"));
        var history = answered.Json.GetProperty("history").EnumerateArray().ToList();
        Assert.Contains(history, h => h.GetProperty("actor").GetString() == "merchant" && h.GetProperty("text").GetString() == "已为您补发，请查收");
        Assert.True(await EventsAsync(merchantId, "dispute.updated") >= 1);

        var closed = await m.PostAsync($"/v1/disputes/{id}/close", null);
        Assert.Equal(HttpStatusCode.OK, closed.Status);
        Assert.Equal("closed", closed.Str("status"));
        Assert.Equal("PROCESSED", Complaint(complaintId).C.State);
        Assert.Equal(1, await EventsAsync(merchantId, "dispute.closed"));

        // A closed dispute takes no further answer: 409, and nothing reaches the wallet.
        var late = await m.PostAsync($"/v1/disputes/{id}/respond", new { text = "再次回复" });
        Assert.Equal(HttpStatusCode.Conflict, late.Status);
        Assert.Equal(1, Complaint(complaintId).Count("MERCHANT_RESPONSE"));
    }

    [Fact]
    public async Task A_refund_from_a_dispute_is_a_normal_refund_and_the_wallet_hears_of_it()
    {
        await RegisterNotifyUrlAsync();
        var (m, merchantId, paymentId, outTradeNo) = await PaidAsync(3_000);
        var complaintId = await ComplainAsync(outTradeNo, problemType: "REFUND");
        var id = (await DisputeOfAsync(m, paymentId)).Json.GetProperty("data")[0].GetProperty("id").GetString()!;

        var key = "dp-" + Guid.NewGuid();
        var refund = await m.PostAsync($"/v1/disputes/{id}/refund", new { reason = "投诉退款" }, idempotencyKey: key);
        Assert.Equal(HttpStatusCode.Created, refund.Status);
        var refundId = refund.Str("id");
        Assert.Equal(3_000, refund.Json.GetProperty("amount").GetInt64());
        var repeat = await m.PostAsync($"/v1/disputes/{id}/refund", new { reason = "投诉退款" }, idempotencyKey: key);
        Assert.Equal(refundId, repeat.Str("id"));

        await hub.EventuallyAsync(() => m.GetAsync($"/v1/refunds/{refundId}"), r => r.Str("status") == "succeeded", what: "the dispute's refund succeeds");
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE payment_id = @paymentId", new { paymentId }));
        Assert.Equal(1, hub.Sandbox.WeChat.Complaints.Calls.Count(c => c == $"refund:{complaintId}:APPROVE"));
        Assert.Equal(1, Complaint(complaintId).Count("MERCHANT_APPROVE_REFUND"));
        // The flag arrives with the complaint's next sync; on a loaded CI box that once took longer than the default 15 s.
        var d = await hub.EventuallyAsync(() => m.GetAsync($"/v1/disputes/{id}"), r => r.Json.GetProperty("fully_refunded").GetBoolean(),
            TimeSpan.FromSeconds(60), what: "the wallet's refund flag");
        Assert.Equal(refundId, d.Str("refund_id"));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM disputes WHERE id = @id AND refund_reported = 1", new { id }));

        // Nothing is left to refund: a second refund is refused and reaches neither the wallet nor the ledger.
        var more = await m.PostAsync($"/v1/disputes/{id}/refund", new { amount = 1 });
        Assert.Equal(HttpStatusCode.Conflict, more.Status);
        var verified = await hub.Service<LedgerStore>().VerifyAsync(null, default);
        Assert.True(verified.Ok, string.Join('\n', verified.Problems));
    }

    [Fact]
    public async Task Bad_input_is_a_4xx_that_changes_nothing_and_another_merchants_dispute_is_404()
    {
        await RegisterNotifyUrlAsync();
        var (m, merchantId, paymentId, outTradeNo) = await PaidAsync();
        var complaintId = await ComplainAsync(outTradeNo);
        var id = (await DisputeOfAsync(m, paymentId)).Json.GetProperty("data")[0].GetProperty("id").GetString()!;
        var before = await m.GetAsync($"/v1/disputes/{id}");

        var cases = new (object? Body, string? Key, string Param)[]
        {
            (new { text = "" }, "new", "text"),
            (new { text = new string('长', 201) }, "new", "text"),
            (new { text = "好\u202e的" }, "new", "text"),
            (new { text = "好的", image_ids = new[] { "1", "2", "3", "4", "5" } }, "new", "image_ids"),
            (new { text = "好的" }, null, "Idempotency-Key"),
        };
        foreach (var (body, key, param) in cases)
        {
            var bad = await m.PostAsync($"/v1/disputes/{id}/respond", body, idempotencyKey: key);
            Assert.True(bad.Status == HttpStatusCode.BadRequest, bad.ToString());
            Assert.Contains(param, bad.Body, StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.BadRequest, (await m.GetAsync("/v1/disputes?limit=0")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await m.GetAsync("/v1/disputes?status=open")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await m.GetAsync("/v1/disputes?starting_after=pay_1")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await m.PostAsync($"/v1/disputes/{id}/refund", new { reason = "" })).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await m.GetAsync("/v1/disputes/pay_123")).Status);

        var (other, _, _) = await hub.NewMerchantAsync("别的商户");
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/v1/disputes/{id}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await other.PostAsync($"/v1/disputes/{id}/respond", new { text = "不是我的" })).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await other.PostAsync($"/v1/disputes/{id}/close", null)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await other.PostAsync($"/v1/disputes/{id}/refund", new { })).Status);
        Assert.Equal(0, (await other.GetAsync("/v1/disputes")).Json.GetProperty("data").GetArrayLength());

        Assert.Equal(0, Complaint(complaintId).Count("MERCHANT_RESPONSE"));
        Assert.Equal("PENDING", Complaint(complaintId).C.State);
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE payment_id = @paymentId", new { paymentId }));
        Assert.Equal(before.Body, (await m.GetAsync($"/v1/disputes/{id}")).Body);
        Assert.Equal(0, await EventsAsync(merchantId, "dispute.updated"));
    }

    [Fact]
    public async Task A_dispute_near_its_deadline_is_alerted_once_and_an_overdue_one_is_logged_and_counted_once()
    {
        await RegisterNotifyUrlAsync();
        var (m, merchantId, paymentId, outTradeNo) = await PaidAsync();
        await ComplainAsync(outTradeNo);
        var id = (await DisputeOfAsync(m, paymentId)).Json.GetProperty("data")[0].GetProperty("id").GetString()!;
        var job = hub.Service<DisputeDeadlineJob>();

        // Filed 23 hours ago: its 24-hour window closes within Disputes:WarnBefore (6 hours).
        var now = DateTimeOffset.UtcNow;
        await hub.ExecAsync("UPDATE disputes SET respond_by = @at WHERE id = @id", new { id, at = now.AddHours(1).ToUnixTimeMilliseconds() });
        await job.RunOnceAsync(default);
        await job.RunOnceAsync(default);
        Assert.Equal(1, await EventsAsync(merchantId, "dispute.deadline_approaching"));

        var overdueBefore = hub.Metrics.Total("hutong.disputes.overdue");
        await hub.ExecAsync("UPDATE disputes SET respond_by = @at WHERE id = @id", new { id, at = now.AddMinutes(-1).ToUnixTimeMilliseconds() });
        await job.RunOnceAsync(default);
        await job.RunOnceAsync(default);
        Assert.Equal(1, hub.Metrics.Total("hutong.disputes.overdue") - overdueBefore);
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM disputes WHERE id = @id AND overdue_alerted_at IS NOT NULL", new { id }));
        Assert.Equal(1, await EventsAsync(merchantId, "dispute.deadline_approaching"));
        Assert.Contains(hub.Logs.Lines, e => e.Message.Contains($"Dispute {id}", StringComparison.Ordinal) && e.Message.Contains("past its response deadline", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_independent_npm_client_lists_complaints_at_the_sandbox_and_verifies_its_signatures()
    {
        await E2eModules.EnsureInstalledAsync();
        var (_, _, _, outTradeNo) = await PaidAsync();
        var complaintId = await ComplainAsync(outTradeNo);
        var today = DateOnly.FromDateTime(DateTimeOffset.UtcNow.ToOffset(TimeSpan.FromHours(8)).DateTime);
        var psi = E2eModules.WeChatPayClient("wechatpay-complaints-interop.mjs", hub.Sandbox.BaseUrl, hub.WeChat);
        psi.Environment["WX_COMPLAINT_ID"] = complaintId;
        psi.Environment["WX_BEGIN_DATE"] = today.AddDays(-1).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        psi.Environment["WX_END_DATE"] = today.AddDays(1).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var (exitCode, stdout, stderr) = await E2eModules.RunNodeAsync(psi);

        Assert.True(exitCode == 0, stderr);
        var r = System.Text.Json.JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;
        Assert.False(r.TryGetProperty("error", out var error), error.ToString());
        Assert.Contains(complaintId, r.GetProperty("ids").EnumerateArray().Select(x => x.GetString()));
        Assert.True(r.GetProperty("total_count").GetInt32() >= 1);
        Assert.Equal(outTradeNo, r.GetProperty("listed_out_trade_no").GetString());
        Assert.Equal(complaintId, r.GetProperty("detail_id").GetString());
        Assert.Equal(r.GetProperty("listed_state").GetString(), r.GetProperty("detail_state").GetString());
        Assert.Equal(400, r.GetProperty("bad_status").GetInt32());
        Assert.Equal("PARAM_ERROR", r.GetProperty("bad_code").GetString());
    }
}

[Collection("sqlite")]
public sealed class DisputeTests_Sqlite(SqliteHub hub) : DisputeTests(hub);

[Collection("postgres")]
public sealed class DisputeTests_Postgres(PostgresHub hub) : DisputeTests(hub);
