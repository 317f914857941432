using Hutong.Domain;

namespace Hutong.Connectors.Abstractions;

/// <summary>
/// Collecting with the buyer's payment code (付款码, 被扫): the till scans the code and the wallet charges at once, or
/// answers that the buyer is confirming (WeChat USERPAYING, Alipay 10003 WAIT_BUYER_PAY), which the hub follows by
/// <see cref="QueryCodePaymentAsync"/> and, when the till's wait is over, undoes with <see cref="ReverseAsync"/>.
/// As everywhere, no answer is <see cref="WalletCallOutcome.Unknown"/>, never a failure.
/// </summary>
public interface IPaymentCodeConnector
{
    /// <summary>
    /// Ok with the order as the wallet sees it: <see cref="WalletStatus.Succeeded"/> (paid now) or <see cref="WalletStatus.Paying"/>
    /// (the buyer is confirming). Rejected: the wallet refused the code or the order and took nothing.
    /// </summary>
    Task<CodePaymentResult> PayWithCodeAsync(CodePaymentRequest request, CancellationToken cancellationToken);

    /// <summary>The order as the wallet sees it, by the query the wallet documents for payment-code orders.</summary>
    Task<QueryResult> QueryCodePaymentAsync(string outTradeNo, CancellationToken cancellationToken);

    /// <summary>
    /// Reverses the order (WeChat secapi/pay/reverse, Alipay trade.cancel, UnionPay 冲正): an unpaid order is closed and a
    /// paid one refunded, so nothing stays charged. Ok: done. Unknown (including "call again", WeChat recall=Y): retry later.
    /// </summary>
    Task<CloseResult> ReverseAsync(string outTradeNo, CancellationToken cancellationToken);
}

/// <param name="Attach">Echoed by the wallet; the hub sends its payment id (the sandboxes scope injected faults by it).</param>
/// <param name="NotifyUrl">Where the wallet sends the result, for wallets whose payment-code order requires one (UnionPay's backUrl).</param>
public sealed record CodePaymentRequest(string OutTradeNo, Money Amount, string Description, string AuthCode, string? Attach = null, string? NotifyUrl = null);

public sealed record CodePaymentResult(WalletCallOutcome Outcome, WalletTransaction? Transaction, WalletError? Error)
{
    public static CodePaymentResult Ok(WalletTransaction t) => new(WalletCallOutcome.Ok, t, null);

    public static CodePaymentResult Rejected(WalletError e) => new(WalletCallOutcome.Rejected, null, e);

    public static CodePaymentResult Unknown(string reason) => new(WalletCallOutcome.Unknown, null, new WalletError("UNKNOWN", reason));
}
