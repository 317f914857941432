namespace Hutong.Connectors.Abstractions;

/// <summary>
/// A wallet that publishes a daily profit-sharing bill (WeChat Pay 分账账单, GET /v3/profitsharing/bills): one row per
/// receiver paid by a split and per return, the rows reconciliation compares with the hub's splits and returns.
/// </summary>
public interface ISplitBillConnector
{
    Task<SplitBillResult> DownloadSplitBillAsync(DateOnly billDate, CancellationToken cancellationToken);
}

public enum SplitBillLineKind
{
    /// <summary>分账: money moved to a receiver.</summary>
    Split,

    /// <summary>回退: money taken back from a receiver (a return order).</summary>
    Return,
}

/// <summary>
/// One row of a profit-sharing bill. <paramref name="OutOrderNo"/> is the merchant's number of the split (分账) or of the
/// return (回退), <paramref name="Receiver"/> the receiver's account (merchant id or openid), <paramref name="AmountMinor"/>
/// the amount moved, in fen.
/// </summary>
public sealed record SplitBillLine(
    SplitBillLineKind Kind, string TransactionId, string OutOrderNo, string Receiver, long AmountMinor, string Status, DateTimeOffset? At);

public sealed record SplitBillResult(WalletCallOutcome Outcome, IReadOnlyList<SplitBillLine>? Lines, WalletError? Error)
{
    public static SplitBillResult Ok(IReadOnlyList<SplitBillLine> lines) => new(WalletCallOutcome.Ok, lines, null);

    public static SplitBillResult Rejected(WalletError e) => new(WalletCallOutcome.Rejected, null, e);

    public static SplitBillResult Unknown(string reason) => new(WalletCallOutcome.Unknown, null, new WalletError("UNKNOWN", reason));
}
