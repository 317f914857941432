namespace Hutong.Domain.Disputes;

/// <summary>What the merchant is told about a dispute's deadline now.</summary>
public enum DeadlineAlert
{
    None,

    /// <summary>The response window closes within the warning time: dispute.deadline_approaching, once.</summary>
    Approaching,

    /// <summary>The window closed without an answer: logged and counted, once.</summary>
    Overdue,
}

/// <summary>What a fresh read of the wallet's complaint does to the hub's dispute.</summary>
/// <param name="Next">The dispute's state now.</param>
/// <param name="Event">The webhook the change commits with (dispute.created / dispute.updated / dispute.closed), or null when nothing changed.</param>
public sealed record DisputeChange(DisputeState Next, string? Event);

/// <summary>The response windows of a wallet, from when the complaint was filed.</summary>
/// <param name="FirstResponse">The merchant's first answer to the buyer is due (WeChat: 24 hours).</param>
/// <param name="Resolution">The complaint is to be handled and marked complete (WeChat: 72 hours).</param>
public sealed record ResponseWindows(TimeSpan FirstResponse, TimeSpan Resolution)
{
    /// <summary>
    /// WeChat Pay: "商家最晚需在投诉单生成24h内操作回复 … 最晚需在投诉单生成72h内妥善处理完用户问题"
    /// (消费者投诉处理指南, kf.qq.com/faq/230125a6NbmA230125vMNZnE.html).
    /// </summary>
    public static ResponseWindows WeChatPay { get; } = new(TimeSpan.FromHours(24), TimeSpan.FromHours(72));

    /// <summary>
    /// Alipay trade complaints (交易投诉): the merchant handles a MERCHANT_PROCESSING complaint (feedback.submit) within 72 hours
    /// of its creation, after which the status reads 商家处理超时 (the "merchant processing timed out" state that
    /// alipay.merchant.tradecomplain.reply.submit names, alipay-sdk-net-all v3/docs/AlipayMerchantTradecomplainReplyApi.md).
    /// The 72-hour figure is NOT pinned by a public source found so far (see docs/disputes.md, "Alipay"); it is the
    /// conservative reading until one is: answer and resolution share the window.
    /// </summary>
    public static ResponseWindows Alipay { get; } = new(TimeSpan.FromHours(72), TimeSpan.FromHours(72));

    /// <summary>The windows of a wallet by its name (wechatpay, alipay); WeChat Pay's, the shortest, for any other.</summary>
    public static ResponseWindows For(string wallet) => wallet == "alipay" ? Alipay : WeChatPay;
}

public static class DisputeDecisions
{
    /// <summary>The hub's state for a wallet's complaint state; null for a word the hub does not know (nothing is changed then).</summary>
    /// <param name="walletState">WeChat complaint_state: PENDING, PROCESSING, PROCESSED. Alipay trade-complaint status:
    /// MERCHANT_PROCESSING (商家处理中), MERCHANT_FEEDBACKED (商家已反馈), PLATFORM_PROCESSING (平台处理中), FINISHED (投诉已完结),
    /// CANCELLED (投诉已撤销), PLATFORM_FINISH (平台处理完结), CLOSED (系统关闭) — the words of
    /// AlipayMerchantTradecomplainBatchqueryModel.status (essensoft/paylink, alipay-sdk-net-all).</param>
    /// <param name="incomingUserResponse">The buyer wrote and nobody answered yet: the merchant owes a reply again.</param>
    public static DisputeState? FromWallet(string walletState, bool incomingUserResponse) => walletState switch
    {
        "PENDING" => DisputeState.NeedsResponse,
        "PROCESSING" => incomingUserResponse ? DisputeState.NeedsResponse : DisputeState.UnderReview,
        "PROCESSED" => DisputeState.Closed,
        "MERCHANT_PROCESSING" => DisputeState.NeedsResponse,
        "MERCHANT_FEEDBACKED" => incomingUserResponse ? DisputeState.NeedsResponse : DisputeState.UnderReview,
        "PLATFORM_PROCESSING" => DisputeState.UnderReview,
        "FINISHED" or "CANCELLED" or "PLATFORM_FINISH" or "CLOSED" => DisputeState.Closed,
        _ => null,
    };

    /// <summary>
    /// A read of the complaint against what the hub has (null: it has nothing yet). <paramref name="changedOtherwise"/>:
    /// something shown besides the state moved (a new message, the refund flag). An illegal move throws.
    /// </summary>
    public static DisputeChange Observe(DisputeState? current, DisputeState next, bool changedOtherwise)
    {
        if (current is not { } from)
        {
            return new DisputeChange(next, "dispute.created");
        }

        DisputeStates.Machine.Apply(from, next).ToOrThrow();
        if (from == next)
        {
            return new DisputeChange(next, changedOtherwise ? "dispute.updated" : null);
        }

        return new DisputeChange(next, next == DisputeState.Closed ? "dispute.closed" : "dispute.updated");
    }

    /// <summary>When the first answer is due.</summary>
    public static DateTimeOffset RespondBy(DateTimeOffset filedAt, ResponseWindows windows) => filedAt + windows.FirstResponse;

    /// <summary>
    /// The deadline alert a dispute takes now: only one that still needs the merchant's answer has a running window; each
    /// alert is given once (<paramref name="approachingSent"/>, <paramref name="overdueSent"/> say which were).
    /// </summary>
    public static DeadlineAlert Deadline(DisputeState state, DateTimeOffset respondBy, DateTimeOffset now, TimeSpan warnBefore, bool approachingSent, bool overdueSent)
    {
        if (state != DisputeState.NeedsResponse)
        {
            return DeadlineAlert.None;
        }

        if (now >= respondBy)
        {
            return overdueSent ? DeadlineAlert.None : DeadlineAlert.Overdue;
        }

        return !approachingSent && now >= respondBy - warnBefore ? DeadlineAlert.Approaching : DeadlineAlert.None;
    }

    /// <summary>Which merchant actions a dispute in <paramref name="state"/> takes: a closed one takes no answer or close.</summary>
    public static Failure? CanAct(DisputeState state, string action) => state == DisputeState.Closed && action is "respond" or "close"
        ? Failure.Conflict("dispute_closed", "The dispute is closed.", $"A closed dispute cannot {action}; the buyer may reopen it at the wallet.")
        : null;
}
