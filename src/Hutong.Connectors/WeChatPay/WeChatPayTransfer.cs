using System.Net;
using System.Text.Json;
using Hutong.Connectors.Abstractions;
using Hutong.Connectors.WeChatPay.Models;

namespace Hutong.Connectors.WeChatPay;

/// <summary>
/// WeChat Pay merchant transfer (商家转账, user-confirmation mode, since 2025-01-15): POST
/// /v3/fund-app/mch-transfer/transfer-bills, GET …/out-bill-no/{out_bill_no}, POST …/out-bill-no/{out_bill_no}/cancel and
/// the MCHTRANSFER.BILL.FINISHED notification (mapped in <see cref="WeChatPayNotificationVerifier"/>). out_bill_no is the
/// wallet's idempotency key. States (wechatpy WeChatMchTransferState; wechatpay-im/website): ACCEPTED, PROCESSING,
/// TRANSFERING (open), WAIT_USER_CONFIRM (the payee confirms in WeChat, opened with package_info), SUCCESS, FAIL,
/// CANCELING, CANCELLED. Direct merchants only (service providers use /v3/fund-app/mch-transfer/partner/…).
/// </summary>
public sealed partial class WeChatPayConnector : IPayoutConnector, IPayoutCancelConnector
{
    /// <summary>
    /// user_name is required at or above 2,000 yuan (wechatpy mch_transfer_bills: "转账金额 >= 2,000元时，该笔明细必须填写"),
    /// and travels RSA-OAEP encrypted with the platform key named in Wechatpay-Serial.
    /// </summary>
    public const long RealNameThresholdFen = 200_000;

    /// <summary>transfer_remark: at most 32 characters, shown to the payee (wechatpy: "最多允许32个字符").</summary>
    public const int TransferRemarkMaxChars = 32;

    public (string MchId, string AppId) ConfirmationAccount => (_options.MchId, _options.TransferAppId ?? _options.AppId);

    public async Task<PayoutCallResult> PayoutAsync(PayoutRequest request, CancellationToken cancellationToken)
    {
        if (request.Currency != "CNY" || _options.IsServiceProvider)
        {
            return PayoutCallResult.Rejected(new WalletError("PARAM_ERROR", "WeChat Pay merchant transfers are CNY, from a direct merchant."));
        }

        if (request.Payee.IdentityType != "WECHAT_OPENID")
        {
            return PayoutCallResult.Rejected(new WalletError("PARAM_ERROR", "WeChat Pay transfers go to an openid."));
        }

        if (!TryEncrypt(request.Payee.Name, out var name, out var serial))
        {
            // Cannot be sent without the name the wallet needs: not sent at all, so nothing is at the wallet.
            return PayoutCallResult.Rejected(new WalletError("NO_PLATFORM_KEY", "No platform key to encrypt the payee's name with."));
        }

        var reports = (_options.TransferSceneReportInfos.Count > 0 || _options.TransferSceneId != "1005"
                ? _options.TransferSceneReportInfos
                : new Dictionary<string, string>(StringComparer.Ordinal) { ["岗位类型"] = "合作伙伴", ["报酬说明"] = "佣金结算" })
            .Select(kv => new WxTransferSceneReportInfo(kv.Key, kv.Value)).ToList();
        var body = JsonSerializer.Serialize(new WxTransferBillRequest(
            ConfirmationAccount.AppId, request.OutBizNo, _options.TransferSceneId, request.Payee.Identity, name, request.Amount,
            Truncate(request.Title, TransferRemarkMaxChars), request.NotifyUrl, _options.TransferUserRecvPerception, reports.Count == 0 ? null : reports),
            WxTransferJson.Default.WxTransferBillRequest);
        return ToPayoutResult(await SendAsync(HttpMethod.Post, "/v3/fund-app/mch-transfer/transfer-bills", body, cancellationToken, encryptedWithSerial: serial));
    }

    public async Task<PayoutCallResult> QueryPayoutAsync(string outBizNo, CancellationToken cancellationToken)
    {
        var reply = await SendAsync(HttpMethod.Get, $"/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{Uri.EscapeDataString(outBizNo)}", null, cancellationToken);
        if (reply is { Outcome: WalletCallOutcome.Rejected, Status: HttpStatusCode.NotFound })
        {
            return PayoutCallResult.Ok(PayoutWalletState.NotFound, null); // NOT_FOUND: the wallet never got it
        }

        // A query refused for another reason says nothing about the transfer: asked again later.
        return reply.Outcome == WalletCallOutcome.Rejected ? PayoutCallResult.Unknown(reply.Error!.Message) : ToPayoutResult(reply);
    }

    public async Task<PayoutCallResult> CancelPayoutAsync(string outBizNo, CancellationToken cancellationToken) =>
        ToPayoutResult(await SendAsync(HttpMethod.Post, $"/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{Uri.EscapeDataString(outBizNo)}/cancel", null,
            cancellationToken));

    private static PayoutCallResult ToPayoutResult(Reply reply)
    {
        if (reply.Outcome == WalletCallOutcome.Rejected)
        {
            return PayoutCallResult.Rejected(reply.Error!);
        }

        if (reply.Outcome != WalletCallOutcome.Ok || Parse(reply.Body, WxTransferJson.Default.WxTransferBill) is not { State: { } state } bill)
        {
            return PayoutCallResult.Unknown(reply.Error?.Message ?? "unreadable transfer answer");
        }

        return MapBill(bill, state);
    }

    internal static PayoutCallResult MapBill(WxTransferBill bill, string state) => state switch
    {
        "SUCCESS" => PayoutCallResult.Ok(PayoutWalletState.Succeeded, bill.TransferBillNo),
        "FAIL" => PayoutCallResult.Ok(PayoutWalletState.Failed, bill.TransferBillNo,
            new WalletError(bill.FailReason ?? "TRANSFER_FAILED", "WeChat Pay did not complete the transfer.")),
        "WAIT_USER_CONFIRM" => PayoutCallResult.Ok(PayoutWalletState.AwaitingConfirmation, bill.TransferBillNo, packageInfo: bill.PackageInfo),
        "CANCELING" => PayoutCallResult.Ok(PayoutWalletState.Canceling, bill.TransferBillNo),
        "CANCELLED" => PayoutCallResult.Ok(PayoutWalletState.Canceled, bill.TransferBillNo,
            new WalletError("CANCELLED", "The transfer was withdrawn before the payee accepted it.")),
        // ACCEPTED, PROCESSING, TRANSFERING, or anything unrecognised: still open, queried again.
        _ => PayoutCallResult.Ok(PayoutWalletState.Processing, bill.TransferBillNo),
    };
}
