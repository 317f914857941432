using Hutong.Domain.Settlement;

namespace Hutong.Connectors.Abstractions;

/// <summary>
/// Profit sharing (分账) at a wallet that has it (WeChat Pay, Alipay). The hub plans and checks every split against
/// <see cref="Policy"/> before it calls; like every wallet call, no answer is <see cref="WalletCallOutcome.Unknown"/>
/// and settled by <see cref="QuerySplitAsync"/>, and out_order_no / out_return_no make re-sends the same request.
/// </summary>
public interface IProfitSharingConnector
{
    SplitPolicy Policy { get; }

    /// <summary>Registers a receiver with the wallet (WeChat receivers/add, Alipay royalty.relation.bind); repeating it is harmless.</summary>
    Task<SplitCallResult> AddReceiverAsync(WalletSplitReceiver receiver, CancellationToken cancellationToken);

    Task<SplitCallResult> SplitAsync(SplitOrderRequest request, CancellationToken cancellationToken);

    Task<SplitCallResult> QuerySplitAsync(string outTradeNo, string transactionId, string outOrderNo, CancellationToken cancellationToken);

    /// <summary>Takes a merchant receiver's share back (WeChat return-orders). Alipay returns shares with the refund instead.</summary>
    Task<SplitReturnResult> ReturnAsync(SplitReturnRequest request, CancellationToken cancellationToken);

    Task<SplitReturnResult> QueryReturnAsync(string outOrderNo, string outReturnNo, CancellationToken cancellationToken);
}

/// <summary>A receiver as the wallet knows it. <see cref="Name"/> is the merchant's registered name or the person's real name.</summary>
public sealed record WalletSplitReceiver(ReceiverType Type, string Account, string? Name, string Relation);

public sealed record SplitOrderReceiver(WalletSplitReceiver Receiver, long Amount, string Description);

/// <param name="Final">Release whatever is not split to the merchant (WeChat unfreeze_unsplit, Alipay royalty_finish).</param>
public sealed record SplitOrderRequest(string OutTradeNo, string TransactionId, string OutOrderNo, IReadOnlyList<SplitOrderReceiver> Receivers, bool Final);

public enum SplitState
{
    /// <summary>Accepted; the wallet is still paying receivers.</summary>
    Processing,

    /// <summary>Every receiver has its final result.</summary>
    Finished,

    /// <summary>The wallet has no such split.</summary>
    NotFound,
}

public enum SplitReceiverResult
{
    Pending,
    Succeeded,
    Failed,
}

public sealed record SplitReceiverOutcome(string Account, long Amount, SplitReceiverResult Result, string? FailReason);

public sealed record SplitCallResult(WalletCallOutcome Outcome, SplitState? State, string? WalletOrderId, IReadOnlyList<SplitReceiverOutcome> Receivers, WalletError? Error)
{
    public static SplitCallResult Ok(SplitState state, string? walletOrderId, IReadOnlyList<SplitReceiverOutcome> receivers) =>
        new(WalletCallOutcome.Ok, state, walletOrderId, receivers, null);

    public static SplitCallResult Rejected(WalletError e) => new(WalletCallOutcome.Rejected, null, null, [], e);

    public static SplitCallResult Unknown(string reason) => new(WalletCallOutcome.Unknown, null, null, [], new WalletError("UNKNOWN", reason));
}

public sealed record SplitReturnRequest(string OutOrderNo, string OutReturnNo, string ReturnAccount, long Amount, string Description);

public sealed record SplitReturnResult(WalletCallOutcome Outcome, RefundStatus? Status, WalletError? Error)
{
    public static SplitReturnResult Rejected(WalletError e) => new(WalletCallOutcome.Rejected, null, e);

    public static SplitReturnResult Unknown(string reason) => new(WalletCallOutcome.Unknown, null, new WalletError("UNKNOWN", reason));
}

/// <summary>A receiver's share that an Alipay refund takes back with it (refund_royalty_parameters).</summary>
public sealed record RoyaltyReturn(WalletSplitReceiver From, long Amount);
