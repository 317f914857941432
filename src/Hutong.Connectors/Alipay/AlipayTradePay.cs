using System.Text.Json.Nodes;
using Hutong.Connectors.Abstractions;

namespace Hutong.Connectors.Alipay;

/// <summary>
/// The buyer's payment code (当面付 条码支付) at Alipay: alipay.trade.pay with scene=bar_code and the code as auth_code;
/// 10000 is paid, 10003 (等待用户付款, WAIT_BUYER_PAY) means the buyer is confirming and is followed by alipay.trade.query,
/// and alipay.trade.cancel (撤销: closes an unpaid trade, refunds a paid one) undoes a trade that must not stand
/// (opendocs.alipay.com/open/194/106039, 条码支付 "轮询+撤销" flow).
/// </summary>
public sealed partial class AlipayConnector : IPaymentCodeConnector
{
    public async Task<CodePaymentResult> PayWithCodeAsync(CodePaymentRequest request, CancellationToken cancellationToken)
    {
        if (request.Amount.Currency.Code != "CNY")
        {
            return CodePaymentResult.Rejected(new WalletError("INVALID_PARAMETER", "Alipay payment codes are CNY only."));
        }

        var biz = new JsonObject
        {
            ["out_trade_no"] = request.OutTradeNo,
            ["scene"] = "bar_code",
            ["auth_code"] = request.AuthCode,
            ["subject"] = request.Description.Length > SubjectMaxChars ? request.Description[..SubjectMaxChars] : request.Description,
            ["total_amount"] = AlipayAmount.FromFen(request.Amount.Minor),
        };
        var reply = await CallAsync("alipay.trade.pay", biz, null, cancellationToken);
        var r = reply.Response;
        if (reply.Outcome == WalletCallOutcome.Ok && r is not null)
        {
            return CodePaymentResult.Ok(new WalletTransaction(
                request.OutTradeNo, WalletStatus.Succeeded, "TRADE_SUCCESS", r["trade_no"]?.GetValue<string>(),
                AlipayAmount.TryParseFen(r["total_amount"]?.GetValue<string>(), out var fen) ? fen : null, "CNY",
                r["buyer_user_id"]?.GetValue<string>() ?? r["buyer_logon_id"]?.GetValue<string>(), ParseTime(r["gmt_payment"]?.GetValue<string>()), null));
        }

        if (reply.Outcome == WalletCallOutcome.Rejected && r?["code"]?.GetValue<string>() == "10003")
        {
            return CodePaymentResult.Ok(new WalletTransaction(request.OutTradeNo, WalletStatus.Paying, "WAIT_BUYER_PAY", r["trade_no"]?.GetValue<string>(), null, null, null, null, null));
        }

        return reply.Outcome == WalletCallOutcome.Rejected
            ? CodePaymentResult.Rejected(reply.Error!)
            : CodePaymentResult.Unknown(reply.Error?.Message ?? "no answer");
    }

    public Task<QueryResult> QueryCodePaymentAsync(string outTradeNo, CancellationToken cancellationToken) => QueryAsync(outTradeNo, cancellationToken);

    public async Task<CloseResult> ReverseAsync(string outTradeNo, CancellationToken cancellationToken)
    {
        var reply = await CallAsync("alipay.trade.cancel", new JsonObject { ["out_trade_no"] = outTradeNo }, null, cancellationToken);
        return reply switch
        {
            { Outcome: WalletCallOutcome.Ok, Response: var r } when r?["retry_flag"]?.GetValue<string>() == "Y" => CloseResult.Unknown("alipay.trade.cancel asks to be retried (retry_flag=Y)"),
            { Outcome: WalletCallOutcome.Ok } => CloseResult.Ok,
            { Outcome: WalletCallOutcome.Rejected, Error.Code: "ACQ.TRADE_NOT_EXIST" } => CloseResult.Ok, // never reached Alipay: nothing to charge
            { Outcome: WalletCallOutcome.Rejected } => CloseResult.Rejected(reply.Error!),
            _ => CloseResult.Unknown(reply.Error?.Message ?? "no answer"),
        };
    }
}
