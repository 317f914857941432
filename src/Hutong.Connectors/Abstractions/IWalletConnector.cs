using Hutong.Domain;

namespace Hutong.Connectors.Abstractions;

/// <summary>
/// One wallet behind one interface. Implementations speak the wallet's own wire protocol
/// and map its answers onto <see cref="WalletStatus"/>. A connector never throws for a wallet
/// that did not answer: it returns <see cref="WalletCallOutcome.Unknown"/>, and the caller re-queries.
/// </summary>
public interface IWalletConnector
{
    /// <summary>Stable wallet name used in the API, e.g. "wechatpay".</summary>
    string Wallet { get; }

    WalletCapabilities Capabilities { get; }

    /// <summary>Creates a merchant-presented QR order (WeChat Native, Alipay precreate, UnionPay 申码).</summary>
    Task<CreateOrderResult> CreateQrOrderAsync(CreateOrderRequest request, CancellationToken cancellationToken);

    Task<QueryResult> QueryAsync(string outTradeNo, CancellationToken cancellationToken);

    Task<CloseResult> CloseAsync(string outTradeNo, CancellationToken cancellationToken);

    /// <summary>Refunds part or all of a paid order; idempotent on <see cref="RefundRequest.OutRefundNo"/>.</summary>
    Task<RefundResult> RefundAsync(RefundRequest request, CancellationToken cancellationToken);

    /// <summary>The wallet's view of one refund.</summary>
    Task<RefundResult> QueryRefundAsync(string outTradeNo, string outRefundNo, CancellationToken cancellationToken);

    /// <summary>The wallet's statement (对账单) of one China day: every payment and refund it settled that day.</summary>
    Task<BillResult> DownloadBillAsync(DateOnly billDate, CancellationToken cancellationToken);

    /// <summary>Verifies a raw notification (signature, timestamp, decryption) before anything trusts it.</summary>
    Task<NotificationResult> VerifyNotificationAsync(IReadOnlyDictionary<string, string> headers, string rawBody, CancellationToken cancellationToken);

    /// <summary>The answer this wallet expects to a notification (WeChat: 204 / 4xx JSON; Alipay: the body "success").</summary>
    NotificationAck Acknowledge(bool accepted);
}

/// <summary>An HTTP answer to a wallet notification, in that wallet's own terms.</summary>
public sealed record NotificationAck(int Status, string? ContentType, string? Body);

/// <summary>
/// What a connector can do; copied from the capability-flag idea of Smartstore's PaymentMethodBase.
/// <paramref name="MaxRefundsPerPayment"/>: how many refunds the wallet takes for one order (null: no stated limit).
/// <paramref name="RefundWindow"/>: how long after a payment succeeded the wallet still refunds it (null: no stated limit).
/// </summary>
public sealed record WalletCapabilities(
    bool QrCode,
    bool Query,
    bool Close,
    bool Refund,
    bool PartialRefund,
    bool Notifications,
    bool ServiceProviderMode,
    IReadOnlyList<string> Currencies,
    int? MaxRefundsPerPayment = null,
    TimeSpan? RefundWindow = null);

public sealed record CreateOrderRequest(
    string OutTradeNo,
    Money Amount,
    string Description,
    DateTimeOffset ExpiresAt,
    string NotifyUrl,
    string? Attach = null,
    bool ProfitSharing = false);

public enum WalletCallOutcome
{
    /// <summary>The wallet answered and accepted.</summary>
    Ok,

    /// <summary>The wallet answered with a definite business rejection; nothing was created.</summary>
    Rejected,

    /// <summary>No trustworthy answer (timeout, 5xx, unverifiable response). Resolve by re-query.</summary>
    Unknown,
}

public sealed record WalletError(string Code, string Message);

public sealed record CreateOrderResult(WalletCallOutcome Outcome, string? CodeUrl, WalletError? Error)
{
    public static CreateOrderResult Ok(string codeUrl) => new(WalletCallOutcome.Ok, codeUrl, null);

    public static CreateOrderResult Rejected(WalletError error) => new(WalletCallOutcome.Rejected, null, error);

    public static CreateOrderResult Unknown(string reason) => new(WalletCallOutcome.Unknown, null, new WalletError("UNKNOWN", reason));
}

/// <summary>The wallet's view of one order, mapped to our vocabulary.</summary>
public enum WalletStatus
{
    /// <summary>The wallet has no such order.</summary>
    NotFound,

    /// <summary>Order exists, buyer has not paid.</summary>
    NotPaid,

    /// <summary>Buyer is paying (password entry, bank deduction in progress).</summary>
    Paying,

    /// <summary>Money taken (also when later refunded).</summary>
    Succeeded,

    /// <summary>Order closed or revoked without payment.</summary>
    Closed,

    /// <summary>Payment failed at the wallet.</summary>
    Failed,

    /// <summary>The wallet returned a status this connector does not know; raises an alert.</summary>
    Unrecognised,
}

public sealed record WalletTransaction(
    string OutTradeNo,
    WalletStatus Status,
    string RawStatus,
    string? TransactionId,
    long? AmountMinor,
    string? Currency,
    string? PayerId,
    DateTimeOffset? SucceededAt,
    string? MerchantId,
    Hutong.Domain.Payments.WalletAmountReport? Amounts = null);

public sealed record QueryResult(WalletCallOutcome Outcome, WalletTransaction? Transaction, WalletError? Error)
{
    public static QueryResult Ok(WalletTransaction t) => new(WalletCallOutcome.Ok, t, null);

    public static QueryResult NotFound(string outTradeNo) =>
        new(WalletCallOutcome.Ok, new WalletTransaction(outTradeNo, WalletStatus.NotFound, "NOT_FOUND", null, null, null, null, null, null), null);

    public static QueryResult Unknown(string reason) => new(WalletCallOutcome.Unknown, null, new WalletError("UNKNOWN", reason));
}

public sealed record CloseResult(WalletCallOutcome Outcome, WalletError? Error)
{
    public static CloseResult Ok { get; } = new(WalletCallOutcome.Ok, null);

    public static CloseResult Rejected(WalletError e) => new(WalletCallOutcome.Rejected, e);

    public static CloseResult Unknown(string reason) => new(WalletCallOutcome.Unknown, new WalletError("UNKNOWN", reason));
}

public sealed record RefundRequest(
    string OutTradeNo, string OutRefundNo, Money Refund, Money Total, string? Reason, string? NotifyUrl, string? WalletTransactionId = null,
    IReadOnlyList<RoyaltyReturn>? RoyaltyReturns = null);

public enum RefundStatus
{
    /// <summary>The money is on its way back (WeChat PROCESSING); a notification or query settles it.</summary>
    Processing,

    /// <summary>Refunded.</summary>
    Succeeded,

    /// <summary>The wallet gave up (WeChat CLOSED/ABNORMAL).</summary>
    Failed,

    /// <summary>No such refund at the wallet.</summary>
    NotFound,
}

public sealed record RefundResult(WalletCallOutcome Outcome, RefundStatus? Status, string? RefundId, long? RefundedMinor, WalletError? Error)
{
    public static RefundResult Rejected(WalletError e) => new(WalletCallOutcome.Rejected, null, null, null, e);

    public static RefundResult Unknown(string reason) => new(WalletCallOutcome.Unknown, null, null, null, new WalletError("UNKNOWN", reason));
}

/// <summary>A profit-sharing notification (WeChat PROFITSHARING.SUCCESS / PROFITSHARING.RETURN): the split it is about, by out_order_no.</summary>
public sealed record SplitNotice(string OutOrderNo, bool Returned);

/// <summary>Outcome of verifying an inbound wallet notification; a refund notification carries <see cref="Refund"/> instead of a transaction.</summary>
/// <param name="PayoutOutBizNo">A payout's result notification (WeChat Pay MCHTRANSFER.BILL.FINISHED): the transfer's out_bill_no, settled by a query.</param>
/// <param name="Split">A profit-sharing notification (WeChat PROFITSHARING.*): the split it is about, settled by a query.</param>
/// <param name="Complaint">A consumer complaint's notification (WeChat COMPLAINT.*): the complaint, read by a signed query.</param>
public sealed record NotificationResult(bool Verified, string? RejectReason, string? NotificationId, string? EventType, WalletTransaction? Transaction, RefundNotice? Refund = null,
    string? PayoutOutBizNo = null, SplitNotice? Split = null, ComplaintNotice? Complaint = null)
{
    public static NotificationResult Reject(string reason) => new(false, reason, null, null, null);
}

public enum BillLineKind
{
    Payment,
    Refund,

    /// <summary>A settled transaction of a type the hub does not reconcile (e.g. a UnionPay 消费撤销): kept for a person to review.</summary>
    Other,

    /// <summary>A wallet's error or adjustment entry (UnionPay's ZME file), not tied to one of our orders: kept for review.</summary>
    Adjustment,
}

/// <summary>
/// One line of a wallet's daily bill, in our terms: the order (our out_trade_no), the wallet's transaction id, for a
/// refund our out_refund_no, the amount and the fee in minor units (a refund's fee is the fee returned, as a positive
/// amount), and the wallet's own status text. <paramref name="Detail"/> describes an Other or Adjustment line for the
/// person who reviews it. Where the bill has coupon columns (docs/discounts.md), <paramref name="SettlementMinor"/> is what the
/// wallet settles for the line (WeChat 应结订单金额 / 退款金额) and <paramref name="CouponMinor"/> the coupon column (WeChat
/// 代金券金额: the merchant-borne coupons of a payment; 充值券退款金额: the wallet-settled coupons a refund returned); null: the
/// bill does not say.
/// </summary>
public sealed record BillLine(
    BillLineKind Kind, string OutTradeNo, string? TransactionId, string? OutRefundNo, long AmountMinor, long FeeMinor, string Status, DateTimeOffset? At, string? Detail = null,
    long? SettlementMinor = null, long? CouponMinor = null);

public sealed record BillResult(WalletCallOutcome Outcome, IReadOnlyList<BillLine>? Lines, WalletError? Error)
{
    public static BillResult Ok(IReadOnlyList<BillLine> lines) => new(WalletCallOutcome.Ok, lines, null);

    public static BillResult Rejected(WalletError e) => new(WalletCallOutcome.Rejected, null, e);

    public static BillResult Unknown(string reason) => new(WalletCallOutcome.Unknown, null, new WalletError("UNKNOWN", reason));
}

/// <summary>A bill that does not parse or whose totals do not add up: never half-trusted.</summary>
public sealed class BillFormatException(string message) : FormatException(message);

/// <summary>Amounts in the wallets' bills are yuan with two decimals; read them exactly, as fen, without floating point.</summary>
public static class BillAmounts
{
    public static long ParseYuan(string text)
    {
        var s = text.Trim().Trim('`', '\t', ' ');
        var negative = s.StartsWith('-');
        if (negative || s.StartsWith('+'))
        {
            s = s[1..];
        }

        var dot = s.IndexOf('.', StringComparison.Ordinal);
        var whole = dot < 0 ? s : s[..dot];
        var frac = dot < 0 ? string.Empty : s[(dot + 1)..];
        if (whole.Length is 0 or > 13 || frac.Length > 2 || !whole.All(char.IsAsciiDigit) || !frac.All(char.IsAsciiDigit))
        {
            throw new BillFormatException($"not an amount in yuan: '{text}'");
        }

        var fen = (long.Parse(whole, System.Globalization.CultureInfo.InvariantCulture) * 100) + (frac.Length == 0 ? 0 : int.Parse(frac.PadRight(2, '0'), System.Globalization.CultureInfo.InvariantCulture));
        return negative ? -fen : fen;
    }

    public static string ToYuan(long fen) =>
        (fen < 0 ? "-" : string.Empty) + (Math.Abs(fen) / 100).ToString(System.Globalization.CultureInfo.InvariantCulture) + "." + (Math.Abs(fen) % 100).ToString("00", System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>What a verified refund notification says about one refund (our out_refund_no).</summary>
public sealed record RefundNotice(string OutTradeNo, string OutRefundNo, RefundStatus Status, string? RefundId);
