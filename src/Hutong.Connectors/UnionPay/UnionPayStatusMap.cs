using Hutong.Connectors.Abstractions;

namespace Hutong.Connectors.UnionPay;

/// <summary>The original transaction's origRespCode, as a query reports it.</summary>
public static class UnionPayStatusMap
{
    public static readonly IReadOnlyDictionary<string, WalletStatus> OrigRespCodes = new Dictionary<string, WalletStatus>(StringComparer.Ordinal)
    {
        ["00"] = WalletStatus.Succeeded,  // 成功
        ["A6"] = WalletStatus.Succeeded,  // 部分成功 (paid, with a partial discount)
        ["05"] = WalletStatus.NotPaid,    // 已受理: the QR is issued and waits for a scan
        ["03"] = WalletStatus.Paying,     // 处理中
        ["04"] = WalletStatus.Paying,     // 处理超时, result pending
        ["01"] = WalletStatus.Failed,     // 交易失败
        ["12"] = WalletStatus.Closed,     // 重复交易 / lapsed code (sandbox: payTimeout passed)
    };

    public static WalletStatus Map(string? origRespCode) =>
        origRespCode is not null && OrigRespCodes.TryGetValue(origRespCode, out var s) ? s : WalletStatus.Unrecognised;
}
