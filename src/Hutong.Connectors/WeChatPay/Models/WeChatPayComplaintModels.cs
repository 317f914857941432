using System.Text.Json.Serialization;

namespace Hutong.Connectors.WeChatPay.Models;

// Consumer complaints v2 (消费者投诉2.0, /v3/merchant-service/complaints-v2). Field names as in the official
// wechatpay-java service/complaints-v2 models and WxJava ComplaintDetailResult / UpdateRefundRequest; see docs/disputes.md.
// payer_phone (encrypted) and payer_openid are deliberately not read.

public sealed record WxComplaintOrder(
    [property: JsonPropertyName("transaction_id")] string? TransactionId,
    [property: JsonPropertyName("out_trade_no")] string? OutTradeNo,
    [property: JsonPropertyName("amount")] long? Amount);

public sealed record WxComplaint(
    [property: JsonPropertyName("complaint_id")] string? ComplaintId,
    [property: JsonPropertyName("complaint_time")] string? ComplaintTime,
    [property: JsonPropertyName("complaint_detail")] string? ComplaintDetail,
    [property: JsonPropertyName("complaint_state")] string? ComplaintState,
    [property: JsonPropertyName("complainted_mchid")] string? ComplaintedMchId,
    [property: JsonPropertyName("complaint_order_info")] IReadOnlyList<WxComplaintOrder>? OrderInfo,
    [property: JsonPropertyName("complaint_full_refunded")] bool? FullRefunded,
    [property: JsonPropertyName("incoming_user_response")] bool? IncomingUserResponse,
    [property: JsonPropertyName("problem_description")] string? ProblemDescription,
    [property: JsonPropertyName("user_complaint_times")] int? UserComplaintTimes,
    [property: JsonPropertyName("problem_type")] string? ProblemType,
    [property: JsonPropertyName("apply_refund_amount")] long? ApplyRefundAmount);

public sealed record WxComplaintList(
    [property: JsonPropertyName("data")] IReadOnlyList<WxComplaint>? Data,
    [property: JsonPropertyName("limit")] int? Limit,
    [property: JsonPropertyName("offset")] int? Offset,
    [property: JsonPropertyName("total_count")] int? TotalCount);

public sealed record WxComplaintHistoryEntry(
    [property: JsonPropertyName("log_id")] string? LogId,
    [property: JsonPropertyName("operator")] string? Operator,
    [property: JsonPropertyName("operate_time")] string? OperateTime,
    [property: JsonPropertyName("operate_type")] string? OperateType,
    [property: JsonPropertyName("operate_details")] string? OperateDetails,
    [property: JsonPropertyName("image_list")] IReadOnlyList<string>? ImageList);

public sealed record WxComplaintHistory(
    [property: JsonPropertyName("data")] IReadOnlyList<WxComplaintHistoryEntry>? Data,
    [property: JsonPropertyName("total_count")] int? TotalCount);

public sealed record WxComplaintResponse(
    [property: JsonPropertyName("complainted_mchid")] string ComplaintedMchId,
    [property: JsonPropertyName("response_content")] string ResponseContent,
    [property: JsonPropertyName("response_images")] IReadOnlyList<string>? ResponseImages);

public sealed record WxComplaintComplete([property: JsonPropertyName("complainted_mchid")] string ComplaintedMchId);

public sealed record WxComplaintRefundProgress(
    [property: JsonPropertyName("action")] string Action,
    [property: JsonPropertyName("launch_refund_day")] int? LaunchRefundDay,
    [property: JsonPropertyName("reject_reason")] string? RejectReason);

public sealed record WxComplaintNotifyUrl([property: JsonPropertyName("url")] string Url);

/// <summary>The decrypted resource of a COMPLAINT.* notification.</summary>
public sealed record WxComplaintNotice(
    [property: JsonPropertyName("complaint_id")] string? ComplaintId,
    [property: JsonPropertyName("action_type")] string? ActionType);

/// <summary>
/// The meta part of POST /v3/merchant-service/images/upload: the image's name (ending in JPG, BMP or PNG) and the lowercase
/// hex SHA-256 of its bytes; the request is signed over this JSON, not the whole multipart body
/// (wechatpay-im/website openapi/v3/merchant-service/images/upload.md; wechatpay-axios-plugin lib/decorator.js signs config.meta).
/// </summary>
public sealed record WxImageMeta(
    [property: JsonPropertyName("filename")] string FileName,
    [property: JsonPropertyName("sha256")] string Sha256);

public sealed record WxMediaUpload([property: JsonPropertyName("media_id")] string? MediaId);

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(WxImageMeta))]
[JsonSerializable(typeof(WxMediaUpload))]
[JsonSerializable(typeof(WxComplaint))]
[JsonSerializable(typeof(WxComplaintList))]
[JsonSerializable(typeof(WxComplaintHistory))]
[JsonSerializable(typeof(WxComplaintResponse))]
[JsonSerializable(typeof(WxComplaintComplete))]
[JsonSerializable(typeof(WxComplaintRefundProgress))]
[JsonSerializable(typeof(WxComplaintNotifyUrl))]
[JsonSerializable(typeof(WxComplaintNotice))]
public sealed partial class WxComplaintJson : JsonSerializerContext;
