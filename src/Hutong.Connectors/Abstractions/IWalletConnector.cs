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

    /// <summary>Verifies a raw notification (signature, timestamp, decryption) before anything trusts it.</summary>
    Task<NotificationResult> VerifyNotificationAsync(IReadOnlyDictionary<string, string> headers, string rawBody, CancellationToken cancellationToken);

    /// <summary>The answer this wallet expects to a notification (WeChat: 204 / 4xx JSON; Alipay: the body "success").</summary>
    NotificationAck Acknowledge(bool accepted);
}

/// <summary>An HTTP answer to a wallet notification, in that wallet's own terms.</summary>
public sealed record NotificationAck(int Status, string? ContentType, string? Body);

/// <summary>What a connector can do; copied from the capability-flag idea of Smartstore's PaymentMethodBase.</summary>
public sealed record WalletCapabilities(
    bool QrCode,
    bool Query,
    bool Close,
    bool Refund,
    bool PartialRefund,
    bool Notifications,
    bool ServiceProviderMode,
    IReadOnlyList<string> Currencies);

public sealed record CreateOrderRequest(
    string OutTradeNo,
    Money Amount,
    string Description,
    DateTimeOffset ExpiresAt,
    string NotifyUrl,
    string? Attach = null);

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
    string? MerchantId);

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

public sealed record RefundRequest(string OutTradeNo, string OutRefundNo, Money Refund, Money Total, string? Reason, string? NotifyUrl, string? WalletTransactionId = null);

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

/// <summary>Outcome of verifying an inbound wallet notification.</summary>
public sealed record NotificationResult(bool Verified, string? RejectReason, string? NotificationId, string? EventType, WalletTransaction? Transaction)
{
    public static NotificationResult Reject(string reason) => new(false, reason, null, null, null);
}
