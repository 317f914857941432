using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hutong.Sandbox.WeChatPay;

/// <summary>One entry of a complaint's negotiation history (协商历史), as /negotiation-historys lists it.</summary>
public sealed record SandboxComplaintLog(string LogId, string Operator, DateTimeOffset OperateTime, string OperateType, string? OperateDetails, IReadOnlyList<string> Images);

/// <summary>A buyer's complaint (消费者投诉2.0) about one paid order, on the wallet's side.</summary>
public sealed class SandboxComplaint
{
    public required string ComplaintId { get; init; }

    public required string MchId { get; init; }

    public required SandboxOrder Order { get; init; }

    public required string Detail { get; init; }

    public required string ProblemDescription { get; init; }

    /// <summary>REFUND, SERVICE_NOT_WORK or OTHERS.</summary>
    public required string ProblemType { get; init; }

    public long? ApplyRefundAmount { get; init; }

    public required string PayerPhone { get; init; }

    public DateTimeOffset Time { get; init; } = DateTimeOffset.UtcNow;

    /// <summary>PENDING (待处理), PROCESSING (处理中), PROCESSED (已处理完成).</summary>
    public string State { get; set; } = "PENDING";

    public bool IncomingUserResponse { get; set; }

    public bool FullRefunded { get; set; }

    public int UserComplaintTimes { get; set; } = 1;

    public List<SandboxComplaintLog> History { get; } = [];

    /// <summary>APPROVE / REJECT as the merchant reported it through update-refund-progress.</summary>
    public string? RefundAction { get; set; }
}

/// <summary>The sandbox's complaints: per merchant, the notify URL it registered and its complaints.</summary>
public sealed class WeChatSandboxComplaintState
{
    public ConcurrentDictionary<string, SandboxComplaint> Complaints { get; } = new(StringComparer.Ordinal);

    /// <summary>mchid → the URL registered with POST /v3/merchant-service/complaint-notifications.</summary>
    public ConcurrentDictionary<string, string> NotifyUrls { get; } = new(StringComparer.Ordinal);

    /// <summary>Every merchant call to the complaint APIs ("response:ID", "complete:ID", "refund:ID:APPROVE", "list"), for tests.</summary>
    public ConcurrentQueue<string> Calls { get; } = new();
}

/// <summary>A buyer files a complaint about a paid order (the sandbox's stand-in for 对订单有疑惑 → 投诉商家).</summary>
public sealed record BuyerComplaintRequest(string? OutTradeNo, string? Detail, string? ProblemType, long? ApplyRefundAmount, bool? DropNotification);

/// <summary>
/// WeChat Pay's consumer complaint API v2 (消费者投诉2.0), the wallet's side. Paths and fields as in the official SDKs
/// (wechatpay-java service/complaints-v2, wechatpay-go, and WxJava ComplaintDetailResult / UpdateRefundRequest):
/// GET /v3/merchant-service/complaints-v2 (limit 1-50, offset, begin_date/end_date yyyy-MM-dd at most 30 days apart),
/// GET …/{complaint_id}, GET …/{complaint_id}/negotiation-historys, POST …/{complaint_id}/response (204),
/// POST …/{complaint_id}/complete (204), POST …/{complaint_id}/update-refund-progress (204), and the notify URL at
/// (response_images must be media ids this merchant uploaded with /v3/merchant-service/images/upload, WeChatSandboxImages.cs)
/// /v3/merchant-service/complaint-notifications. payer_phone is RSA-OAEP encrypted with the merchant's key, as the
/// real API encrypts it (敏感信息加密). Every request's signature is checked and every answer signed.
/// </summary>
public static partial class WeChatSandboxEndpoints
{
    private const string ComplaintsPath = "/v3/merchant-service/complaints-v2";

    private static void MapComplaints(IEndpointRouteBuilder app, WeChatSandboxState state, WeChatSandboxNotifier notifier)
    {
        app.MapPost("/v3/merchant-service/complaint-notifications", (HttpContext ctx) => ComplaintNotifyUrlAsync(ctx, state, set: true));
        app.MapPut("/v3/merchant-service/complaint-notifications", (HttpContext ctx) => ComplaintNotifyUrlAsync(ctx, state, set: true));
        app.MapGet("/v3/merchant-service/complaint-notifications", (HttpContext ctx) => ComplaintNotifyUrlAsync(ctx, state, set: false));
        app.MapGet(ComplaintsPath, (HttpContext ctx) => ListComplaintsAsync(ctx, state));
        app.MapGet(ComplaintsPath + "/{complaintId}", (HttpContext ctx, string complaintId) => ComplaintDetailAsync(ctx, state, complaintId));
        app.MapGet(ComplaintsPath + "/{complaintId}/negotiation-historys", (HttpContext ctx, string complaintId) => ComplaintHistoryAsync(ctx, state, complaintId));
        app.MapPost(ComplaintsPath + "/{complaintId}/response", (HttpContext ctx, string complaintId) => ComplaintActionAsync(ctx, state, notifier, complaintId, "response"));
        app.MapPost(ComplaintsPath + "/{complaintId}/complete", (HttpContext ctx, string complaintId) => ComplaintActionAsync(ctx, state, notifier, complaintId, "complete"));
        app.MapPost(ComplaintsPath + "/{complaintId}/update-refund-progress", (HttpContext ctx, string complaintId) => ComplaintActionAsync(ctx, state, notifier, complaintId, "refund"));

        app.MapPost("/sandbox/wechatpay/buyer/complain", (BuyerComplaintRequest r) => FileComplaint(state, notifier, r) switch
        {
            { Error: null } ok => Results.Ok(new { complaint_id = ok.Complaint!.ComplaintId, complaint_state = ok.Complaint.State }),
            var bad => Results.BadRequest(new { code = "PARAM_ERROR", message = bad.Error }),
        });
        app.MapPost("/sandbox/wechatpay/buyer/complaints/{complaintId}/message", (string complaintId, BuyerComplaintRequest r) =>
        {
            if (!state.Complaints.Complaints.TryGetValue(complaintId, out var c))
            {
                return Results.NotFound();
            }

            lock (c)
            {
                c.IncomingUserResponse = true;
                c.State = c.State == "PROCESSED" ? "PENDING" : c.State;
                c.History.Add(new SandboxComplaintLog(NewLogId(), "投诉人", DateTimeOffset.UtcNow, "USER_RESPONSE", r.Detail ?? "用户留言", []));
            }

            notifier.NotifyComplaint(c, "COMPLAINT.STATE_CHANGE", "USER_RESPONSE");
            return Results.Ok(new { complaint_id = c.ComplaintId, complaint_state = c.State });
        });
    }

    /// <summary>The buyer complains about a paid order of the merchant; the merchant's registered URL gets COMPLAINT.CREATE.</summary>
    public static (SandboxComplaint? Complaint, string? Error) FileComplaint(WeChatSandboxState state, WeChatSandboxNotifier notifier, BuyerComplaintRequest r)
    {
        var order = state.Orders.Values.FirstOrDefault(o => o.OutTradeNo == r.OutTradeNo);
        if (order is null || order.TradeState is not ("SUCCESS" or "REFUND"))
        {
            return (null, "只能投诉已支付的订单 (no paid order with that out_trade_no)");
        }

        var merchant = state.Merchants[order.SpMchId ?? order.MchId];
        var phone = "1" + RandomNumberGenerator.GetString("0123456789", 10);
        var complaint = new SandboxComplaint
        {
            ComplaintId = "2002" + RandomNumberGenerator.GetString("0123456789", 22),
            MchId = order.MchId,
            Order = order,
            Detail = string.IsNullOrEmpty(r.Detail) ? "商品未收到" : r.Detail,
            ProblemDescription = r.ProblemType == "REFUND" ? "申请退款" : "其他问题",
            ProblemType = r.ProblemType is "REFUND" or "SERVICE_NOT_WORK" ? r.ProblemType : "OTHERS",
            ApplyRefundAmount = r.ProblemType == "REFUND" ? r.ApplyRefundAmount ?? order.Total : null,
            PayerPhone = Convert.ToBase64String(merchant.PublicKey.Encrypt(Encoding.UTF8.GetBytes(phone), RSAEncryptionPadding.OaepSHA1)),
        };
        complaint.History.Add(new SandboxComplaintLog(NewLogId(), "投诉人", complaint.Time, "USER_CREATE_COMPLAINT", complaint.Detail, []));
        state.Complaints.Complaints[complaint.ComplaintId] = complaint;
        if (r.DropNotification != true)
        {
            notifier.NotifyComplaint(complaint, "COMPLAINT.CREATE", "CREATE_COMPLAINT");
        }

        return (complaint, null);
    }

    /// <summary>
    /// A refund of a complained-about order succeeded: the complaint records REFUND_SUCCESS, complaint_full_refunded
    /// follows the order's refunded total, and the merchant is notified (COMPLAINT.STATE_CHANGE, WxJava ComplaintNotifyResult).
    /// </summary>
    private static void ComplaintRefunded(SandboxOrder order, SandboxRefund refund, WeChatSandboxNotifier notifier)
    {
        foreach (var c in notifier.ComplaintsOf(order))
        {
            lock (c)
            {
                long refunded;
                lock (order)
                {
                    refunded = order.Refunds.Values.Where(r => r.Status == "SUCCESS").Sum(r => r.Amount);
                }

                c.FullRefunded = refunded >= order.Total;
                c.History.Add(new SandboxComplaintLog(NewLogId(), "微信支付", DateTimeOffset.UtcNow, "REFUND_SUCCESS", $"退款成功 {refund.Amount} 分", []));
            }

            notifier.NotifyComplaint(c, "COMPLAINT.STATE_CHANGE", "REFUND_SUCCESS");
        }
    }

    private static string NewLogId() => "3002" + RandomNumberGenerator.GetString("0123456789", 22);

    private static async Task ComplaintNotifyUrlAsync(HttpContext ctx, WeChatSandboxState state, bool set)
    {
        var (merchant, body) = await AuthenticateAsync(ctx, state);
        if (merchant is null)
        {
            return;
        }

        if (set)
        {
            var url = ParseObject(body) is { } o ? Str(o, "url") : null;
            if (url is null || !Uri.TryCreate(url, UriKind.Absolute, out var u) || (u.Scheme != "https" && u.Scheme != "http") || url.Length > 256)
            {
                await ErrorAsync(ctx, state, merchant, 400, "PARAM_ERROR", "url 格式错误");
                return;
            }

            state.Complaints.NotifyUrls[merchant.MchId] = url;
        }

        if (!state.Complaints.NotifyUrls.TryGetValue(merchant.MchId, out var current))
        {
            await ErrorAsync(ctx, state, merchant, 404, "RESOURCE_NOT_EXISTS", "未设置投诉通知回调地址");
            return;
        }

        await SignedAsync(ctx, state, merchant, 200, JsonSerializer.Serialize(new { mchid = merchant.MchId, url = current }, Json), null);
    }

    private static async Task ListComplaintsAsync(HttpContext ctx, WeChatSandboxState state)
    {
        var (merchant, _) = await AuthenticateAsync(ctx, state);
        if (merchant is null)
        {
            return;
        }

        state.Complaints.Calls.Enqueue("list");
        var q = ctx.Request.Query;
        var limit = int.TryParse(q["limit"], NumberStyles.None, CultureInfo.InvariantCulture, out var l) ? l : 10;
        var offset = int.TryParse(q["offset"], NumberStyles.None, CultureInfo.InvariantCulture, out var o) ? o : 0;
        var beginOk = DateOnly.TryParseExact(q["begin_date"], "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var begin);
        var endOk = DateOnly.TryParseExact(q["end_date"], "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var end);
        var problem =
            limit is < 1 or > 50 ? "limit 须为 1-50" :
            offset < 0 ? "offset 须为非负整数" :
            !beginOk || !endOk ? "begin_date 和 end_date 须为 yyyy-MM-dd" :
            end < begin || end.DayNumber - begin.DayNumber > 30 ? "查询时间区间不能超过30天" : null;
        if (problem is not null)
        {
            await ErrorAsync(ctx, state, merchant, 400, "PARAM_ERROR", problem);
            return;
        }

        var mchId = q["complainted_mchid"].ToString() is { Length: > 0 } m ? m : merchant.MchId;
        var all = state.Complaints.Complaints.Values
            .Where(c => (c.MchId == mchId || (c.Order.SpMchId == merchant.MchId && c.MchId == mchId)) && OnOrBetween(c.Time, begin, end))
            .OrderBy(c => c.Time).ThenBy(c => c.ComplaintId, StringComparer.Ordinal).ToList();
        var page = all.Skip(offset).Take(limit).Select(ComplaintNode).ToList();
        var body = new JsonObject { ["data"] = new JsonArray([.. page]), ["limit"] = limit, ["offset"] = offset, ["total_count"] = all.Count };
        await SignedAsync(ctx, state, merchant, 200, body.ToJsonString(Json), null);

        static bool OnOrBetween(DateTimeOffset at, DateOnly begin, DateOnly end)
        {
            var day = DateOnly.FromDateTime(at.ToOffset(ChinaOffset).DateTime);
            return day >= begin && day <= end;
        }
    }

    private static async Task ComplaintDetailAsync(HttpContext ctx, WeChatSandboxState state, string complaintId)
    {
        var (merchant, complaint) = await ComplaintOfAsync(ctx, state, complaintId);
        if (merchant is null || complaint is null)
        {
            return;
        }

        JsonObject node;
        lock (complaint)
        {
            node = ComplaintNode(complaint);
        }

        await SignedAsync(ctx, state, merchant, 200, node.ToJsonString(Json), null);
    }

    private static async Task ComplaintHistoryAsync(HttpContext ctx, WeChatSandboxState state, string complaintId)
    {
        var (merchant, complaint) = await ComplaintOfAsync(ctx, state, complaintId);
        if (merchant is null || complaint is null)
        {
            return;
        }

        var q = ctx.Request.Query;
        var limit = int.TryParse(q["limit"], NumberStyles.None, CultureInfo.InvariantCulture, out var l) ? l : 10;
        var offset = int.TryParse(q["offset"], NumberStyles.None, CultureInfo.InvariantCulture, out var o) ? o : 0;
        if (limit is < 1 or > 300 || offset < 0)
        {
            await ErrorAsync(ctx, state, merchant, 400, "PARAM_ERROR", "limit 须为 1-300，offset 须为非负整数");
            return;
        }

        List<SandboxComplaintLog> all;
        lock (complaint)
        {
            all = [.. complaint.History];
        }

        var data = all.Skip(offset).Take(limit).Select(h => (JsonNode)new JsonObject
        {
            ["log_id"] = h.LogId,
            ["operator"] = h.Operator,
            ["operate_time"] = Rfc3339Millis(h.OperateTime),
            ["operate_type"] = h.OperateType,
            ["operate_details"] = h.OperateDetails,
            ["image_list"] = new JsonArray([.. h.Images.Select(i => (JsonNode)JsonValue.Create(i))]),
            ["complaint_media_list"] = new JsonArray(),
        }).ToArray();
        var body = new JsonObject { ["data"] = new JsonArray(data), ["limit"] = limit, ["offset"] = offset, ["total_count"] = all.Count };
        await SignedAsync(ctx, state, merchant, 200, body.ToJsonString(Json), null);
    }

    private static async Task ComplaintActionAsync(HttpContext ctx, WeChatSandboxState state, WeChatSandboxNotifier notifier, string complaintId, string action)
    {
        var (merchant, complaint, body) = await ComplaintOfWithBodyAsync(ctx, state, complaintId);
        if (merchant is null || complaint is null)
        {
            return;
        }

        var fault = state.Faults.Next("complaint_" + action, complaint.Order.Attach, ctx);
        if (await BeforeAsync(ctx, state, merchant, fault))
        {
            return;
        }

        var req = ParseObject(body);
        if (req is null)
        {
            await ErrorAsync(ctx, state, merchant, 400, "PARAM_ERROR", "请求体不是合法的JSON");
            return;
        }

        string? problem = null;
        string notifyAction;
        lock (complaint)
        {
            switch (action)
            {
                case "response":
                    var content = Str(req, "response_content");
                    var images = req["response_images"] is JsonArray a ? a.Select(i => i?.GetValue<string>() ?? string.Empty).ToList() : [];
                    problem = Str(req, "complainted_mchid") != complaint.MchId ? "complainted_mchid 与投诉单不符"
                        : content is null || content.Length > 200 ? "response_content 长度须为 1-200"
                        : images.Count > 4 || images.Any(i => i.Length is 0 or > 512) ? "response_images 最多4张"
                        : UnknownMedia(state, merchant, images) is { } unknown ? unknown
                        : complaint.State == "PROCESSED" ? "投诉单已处理完成，不能回复" : null;
                    if (problem is null)
                    {
                        complaint.History.Add(new SandboxComplaintLog(NewLogId(), "商户", DateTimeOffset.UtcNow, "MERCHANT_RESPONSE", content, images));
                        complaint.State = "PROCESSING";
                        complaint.IncomingUserResponse = false;
                    }

                    notifyAction = "MERCHANT_RESPONSE";
                    break;
                case "complete":
                    problem = Str(req, "complainted_mchid") != complaint.MchId ? "complainted_mchid 与投诉单不符"
                        : complaint.State == "PENDING" && !complaint.History.Any(h => h.OperateType == "MERCHANT_RESPONSE") ? "请先回复用户再标记处理完成" : null;
                    if (problem is null && complaint.State != "PROCESSED")
                    {
                        complaint.History.Add(new SandboxComplaintLog(NewLogId(), "商户", DateTimeOffset.UtcNow, "MERCHANT_CONFIRM_COMPLETE", "处理完成", []));
                        complaint.State = "PROCESSED";
                    }

                    notifyAction = "MERCHANT_CONFIRM_COMPLETE";
                    break;
                default:
                    var act = Str(req, "action");
                    var days = req["launch_refund_day"] is JsonValue d && d.TryGetValue<int>(out var dv) ? dv : (int?)null;
                    var reason = Str(req, "reject_reason");
                    problem = act is not ("APPROVE" or "REJECT") ? "action 须为 APPROVE 或 REJECT"
                        : act == "APPROVE" && days is null or < 0 ? "同意退款时 launch_refund_day 必填"
                        : act == "REJECT" && (reason is null || reason.Length > 200) ? "拒绝退款时 reject_reason 必填（至多200字）"
                        : complaint.ProblemType != "REFUND" ? "该投诉单不是申请退款单"
                        : complaint.RefundAction is not null && complaint.RefundAction != act ? "退款审批结果已提交" : null;
                    if (problem is null && complaint.RefundAction is null)
                    {
                        complaint.RefundAction = act;
                        complaint.History.Add(new SandboxComplaintLog(NewLogId(), "商户", DateTimeOffset.UtcNow,
                            act == "APPROVE" ? "MERCHANT_APPROVE_REFUND" : "MERCHANT_REJECT_REFUND", act == "APPROVE" ? $"预计{days}个工作日内发起退款" : reason, []));
                        complaint.State = "PROCESSING";
                    }

                    notifyAction = act == "APPROVE" ? "MERCHANT_APPROVE_REFUND" : "MERCHANT_REJECT_REFUND";
                    break;
            }
        }

        if (problem is not null)
        {
            await ErrorAsync(ctx, state, merchant, 400, "PARAM_ERROR", problem);
            return;
        }

        state.Complaints.Calls.Enqueue($"{action}:{complaintId}" + (action == "refund" ? ":" + complaint.RefundAction : string.Empty));
        if (await AfterAsync(ctx, state, fault))
        {
            return;
        }

        await SignedAsync(ctx, state, merchant, 204, string.Empty, fault);
        notifier.NotifyComplaint(complaint, "COMPLAINT.STATE_CHANGE", notifyAction);
    }

    private static async Task<(SandboxMerchant? Merchant, SandboxComplaint? Complaint)> ComplaintOfAsync(HttpContext ctx, WeChatSandboxState state, string complaintId)
    {
        var (m, c, _) = await ComplaintOfWithBodyAsync(ctx, state, complaintId);
        return (m, c);
    }

    /// <summary>The complaint, if it is against this merchant (or a sub-merchant it serves); another's is 404, as the wallet hides it.</summary>
    private static async Task<(SandboxMerchant? Merchant, SandboxComplaint? Complaint, string Body)> ComplaintOfWithBodyAsync(HttpContext ctx, WeChatSandboxState state, string complaintId)
    {
        var (merchant, body) = await AuthenticateAsync(ctx, state);
        if (merchant is null)
        {
            return (null, null, body);
        }

        if (!state.Complaints.Complaints.TryGetValue(complaintId, out var complaint)
            || (complaint.MchId != merchant.MchId && complaint.Order.SpMchId != merchant.MchId))
        {
            await ErrorAsync(ctx, state, merchant, 404, "RESOURCE_NOT_EXISTS", "投诉单不存在");
            return (merchant, null, body);
        }

        return (merchant, complaint, body);
    }

    private static JsonObject ComplaintNode(SandboxComplaint c) => new()
    {
        ["complaint_id"] = c.ComplaintId,
        ["complaint_time"] = Rfc3339Millis(c.Time),
        ["complaint_detail"] = c.Detail,
        ["complaint_state"] = c.State,
        ["complainted_mchid"] = c.MchId,
        ["payer_phone"] = c.PayerPhone,
        ["complaint_order_info"] = new JsonArray(new JsonObject
        {
            ["transaction_id"] = c.Order.TransactionId,
            ["out_trade_no"] = c.Order.OutTradeNo,
            ["amount"] = c.Order.Total,
        }),
        ["complaint_media_list"] = new JsonArray(),
        ["complaint_full_refunded"] = c.FullRefunded,
        ["incoming_user_response"] = c.IncomingUserResponse,
        ["problem_description"] = c.ProblemDescription,
        ["user_complaint_times"] = c.UserComplaintTimes,
        ["problem_type"] = c.ProblemType,
        ["apply_refund_amount"] = c.ApplyRefundAmount,
        ["user_tag_list"] = new JsonArray(),
    };

    private static string Rfc3339Millis(DateTimeOffset at) => at.ToOffset(ChinaOffset).ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz", CultureInfo.InvariantCulture);

    /// <summary>The notification's decrypted resource: the complaint and what happened (WxJava ComplaintNotifyResult).</summary>
    internal static string ComplaintNotificationJson(SandboxComplaint c, string actionType) =>
        JsonSerializer.Serialize(new { complaint_id = c.ComplaintId, action_type = actionType }, Json);
}
