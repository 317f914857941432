using System.Text.Json.Serialization;

namespace Hutong.Connectors.WeChatPay.Models;

// WeChat Pay merchant transfer (商家转账, user-confirmation mode), /v3/fund-app/mch-transfer/transfer-bills. Field names
// from the request/response tables of wechatpay-im/website openapi/v3/fund-app/mch-transfer/transfer-bills.md,
// …/transfer-bills/out-bill-no/{out_bill_no}.md and …/cancel.md (pay.weixin.qq.com docs merchant/apis/mch-trans/
// transfer-bill/transfer-to-user.html, get-transfer-bill-by-out-no.html, cancel-transfer.html); see docs/payouts-wechat.md.

/// <summary>One transfer-scene report item (转账场景报备信息): info_type is fixed per scene, info_content the merchant's.</summary>
public sealed record WxTransferSceneReportInfo(
    [property: JsonPropertyName("info_type")] string InfoType,
    [property: JsonPropertyName("info_content")] string InfoContent);

/// <summary>POST /v3/fund-app/mch-transfer/transfer-bills. user_name is RSA-OAEP ciphertext (Wechatpay-Serial names the key).</summary>
public sealed record WxTransferBillRequest(
    [property: JsonPropertyName("appid")] string AppId,
    [property: JsonPropertyName("out_bill_no")] string OutBillNo,
    [property: JsonPropertyName("transfer_scene_id")] string TransferSceneId,
    [property: JsonPropertyName("openid")] string OpenId,
    [property: JsonPropertyName("user_name")] string? UserName,
    [property: JsonPropertyName("transfer_amount")] long TransferAmount,
    [property: JsonPropertyName("transfer_remark")] string TransferRemark,
    [property: JsonPropertyName("notify_url")] string? NotifyUrl,
    [property: JsonPropertyName("user_recv_perception")] string? UserRecvPerception,
    [property: JsonPropertyName("transfer_scene_report_infos")] IReadOnlyList<WxTransferSceneReportInfo>? TransferSceneReportInfos);

/// <summary>
/// POST /v3/fund-app/mch-transfer/partner/transfer-bills (服务商 / 普通服务商, since 2025-07): the same bill with sub_mchid, the
/// sub-merchant that funds it (出资商户号). Fields: wechatpay-im/website openapi/v3/fund-app/mch-transfer/partner/transfer-bills.md
/// (official page https://pay.weixin.qq.com/doc/v3/partner/4015469096).
/// </summary>
public sealed record WxPartnerTransferBillRequest(
    [property: JsonPropertyName("sub_mchid")] string SubMchId,
    [property: JsonPropertyName("appid")] string AppId,
    [property: JsonPropertyName("out_bill_no")] string OutBillNo,
    [property: JsonPropertyName("transfer_scene_id")] string TransferSceneId,
    [property: JsonPropertyName("openid")] string OpenId,
    [property: JsonPropertyName("user_name")] string? UserName,
    [property: JsonPropertyName("transfer_amount")] long TransferAmount,
    [property: JsonPropertyName("transfer_remark")] string TransferRemark,
    [property: JsonPropertyName("notify_url")] string? NotifyUrl,
    [property: JsonPropertyName("user_recv_perception")] string? UserRecvPerception,
    [property: JsonPropertyName("transfer_scene_report_infos")] IReadOnlyList<WxTransferSceneReportInfo>? TransferSceneReportInfos);

/// <summary>POST …/partner/transfer-bills/out-bill-no/{out_bill_no}/cancel: the body names the sub-merchant (website …/partner/…/cancel.md).</summary>
public sealed record WxPartnerCancelTransferRequest([property: JsonPropertyName("sub_mchid")] string SubMchId);

/// <summary>
/// The create, query and cancel answers, and the MCHTRANSFER.BILL.FINISHED resource: the same bill, with the fields each
/// carries (package_info only on create in WAIT_USER_CONFIRM; mch_id on query, mchid in the notification).
/// </summary>
public sealed record WxTransferBill(
    [property: JsonPropertyName("mch_id")] string? MchId,
    [property: JsonPropertyName("mchid")] string? NoticeMchId,
    [property: JsonPropertyName("out_bill_no")] string? OutBillNo,
    [property: JsonPropertyName("transfer_bill_no")] string? TransferBillNo,
    [property: JsonPropertyName("state")] string? State,
    [property: JsonPropertyName("transfer_amount")] long? TransferAmount,
    [property: JsonPropertyName("fail_reason")] string? FailReason,
    [property: JsonPropertyName("package_info")] string? PackageInfo,
    [property: JsonPropertyName("sub_mchid")] string? SubMchId = null);

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(WxTransferBillRequest))]
[JsonSerializable(typeof(WxTransferBill))]
[JsonSerializable(typeof(WxPartnerTransferBillRequest))]
[JsonSerializable(typeof(WxPartnerCancelTransferRequest))]
public sealed partial class WxTransferJson : JsonSerializerContext;
