using System.Globalization;
using Hutong.Connectors.Abstractions;

namespace Hutong.Connectors.UnionPay;

/// <summary>
/// The buyer's payment code (付款码, 二维码支付 被扫) at UnionPay, ACP 5.1.0 through backTransReq: 消费 with txnType=01,
/// txnSubType=06, bizType=000000, channelType=08 and the scanned code in qrNo; reversed by 冲正 (txnType=99,
/// txnSubType=01) naming the original orderId and txnTime, which the spec keeps for timeouts and unknown outcomes on the
/// day of the payment (zhangv/union-pay@68ca00edc928793781e95bc08cfa23693ad27cc1 src/service/Qrcode.php, pay() and
/// reverse(), after open.unionpay.com 二维码支付 proId=89).
/// The synchronous 00 only says UnionPay accepted the consumption: the result follows by the 消费结果通知 (backUrl) or the
/// query (kalvan2019/noahpay api-docs/docs/api/api-scanpay-besweeper-trans.zh-CN.md: "银联收到消费请求后将立刻返回同步应答，
/// 然后继续处理消费交易…通过消费结果通知将交易结果返回"), so an accepted order is queried once at once: paid is paid,
/// anything else is the buyer still confirming (origRespCode 03/05), followed by the hub's payment-code poll.
/// </summary>
public sealed partial class UnionPayConnector : IPaymentCodeConnector
{
    public async Task<CodePaymentResult> PayWithCodeAsync(CodePaymentRequest request, CancellationToken cancellationToken)
    {
        if (request.Amount.Currency.Code != "CNY")
        {
            return CodePaymentResult.Rejected(new WalletError("CURRENCY", "UnionPay payment codes are CNY (156) only."));
        }

        var fields = Common("01", "06", request.OutTradeNo);
        fields["txnAmt"] = request.Amount.Minor.ToString(CultureInfo.InvariantCulture);
        fields["currencyCode"] = "156";
        fields["qrNo"] = request.AuthCode;
        // backUrl is required for a 消费; the hub always has one (the attempt's notify URL).
        fields["backUrl"] = request.NotifyUrl ?? "https://example.invalid/no-notify";
        if (request.Attach is not null)
        {
            fields["reqReserved"] = request.Attach;
        }

        var reply = await CallAsync("/gateway/api/backTransReq.do", fields, cancellationToken);
        if (reply.Outcome == WalletCallOutcome.Rejected)
        {
            return CodePaymentResult.Rejected(reply.Error!);
        }

        if (reply.Outcome != WalletCallOutcome.Ok)
        {
            return CodePaymentResult.Unknown(reply.Error?.Message ?? "no answer");
        }

        var query = await QueryAsync(request.OutTradeNo, cancellationToken);
        return query switch
        {
            { Outcome: WalletCallOutcome.Ok, Transaction: { Status: WalletStatus.Succeeded } paid } => CodePaymentResult.Ok(paid),
            { Outcome: WalletCallOutcome.Ok, Transaction: { Status: WalletStatus.Failed } failed } =>
                CodePaymentResult.Rejected(new WalletError(failed.RawStatus, "UnionPay accepted the code, then the consumption failed.")),
            // Accepted and not (yet) paid, or the query went unanswered: the buyer is confirming; the hub follows it.
            _ => CodePaymentResult.Ok(new WalletTransaction(request.OutTradeNo, WalletStatus.Paying, query.Transaction?.RawStatus ?? "03",
                reply.Fields!.GetValueOrDefault("queryId"), null, null, null, null, null)),
        };
    }

    public Task<QueryResult> QueryCodePaymentAsync(string outTradeNo, CancellationToken cancellationToken) => QueryAsync(outTradeNo, cancellationToken);

    /// <summary>冲正 by the original orderId and txnTime: an unpaid consumption is stopped, a paid one returned in full.</summary>
    public async Task<CloseResult> ReverseAsync(string outTradeNo, CancellationToken cancellationToken)
    {
        var reply = await CallAsync("/gateway/api/backTransReq.do", Common("99", "01", outTradeNo), cancellationToken);
        return reply switch
        {
            { Outcome: WalletCallOutcome.Ok } => CloseResult.Ok,
            // 34 查无此交易 / 35 原交易不存在: the consumption never reached UnionPay, so nothing can be charged.
            { Outcome: WalletCallOutcome.Rejected, Error.Code: "34" or "35" } => CloseResult.Ok,
            { Outcome: WalletCallOutcome.Rejected } => CloseResult.Rejected(reply.Error!),
            _ => CloseResult.Unknown(reply.Error?.Message ?? "no answer"),
        };
    }
}
