namespace Hutong.Connectors.Abstractions;

/// <summary>
/// A wallet that sends money from the merchant's balance to a payee (Alipay alipay.fund.trans.uni.transfer). Like every
/// wallet call, no answer is <see cref="WalletCallOutcome.Unknown"/> and settled by <see cref="QueryPayoutAsync"/>; the
/// out_biz_no makes a re-send the same transfer at the wallet.
/// </summary>
public interface IPayoutConnector
{
    Task<PayoutCallResult> PayoutAsync(PayoutRequest request, CancellationToken cancellationToken);

    Task<PayoutCallResult> QueryPayoutAsync(string outBizNo, CancellationToken cancellationToken);
}

/// <summary>
/// A wallet whose transfers wait for the payee's confirmation and can be withdrawn until then (WeChat Pay merchant
/// transfer: POST …/transfer-bills/out-bill-no/{out_bill_no}/cancel). No answer is Unknown and settled by a query.
/// </summary>
public interface IPayoutCancelConnector
{
    Task<PayoutCallResult> CancelPayoutAsync(string outBizNo, CancellationToken cancellationToken);
}

/// <summary>A payee as the wallet knows it: an identity of a kind (Alipay ALIPAY_USER_ID / ALIPAY_LOGON_ID) and optionally the real name to check.</summary>
public sealed record PayoutPayee(string IdentityType, string Identity, string? Name);

/// <param name="OutBizNo">Our number for the transfer at the wallet (a UUIDv7, 32 hex digits): the wallet's idempotency key.</param>
/// <param name="Reference">Echoed back by the wallet (our payout id).</param>
/// <param name="NotifyUrl">Where the wallet sends the transfer's result notification (WeChat Pay); null: none.</param>
public sealed record PayoutRequest(string OutBizNo, long Amount, string Currency, PayoutPayee Payee, string Title, string? Remark, string Reference, string? NotifyUrl = null);

public enum PayoutWalletState
{
    /// <summary>Accepted; the wallet is still moving the money.</summary>
    Processing,

    /// <summary>The payee has it.</summary>
    Succeeded,

    /// <summary>The wallet gave up (or the money came back).</summary>
    Failed,

    /// <summary>A query found no such transfer: the wallet never got it.</summary>
    NotFound,

    /// <summary>Held until the payee accepts it in the wallet's app (WeChat Pay WAIT_USER_CONFIRM; <see cref="PayoutCallResult.PackageInfo"/> opens the page).</summary>
    AwaitingConfirmation,

    /// <summary>Being withdrawn (WeChat Pay CANCELING).</summary>
    Canceling,

    /// <summary>Withdrawn before the payee accepted it (WeChat Pay CANCELLED).</summary>
    Canceled,
}

/// <param name="PackageInfo">WeChat Pay's package_info for a transfer awaiting the payee's confirmation (wx.requestMerchantTransfer).</param>
public sealed record PayoutCallResult(WalletCallOutcome Outcome, PayoutWalletState? State, string? WalletOrderId, WalletError? Error, string? PackageInfo = null)
{
    public static PayoutCallResult Ok(PayoutWalletState state, string? walletOrderId, WalletError? error = null, string? packageInfo = null) =>
        new(WalletCallOutcome.Ok, state, walletOrderId, error, packageInfo);

    public static PayoutCallResult Rejected(WalletError e) => new(WalletCallOutcome.Rejected, null, null, e);

    public static PayoutCallResult Unknown(string reason) => new(WalletCallOutcome.Unknown, null, null, new WalletError("UNKNOWN", reason));
}
