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
/// CANCELING, CANCELLED. A service provider (SubMchId set) uses the partner API for its sub-merchant, which funds the
/// transfer: POST /v3/fund-app/mch-transfer/partner/transfer-bills (sub_mchid in the body), GET …/partner/transfer-bills/
/// out-bill-no/{out_bill_no}?sub_mchid=…, POST …/cancel with {"sub_mchid"} (wechatpay-im/website openapi/v3/fund-app/
/// mch-transfer/partner/*.md; pay.weixin.qq.com/doc/v3/partner/4015469096, 4015469131, 4015469118; docs/payouts-partner.md).
/// The sub-merchant must first have authorised the service provider (…/partner/sub-mch-authorizations), done outside the hub.
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
        if (request.Currency != "CNY")
        {
            return PayoutCallResult.Rejected(new WalletError("PARAM_ERROR", "WeChat Pay merchant transfers are CNY."));
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
        var remark = Truncate(request.Title, TransferRemarkMaxChars);
        var body = _options.IsServiceProvider
            ? JsonSerializer.Serialize(new WxPartnerTransferBillRequest(
                _options.SubMchId!, ConfirmationAccount.AppId, request.OutBizNo, _options.TransferSceneId, request.Payee.Identity, name, request.Amount,
                remark, request.NotifyUrl, _options.TransferUserRecvPerception, reports.Count == 0 ? null : reports), WxTransferJson.Default.WxPartnerTransferBillRequest)
            : JsonSerializer.Serialize(new WxTransferBillRequest(
                ConfirmationAccount.AppId, request.OutBizNo, _options.TransferSceneId, request.Payee.Identity, name, request.Amount,
                remark, request.NotifyUrl, _options.TransferUserRecvPerception, reports.Count == 0 ? null : reports), WxTransferJson.Default.WxTransferBillRequest);
        return ToPayoutResult(await SendAsync(HttpMethod.Post, $"/v3/fund-app/mch-transfer/{TransferPartner}transfer-bills", body, cancellationToken, encryptedWithSerial: serial));
    }

    public async Task<PayoutCallResult> QueryPayoutAsync(string outBizNo, CancellationToken cancellationToken)
    {
        var query = _options.IsServiceProvider ? $"?sub_mchid={Uri.EscapeDataString(_options.SubMchId!)}" : string.Empty;
        var reply = await SendAsync(HttpMethod.Get, $"/v3/fund-app/mch-transfer/{TransferPartner}transfer-bills/out-bill-no/{Uri.EscapeDataString(outBizNo)}{query}", null, cancellationToken);
        if (reply is { Outcome: WalletCallOutcome.Rejected, Status: HttpStatusCode.NotFound })
        {
            return PayoutCallResult.Ok(PayoutWalletState.NotFound, null); // NOT_FOUND: the wallet never got it
        }

        // A query refused for another reason says nothing about the transfer: asked again later.
        return reply.Outcome == WalletCallOutcome.Rejected ? PayoutCallResult.Unknown(reply.Error!.Message) : ToPayoutResult(reply);
    }

    public async Task<PayoutCallResult> CancelPayoutAsync(string outBizNo, CancellationToken cancellationToken) =>
        ToPayoutResult(await SendAsync(HttpMethod.Post, $"/v3/fund-app/mch-transfer/{TransferPartner}transfer-bills/out-bill-no/{Uri.EscapeDataString(outBizNo)}/cancel",
            _options.IsServiceProvider ? JsonSerializer.Serialize(new WxPartnerCancelTransferRequest(_options.SubMchId!), WxTransferJson.Default.WxPartnerCancelTransferRequest) : null,
            cancellationToken));

    /// <summary>"partner/" for a service provider: /v3/fund-app/mch-transfer/partner/transfer-bills… (the direct API answers a service provider 403).</summary>
    private string TransferPartner => _options.IsServiceProvider ? "partner/" : string.Empty;

    /// <summary>The sub-merchant a service provider transfers for (wx.requestMerchantTransfer's subMchId, 服务商模式下必填); null for a direct merchant.</summary>
    public string? ConfirmationSubMchId => _options.IsServiceProvider ? _options.SubMchId : null;

    private static PayoutCallResult ToPayoutResult(Reply reply)
    {
        if (reply.Outcome == WalletCallOutcome.Rejected)
        {
            return PayoutCallResult.Rejected(reply.Error!);
        }

        var parsed = reply.Outcome == WalletCallOutcome.Ok ? Parse(reply.Body, WxTransferJson.Default.WxTransferBill) : null;
        // The partner create answer lists sub_mchid, out_bill_no, transfer_bill_no, create_time and package_info, without
        // state (website openapi/v3/fund-app/mch-transfer/partner/transfer-bills.md, 返回字典): a bill with package_info waits
        // for the payee. Without either, nothing is known and the payout is queried.
        var state = parsed?.State ?? (parsed?.PackageInfo is { Length: > 0 } ? "WAIT_USER_CONFIRM" : null);
        if (parsed is null || state is null)
        {
            return PayoutCallResult.Unknown(reply.Error?.Message ?? "unreadable transfer answer");
        }

        return MapBill(parsed, state);
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
