using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Hutong.Connectors.Abstractions;
using Hutong.Connectors.WeChatPay.Models;
using Hutong.Domain.Settlement;

namespace Hutong.Connectors.WeChatPay;

/// <summary>
/// WeChat Pay profit sharing (分账, /v3/profitsharing/*). The order must have been placed with
/// settle_info.profit_sharing=true; receivers are added first; a receiver's name travels RSA-OAEP encrypted with the
/// platform key named in Wechatpay-Serial. Only merchant receivers can be asked for money back (return-orders).
/// </summary>
public sealed partial class WeChatPayConnector
{
    public SplitPolicy Policy => SplitPolicy.WeChatPay;

    public async Task<SplitCallResult> AddReceiverAsync(WalletSplitReceiver receiver, CancellationToken cancellationToken)
    {
        if (!TryEncrypt(receiver.Name, out var name, out var serial))
        {
            return SplitCallResult.Rejected(new WalletError("NO_PLATFORM_KEY", "No platform key to encrypt the receiver's name with."));
        }

        var body = JsonSerializer.Serialize(new WxProfitSharingReceiverAdd(_options.SubMchId, _options.AppId, TypeOf(receiver.Type), receiver.Account, name, receiver.Relation),
            WxJson.Default.WxProfitSharingReceiverAdd);
        var reply = await SendAsync(HttpMethod.Post, "/v3/profitsharing/receivers/add", body, cancellationToken, encryptedWithSerial: serial);
        return reply.Outcome switch
        {
            WalletCallOutcome.Ok => SplitCallResult.Ok(SplitState.Finished, null, []),
            WalletCallOutcome.Rejected => SplitCallResult.Rejected(reply.Error!),
            _ => SplitCallResult.Unknown(reply.Error?.Message ?? "no answer"),
        };
    }

    public async Task<SplitCallResult> SplitAsync(SplitOrderRequest request, CancellationToken cancellationToken)
    {
        var receivers = new List<WxProfitSharingReceiver>();
        string? serial = null;
        foreach (var r in request.Receivers)
        {
            if (!TryEncrypt(r.Receiver.Name, out var name, out var s))
            {
                return SplitCallResult.Rejected(new WalletError("NO_PLATFORM_KEY", "No platform key to encrypt a receiver's name with."));
            }

            serial ??= s;
            receivers.Add(new WxProfitSharingReceiver(TypeOf(r.Receiver.Type), r.Receiver.Account, name, r.Amount, Truncate(r.Description, 80)));
        }

        var body = JsonSerializer.Serialize(new WxProfitSharingOrderRequest(_options.SubMchId, _options.AppId, request.TransactionId, request.OutOrderNo, receivers, request.Final),
            WxJson.Default.WxProfitSharingOrderRequest);
        return ToSplitResult(await SendAsync(HttpMethod.Post, "/v3/profitsharing/orders", body, cancellationToken, encryptedWithSerial: serial));
    }

    public async Task<SplitCallResult> QuerySplitAsync(string outTradeNo, string transactionId, string outOrderNo, CancellationToken cancellationToken)
    {
        var query = $"transaction_id={Uri.EscapeDataString(transactionId)}" + (_options.IsServiceProvider ? $"&sub_mchid={Uri.EscapeDataString(_options.SubMchId!)}" : string.Empty);
        var reply = await SendAsync(HttpMethod.Get, $"/v3/profitsharing/orders/{Uri.EscapeDataString(outOrderNo)}?{query}", null, cancellationToken);
        return reply is { Outcome: WalletCallOutcome.Rejected, Status: HttpStatusCode.NotFound }
            ? SplitCallResult.Ok(SplitState.NotFound, null, [])
            : ToSplitResult(reply);
    }

    public async Task<SplitReturnResult> ReturnAsync(SplitReturnRequest request, CancellationToken cancellationToken)
    {
        var body = JsonSerializer.Serialize(new WxProfitSharingReturnRequest(_options.SubMchId, request.OutOrderNo, request.OutReturnNo, request.ReturnAccount, request.Amount,
            Truncate(request.Description, 80)), WxJson.Default.WxProfitSharingReturnRequest);
        return ToReturnResult(await SendAsync(HttpMethod.Post, "/v3/profitsharing/return-orders", body, cancellationToken));
    }

    public async Task<SplitReturnResult> QueryReturnAsync(string outOrderNo, string outReturnNo, CancellationToken cancellationToken)
    {
        var query = $"out_order_no={Uri.EscapeDataString(outOrderNo)}" + (_options.IsServiceProvider ? $"&sub_mchid={Uri.EscapeDataString(_options.SubMchId!)}" : string.Empty);
        var reply = await SendAsync(HttpMethod.Get, $"/v3/profitsharing/return-orders/{Uri.EscapeDataString(outReturnNo)}?{query}", null, cancellationToken);
        return reply is { Outcome: WalletCallOutcome.Rejected, Status: HttpStatusCode.NotFound }
            ? new SplitReturnResult(WalletCallOutcome.Ok, RefundStatus.NotFound, null)
            : ToReturnResult(reply);
    }

    private static string TypeOf(ReceiverType type) => type == ReceiverType.Merchant ? "MERCHANT_ID" : "PERSONAL_OPENID";

    /// <summary>RSA-OAEP (SHA-1, as the wallet's RSA/ECB/OAEPWithSHA-1AndMGF1Padding) with the platform key; no name, nothing to encrypt.</summary>
    private bool TryEncrypt(string? plain, out string? cipher, out string? serial)
    {
        (cipher, serial) = (null, null);
        if (string.IsNullOrEmpty(plain))
        {
            return true;
        }

        if (!_keys.TryGetEncryptionKey(out var s, out var key))
        {
            return false;
        }

        cipher = Convert.ToBase64String(key.Encrypt(Encoding.UTF8.GetBytes(plain), RSAEncryptionPadding.OaepSHA1));
        serial = s;
        return true;
    }

    private static SplitCallResult ToSplitResult(Reply reply)
    {
        if (reply.Outcome == WalletCallOutcome.Ok && Parse(reply.Body, WxJson.Default.WxProfitSharingOrder) is { State: { } state } order)
        {
            var receivers = (order.Receivers ?? []).Select(r => new SplitReceiverOutcome(r.Account ?? string.Empty, r.Amount, r.Result switch
            {
                "SUCCESS" => SplitReceiverResult.Succeeded,
                "CLOSED" => SplitReceiverResult.Failed,
                _ => SplitReceiverResult.Pending,
            }, r.FailReason)).ToList();
            return state switch
            {
                "FINISHED" => SplitCallResult.Ok(SplitState.Finished, order.OrderId, receivers),
                "PROCESSING" => SplitCallResult.Ok(SplitState.Processing, order.OrderId, receivers),
                _ => SplitCallResult.Unknown($"unrecognised profit-sharing state {state}"),
            };
        }

        return reply.Outcome == WalletCallOutcome.Rejected ? SplitCallResult.Rejected(reply.Error!) : SplitCallResult.Unknown(reply.Error?.Message ?? "unreadable answer");
    }

    private static SplitReturnResult ToReturnResult(Reply reply)
    {
        if (reply.Outcome == WalletCallOutcome.Ok && Parse(reply.Body, WxJson.Default.WxProfitSharingReturn) is { Result: { } result })
        {
            return new SplitReturnResult(WalletCallOutcome.Ok, result switch
            {
                "SUCCESS" => RefundStatus.Succeeded,
                "FAILED" => RefundStatus.Failed,
                _ => RefundStatus.Processing,
            }, null);
        }

        return reply.Outcome == WalletCallOutcome.Rejected ? SplitReturnResult.Rejected(reply.Error!) : SplitReturnResult.Unknown(reply.Error?.Message ?? "unreadable answer");
    }
}
