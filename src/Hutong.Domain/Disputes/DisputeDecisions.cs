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
}

public static class DisputeDecisions
{
    /// <summary>The hub's state for a wallet's complaint state; null for a word the hub does not know (nothing is changed then).</summary>
    /// <param name="walletState">WeChat complaint_state: PENDING, PROCESSING, PROCESSED.</param>
    /// <param name="incomingUserResponse">The buyer wrote and nobody answered yet: the merchant owes a reply again.</param>
    public static DisputeState? FromWallet(string walletState, bool incomingUserResponse) => walletState switch
    {
        "PENDING" => DisputeState.NeedsResponse,
        "PROCESSING" => incomingUserResponse ? DisputeState.NeedsResponse : DisputeState.UnderReview,
        "PROCESSED" => DisputeState.Closed,
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
