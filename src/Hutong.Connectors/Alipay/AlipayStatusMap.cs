using Hutong.Connectors.Abstractions;

namespace Hutong.Connectors.Alipay;

/// <summary>Every documented <c>trade_status</c> mapped; anything else is <see cref="WalletStatus.Unrecognised"/>.</summary>
public static class AlipayStatusMap
{
    public static readonly IReadOnlyDictionary<string, WalletStatus> TradeStatuses = new Dictionary<string, WalletStatus>(StringComparer.Ordinal)
    {
        ["WAIT_BUYER_PAY"] = WalletStatus.NotPaid,
        ["TRADE_SUCCESS"] = WalletStatus.Succeeded,   // paid, still refundable
        ["TRADE_FINISHED"] = WalletStatus.Succeeded,  // paid, no longer refundable
        ["TRADE_CLOSED"] = WalletStatus.Closed,       // unpaid timeout or closed (also: fully refunded — the query's amounts tell)
    };

    public static WalletStatus Map(string? tradeStatus) =>
        tradeStatus is not null && TradeStatuses.TryGetValue(tradeStatus, out var s) ? s : WalletStatus.Unrecognised;
}
