using System.Collections.Concurrent;
using System.Globalization;
using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Hutong.Sandbox.WeChatPay;

/// <summary>How the sandbox signs for a merchant: with the platform public key id, or a platform certificate serial.</summary>
public enum PlatformKeyMode
{
    PublicKey,
    Certificate,
}

public sealed class SandboxMerchant
{
    public required string MchId { get; init; }

    public required string AppId { get; init; }

    public required string SerialNo { get; init; }

    public required RSA PublicKey { get; init; }

    public required byte[] ApiV3Key { get; init; }

    public PlatformKeyMode Mode { get; init; }

    /// <summary>Sub-merchants a service provider may act for (服务商模式).</summary>
    public ConcurrentDictionary<string, bool> SubMerchants { get; } = new(StringComparer.Ordinal);
}

public sealed class SandboxOrder
{
    /// <summary>The merchant the order belongs to (the sub-merchant in service-provider mode).</summary>
    public required string MchId { get; init; }

    /// <summary>The service provider that placed the order, or null for a direct merchant.</summary>
    public string? SpMchId { get; init; }

    public required string AppId { get; init; }

    public required string OutTradeNo { get; init; }

    public required string Description { get; init; }

    /// <summary>Settable so a test can seed an amount discrepancy between the wallet and the hub.</summary>
    public required long Total { get; set; }

    /// <summary>Settable so a test can seed a currency discrepancy.</summary>
    public required string Currency { get; set; }

    /// <summary>Settable so a test can make the merchant's endpoint unreachable for a while.</summary>
    public required string NotifyUrl { get; set; }

    public string? Attach { get; init; }

    public DateTimeOffset? TimeExpire { get; init; }

    public required string CodeToken { get; init; }

    /// <summary>The request body fields that make a repeated order "the same order".</summary>
    public required string Fingerprint { get; init; }

    public string TradeState { get; set; } = "NOTPAY";

    public string TradeStateDesc { get; set; } = "订单未支付";

    public string? TransactionId { get; set; }

    public string? PayerOpenId { get; set; }

    public DateTimeOffset? SuccessTime { get; set; }

    public string CodeUrl => $"weixin://wxpay/bizpayurl?pr={CodeToken}";

    /// <summary>NATIVE, JSAPI, MWEB (H5) or APP, as WeChat reports trade_type.</summary>
    public string TradeType { get; init; } = "NATIVE";

    /// <summary>The in-app flows' order handle (prepay_id); null for Native.</summary>
    public string? PrepayId { get; init; }

    /// <summary>A JSAPI order's payer.openid: only that WeChat user can pay it.</summary>
    public string? OrderedFor { get; init; }

    /// <summary>Refunds by out_refund_no.</summary>
    public Dictionary<string, SandboxRefund> Refunds { get; } = new(StringComparer.Ordinal);

    /// <summary>The buyer's coupons the payment used (promotion_detail).</summary>
    public List<SandboxCoupon> Promotions { get; } = [];

    /// <summary>What the buyer paid (amount.payer_total): the total less every coupon.</summary>
    public long PayerTotal => Total - Promotions.Sum(p => p.Amount);

    /// <summary>What WeChat settles to the merchant (settlement_total, 应结订单金额): the total less the NOCASH (免充值) coupons.</summary>
    public long SettlementTotal => Total - Promotions.Where(p => p.NoCash).Sum(p => p.Amount);

    /// <summary>settle_info.profit_sharing was set: the funds are frozen for splitting.</summary>
    public bool ProfitSharing { get; init; }

    /// <summary>A final split released the rest (unfreeze_unsplit): no more splits.</summary>
    public bool Unfrozen { get; set; }

    public Dictionary<string, SandboxSplitOrder> Splits { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, SandboxSplitReturn> SplitReturns { get; } = new(StringComparer.Ordinal);
}

public sealed class SandboxSplitOrder
{
    public required string OutOrderNo { get; init; }

    public required string OrderId { get; init; }

    public required List<SandboxSplitReceiver> Receivers { get; init; }

    public string State { get; set; } = "PROCESSING";

    /// <summary>When the receivers were paid (the split FINISHED): the 分账时间 of its rows in the profit-sharing bill.</summary>
    public DateTimeOffset? FinishedAt { get; set; }
}

public sealed class SandboxSplitReceiver
{
    public required string Type { get; init; }

    public required string Account { get; init; }

    public required long Amount { get; init; }

    public required string Description { get; init; }

    public string Result { get; set; } = "PENDING";

    public long Returned { get; set; }
}

public sealed record SandboxSplitReturn(string OutReturnNo, string ReturnId, string OutOrderNo, string ReturnMchId, long Amount, string Result, DateTimeOffset? At = null);

/// <summary>Everything the WeChat Pay sandbox remembers. Thread-safe; one lock per order for state changes.</summary>
public sealed partial class WeChatSandboxState : IDisposable
{
    /// <summary>Every 分账动账通知 sent: (out_order_no, event_type, notification id).</summary>
    public System.Collections.Concurrent.ConcurrentQueue<(string OutOrderNo, string EventType, string Id)> ProfitSharingNotifications { get; } = new();

    public WeChatSandboxState()
    {
        PlatformKey = RSA.Create(2048);
        var request = new CertificateRequest("CN=Tenpay.com Root CA Sandbox, O=Hutong Sandbox", PlatformKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var serial = RandomNumberGenerator.GetBytes(8);
        serial[0] &= 0x7F;
        PlatformCertificate = request.Create(
            request.SubjectName, X509SignatureGenerator.CreateForRSA(PlatformKey, RSASignaturePadding.Pkcs1),
            DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(5), serial);
        PublicKeyId = "PUB_KEY_ID_" + new BigInteger(RandomNumberGenerator.GetBytes(10), isUnsigned: true).ToString(CultureInfo.InvariantCulture).PadLeft(24, '0')[..24];
    }

    public RSA PlatformKey { get; }

    public X509Certificate2 PlatformCertificate { get; }

    public string CertificateSerial => PlatformCertificate.SerialNumber.ToUpperInvariant();

    public string PublicKeyId { get; }

    public string PlatformPublicKeyPem => PlatformKey.ExportSubjectPublicKeyInfoPem();

    public SandboxFaults Faults { get; } = new();

    /// <summary>The payment-code (v2 micropay) side: merchants' v2 keys and buyers' codes.</summary>
    public WeChatMicropayRegistry Micropay { get; } = new();

    /// <summary>1.0 = the real retry schedule; 0.001 turns 15 s into 15 ms for tests.</summary>
    public double TimeScale { get; set; } = 1.0;

    public ConcurrentDictionary<string, SandboxMerchant> Merchants { get; } = new(StringComparer.Ordinal);

    public ConcurrentDictionary<(string MchId, string OutTradeNo), SandboxOrder> Orders { get; } = new();

    public ConcurrentDictionary<string, SandboxOrder> OrdersByCode { get; } = new(StringComparer.Ordinal);

    /// <summary>OAuth, mini-program logins and in-app orders (JSAPI, H5, App).</summary>
    public WeChatSandboxInAppState InApp { get; } = new();

    /// <summary>The fee the sandbox bills on each payment, in basis points (returned pro rata on refunds).</summary>
    public int FeeBasisPoints { get; set; } = 60;

    /// <summary>The merchants' maximum split ratio (set on the merchant platform; 30 % is the common default).</summary>
    public int MaxSplitRatioBasisPoints { get; set; } = 3_000;

    /// <summary>Profit-sharing receivers added, by (merchant, type, account) → registered name (null for people added without one).</summary>
    public ConcurrentDictionary<(string MchId, string Type, string Account), string?> SplitReceivers { get; } = new();

    /// <summary>Every profit-sharing call that reached the sandbox (method and path), so tests can prove a refused split never left the hub.</summary>
    public ConcurrentQueue<string> ProfitSharingCalls { get; } = new();

    /// <summary>
    /// Test hooks for the profit-sharing bill (分账账单), by merchant (mchid, or the sub-merchant's): a row of a split
    /// (out_order_no) or return (out_return_no) left out (null) or billed with another amount in fen, and a whole file
    /// served instead of the real one (garbled bills).
    /// </summary>
    public ConcurrentDictionary<(string MchId, string OutOrderNo), long?> ProfitSharingBillEdits { get; } = new();

    /// <inheritdoc cref="ProfitSharingBillEdits"/>
    public ConcurrentDictionary<string, string> ProfitSharingBillReplacements { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// The merchant's number of every request that moves money and reached the sandbox (out_refund_no of a refund, out_order_no
    /// of a split, out_return_no of a split return), re-sends included, so tests can prove each was sent by one hub only.
    /// </summary>
    public ConcurrentQueue<string> MoneySends { get; } = new();

    /// <summary>Bills ready for download, by token.</summary>
    public ConcurrentDictionary<string, byte[]> Bills { get; } = new(StringComparer.Ordinal);

    /// <summary>Every notification attempt the sandbox made, for tests and the control API.</summary>
    public ConcurrentQueue<NotificationAttempt> NotificationLog { get; } = new();

    /// <summary>The buyers' coupons (POST /sandbox/wechatpay/buyer/coupons).</summary>
    public WeChatSandboxCoupons Coupons { get; } = new();

    /// <summary>Notifications held back, released in a chosen order, and kept for replay.</summary>
    public SandboxNotifications Notifications { get; } = new();

    /// <summary>Consumer complaints (消费者投诉2.0) and the URLs merchants registered for their notifications.</summary>
    public WeChatSandboxComplaintState Complaints { get; } = new();

    /// <summary>Merchant-service images (商户上传反馈图片) by media_id.</summary>
    public WeChatSandboxImageState Images { get; } = new();

    public string SerialFor(SandboxMerchant m) => m.Mode == PlatformKeyMode.PublicKey ? PublicKeyId : CertificateSerial;

    public void Dispose()
    {
        PlatformKey.Dispose();
        PlatformCertificate.Dispose();
    }
}

public sealed class SandboxRefund
{
    public required string OutRefundNo { get; init; }

    public required string RefundId { get; init; }

    public required long Amount { get; init; }

    public string Status { get; set; } = "PROCESSING";

    /// <summary>Where REFUND.* notifications go (the refund request's notify_url).</summary>
    public string? NotifyUrl { get; init; }

    public DateTimeOffset? SuccessTime { get; set; }

    public DateTimeOffset Created { get; init; } = DateTimeOffset.UtcNow;

    /// <summary>What the refund returned of each coupon, by coupon id (set when the refund is accepted).</summary>
    public Dictionary<string, long> CouponRefunds { get; init; } = new(StringComparer.Ordinal);

    /// <summary>The coupons returned (discount_refund).</summary>
    public long DiscountRefund => CouponRefunds.Values.Sum();

    /// <summary>The NOCASH coupons returned; the refund less them is settlement_refund (退款金额 in the bill).</summary>
    public long NoCashRefund { get; init; }

    /// <summary>The CASH coupons returned (充值券退款金额 in the bill).</summary>
    public long CashRefund => DiscountRefund - NoCashRefund;
}

public sealed record NotificationAttempt(string OutTradeNo, string NotificationId, int Attempt, int? HttpStatus, DateTimeOffset At);
