using Hutong.Domain.Ledger;

namespace Hutong.Domain.Settlement;

/// <summary>Who a split pays, in the merchant's terms.</summary>
public enum ReceiverRole
{
    Platform,
    Host,
    Agency,
}

/// <summary>How the wallet knows the receiver: another merchant account, or a person (WeChat openid, Alipay user id).</summary>
public enum ReceiverType
{
    Merchant,
    Personal,
}

/// <summary>How split money comes back when the payment is refunded.</summary>
public enum SplitReturnMode
{
    /// <summary>The wallet has a return API, but only for merchant receivers (WeChat return-orders); people are clawed back.</summary>
    ReturnOrderFromMerchantReceivers,

    /// <summary>The refund call itself takes the receivers' shares back (Alipay refund_royalty_parameters).</summary>
    WithRefund,
}

/// <summary>
/// A wallet's profit-sharing limits. The hub checks all of them before it calls the wallet, so a split the wallet
/// would refuse never leaves the hub. Figures: WeChat ordinary merchants — max ratio set per merchant, 30 % by
/// default, funds frozen up to 30 days, at most 50 splits × 50 receivers per order, not before 1 minute after payment;
/// Alipay — 30 % by default, 50 receivers per async request.
/// </summary>
public sealed record SplitPolicy(
    int MaxRatioBasisPoints,
    int MaxReceiversPerSplit,
    int MaxSplitsPerPayment,
    TimeSpan FreezeWindow,
    TimeSpan MinDelayAfterPayment,
    SplitReturnMode Returns)
{
    public static SplitPolicy WeChatPay { get; } = new(3_000, 50, 50, TimeSpan.FromDays(30), TimeSpan.FromMinutes(1), SplitReturnMode.ReturnOrderFromMerchantReceivers);

    public static SplitPolicy Alipay { get; } = new(3_000, 50, 50, TimeSpan.FromDays(30), TimeSpan.Zero, SplitReturnMode.WithRefund);
}

/// <summary>One rule of a split: a fixed amount or a ratio (basis points of the payment net of the wallet fee).</summary>
public sealed record SplitRule(string ReceiverId, long? Amount, int? RatioBasisPoints);

/// <summary>The money a split actually sends to one receiver.</summary>
public sealed record SplitShare(string ReceiverId, long Amount);

/// <summary>What is known about a payment when a split is planned.</summary>
/// <param name="Captured">The payment amount.</param>
/// <param name="Fee">The wallet's fee on it.</param>
/// <param name="Refunded">Refunds committed (pending, in flight or done).</param>
/// <param name="AlreadySplit">Money already sent to receivers by earlier splits, net of what came back.</param>
/// <param name="SplitsSoFar">Earlier split orders on this payment.</param>
/// <param name="Finished">A final split has released the rest (unfreeze): nothing more can be split.</param>
public sealed record SplitContext(long Captured, long Fee, long Refunded, long AlreadySplit, int SplitsSoFar, bool Finished, DateTimeOffset SucceededAt);

public sealed record SplitRefusal(string Code, string Message, string? Param = null);

public static class SplitPlanner
{
    /// <summary>
    /// Turns rules into amounts and checks every wallet limit. The cap is the wallet's maximum ratio of the payment net
    /// of its fee, over all splits of the payment together; a ratio rule is of that same base, rounded down, so ratio
    /// splits can never round past the cap. Refunded money is not splittable.
    /// </summary>
    public static (IReadOnlyList<SplitShare>? Shares, SplitRefusal? Refusal) Plan(IReadOnlyList<SplitRule> rules, SplitContext p, SplitPolicy policy, DateTimeOffset now)
    {
        if (rules.Count == 0)
        {
            return Refuse("splits_required", "A split needs at least one receiver.", "splits");
        }

        if (rules.Count > policy.MaxReceiversPerSplit)
        {
            return Refuse("too_many_receivers", $"A split pays at most {policy.MaxReceiversPerSplit} receivers.", "splits");
        }

        if (rules.Select(r => r.ReceiverId).Distinct(StringComparer.Ordinal).Count() != rules.Count)
        {
            return Refuse("duplicate_receiver", "Each receiver appears once in a split.", "splits");
        }

        if (rules.Any(r => (r.Amount is null) == (r.RatioBasisPoints is null)))
        {
            return Refuse("invalid_split_rule", "Each split gives exactly one of amount or ratio_bps.", "splits");
        }

        if (rules.Any(r => r.Amount is <= 0 or > Money.MaxAmount || r.RatioBasisPoints is <= 0 or > 10_000))
        {
            return Refuse("invalid_split_rule", $"amount is 1-{Money.MaxAmount} minor units; ratio_bps is 1-10000.", "splits");
        }

        if (p.Finished)
        {
            return Refuse("split_finished", "This payment's profit sharing is finished: the rest was released to the merchant.");
        }

        if (p.SplitsSoFar >= policy.MaxSplitsPerPayment)
        {
            return Refuse("too_many_splits", $"A payment can be split at most {policy.MaxSplitsPerPayment} times.");
        }

        if (now < p.SucceededAt + policy.MinDelayAfterPayment)
        {
            return Refuse("split_too_early", $"The wallet accepts splits from {policy.MinDelayAfterPayment.TotalSeconds:0} seconds after payment.");
        }

        if (now > p.SucceededAt + policy.FreezeWindow)
        {
            return Refuse("split_window_closed", $"The wallet released this payment's funds {policy.FreezeWindow.TotalDays:0} days after payment; it can no longer be split.");
        }

        var baseAmount = checked(p.Captured - p.Fee - p.Refunded);
        var shares = rules.Select(r => new SplitShare(r.ReceiverId, r.Amount ?? checked(Math.Max(0, baseAmount) * r.RatioBasisPoints!.Value) / 10_000)).ToList();
        if (shares.Any(s => s.Amount <= 0))
        {
            return Refuse("split_amount_zero", "A ratio of what is left after fee and refunds comes to nothing.", "splits");
        }

        var total = shares.Sum(s => s.Amount); // at most MaxReceiversPerSplit × MaxAmount: cannot overflow
        var cap = Cap(p, policy);
        if (checked(p.AlreadySplit + total) > cap)
        {
            return Refuse("split_exceeds_cap",
                $"Splits may take at most {policy.MaxRatioBasisPoints / 100m:0.##}% of the payment net of the wallet fee ({cap} minor units); {p.AlreadySplit} already split, {total} asked.",
                "splits");
        }

        return (shares, null);
    }

    /// <summary>The most all splits of a payment may take together: the max ratio of the amount net of fee and refunds.</summary>
    public static long Cap(SplitContext p, SplitPolicy policy) =>
        checked(Math.Max(0, p.Captured - p.Fee - p.Refunded) * policy.MaxRatioBasisPoints) / 10_000;

    /// <summary>
    /// What a refund takes back from one receiver: its share pro rata to the refund, computed on the running total (as
    /// fees are), so partial refunds adding up to the whole take back exactly the whole share; never more than the
    /// receiver still holds, and everything it still holds when the payment is refunded in full.
    /// </summary>
    public static long ReturnOnRefund(long share, long stillHeld, long captured, long refundedBefore, long refund)
    {
        if (refundedBefore + refund >= captured)
        {
            return stillHeld;
        }

        // A share split after an earlier refund came out of less than the whole payment, so taking it back pro rata to the
        // whole would leave the receiver more than its part of what remains (and the merchant's payable below zero). The
        // receiver never keeps more than the held share's part of the rest: held × (remaining after ÷ remaining before).
        var remainingBefore = captured - refundedBefore;
        var keepAtMost = (long)(((Int128)stillHeld * (remainingBefore - refund) + remainingBefore - 1) / remainingBefore);
        return Math.Clamp(Math.Max(Postings.RunningShare(share, captured, refundedBefore, refund), stillHeld - keepAtMost), 0, stillHeld);
    }

    private static (IReadOnlyList<SplitShare>?, SplitRefusal?) Refuse(string code, string message, string? param = null) => (null, new SplitRefusal(code, message, param));
}
