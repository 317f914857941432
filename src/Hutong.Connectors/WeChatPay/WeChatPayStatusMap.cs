using Hutong.Connectors.Abstractions;

namespace Hutong.Connectors.WeChatPay;

/// <summary>Every documented <c>trade_state</c> mapped; anything else is <see cref="WalletStatus.Unrecognised"/>.</summary>
public static class WeChatPayStatusMap
{
    public static readonly IReadOnlyDictionary<string, WalletStatus> TradeStates = new Dictionary<string, WalletStatus>(StringComparer.Ordinal)
    {
        ["SUCCESS"] = WalletStatus.Succeeded,
        ["REFUND"] = WalletStatus.Succeeded,      // paid, then (partly) refunded: the payment itself succeeded
        ["NOTPAY"] = WalletStatus.NotPaid,
        ["CLOSED"] = WalletStatus.Closed,
        ["REVOKED"] = WalletStatus.Closed,        // MICROPAY revoked
        ["USERPAYING"] = WalletStatus.Paying,     // buyer entering password
        ["ACCEPT"] = WalletStatus.Paying,         // accepted, deduction pending
        ["PAYERROR"] = WalletStatus.Failed,
    };

    public static WalletStatus Map(string? tradeState) =>
        tradeState is not null && TradeStates.TryGetValue(tradeState, out var s) ? s : WalletStatus.Unrecognised;
}
