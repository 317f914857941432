using System.Text.Json;
using System.Text.Json.Serialization;

namespace Hutong.Connectors.WeChatPay.Models;

// Wire records of API v3. Field names are the wallet's (snake_case); nulls are omitted on the wire.

public sealed record WxAmount(
    [property: JsonPropertyName("total")] long Total,
    [property: JsonPropertyName("currency")] string Currency = "CNY",
    [property: JsonPropertyName("payer_total")] long? PayerTotal = null,
    [property: JsonPropertyName("payer_currency")] string? PayerCurrency = null);

public sealed record WxNativeOrderRequest(
    [property: JsonPropertyName("appid")] string AppId,
    [property: JsonPropertyName("mchid")] string MchId,
    [property: JsonPropertyName("description")] string Description,
    [property: JsonPropertyName("out_trade_no")] string OutTradeNo,
    [property: JsonPropertyName("time_expire")] string? TimeExpire,
    [property: JsonPropertyName("attach")] string? Attach,
    [property: JsonPropertyName("notify_url")] string NotifyUrl,
    [property: JsonPropertyName("amount")] WxAmount Amount,
    [property: JsonPropertyName("settle_info")] WxSettleInfo? SettleInfo = null);

public sealed record WxPartnerNativeOrderRequest(
    [property: JsonPropertyName("sp_appid")] string SpAppId,
    [property: JsonPropertyName("sp_mchid")] string SpMchId,
    [property: JsonPropertyName("sub_appid")] string? SubAppId,
    [property: JsonPropertyName("sub_mchid")] string SubMchId,
    [property: JsonPropertyName("description")] string Description,
    [property: JsonPropertyName("out_trade_no")] string OutTradeNo,
    [property: JsonPropertyName("time_expire")] string? TimeExpire,
    [property: JsonPropertyName("attach")] string? Attach,
    [property: JsonPropertyName("notify_url")] string NotifyUrl,
    [property: JsonPropertyName("amount")] WxAmount Amount,
    [property: JsonPropertyName("settle_info")] WxSettleInfo? SettleInfo = null);

public sealed record WxPartnerCloseRequest(
    [property: JsonPropertyName("sp_mchid")] string SpMchId,
    [property: JsonPropertyName("sub_mchid")] string SubMchId);

public sealed record WxRefundAmount(
    [property: JsonPropertyName("refund")] long Refund,
    [property: JsonPropertyName("total")] long Total,
    [property: JsonPropertyName("currency")] string Currency = "CNY");

public sealed record WxRefundRequest(
    [property: JsonPropertyName("sub_mchid")] string? SubMchId,
    [property: JsonPropertyName("out_trade_no")] string OutTradeNo,
    [property: JsonPropertyName("out_refund_no")] string OutRefundNo,
    [property: JsonPropertyName("reason")] string? Reason,
    [property: JsonPropertyName("notify_url")] string? NotifyUrl,
    [property: JsonPropertyName("amount")] WxRefundAmount Amount);

public sealed record WxRefund(
    [property: JsonPropertyName("refund_id")] string? RefundId,
    [property: JsonPropertyName("out_refund_no")] string? OutRefundNo,
    [property: JsonPropertyName("out_trade_no")] string? OutTradeNo,
    [property: JsonPropertyName("status")] string? Status,
    [property: JsonPropertyName("refund_status")] string? RefundStatus,
    [property: JsonPropertyName("amount")] WxRefundAmount? Amount);

public sealed record WxSettleInfo([property: JsonPropertyName("profit_sharing")] bool ProfitSharing);

public sealed record WxNativeOrderResponse([property: JsonPropertyName("code_url")] string? CodeUrl);

public sealed record WxCloseRequest([property: JsonPropertyName("mchid")] string MchId);

public sealed record WxPayer(
    [property: JsonPropertyName("openid")] string? OpenId,
    [property: JsonPropertyName("sp_openid")] string? SpOpenId = null,
    [property: JsonPropertyName("sub_openid")] string? SubOpenId = null);

public sealed record WxTransaction(
    [property: JsonPropertyName("appid")] string? AppId,
    [property: JsonPropertyName("mchid")] string? MchId,
    [property: JsonPropertyName("sp_mchid")] string? SpMchId,
    [property: JsonPropertyName("sub_mchid")] string? SubMchId,
    [property: JsonPropertyName("out_trade_no")] string? OutTradeNo,
    [property: JsonPropertyName("transaction_id")] string? TransactionId,
    [property: JsonPropertyName("trade_type")] string? TradeType,
    [property: JsonPropertyName("trade_state")] string? TradeState,
    [property: JsonPropertyName("trade_state_desc")] string? TradeStateDesc,
    [property: JsonPropertyName("bank_type")] string? BankType,
    [property: JsonPropertyName("attach")] string? Attach,
    [property: JsonPropertyName("success_time")] string? SuccessTime,
    [property: JsonPropertyName("payer")] WxPayer? Payer,
    [property: JsonPropertyName("amount")] WxAmount? Amount,
    [property: JsonPropertyName("promotion_detail")] IReadOnlyList<WxPromotionDetail>? PromotionDetail = null);

/// <summary>
/// One coupon of a paid order (wechatpay-java service/payments/model/PromotionDetail.java): scope GLOBAL/SINGLE, type
/// CASH (充值型, pre-funded: settled to the merchant) or NOCASH (免充值型: not settled, the merchant bears it), amounts in fen.
/// </summary>
public sealed record WxPromotionDetail(
    [property: JsonPropertyName("coupon_id")] string? CouponId,
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("scope")] string? Scope,
    [property: JsonPropertyName("type")] string? Type,
    [property: JsonPropertyName("amount")] long Amount,
    [property: JsonPropertyName("stock_id")] string? StockId,
    [property: JsonPropertyName("wechatpay_contribute")] long WechatpayContribute,
    [property: JsonPropertyName("merchant_contribute")] long MerchantContribute,
    [property: JsonPropertyName("other_contribute")] long OtherContribute,
    [property: JsonPropertyName("currency")] string? Currency);

public sealed record WxError(
    [property: JsonPropertyName("code")] string? Code,
    [property: JsonPropertyName("message")] string? Message,
    [property: JsonPropertyName("detail")] JsonElement? Detail = null);

public sealed record WxEncryptedResource(
    [property: JsonPropertyName("algorithm")] string? Algorithm,
    [property: JsonPropertyName("ciphertext")] string? Ciphertext,
    [property: JsonPropertyName("associated_data")] string? AssociatedData,
    [property: JsonPropertyName("original_type")] string? OriginalType,
    [property: JsonPropertyName("nonce")] string? Nonce);

public sealed record WxNotification(
    [property: JsonPropertyName("id")] string? Id,
    [property: JsonPropertyName("create_time")] string? CreateTime,
    [property: JsonPropertyName("event_type")] string? EventType,
    [property: JsonPropertyName("resource_type")] string? ResourceType,
    [property: JsonPropertyName("summary")] string? Summary,
    [property: JsonPropertyName("resource")] WxEncryptedResource? Resource);

public sealed record WxCertificateList([property: JsonPropertyName("data")] IReadOnlyList<WxCertificateItem>? Data);

public sealed record WxCertificateItem(
    [property: JsonPropertyName("serial_no")] string? SerialNo,
    [property: JsonPropertyName("effective_time")] string? EffectiveTime,
    [property: JsonPropertyName("expire_time")] string? ExpireTime,
    [property: JsonPropertyName("encrypt_certificate")] WxEncryptedResource? EncryptCertificate);

/// <summary>The decrypted resource of a REFUND.* notification.</summary>
public sealed record WxRefundNotice(
    [property: JsonPropertyName("out_trade_no")] string? OutTradeNo,
    [property: JsonPropertyName("out_refund_no")] string? OutRefundNo,
    [property: JsonPropertyName("refund_id")] string? RefundId,
    [property: JsonPropertyName("refund_status")] string? RefundStatus);

/// <summary>GET /v3/bill/tradebill: where to download the bill and its digest.</summary>
public sealed record WxBillUrl(
    [property: JsonPropertyName("hash_type")] string? HashType,
    [property: JsonPropertyName("hash_value")] string? HashValue,
    [property: JsonPropertyName("download_url")] string? DownloadUrl);

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(WxBillUrl))]
[JsonSerializable(typeof(WxProfitSharingOrderRequest))]
[JsonSerializable(typeof(WxProfitSharingOrder))]
[JsonSerializable(typeof(WxProfitSharingReceiverAdd))]
[JsonSerializable(typeof(WxProfitSharingReturnRequest))]
[JsonSerializable(typeof(WxProfitSharingReturn))]
[JsonSerializable(typeof(WxRefundNotice))]
[JsonSerializable(typeof(WxNativeOrderRequest))]
[JsonSerializable(typeof(WxNativeOrderResponse))]
[JsonSerializable(typeof(WxCloseRequest))]
[JsonSerializable(typeof(WxRefundRequest))]
[JsonSerializable(typeof(WxRefund))]
[JsonSerializable(typeof(WxPartnerNativeOrderRequest))]
[JsonSerializable(typeof(WxPartnerCloseRequest))]
[JsonSerializable(typeof(WxTransaction))]
[JsonSerializable(typeof(WxError))]
[JsonSerializable(typeof(WxNotification))]
[JsonSerializable(typeof(WxCertificateList))]
public sealed partial class WxJson : JsonSerializerContext;

// Profit sharing (wechatpay-go services/profitsharing models.go).

public sealed record WxProfitSharingReceiver(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("account")] string Account,
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("amount")] long Amount,
    [property: JsonPropertyName("description")] string Description);

public sealed record WxProfitSharingOrderRequest(
    [property: JsonPropertyName("sub_mchid")] string? SubMchId,
    [property: JsonPropertyName("appid")] string AppId,
    [property: JsonPropertyName("transaction_id")] string TransactionId,
    [property: JsonPropertyName("out_order_no")] string OutOrderNo,
    [property: JsonPropertyName("receivers")] IReadOnlyList<WxProfitSharingReceiver> Receivers,
    [property: JsonPropertyName("unfreeze_unsplit")] bool UnfreezeUnsplit);

public sealed record WxProfitSharingOrderReceiver(
    [property: JsonPropertyName("amount")] long Amount,
    [property: JsonPropertyName("description")] string? Description,
    [property: JsonPropertyName("type")] string? Type,
    [property: JsonPropertyName("account")] string? Account,
    [property: JsonPropertyName("result")] string? Result,
    [property: JsonPropertyName("fail_reason")] string? FailReason,
    [property: JsonPropertyName("detail_id")] string? DetailId);

public sealed record WxProfitSharingOrder(
    [property: JsonPropertyName("sub_mchid")] string? SubMchId,
    [property: JsonPropertyName("transaction_id")] string? TransactionId,
    [property: JsonPropertyName("out_order_no")] string? OutOrderNo,
    [property: JsonPropertyName("order_id")] string? OrderId,
    [property: JsonPropertyName("state")] string? State,
    [property: JsonPropertyName("receivers")] IReadOnlyList<WxProfitSharingOrderReceiver>? Receivers);

public sealed record WxProfitSharingReceiverAdd(
    [property: JsonPropertyName("sub_mchid")] string? SubMchId,
    [property: JsonPropertyName("appid")] string AppId,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("account")] string Account,
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("relation_type")] string RelationType);

public sealed record WxProfitSharingReturnRequest(
    [property: JsonPropertyName("sub_mchid")] string? SubMchId,
    [property: JsonPropertyName("out_order_no")] string OutOrderNo,
    [property: JsonPropertyName("out_return_no")] string OutReturnNo,
    [property: JsonPropertyName("return_mchid")] string ReturnMchId,
    [property: JsonPropertyName("amount")] long Amount,
    [property: JsonPropertyName("description")] string Description);

public sealed record WxProfitSharingReturn(
    [property: JsonPropertyName("out_order_no")] string? OutOrderNo,
    [property: JsonPropertyName("out_return_no")] string? OutReturnNo,
    [property: JsonPropertyName("return_id")] string? ReturnId,
    [property: JsonPropertyName("return_mchid")] string? ReturnMchId,
    [property: JsonPropertyName("amount")] long Amount,
    [property: JsonPropertyName("result")] string? Result,
    [property: JsonPropertyName("fail_reason")] string? FailReason);
