using System.Text.Json.Nodes;
using Hutong.Connectors.Abstractions;

namespace Hutong.Connectors.Alipay;

/// <summary>
/// Alipay 单笔转账 (transfer to an Alipay account): alipay.fund.trans.uni.transfer with product_code TRANS_ACCOUNT_NO_PWD and
/// biz_scene DIRECT_TRANSFER, followed by alipay.fund.trans.common.query. Field names and values from Alipay's own SDK
/// models: github.com/alipay/alipay-sdk-java-all src/main/java/com/alipay/api/domain/AlipayFundTransUniTransferModel.java
/// (out_biz_no, trans_amount in yuan with 2 decimals, product_code, biz_scene, order_title, payee_info{identity,
/// identity_type, name}, remark, passback_params) and alipay-sdk-python AlipayFundTransCommonQueryResponse (order_id,
/// out_biz_no, status, error_code, fail_reason); the query needs product_code and biz_scene with out_biz_no
/// (opendocs api_28/alipay.fund.trans.common.query). Status: SUCCESS, DEALING / INIT / WAIT_PAY (open), FAIL, REFUND (bank
/// only: returned), CLOSED.
/// </summary>
public sealed partial class AlipayConnector : IPayoutConnector
{
    public const string TransferProduct = "TRANS_ACCOUNT_NO_PWD";
    public const string TransferScene = "DIRECT_TRANSFER";

    public async Task<PayoutCallResult> PayoutAsync(PayoutRequest request, CancellationToken cancellationToken)
    {
        if (request.Currency != "CNY")
        {
            return PayoutCallResult.Rejected(new WalletError("INVALID_PARAMETER", "Alipay transfers are CNY only."));
        }

        var payee = new JsonObject { ["identity"] = request.Payee.Identity, ["identity_type"] = request.Payee.IdentityType };
        if (!string.IsNullOrEmpty(request.Payee.Name))
        {
            payee["name"] = request.Payee.Name;
        }

        var biz = new JsonObject
        {
            ["out_biz_no"] = request.OutBizNo,
            ["trans_amount"] = AlipayAmount.FromFen(request.Amount),
            ["product_code"] = TransferProduct,
            ["biz_scene"] = TransferScene,
            ["order_title"] = request.Title,
            ["payee_info"] = payee,
            ["passback_params"] = request.Reference,
        };
        if (!string.IsNullOrEmpty(request.Remark))
        {
            biz["remark"] = request.Remark;
        }

        var reply = await CallAsync("alipay.fund.trans.uni.transfer", biz, null, cancellationToken);
        return reply.Outcome switch
        {
            WalletCallOutcome.Ok => Transfer(reply.Response!),
            // SYSTEM_ERROR leaves the transfer's fate open (it may have gone through): queried, never taken as a refusal.
            WalletCallOutcome.Rejected when reply.Error?.Code is "SYSTEM_ERROR" or "aop.SYSTEM_ERROR" => PayoutCallResult.Unknown(reply.Error.Message),
            WalletCallOutcome.Rejected => PayoutCallResult.Rejected(reply.Error!),
            _ => PayoutCallResult.Unknown(reply.Error?.Message ?? "no answer"),
        };
    }

    public async Task<PayoutCallResult> QueryPayoutAsync(string outBizNo, CancellationToken cancellationToken)
    {
        var reply = await CallAsync("alipay.fund.trans.common.query",
            new JsonObject { ["product_code"] = TransferProduct, ["biz_scene"] = TransferScene, ["out_biz_no"] = outBizNo }, null, cancellationToken);
        if (reply.Outcome == WalletCallOutcome.Rejected && reply.Error?.Code is "ORDER_NOT_EXIST")
        {
            return PayoutCallResult.Ok(PayoutWalletState.NotFound, null);
        }

        return reply.Outcome switch
        {
            WalletCallOutcome.Ok => Transfer(reply.Response!),
            // A query refused for another reason says nothing about the transfer: asked again later.
            _ => PayoutCallResult.Unknown(reply.Error?.Message ?? "no answer"),
        };
    }

    private static PayoutCallResult Transfer(JsonObject r)
    {
        var orderId = r["order_id"]?.GetValue<string>();
        return r["status"]?.GetValue<string>() switch
        {
            "SUCCESS" => PayoutCallResult.Ok(PayoutWalletState.Succeeded, orderId),
            "FAIL" or "REFUND" or "CLOSED" => PayoutCallResult.Ok(PayoutWalletState.Failed, orderId,
                new WalletError(r["error_code"]?.GetValue<string>() ?? "TRANSFER_FAILED", r["fail_reason"]?.GetValue<string>() ?? "Alipay did not complete the transfer.")),
            "DEALING" or "INIT" or "WAIT_PAY" => PayoutCallResult.Ok(PayoutWalletState.Processing, orderId),
            // UNKNOWN or anything unrecognised: still open, queried again.
            _ => PayoutCallResult.Ok(PayoutWalletState.Processing, orderId),
        };
    }
}
