using Hutong.Connectors.Abstractions;

namespace Hutong.Connectors.UnionPay;

/// <summary>
/// UnionPay app pay (手机控件支付): the hub asks appTransReq for a tn (txnType=01, txnSubType=01, bizType=000201,
/// channelType=08; zhangv/union-pay@13eca48cf95a241a51b2158a79cb40a932bcd8b8 src/service/App.php pay(), after
/// open.unionpay.com proId=3), and the merchant's app hands that tn to UnionPay's SDK (UPPayAssistEx.startPay). The
/// result comes like any other: the backUrl notification or the query.
/// </summary>
public sealed partial class UnionPayConnector : IInAppPayConnector
{
    public IReadOnlyList<PayFlow> InAppFlows => _options.AppPay ? [PayFlow.App] : [];

    public async Task<CreateOrderResult> CreateInAppOrderAsync(PayFlow flow, CreateOrderRequest request, FlowPayer payer, CancellationToken cancellationToken)
    {
        if (flow != PayFlow.App || !_options.AppPay)
        {
            return CreateOrderResult.Rejected(new WalletError("FLOW_NOT_SUPPORTED", $"This UnionPay account has no {PayFlows.Wire(flow)} flow."));
        }

        if (request.Amount.Currency.Code != "CNY")
        {
            return CreateOrderResult.Rejected(new WalletError("CURRENCY", "UnionPay app orders are CNY (156) only."));
        }

        return await ConsumeAsync("/gateway/api/appTransReq.do", "01", bizType: "000201", request, "tn", cancellationToken);
    }

    /// <summary>The app SDK needs only the tn (and its own mode: "00" production, "01" UnionPay's test environment).</summary>
    public InAppPayParams? PayParams(PayFlow flow, string orderHandle) =>
        flow == PayFlow.App ? new InAppPayParams(flow, new Dictionary<string, string> { ["tn"] = orderHandle }) : null;
}
