using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hutong.Connectors.Abstractions;

namespace Hutong.Connectors.Alipay;

/// <summary>
/// Alipay trade complaints (交易投诉) behind the hub's dispute connector:
/// alipay.merchant.tradecomplain.batchquery (list: begin_time/end_time "yyyy-MM-dd HH:mm:ss" China time, page_num from 1,
/// page_size at most 20; answer page_num, page_size, total_num, total_page_num, trade_complain_infos[]),
/// alipay.merchant.tradecomplain.query (one complaint: complain_event_id, status, trade_no, merchant_order_no, gmt_create,
/// gmt_modified, gmt_finished, leaf_category_name (诉求), complain_reason, content, images, phone_no, trade_amount (yuan),
/// reply_detail_infos[{replier_name, replier_role USER/MERCHANT/SYSTEM/AUDITOR/GOVERNMENT, gmt_create, content, images}])
/// and alipay.merchant.tradecomplain.feedback.submit (complain_event_id, feedback_code, feedback_content ≤200,
/// feedback_images: image ids comma-separated, operator ≤6). Sources: alipay-sdk-java-all
/// v2/.../response/AlipayMerchantTradecomplainQueryResponse.java and domain/ReplyRecordResponse.java; essensoft/paylink
/// Domain/AlipayMerchantTradecomplainBatchqueryModel.cs, Response/AlipayMerchantTradecomplainBatchqueryResponse.cs,
/// Request/AlipayMerchantTradecomplainFeedbackSubmitRequest.cs (feedback_code 00 使用体验保障金退款, 02 通过其他方式退款,
/// 03 已发货, 04 其他, 05 已完成售后服务, 06 非我方责任范围); netcccyun/alipay-sdk-php src/AlipayComplainService.php.
/// The buyer's phone_no is never read. Alipay has no per-request complaint notify URL (the app's 应用网关 is set in the console).
/// </summary>
public sealed partial class AlipayConnector : IDisputeConnector
{
    /// <summary>The notification (消息服务) Alipay sends when a trade complaint is created or changes.</summary>
    public const string ComplaintChangedMethod = "alipay.merchant.tradecomplain.changed";

    /// <summary>feedback_code for the merchant's answer: 04 其他 (the text says what was done).</summary>
    public const string FeedbackReply = "04";

    /// <summary>feedback_code when the merchant marks the complaint handled: 05 已完成售后服务.</summary>
    public const string FeedbackDone = "05";

    /// <summary>feedback_code after the hub refunded the payment: 02 通过其他方式退款 (a normal refund, not the 保障金).</summary>
    public const string FeedbackRefunded = "02";

    private const int AlipayPageSize = 20;

    public async Task<ComplaintPageResult> ListComplaintsAsync(DateOnly begin, DateOnly end, int limit, int offset, CancellationToken cancellationToken)
    {
        // The hub pages by offset/limit (≤50); Alipay by page_num/page_size (≤20): the pages covering the range are read (≤4 calls).
        var take = Math.Clamp(limit, 1, 50);
        var skip = Math.Max(0, offset);
        var items = new List<WalletComplaint>();
        var total = 0;
        for (var page = skip / AlipayPageSize + 1; items.Count < take && page <= skip / AlipayPageSize + 4; page++)
        {
            var reply = await CallAsync("alipay.merchant.tradecomplain.batchquery", new JsonObject
            {
                ["begin_time"] = begin.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + " 00:00:00",
                ["end_time"] = end.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + " 23:59:59",
                ["page_num"] = page,
                ["page_size"] = AlipayPageSize,
            }, null, cancellationToken);
            if (reply.Outcome != WalletCallOutcome.Ok)
            {
                return new ComplaintPageResult(reply.Outcome, [], 0, reply.Error);
            }

            total = (int)Math.Clamp(Long(reply.Response!["total_num"]) ?? 0, 0, 1_000_000);
            var infos = (reply.Response!["trade_complain_infos"] as JsonArray ?? []).Take(AlipayPageSize).OfType<JsonObject>().ToList();
            var first = (page - 1) * AlipayPageSize;
            items.AddRange(infos.Select((c, i) => (c, at: first + i)).Where(x => x.at >= skip).Select(x => ToComplaint(x.c)).OfType<WalletComplaint>());
            if (infos.Count < AlipayPageSize)
            {
                break;
            }
        }

        return new ComplaintPageResult(WalletCallOutcome.Ok, items.Take(take).ToList(), Math.Max(total, items.Count), null);
    }

    public async Task<ComplaintResult> GetComplaintAsync(string complaintId, CancellationToken cancellationToken)
    {
        var reply = await CallAsync("alipay.merchant.tradecomplain.query", new JsonObject { ["complain_event_id"] = complaintId }, null, cancellationToken);
        if (reply.Outcome == WalletCallOutcome.Ok && ToComplaint(reply.Response!) is { } complaint)
        {
            return new ComplaintResult(WalletCallOutcome.Ok, complaint, null);
        }

        if (reply.Outcome == WalletCallOutcome.Rejected && reply.Error?.Code is "COMPLAIN_NOT_EXIST" or "INVALID_PARAMETER")
        {
            // Not this application's complaint: nothing to retry (the same answer as WeChat's RESOURCE_NOT_EXISTS).
            return new ComplaintResult(WalletCallOutcome.Rejected, null, new WalletError("RESOURCE_NOT_EXISTS", reply.Error.Message));
        }

        return new ComplaintResult(reply.Outcome == WalletCallOutcome.Ok ? WalletCallOutcome.Unknown : reply.Outcome, null, reply.Error ?? new WalletError("UNREADABLE", "unreadable complaint"));
    }

    /// <summary>Alipay has no history method: the detail's reply_detail_infos are the negotiation, oldest first.</summary>
    public async Task<ComplaintHistoryResult> ComplaintHistoryAsync(string complaintId, int limit, CancellationToken cancellationToken)
    {
        var take = Math.Clamp(limit, 1, 300);
        var reply = await CallAsync("alipay.merchant.tradecomplain.query", new JsonObject { ["complain_event_id"] = complaintId }, null, cancellationToken);
        if (reply.Outcome != WalletCallOutcome.Ok)
        {
            return new ComplaintHistoryResult(reply.Outcome, [], reply.Error);
        }

        var entries = Replies(reply.Response!).Take(take).Select((r, i) => new WalletComplaintEntry(
            i.ToString(CultureInfo.InvariantCulture), Str(r["replier_role"]) ?? string.Empty, Str(r["replier_role"]) ?? string.Empty,
            ParseTime(Str(r["gmt_create"])) ?? DateTimeOffset.UnixEpoch, Cut(Str(r["content"]), 600),
            (r["images"] as JsonArray ?? []).Take(10).Select(Str).OfType<string>().ToList())).ToList();
        return new ComplaintHistoryResult(WalletCallOutcome.Ok, entries, null);
    }

    /// <summary>
    /// feedback_images: image ids from alipay.merchant.image.upload, comma-separated (paylink
    /// AlipayMerchantTradecomplainFeedbackSubmitRequest); at most 4 — the count is NOT pinned by a public source (WeChat's
    /// limit, used for both; see docs/dispute-evidence.md). Images "最大为5M", "支持格式：jpg、jpeg、png" (alipay-sdk-java-all
    /// v2/src/main/java/com/alipay/api/request/AlipayMerchantImageUploadRequest.java).
    /// </summary>
    public ComplaintImageRules ComplaintImages { get; } = new(4, 5 * 1024 * 1024, ["jpg", "png"]);

    /// <summary>
    /// alipay.merchant.image.upload (商户上传处理图片): the text parameter image_type (jpg, png) and the file part
    /// image_content; the answer carries image_id (alipay-sdk-java-all AlipayMerchantImageUploadRequest /
    /// AlipayMerchantImageUploadResponse, alipay-sdk-net-all v3/docs/AlipayMerchantImageApi.md).
    /// </summary>
    public async Task<ComplaintImageResult> UploadComplaintImageAsync(string fileName, string type, byte[] content, CancellationToken cancellationToken)
    {
        var reply = await CallAsync("alipay.merchant.image.upload", [], null, cancellationToken,
            new Dictionary<string, string>(StringComparer.Ordinal) { ["image_type"] = type },
            ("image_content", fileName, type == "png" ? "image/png" : "image/jpeg", content));
        if (reply.Outcome == WalletCallOutcome.Ok && Str(reply.Response!["image_id"]) is { Length: > 0 and <= 128 } imageId)
        {
            return new ComplaintImageResult(WalletCallOutcome.Ok, imageId, null);
        }

        return new ComplaintImageResult(reply.Outcome == WalletCallOutcome.Ok ? WalletCallOutcome.Unknown : reply.Outcome, null,
            reply.Error ?? new WalletError("UNREADABLE", "upload answer without image_id"));
    }

    public Task<ComplaintActionResult> RespondToComplaintAsync(string complaintId, string text, IReadOnlyList<string> imageIds, CancellationToken cancellationToken) =>
        FeedbackAsync(complaintId, FeedbackReply, text, imageIds, cancellationToken);

    public Task<ComplaintActionResult> CompleteComplaintAsync(string complaintId, CancellationToken cancellationToken) =>
        FeedbackAsync(complaintId, FeedbackDone, "商家已处理完成", [], cancellationToken);

    public Task<ComplaintActionResult> ReportComplaintRefundAsync(string complaintId, bool approve, string? rejectReason, CancellationToken cancellationToken) =>
        approve
            ? FeedbackAsync(complaintId, FeedbackRefunded, "已为您办理退款", [], cancellationToken)
            : Task.FromResult(new ComplaintActionResult(WalletCallOutcome.Rejected, new WalletError("NOT_SUPPORTED", "Alipay takes no refund rejection; answer the buyer instead.")));

    /// <summary>Alipay sends complaint messages to the application's gateway set in its console (开放平台 应用网关); no API sets it.</summary>
    public Task<ComplaintActionResult> SetComplaintNotifyUrlAsync(string url, CancellationToken cancellationToken) =>
        Task.FromResult(new ComplaintActionResult(WalletCallOutcome.Rejected, new WalletError("NOT_SUPPORTED", "Alipay's complaint messages go to the 应用网关 set in the console.")));

    private async Task<ComplaintActionResult> FeedbackAsync(string complaintId, string code, string content, IReadOnlyList<string> imageIds, CancellationToken cancellationToken)
    {
        var biz = new JsonObject { ["complain_event_id"] = complaintId, ["feedback_code"] = code, ["feedback_content"] = content };
        if (imageIds.Count > 0)
        {
            biz["feedback_images"] = string.Join(',', imageIds.Take(4));
        }

        var reply = await CallAsync("alipay.merchant.tradecomplain.feedback.submit", biz, null, cancellationToken);
        return reply.Outcome == WalletCallOutcome.Ok ? ComplaintActionResult.Ok : new ComplaintActionResult(reply.Outcome, reply.Error ?? new WalletError("UNKNOWN", "no answer"));
    }

    private static IEnumerable<JsonObject> Replies(JsonObject c) => (c["reply_detail_infos"] as JsonArray ?? []).Take(300).OfType<JsonObject>();

    private static WalletComplaint? ToComplaint(JsonObject c)
    {
        if (Str(c["complain_event_id"]) is not { Length: > 0 and <= 64 } id || Str(c["status"]) is not { Length: > 0 } status)
        {
            return null;
        }

        var replies = Replies(c).ToList();
        // The buyer wrote after the merchant's last answer: the merchant owes one again.
        var lastMerchant = replies.FindLastIndex(r => Str(r["replier_role"]) == "MERCHANT");
        var awaiting = lastMerchant >= 0 && replies.Skip(lastMerchant + 1).Any(r => Str(r["replier_role"]) == "USER");
        var demand = Str(c["leaf_category_name"]);
        return new WalletComplaint(
            id, status, ParseTime(Str(c["gmt_create"])) ?? DateTimeOffset.UnixEpoch, Cut(Str(c["content"]), 600) ?? string.Empty,
            Cut(Str(c["complain_reason"]), 200), demand is not null && demand.Contains("退款", StringComparison.Ordinal) ? "REFUND" : "OTHERS",
            Str(c["merchant_order_no"]), Str(c["trade_no"]),
            AlipayAmount.TryParseFen(Str(c["trade_amount"]), out var fen) ? fen : null, null, false, awaiting, 1);
    }

    private static string? Str(JsonNode? n) => n is JsonValue v && v.TryGetValue<string>(out var s) ? s : n?.ToString();

    private static long? Long(JsonNode? n) => n is JsonValue v && (v.TryGetValue<long>(out var l) || (v.TryGetValue<string>(out var s) && long.TryParse(s, CultureInfo.InvariantCulture, out l))) ? l : null;

    private static string? Cut(string? s, int max) => s is null ? null : s.Length <= max ? s : s[..max];

    /// <summary>
    /// An alipay.merchant.tradecomplain.changed message (form-encoded, RSA2-signed like trade notifications, already
    /// verified): msg_method names it, biz_content carries complain_event_id; the complaint itself is read with a signed query.
    /// </summary>
    private static NotificationResult ComplaintNotification(Dictionary<string, string> form)
    {
        string? id;
        try
        {
            id = (JsonNode.Parse(form.GetValueOrDefault("biz_content") ?? "{}") as JsonObject)?["complain_event_id"] is { } n ? Str(n) : null;
        }
        catch (JsonException)
        {
            return NotificationResult.Reject("biz_content is not JSON");
        }

        if (id is not { Length: > 0 and <= 64 })
        {
            return NotificationResult.Reject("complaint message without complain_event_id");
        }

        var notifyId = form.GetValueOrDefault("notify_id") is { Length: > 0 } nid ? nid : $"{id}:{form.GetValueOrDefault("utc_timestamp")}";
        return new NotificationResult(true, null, notifyId, ComplaintChangedMethod, null, null, Complaint: new ComplaintNotice(id, form.GetValueOrDefault("msg_method")));
    }
}
