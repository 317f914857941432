using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Hutong.Connectors.Abstractions;
using Hutong.Connectors.WeChatPay.Models;
using Hutong.Domain.Payments;

namespace Hutong.Connectors.WeChatPay;

/// <summary>A notification whose signature, timestamp and AES-GCM envelope all checked out.</summary>
public sealed record WeChatPayVerifiedNotification(WxNotification Envelope, string Plaintext);

/// <summary>
/// Verifies the raw body of a WeChat Pay v3 notification before it is parsed for meaning:
/// signature over TIMESTAMP\nNONCE\nBODY\n with the platform key named by Wechatpay-Serial,
/// timestamp within ±5 minutes, then AES-GCM decryption of the resource with the APIv3 key.
/// </summary>
/// <param name="mchId">The account's mchid (sp_mchid in service-provider mode); null skips the account check (protocol vectors).</param>
/// <param name="subMchId">The sub-merchant in service-provider mode.</param>
public sealed class WeChatPayNotificationVerifier(WeChatPayPlatformKeys keys, byte[] apiV3Key, TimeProvider time, string? mchId = null, string? subMchId = null)
{
    public bool TryVerify(IReadOnlyDictionary<string, string> headers, string body, out WeChatPayVerifiedNotification? verified, out string? reason)
    {
        verified = null;
        string Header(string name) => headers.TryGetValue(name, out var v) ? v : string.Empty;

        var timestamp = Header("Wechatpay-Timestamp");
        var nonce = Header("Wechatpay-Nonce");
        var signature = Header("Wechatpay-Signature");
        var serial = Header("Wechatpay-Serial");
        if (timestamp.Length == 0 || nonce.Length == 0 || signature.Length == 0 || serial.Length == 0)
        {
            reason = "missing Wechatpay-* signature headers";
            return false;
        }

        if (signature.StartsWith(WeChatPaySignature.SignTestPrefix, StringComparison.Ordinal))
        {
            reason = "WeChat Pay signature probe (WECHATPAY/SIGNTEST/) rejected as required";
            return false;
        }

        var signatureType = Header("Wechatpay-Signature-Type");
        if (signatureType.Length > 0 && signatureType != WeChatPaySignature.Schema)
        {
            reason = $"unsupported signature type {signatureType}";
            return false;
        }

        if (!WeChatPaySignature.IsWithinTolerance(timestamp, time.GetUtcNow()))
        {
            reason = "timestamp outside the 5-minute window (stale or replayed)";
            return false;
        }

        if (!keys.TryGet(serial, out var key))
        {
            reason = $"unknown platform key serial {serial}";
            return false;
        }

        if (!WeChatPaySignature.Verify(key, WeChatPaySignature.ResponseMessage(timestamp, nonce, body), signature))
        {
            reason = "signature does not verify";
            return false;
        }

        WxNotification? envelope;
        try
        {
            envelope = JsonSerializer.Deserialize(body, WxJson.Default.WxNotification);
        }
        catch (JsonException)
        {
            reason = "body is not JSON";
            return false;
        }

        var r = envelope?.Resource;
        if (envelope?.Id is null || r?.Ciphertext is null || r.Nonce is null || r.Algorithm != "AEAD_AES_256_GCM")
        {
            reason = "notification envelope incomplete";
            return false;
        }

        try
        {
            var plain = WeChatPaySignature.DecryptResource(apiV3Key, r.Nonce, r.AssociatedData ?? string.Empty, r.Ciphertext);
            verified = new WeChatPayVerifiedNotification(envelope, plain);
            reason = null;
            return true;
        }
        catch (Exception e) when (e is CryptographicException or FormatException or ArgumentException)
        {
            reason = "resource does not decrypt with the APIv3 key";
            return false;
        }
    }

    /// <summary>Verifies and maps a TRANSACTION.* notification to a wallet transaction, or a REFUND.* one to a refund notice.</summary>
    public NotificationResult Verify(IReadOnlyDictionary<string, string> headers, string body)
    {
        if (!TryVerify(headers, body, out var verified, out var reason))
        {
            return NotificationResult.Reject(reason!);
        }

        if (verified!.Envelope.EventType?.StartsWith("COMPLAINT.", StringComparison.Ordinal) == true)
        {
            // COMPLAINT.CREATE / COMPLAINT.STATE_CHANGE (消费者投诉2.0): the resource names the complaint and the action.
            return WeChatPayConnector.ComplaintNotification(verified);
        }

        if (verified.Envelope.EventType?.StartsWith("REFUND.", StringComparison.Ordinal) == true)
        {
            // REFUND.SUCCESS / REFUND.ABNORMAL / REFUND.CLOSED: the decrypted resource is the refund.
            WxRefundNotice? refund;
            try
            {
                refund = JsonSerializer.Deserialize(verified.Plaintext, WxJson.Default.WxRefundNotice);
            }
            catch (JsonException)
            {
                return NotificationResult.Reject("decrypted resource is not a refund");
            }

            if (refund?.OutRefundNo is null || refund.OutTradeNo is null)
            {
                return NotificationResult.Reject("refund without out_refund_no");
            }

            var status = refund.RefundStatus switch
            {
                "SUCCESS" => RefundStatus.Succeeded,
                "CLOSED" or "ABNORMAL" => RefundStatus.Failed,
                _ => RefundStatus.Processing,
            };
            return new NotificationResult(true, null, verified.Envelope.Id, verified.Envelope.EventType, null,
                new RefundNotice(refund.OutTradeNo, refund.OutRefundNo, status, refund.RefundId));
        }

        if (verified.Envelope.EventType?.StartsWith("MCHTRANSFER.", StringComparison.Ordinal) == true)
        {
            // MCHTRANSFER.BILL.FINISHED (wechatpay.js.org webhook/v3/MCHTRANSFER.BILL.FINISHED.md): a transfer reached
            // SUCCESS, FAIL or CANCELLED. Only its out_bill_no is taken: the payout settles by a query, as the worker's do.
            WxTransferBill? bill;
            try
            {
                bill = JsonSerializer.Deserialize(verified.Plaintext, WxTransferJson.Default.WxTransferBill);
            }
            catch (JsonException)
            {
                return NotificationResult.Reject("decrypted resource is not a transfer bill");
            }

            if (bill?.OutBillNo is null)
            {
                return NotificationResult.Reject("transfer bill without out_bill_no");
            }

            // A service provider's bill names it as mchid and its sub-merchant as sub_mchid (the partner query's fields,
            // website openapi/v3/fund-app/mch-transfer/partner/transfer-bills/out-bill-no/{out_bill_no}.md).
            if (mchId is not null && (bill.NoticeMchId != mchId || (!string.IsNullOrEmpty(subMchId) && bill.SubMchId is not null && bill.SubMchId != subMchId)))
            {
                return NotificationResult.Reject("mchid is not this merchant's");
            }

            return new NotificationResult(true, null, verified.Envelope.Id, verified.Envelope.EventType, null, null, bill.OutBillNo);
        }

        if (verified.Envelope.EventType?.StartsWith("PROFITSHARING.", StringComparison.Ordinal) == true)
        {
            return ProfitSharing(verified);
        }

        if (verified.Envelope.EventType is null || !verified.Envelope.EventType.StartsWith("TRANSACTION.", StringComparison.Ordinal))
        {
            return new NotificationResult(true, null, verified.Envelope.Id, verified.Envelope.EventType, null);
        }

        WxTransaction? tx;
        try
        {
            tx = JsonSerializer.Deserialize(verified.Plaintext, WxJson.Default.WxTransaction);
        }
        catch (JsonException)
        {
            return NotificationResult.Reject("decrypted resource is not a transaction");
        }

        if (tx?.OutTradeNo is null)
        {
            return NotificationResult.Reject("transaction without out_trade_no");
        }

        if (!IsThisAccount(tx))
        {
            // The platform signs for every merchant it serves: a transaction of another mchid is not ours to apply.
            return NotificationResult.Reject("mchid is not this merchant's");
        }

        return new NotificationResult(true, null, verified.Envelope.Id, verified.Envelope.EventType, ToWalletTransaction(tx));
    }

    /// <summary>
    /// 分账动账通知 (PROFITSHARING.SUCCESS / PROFITSHARING.RETURN): the decrypted resource names the split by out_order_no
    /// (with order_id, transaction_id, one receiver {type, account, amount, description} and success_time) and the
    /// account as mchid, or sp_mchid + sub_mchid for a service provider. Source: the published notification formats,
    /// https://pay.weixin.qq.com/docs/merchant/apis/profit-sharing/notice-division.html, as transcribed in
    /// TheNorthMemory/wechatpay.js.org webhook/v3/PROFITSHARING.SUCCESS.md and PROFITSHARING.RETURN.md. Only the split's
    /// number is taken: its outcome is re-queried (a notification never moves a split by itself).
    /// </summary>
    private NotificationResult ProfitSharing(WeChatPayVerifiedNotification verified)
    {
        string? outOrderNo, mch, sp, sub;
        try
        {
            using var doc = JsonDocument.Parse(verified.Plaintext);
            var root = doc.RootElement;
            string? Str(string name) => root.ValueKind == JsonValueKind.Object && root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            (outOrderNo, mch, sp, sub) = (Str("out_order_no"), Str("mchid"), Str("sp_mchid"), Str("sub_mchid"));
        }
        catch (JsonException)
        {
            return NotificationResult.Reject("decrypted resource is not a profit-sharing notice");
        }

        if (outOrderNo is not { Length: >= 1 and <= 64 })
        {
            return NotificationResult.Reject("profit-sharing notice without out_order_no");
        }

        var ours = mchId is null || (string.IsNullOrEmpty(subMchId) ? (mch ?? sp) == mchId : sp == mchId && sub == subMchId);
        if (!ours)
        {
            return NotificationResult.Reject("mchid is not this merchant's");
        }

        return new NotificationResult(true, null, verified.Envelope.Id, verified.Envelope.EventType, null, null,
            Split: new SplitNotice(outOrderNo, verified.Envelope.EventType == "PROFITSHARING.RETURN"));
    }

    private bool IsThisAccount(WxTransaction tx) =>
        mchId is null
        || (string.IsNullOrEmpty(subMchId)
            ? tx.MchId == mchId && tx.SpMchId is null && tx.SubMchId is null
            : tx.SpMchId == mchId && tx.SubMchId == subMchId && tx.MchId is null);

    internal static WalletTransaction ToWalletTransaction(WxTransaction tx) => new(
        tx.OutTradeNo!,
        WeChatPayStatusMap.Map(tx.TradeState),
        tx.TradeState ?? string.Empty,
        tx.TransactionId,
        tx.Amount?.Total,
        tx.Amount?.Currency,
        PayerId(tx),
        DateTimeOffset.TryParse(tx.SuccessTime, CultureInfo.InvariantCulture, DateTimeStyles.None, out var at) ? at : null,
        tx.MchId ?? tx.SubMchId,
        AmountReport(tx));

    /// <summary>
    /// How the order was funded when WeChat says the buyer paid less than the total (amount.payer_total) or lists coupons
    /// (promotion_detail); null when the buyer paid it all. The hub checks the parts add up before it books anything.
    /// </summary>
    internal static WalletAmountReport? AmountReport(WxTransaction tx)
    {
        if (tx.Amount is not { PayerTotal: { } payer } amount || (payer == amount.Total && tx.PromotionDetail is not { Count: > 0 }))
        {
            return null;
        }

        var coupons = (tx.PromotionDetail ?? []).Take(WalletDiscounts.MaxCoupons + 1).Select(p => new WalletCoupon(
            p.CouponId ?? string.Empty,
            p.Type switch { "CASH" => CouponFunding.WalletSettled, "NOCASH" => CouponFunding.MerchantBorne, _ => CouponFunding.Unrecognised },
            p.Amount, p.WechatpayContribute, p.MerchantContribute, p.OtherContribute)).ToList();
        return new WalletAmountReport(amount.Total, payer, coupons);
    }

    /// <summary>The payer's openid as WeChat sends it (the hub pseudonymises every wallet's payer id before it shows one).</summary>
    private static string? PayerId(WxTransaction tx) => tx.Payer?.OpenId ?? tx.Payer?.SubOpenId ?? tx.Payer?.SpOpenId;
}
