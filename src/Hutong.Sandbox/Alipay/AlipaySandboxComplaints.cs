using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hutong.Sandbox.Alipay;

/// <summary>One reply of a trade complaint's negotiation (ReplyRecordResponse: replier_role USER / MERCHANT / SYSTEM).</summary>
public sealed record AlipaySandboxComplaintReply(string Role, string Name, string Content, IReadOnlyList<string> Images, DateTimeOffset At, string? FeedbackCode);

/// <summary>A buyer's trade complaint (交易投诉) as the sandbox's Alipay keeps it.</summary>
public sealed class AlipaySandboxComplaint
{
    public required string ComplainEventId { get; init; }

    public required string AppId { get; init; }

    public required string OutTradeNo { get; init; }

    public required string TradeNo { get; init; }

    public required long TradeAmountFen { get; init; }

    public required string LeafCategoryName { get; init; }

    public required string ComplainReason { get; init; }

    public required string Content { get; init; }

    /// <summary>Never shown to the merchant by the hub; the sandbox answers it as Alipay does, so tests can look for leaks.</summary>
    public required string PhoneNo { get; init; }

    public required string NotifyUrl { get; init; }

    public DateTimeOffset Created { get; init; } = DateTimeOffset.UtcNow;

    public DateTimeOffset Modified { get; set; } = DateTimeOffset.UtcNow;

    public DateTimeOffset? Finished { get; set; }

    /// <summary>MERCHANT_PROCESSING, MERCHANT_FEEDBACKED, FINISHED, CANCELLED, PLATFORM_PROCESSING, PLATFORM_FINISH, CLOSED.</summary>
    public string Status { get; set; } = "MERCHANT_PROCESSING";

    public List<AlipaySandboxComplaintReply> Replies { get; } = [];
}

/// <summary>The sandbox's complaints and the calls that reached them (tests prove what did and did not reach Alipay).</summary>
public sealed class AlipaySandboxComplaintBook
{
    public ConcurrentDictionary<string, AlipaySandboxComplaint> Complaints { get; } = new(StringComparer.Ordinal);

    /// <summary>"batchquery", "query:{id}", "feedback:{id}:{code}".</summary>
    public ConcurrentQueue<string> Calls { get; } = new();
}

public sealed record AlipayBuyerComplainRequest(string OutTradeNo, string? Content, string? LeafCategoryName, string? ComplainReason, bool DropNotification = false);

/// <summary>
/// Alipay trade complaints at the sandbox, written from Alipay's SDK models (not from the hub's connector):
/// alipay.merchant.tradecomplain.batchquery (page_num ≥1, page_size ≤20, begin_time/end_time "yyyy-MM-dd HH:mm:ss"),
/// alipay.merchant.tradecomplain.query (complain_event_id; the detail with reply_detail_infos) and
/// alipay.merchant.tradecomplain.feedback.submit (feedback_code 00/02/03/04/05/06, feedback_content ≤200, feedback_images
/// comma-separated ≤4) — essensoft/paylink AlipayMerchantTradecomplain*Model/Request, alipay-sdk-java-all
/// AlipayMerchantTradecomplainQueryResponse / ReplyRecordResponse. A feedback moves MERCHANT_PROCESSING to
/// MERCHANT_FEEDBACKED; the buyer then confirms (FINISHED) or writes again (the merchant owes an answer). Each change sends
/// alipay.merchant.tradecomplain.changed (a signed form, biz_content {"complain_event_id"}) on the trade notifications'
/// retry schedule. Sandbox rule: the message goes to the trade's notify_url (the real one goes to the app's 应用网关).
/// </summary>
public static partial class AlipaySandboxEndpoints
{
    private static readonly HashSet<string> FeedbackCodes = ["00", "02", "03", "04", "05", "06"];

    internal static void MapComplaints(RouteGroupBuilder g, AlipaySandboxState state, AlipaySandboxNotifier notifier)
    {
        // The buyer complains about a paid trade in the Alipay app.
        g.MapPost("/buyer/complain", (AlipayBuyerComplainRequest r) =>
        {
            var order = state.Orders.Values.FirstOrDefault(o => o.OutTradeNo == r.OutTradeNo);
            if (order is null || order.TradeNo is null || order.TradeStatus is not ("TRADE_SUCCESS" or "TRADE_FINISHED" or "TRADE_CLOSED"))
            {
                return Results.BadRequest(new { code = "TRADE_NOT_PAID", message = "no paid trade with that out_trade_no" });
            }

            var complaint = new AlipaySandboxComplaint
            {
                ComplainEventId = DateTimeOffset.UtcNow.ToOffset(ChinaOffset).ToString("yyyyMMdd", CultureInfo.InvariantCulture) + RandomNumberGenerator.GetString("0123456789", 16),
                AppId = order.AppId,
                OutTradeNo = order.OutTradeNo,
                TradeNo = order.TradeNo,
                TradeAmountFen = order.TotalFen,
                LeafCategoryName = r.LeafCategoryName ?? "要求退款",
                ComplainReason = r.ComplainReason ?? "商品/服务问题",
                Content = r.Content ?? "商品未收到",
                PhoneNo = "138" + RandomNumberGenerator.GetString("0123456789", 8),
                NotifyUrl = order.NotifyUrl ?? string.Empty,
            };
            complaint.Replies.Add(new AlipaySandboxComplaintReply("USER", "用户", complaint.Content, [], complaint.Created, null));
            state.Complaints.Complaints[complaint.ComplainEventId] = complaint;
            if (!r.DropNotification)
            {
                notifier.NotifyComplaintChanged(complaint);
            }

            return Results.Ok(new { complain_event_id = complaint.ComplainEventId, status = complaint.Status });
        });

        // The buyer writes again (the merchant owes an answer) or confirms the complaint resolved (FINISHED).
        g.MapPost("/buyer/complaints/{id}/message", (string id, AlipayBuyerComplaintMessage m) => BuyerAct(state, notifier, id, c =>
        {
            c.Replies.Add(new AlipaySandboxComplaintReply("USER", "用户", m.Content ?? "还没解决", [], DateTimeOffset.UtcNow, null));
            if (c.Status is "FINISHED" or "CLOSED")
            {
                c.Status = "MERCHANT_PROCESSING";
                c.Finished = null;
            }
        }));
        g.MapPost("/buyer/complaints/{id}/finish", (string id) => BuyerAct(state, notifier, id, c =>
        {
            c.Status = "FINISHED";
            c.Finished = DateTimeOffset.UtcNow;
        }));
    }

    private static IResult BuyerAct(AlipaySandboxState state, AlipaySandboxNotifier notifier, string id, Action<AlipaySandboxComplaint> act)
    {
        if (!state.Complaints.Complaints.TryGetValue(id, out var c))
        {
            return Results.NotFound();
        }

        lock (c)
        {
            act(c);
            c.Modified = DateTimeOffset.UtcNow;
        }

        notifier.NotifyComplaintChanged(c);
        return Results.Ok(new { complain_event_id = c.ComplainEventId, status = c.Status });
    }

    private static JsonObject ComplainBatchQuery(AlipaySandboxState state, string appId, JsonObject biz)
    {
        state.Complaints.Calls.Enqueue("batchquery");
        var pageNum = biz["page_num"] is JsonValue pn && pn.TryGetValue<long>(out var n) ? n : 1;
        var pageSize = biz["page_size"] is JsonValue ps && ps.TryGetValue<long>(out var z) ? z : 10;
        DateTimeOffset? Time(string key) => DateTime.TryParseExact(biz[key]?.GetValue<string>(), "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var t)
            ? new DateTimeOffset(t, ChinaOffset) : null;
        var begin = Time("begin_time") ?? DateTimeOffset.UtcNow.AddDays(-30);
        var end = Time("end_time") ?? DateTimeOffset.UtcNow;
        if (pageNum < 1 || pageSize is < 1 or > 20 || end < begin || end - begin > TimeSpan.FromDays(366))
        {
            return Error("40004", "Business Failed", "INVALID_PARAMETER", "参数有误：page_num≥1、page_size 1-20、begin_time/end_time 跨度不超过一年");
        }

        var status = biz["status"]?.GetValue<string>();
        var all = state.Complaints.Complaints.Values
            .Where(c => c.AppId == appId && c.Created >= begin && c.Created <= end && (status is null || c.Status == status))
            .OrderBy(c => c.Created).ToList();
        var page = all.Skip((int)((pageNum - 1) * pageSize)).Take((int)pageSize).Select(ComplaintFields);
        return Ok(new JsonObject
        {
            ["page_num"] = pageNum,
            ["page_size"] = pageSize,
            ["total_num"] = all.Count,
            ["total_page_num"] = (all.Count + pageSize - 1) / pageSize,
            ["trade_complain_infos"] = new JsonArray(page.ToArray<JsonNode?>()),
        });
    }

    private static JsonObject ComplainQuery(AlipaySandboxState state, string appId, JsonObject biz)
    {
        var id = biz["complain_event_id"]?.GetValue<string>();
        state.Complaints.Calls.Enqueue($"query:{id}");
        return id is not null && state.Complaints.Complaints.TryGetValue(id, out var c) && c.AppId == appId
            ? Ok(ComplaintFields(c))
            : Error("40004", "Business Failed", "COMPLAIN_NOT_EXIST", "投诉单不存在");
    }

    private static JsonObject ComplainFeedback(AlipaySandboxState state, AlipaySandboxNotifier? notifier, string appId, JsonObject biz)
    {
        var id = biz["complain_event_id"]?.GetValue<string>();
        var code = biz["feedback_code"]?.GetValue<string>();
        var content = biz["feedback_content"]?.GetValue<string>();
        var images = (biz["feedback_images"]?.GetValue<string>() ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        state.Complaints.Calls.Enqueue($"feedback:{id}:{code}");
        if (id is null || !state.Complaints.Complaints.TryGetValue(id, out var c) || c.AppId != appId)
        {
            return Error("40004", "Business Failed", "COMPLAIN_NOT_EXIST", "投诉单不存在");
        }

        if (code is null || !FeedbackCodes.Contains(code) || content is not { Length: >= 1 and <= 200 } || images.Length > 4)
        {
            return Error("40004", "Business Failed", "INVALID_PARAMETER", "参数有误：feedback_code、feedback_content(≤200字)、feedback_images(≤4)");
        }

        if (UnknownImage(state, appId, images) is { } unknown)
        {
            return Error("40004", "Business Failed", "INVALID_PARAMETER", $"参数有误：feedback_images 中的图片 {unknown} 不存在，请先通过商户上传处理图片接口上传");
        }

        lock (c)
        {
            if (c.Status is not ("MERCHANT_PROCESSING" or "MERCHANT_FEEDBACKED"))
            {
                return Error("40004", "Business Failed", "COMPLAIN_STATUS_NOT_SUPPORT", "当前投诉单状态不支持该操作");
            }

            c.Replies.Add(new AlipaySandboxComplaintReply("MERCHANT", "商家", content, images, DateTimeOffset.UtcNow, code));
            c.Status = "MERCHANT_FEEDBACKED";
            c.Modified = DateTimeOffset.UtcNow;
        }

        notifier?.NotifyComplaintChanged(c);
        return Ok(new JsonObject());
    }

    private static JsonObject ComplaintFields(AlipaySandboxComplaint c)
    {
        string T(DateTimeOffset t) => t.ToOffset(ChinaOffset).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        lock (c)
        {
            var o = new JsonObject
            {
                ["complain_event_id"] = c.ComplainEventId,
                ["status"] = c.Status,
                ["trade_no"] = c.TradeNo,
                ["merchant_order_no"] = c.OutTradeNo,
                ["gmt_create"] = T(c.Created),
                ["gmt_modified"] = T(c.Modified),
                ["leaf_category_name"] = c.LeafCategoryName,
                ["complain_reason"] = c.ComplainReason,
                ["content"] = c.Content,
                ["images"] = new JsonArray(),
                ["phone_no"] = c.PhoneNo,
                ["trade_amount"] = AlipayAmount.FromFen(c.TradeAmountFen),
                ["reply_detail_infos"] = new JsonArray(c.Replies.Select(r => (JsonNode?)new JsonObject
                {
                    ["replier_name"] = r.Name,
                    ["replier_role"] = r.Role,
                    ["gmt_create"] = T(r.At),
                    ["content"] = r.Content,
                    ["images"] = new JsonArray(r.Images.Select(i => (JsonNode?)JsonValue.Create(i)).ToArray()),
                }).ToArray()),
            };
            if (c.Finished is { } f)
            {
                o["gmt_finished"] = T(f);
            }

            return o;
        }
    }
}

public sealed record AlipayBuyerComplaintMessage(string? Content);
