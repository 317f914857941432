using System.Collections.Concurrent;
using System.Security.Cryptography;
using Hutong.Sandbox.WeChatPay;

namespace Hutong.Sandbox.Alipay;

public sealed class AlipaySandboxApp
{
    public required string AppId { get; init; }

    public required RSA PublicKey { get; init; }

    /// <summary>The seller (pid) the app collects for; service-provider apps act for others via app_auth_token.</summary>
    public required string SellerId { get; init; }
}

public sealed class AlipaySandboxOrder
{
    public required string AppId { get; init; }

    public required string OutTradeNo { get; init; }

    public required string Subject { get; init; }

    public required long TotalFen { get; init; }

    public string? NotifyUrl { get; set; }

    public string? PassbackParams { get; init; }

    public DateTimeOffset? TimeExpire { get; init; }

    public required string QrToken { get; init; }

    public required string SellerId { get; init; }

    public string? AppAuthToken { get; init; }

    public required string Fingerprint { get; init; }

    public string TradeStatus { get; set; } = "WAIT_BUYER_PAY";

    public string? TradeNo { get; set; }

    public string? BuyerId { get; set; }

    /// <summary>The payer's open_id (in-app and app pay): notified and queried as buyer_open_id instead of buyer_id.</summary>
    public string? BuyerOpenId { get; set; }

    /// <summary>alipay.trade.create's buyer (open_id or user_id): only that Alipay user's tradePay pays it.</summary>
    public string? OrderedFor { get; set; }

    /// <summary>JSAPI_PAY (alipay.trade.create) or QUICK_MSECURITY_PAY (app pay); null for the QR and page flows.</summary>
    public string? ProductCode { get; set; }

    public DateTimeOffset Created { get; init; } = DateTimeOffset.UtcNow;

    public DateTimeOffset? Paid { get; set; }

    public string QrCode => $"https://qr.alipay.com/{QrToken}";

    /// <summary>Refunds by out_request_no, in fen.</summary>
    public Dictionary<string, long> Refunds { get; } = new(StringComparer.Ordinal);

    /// <summary>The vouchers the payment used (voucher_detail_list).</summary>
    public List<AlipaySandboxVoucher> VouchersUsed { get; } = [];

    /// <summary>receipt_amount (商家实收): the total less the merchant's voucher contributions.</summary>
    public long ReceiptFen => TotalFen - VouchersUsed.Sum(v => v.MerchantContributeFen);

    /// <summary>buyer_pay_amount: the total less every voucher.</summary>
    public long BuyerPayFen => TotalFen - VouchersUsed.Sum(v => v.AmountFen);

    /// <summary>What each refund returned of the merchant's and the others' voucher parts, by out_request_no.</summary>
    public Dictionary<string, (long Merchant, long Other)> RefundVouchers { get; } = new(StringComparer.Ordinal);

    /// <summary>When each refund was made (the bill's 完成时间).</summary>
    public Dictionary<string, DateTimeOffset> RefundTimes { get; } = new(StringComparer.Ordinal);

    /// <summary>Settle requests (alipay.trade.order.settle) by out_request_no.</summary>
    public Dictionary<string, AlipaySandboxSettle> Settles { get; } = new(StringComparer.Ordinal);

    /// <summary>royalty_finish was sent: the rest is the seller's, no more settles.</summary>
    public bool RoyaltyFinished { get; set; }

    /// <summary>Refund requests that took shares back (refund_royalty_parameters), so a repeat moves nothing twice.</summary>
    public HashSet<string> RoyaltyRefunds { get; } = new(StringComparer.Ordinal);
}

public sealed class AlipaySandboxSettle
{
    public required string SettleNo { get; init; }

    public required List<AlipaySandboxRoyalty> Details { get; init; }

    public DateTimeOffset Created { get; init; } = DateTimeOffset.UtcNow;
}

public sealed class AlipaySandboxRoyalty
{
    public required string TransIn { get; init; }

    public required long Amount { get; init; }

    public string State { get; set; } = "PROCESSING";

    public long Returned { get; set; }
}

public sealed partial class AlipaySandboxState : IDisposable
{
    public RSA AlipayKey { get; } = RSA.Create(2048);

    public string AlipayPublicKeyPem => AlipayKey.ExportSubjectPublicKeyInfoPem();

    public SandboxFaults Faults { get; } = new();

    /// <summary>The buyers' payment codes (alipay.trade.pay, scene=bar_code).</summary>
    public AlipayBuyerCodes BuyerCodes { get; } = new();

    /// <summary>1.0 = the real resend schedule and settle delay; tests use 0.001.</summary>
    public double TimeScale { get; set; } = 1.0;

    public ConcurrentDictionary<string, AlipaySandboxApp> Apps { get; } = new(StringComparer.Ordinal);

    /// <summary>app_auth_token → the seller it authorises (service-provider mode).</summary>
    public ConcurrentDictionary<string, string> AuthTokens { get; } = new(StringComparer.Ordinal);

    public ConcurrentDictionary<(string AppId, string OutTradeNo), AlipaySandboxOrder> Orders { get; } = new();

    public ConcurrentDictionary<string, AlipaySandboxOrder> OrdersByQr { get; } = new(StringComparer.Ordinal);

    /// <summary>OAuth, alipay.trade.create, the tradePay bridge and app pay.</summary>
    public AlipaySandboxInAppState InApp { get; } = new();

    public ConcurrentQueue<NotificationAttempt> NotificationLog { get; } = new();

    /// <summary>Notifications held back, released in a chosen order, and kept for replay.</summary>
    public SandboxNotifications Notifications { get; } = new();

    /// <summary>The 服务费 the sandbox bills on each payment, in basis points (returned pro rata on refunds).</summary>
    public int FeeBasisPoints { get; set; } = 60;

    /// <summary>The buyers' vouchers by buyer_id (POST /sandbox/alipay/buyer/vouchers).</summary>
    public ConcurrentDictionary<string, List<AlipaySandboxVoucher>> Vouchers { get; } = new(StringComparer.Ordinal);

    /// <summary>The default maximum share of a trade that may be settled to others (30 %).</summary>
    public int MaxSplitRatioBasisPoints { get; set; } = 3_000;

    /// <summary>Royalty relations bound per app (alipay.trade.royalty.relation.bind): account → name.</summary>
    public ConcurrentDictionary<(string AppId, string Account), string?> RoyaltyRelations { get; } = new();

    /// <summary>Every settle call that reached the sandbox, so tests can prove a refused split never left the hub.</summary>
    public ConcurrentQueue<string> ProfitSharingCalls { get; } = new();

    /// <summary>Bill archives ready for download, by token (the real URL is a short-lived signed OSS link).</summary>
    public ConcurrentDictionary<string, byte[]> Bills { get; } = new(StringComparer.Ordinal);

    /// <summary>Trade complaints (交易投诉) filed by buyers (POST /sandbox/alipay/buyer/complain).</summary>
    public AlipaySandboxComplaintBook Complaints { get; } = new();

    /// <summary>Images uploaded with alipay.merchant.image.upload, by image_id.</summary>
    public AlipaySandboxImageBook ComplaintImages { get; } = new();

    public void Dispose() => AlipayKey.Dispose();
}
