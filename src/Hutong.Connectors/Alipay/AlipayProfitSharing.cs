using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Hutong.Connectors.Abstractions;
using Hutong.Domain.Settlement;

namespace Hutong.Connectors.Alipay;

/// <summary>
/// Alipay 分账: receivers bound with alipay.trade.royalty.relation.bind, then alipay.trade.order.settle with
/// royalty_parameters in async mode (up to 50 receivers, partial success possible) and followed with
/// alipay.trade.order.settle.query. Shares come back with a refund (refund_royalty_parameters), not by a separate call.
/// </summary>
public sealed partial class AlipayConnector
{
    public SplitPolicy Policy => SplitPolicy.Alipay;

    public async Task<SplitCallResult> AddReceiverAsync(WalletSplitReceiver receiver, CancellationToken cancellationToken)
    {
        var entry = new JsonObject { ["type"] = AccountType(receiver.Account), ["account"] = receiver.Account, ["memo"] = receiver.Relation };
        if (!string.IsNullOrEmpty(receiver.Name))
        {
            entry["name"] = receiver.Name;
        }

        var biz = new JsonObject
        {
            ["receiver_list"] = new JsonArray(entry),
            ["out_request_no"] = "bind" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(receiver.Account)))[..28],
        };
        var reply = await CallAsync("alipay.trade.royalty.relation.bind", biz, null, cancellationToken);
        return reply.Outcome switch
        {
            WalletCallOutcome.Ok => SplitCallResult.Ok(SplitState.Finished, null, []),
            WalletCallOutcome.Rejected => SplitCallResult.Rejected(reply.Error!),
            _ => SplitCallResult.Unknown(reply.Error?.Message ?? "no answer"),
        };
    }

    public async Task<SplitCallResult> SplitAsync(SplitOrderRequest request, CancellationToken cancellationToken)
    {
        var biz = new JsonObject
        {
            ["out_request_no"] = request.OutOrderNo,
            ["trade_no"] = request.TransactionId,
            ["royalty_parameters"] = new JsonArray(request.Receivers.Select(r => (JsonNode)new JsonObject
            {
                ["royalty_type"] = "transfer",
                ["trans_in_type"] = AccountType(r.Receiver.Account),
                ["trans_in"] = r.Receiver.Account,
                ["amount"] = AlipayAmount.FromFen(r.Amount),
                ["desc"] = r.Description.Length > 128 ? r.Description[..128] : r.Description,
            }).ToArray()),
            ["extend_params"] = new JsonObject { ["royalty_finish"] = request.Final ? "true" : "false" },
            ["royalty_mode"] = "async",
        };
        var reply = await CallAsync("alipay.trade.order.settle", biz, null, cancellationToken);
        return reply.Outcome switch
        {
            // Async mode: accepted, each receiver's result comes from settle.query.
            WalletCallOutcome.Ok => SplitCallResult.Ok(SplitState.Processing, reply.Response?["settle_no"]?.GetValue<string>(), []),
            WalletCallOutcome.Rejected => SplitCallResult.Rejected(reply.Error!),
            _ => SplitCallResult.Unknown(reply.Error?.Message ?? "no answer"),
        };
    }

    public async Task<SplitCallResult> QuerySplitAsync(string outTradeNo, string transactionId, string outOrderNo, CancellationToken cancellationToken)
    {
        var reply = await CallAsync("alipay.trade.order.settle.query", new JsonObject { ["out_request_no"] = outOrderNo, ["trade_no"] = transactionId }, null, cancellationToken);
        if (reply.Outcome == WalletCallOutcome.Rejected && reply.Error?.Code is { } code && code.Contains("NOT_EXIST", StringComparison.Ordinal))
        {
            return SplitCallResult.Ok(SplitState.NotFound, null, []);
        }

        if (reply.Outcome != WalletCallOutcome.Ok)
        {
            return reply.Outcome == WalletCallOutcome.Rejected ? SplitCallResult.Rejected(reply.Error!) : SplitCallResult.Unknown(reply.Error?.Message ?? "no answer");
        }

        var details = new List<SplitReceiverOutcome>();
        foreach (var d in (reply.Response?["royalty_detail_list"] as JsonArray ?? []).OfType<JsonObject>())
        {
            if (d["operation_type"]?.GetValue<string>() is not ("transfer" or "replenish" or null))
            {
                continue; // unfreeze lines carry no receiver
            }

            if (!AlipayAmount.TryParseFen(d["amount"]?.GetValue<string>(), out var fen))
            {
                return SplitCallResult.Unknown("settle detail with an unreadable amount");
            }

            details.Add(new SplitReceiverOutcome(d["trans_in"]?.GetValue<string>() ?? string.Empty, fen, d["state"]?.GetValue<string>() switch
            {
                "SUCCESS" => SplitReceiverResult.Succeeded,
                "FAIL" => SplitReceiverResult.Failed,
                _ => SplitReceiverResult.Pending,
            }, d["error_desc"]?.GetValue<string>()));
        }

        var state = details.Count > 0 && details.All(d => d.Result != SplitReceiverResult.Pending) ? SplitState.Finished : SplitState.Processing;
        return SplitCallResult.Ok(state, reply.Response?["settle_no"]?.GetValue<string>(), details);
    }

    public Task<SplitReturnResult> ReturnAsync(SplitReturnRequest request, CancellationToken cancellationToken) =>
        Task.FromResult(SplitReturnResult.Rejected(new WalletError("NOT_SUPPORTED", "Alipay returns shares with the refund (refund_royalty_parameters).")));

    public Task<SplitReturnResult> QueryReturnAsync(string outOrderNo, string outReturnNo, CancellationToken cancellationToken) =>
        Task.FromResult(SplitReturnResult.Rejected(new WalletError("NOT_SUPPORTED", "Alipay returns shares with the refund (refund_royalty_parameters).")));

    /// <summary>A 2088… 16-digit id is a userId; anything else is a login name (phone or e-mail).</summary>
    private static string AccountType(string account) =>
        account.Length == 16 && account.StartsWith("2088", StringComparison.Ordinal) && account.All(char.IsAsciiDigit) ? "userId" : "loginName";
}
