using Hutong.Domain.Ledger;
using Hutong.Domain.Rollout;

namespace Hutong.Domain.Subsidies;

/// <summary>A platform subsidy campaign's life. Stored as the strings of subsidy_campaigns.status.</summary>
public enum SubsidyCampaignState
{
    /// <summary>Offered within its start/end window while budget remains.</summary>
    Active,

    /// <summary>Ended by the platform: offers no more; reservations already made are consumed or released as usual. Final.</summary>
    Ended,
}

/// <summary>
/// Where one payment's subsidy is. Stored as the strings of payments.subsidy_status (NULL: none was ever reserved).
/// Reserved against the budget and the buyer's limit when the wallet order is created; consumed in the payment's success
/// transaction; released when the payment fails, expires or is canceled, or the buyer switches to a wallet the offer does not cover.
/// </summary>
public enum SubsidyReservationState
{
    Reserved,
    Consumed,
    Released,
}

public static class SubsidyStates
{
    public static readonly StateMachine<SubsidyCampaignState, SubsidyCampaignState> Campaign = StateMachine.OfMoves<SubsidyCampaignState>("subsidy campaign",
    [
        (SubsidyCampaignState.Active, SubsidyCampaignState.Ended),
    ]);

    /// <summary>
    /// Released → Reserved: a failed payment the buyer tries again reserves anew. Released → Consumed: a wallet order placed
    /// for the reduced amount was paid after all (UnionPay's QR lapses only at its timeout): the wallet took the reduced amount,
    /// so the subsidy is owed whatever the budget says (logged as an overrun).
    /// </summary>
    public static readonly StateMachine<SubsidyReservationState, SubsidyReservationState> Reservation = StateMachine.OfMoves<SubsidyReservationState>("subsidy reservation",
    [
        (SubsidyReservationState.Reserved, SubsidyReservationState.Reserved),
        (SubsidyReservationState.Reserved, SubsidyReservationState.Consumed),
        (SubsidyReservationState.Reserved, SubsidyReservationState.Released),
        (SubsidyReservationState.Released, SubsidyReservationState.Reserved),
        (SubsidyReservationState.Released, SubsidyReservationState.Consumed),
    ]);

    public static string ToWire(this SubsidyCampaignState s) => WireName<SubsidyCampaignState>.Of(s);

    public static string ToWire(this SubsidyReservationState s) => WireName<SubsidyReservationState>.Of(s);

    public static SubsidyCampaignState CampaignFromWire(string s) => WireName<SubsidyCampaignState>.Parse(s, "subsidy campaign status");

    public static SubsidyReservationState ReservationFromWire(string s) => WireName<SubsidyReservationState>.Parse(s, "subsidy status");
}

/// <summary>How much a campaign takes off: a fixed amount, or basis points of the order amount with an optional cap (minor units).</summary>
public sealed record SubsidyTerms(long? AmountOff, int? PercentOffBps, long? MaxOff)
{
    /// <summary>
    /// The subsidy on an order of <paramref name="orderAmount"/> minor units. Percentages round DOWN to the fen (the platform
    /// never pays more than the rate), then the cap applies; either way the buyer's wallet pays at least 1 fen (a wallet
    /// order cannot be 0), so the subsidy is at most the order less 1. Integer math only.
    /// </summary>
    public long Discount(long orderAmount)
    {
        if (orderAmount <= 1)
        {
            return 0;
        }

        long off;
        if (AmountOff is { } fixedOff)
        {
            off = fixedOff;
        }
        else if (PercentOffBps is { } bps)
        {
            off = checked((long)((Int128)orderAmount * bps / 10_000));
        }
        else
        {
            return 0;
        }

        if (MaxOff is { } cap)
        {
            off = Math.Min(off, cap);
        }

        return Math.Clamp(off, 0, orderAmount - 1);
    }
}

/// <summary>A buyer's use of one campaign so far (reserved and consumed subsidies).</summary>
public readonly record struct BuyerUse(int Count, long Amount);

/// <summary>What a campaign allows in all: the budget, and per buyer a number of subsidised payments and/or an amount.</summary>
public readonly record struct SubsidyLimits(long Budget, int? PerBuyerCount, long? PerBuyerAmount);

public enum SubsidyRefusal
{
    None,
    NotActive,
    NotStarted,
    Over,
    WalletNotCovered,
    CurrencyNotCovered,
    NotTargeted,
    NoBuyer,
    ProfitSharing,
    NothingOff,
    BudgetExhausted,
    BuyerCountLimit,
    BuyerAmountLimit,

    /// <summary>The buyer is in the campaign's control group: the offer the buyer would have had is not made (see <see cref="SubsidyHoldout"/>).</summary>
    HeldOut,
}

/// <summary>The facts about one campaign an offer is decided on (loaded from its row). HoldoutPercent: the control group's share (0: none).</summary>
public sealed record SubsidyCampaignFacts(
    string Id, SubsidyCampaignState State, string Currency, IReadOnlySet<string> Wallets, RolloutRule Targeting, SubsidyTerms Terms,
    SubsidyLimits Limits, long Committed, DateTimeOffset StartsAt, DateTimeOffset EndsAt, int HoldoutPercent = 0);

/// <summary>The payment an offer is for: its order amount and who and what it is.</summary>
public sealed record SubsidyPaymentFacts(long Amount, string Currency, string? BuyerId, string? ProductCategory, bool ProfitSharing);

public readonly record struct SubsidyOffer(string? CampaignId, long Amount, SubsidyRefusal Refusal)
{
    public bool Offered => Amount > 0 && Refusal == SubsidyRefusal.None;

    /// <summary>A control buyer's would-be offer: not made (<see cref="Offered"/> is false), but its campaign and amount are known, for the control view.</summary>
    public bool HeldOut => Amount > 0 && Refusal == SubsidyRefusal.HeldOut;

    public static SubsidyOffer None(SubsidyRefusal why) => new(null, 0, why);
}

/// <summary>A refund of a subsidised payment, split: what the wallet returns to the buyer and what goes back to the platform.</summary>
public readonly record struct SubsidyRefundSplit(long WalletPart, long SubsidyPart);

/// <summary>The money decisions of platform subsidies. Pure: the caller loads the facts and persists what is decided.</summary>
public static class SubsidyDecisions
{
    /// <summary>
    /// Whether <paramref name="campaign"/> offers a subsidy on this payment at <paramref name="wallet"/> now, and how much —
    /// before the budget and buyer limits, which the reservation checks against the stored counters (<see cref="Admit"/>).
    /// The window is [starts_at, ends_at).
    /// </summary>
    public static SubsidyOffer Offer(SubsidyCampaignFacts campaign, SubsidyPaymentFacts payment, string wallet, DateTimeOffset now)
    {
        if (campaign.State != SubsidyCampaignState.Active)
        {
            return SubsidyOffer.None(SubsidyRefusal.NotActive);
        }

        if (now < campaign.StartsAt)
        {
            return SubsidyOffer.None(SubsidyRefusal.NotStarted);
        }

        if (now >= campaign.EndsAt)
        {
            return SubsidyOffer.None(SubsidyRefusal.Over);
        }

        if (!campaign.Wallets.Contains(wallet))
        {
            return SubsidyOffer.None(SubsidyRefusal.WalletNotCovered);
        }

        if (!string.Equals(campaign.Currency, payment.Currency, StringComparison.Ordinal))
        {
            return SubsidyOffer.None(SubsidyRefusal.CurrencyNotCovered);
        }

        if (payment.ProfitSharing)
        {
            return SubsidyOffer.None(SubsidyRefusal.ProfitSharing); // the wallet would hold less than the splits are computed on
        }

        if (string.IsNullOrEmpty(payment.BuyerId) && (campaign.Limits.PerBuyerCount is not null || campaign.Limits.PerBuyerAmount is not null))
        {
            return SubsidyOffer.None(SubsidyRefusal.NoBuyer); // a per-buyer limit needs a buyer to count
        }

        if (!campaign.Targeting.Evaluate(payment.BuyerId, payment.ProductCategory).Offered)
        {
            return SubsidyOffer.None(SubsidyRefusal.NotTargeted);
        }

        var amount = campaign.Terms.Discount(payment.Amount);
        if (amount <= 0)
        {
            return SubsidyOffer.None(SubsidyRefusal.NothingOff);
        }

        // Shown only while the budget can still cover it (the reservation decides for real, under the row's lock).
        if (campaign.Committed > campaign.Limits.Budget - amount)
        {
            return SubsidyOffer.None(SubsidyRefusal.BudgetExhausted);
        }

        // Last, so the control group is exactly the buyers who would otherwise have had this offer.
        return SubsidyHoldout.ArmOf(campaign.Id, campaign.HoldoutPercent, payment.BuyerId) == HoldoutArm.Control
            ? new SubsidyOffer(campaign.Id, amount, SubsidyRefusal.HeldOut)
            : new SubsidyOffer(campaign.Id, amount, SubsidyRefusal.None);
    }

    /// <summary>The best offer (largest subsidy; ties: the smaller campaign id) among the campaigns.</summary>
    public static SubsidyOffer Best(IEnumerable<SubsidyCampaignFacts> campaigns, SubsidyPaymentFacts payment, string wallet, DateTimeOffset now)
    {
        var best = SubsidyOffer.None(SubsidyRefusal.NotActive);
        foreach (var c in campaigns.OrderBy(c => c.Id, StringComparer.Ordinal))
        {
            var o = Offer(c, payment, wallet, now);
            if (o.Offered && o.Amount > best.Amount)
            {
                best = o;
            }
        }

        return best;
    }

    /// <summary>
    /// Whether a reservation of <paramref name="amount"/> fits: the campaign's committed total stays within its budget, and the
    /// buyer's count and amount within the per-buyer limits. The stores apply the same predicate as a conditional UPDATE, so
    /// concurrent reservations can never together pass it.
    /// </summary>
    public static SubsidyRefusal Admit(long amount, long committed, BuyerUse buyer, SubsidyLimits limits)
    {
        if (amount <= 0 || committed > limits.Budget - amount)
        {
            return SubsidyRefusal.BudgetExhausted;
        }

        if (limits.PerBuyerCount is { } n && buyer.Count + 1 > n)
        {
            return SubsidyRefusal.BuyerCountLimit;
        }

        return limits.PerBuyerAmount is { } max && buyer.Amount > max - amount ? SubsidyRefusal.BuyerAmountLimit : SubsidyRefusal.None;
    }

    /// <summary>
    /// Splits a refund of <paramref name="refund"/> (in order-amount units) of a payment of <paramref name="orderAmount"/> that
    /// carried <paramref name="subsidy"/>: the platform's part is its proportional share on the running total (half up,
    /// <see cref="Postings.RunningShare"/>), kept within what is left of the subsidy; the refund that brings the payment to
    /// fully refunded takes the remainder, so the parts add up to exactly the subsidy. A wallet cannot refund 0, so every
    /// refund returns at least 1 fen through the wallet, and one that does not complete the payment leaves at least 1 fen of
    /// the wallet order for the one that does (else the last refund could only be the platform's, and never be made).
    /// Null when no split keeps to that (a partial refund of a wallet order with 1 fen left: refund all that is left).
    /// </summary>
    public static SubsidyRefundSplit? SplitRefund(long orderAmount, long subsidy, long refundedBefore, long subsidyReturnedBefore, long refund)
    {
        if (refund <= 0 || refundedBefore < 0 || checked(refundedBefore + refund) > orderAmount || subsidy < 0 || subsidyReturnedBefore > subsidy
            || subsidyReturnedBefore < 0 || subsidyReturnedBefore > refundedBefore)
        {
            throw new ArgumentOutOfRangeException(nameof(refund), "A refund is within what is left of the payment.");
        }

        var subsidyLeft = subsidy - subsidyReturnedBefore;
        var walletLeft = orderAmount - subsidy - (refundedBefore - subsidyReturnedBefore);
        var final = refundedBefore + refund == orderAmount;
        var part = final
            ? subsidyLeft
            : Math.Min(Math.Max(Math.Clamp(Postings.RunningShare(subsidy, orderAmount, refundedBefore, refund), 0, subsidyLeft), refund - (walletLeft - 1)), refund - 1);
        var wallet = refund - part;
        return wallet < 1 || wallet > walletLeft - (final ? 0 : 1) || part < 0 || part > subsidyLeft ? null : new SubsidyRefundSplit(wallet, part);
    }
}

/// <summary>The accounts and postings of platform subsidies.</summary>
public static class SubsidyPostings
{
    /// <summary>
    /// The platform's cost of one campaign (an expense, debit balance): what it owes the hub to fund the subsidies the merchants
    /// were credited. Settled with the platform outside the wallets (the platform's account with the hub).
    /// </summary>
    public static string Expense(string campaignId) => $"platform_subsidy_expense:{campaignId}";

    /// <summary>In the payment's success transaction: the platform pays the merchant the part the buyer did not, so the merchant is owed the full order amount.</summary>
    public static LedgerLine[] Granted(string campaignId, string merchantId, Money subsidy) =>
    [
        new(Expense(campaignId), subsidy.Currency.Code, subsidy.Minor),
        new(Accounts.MerchantPayable(merchantId), subsidy.Currency.Code, -subsidy.Minor),
    ];

    /// <summary>A refund hands the platform back its share of the subsidy out of the merchant's balance.</summary>
    public static LedgerLine[] Returned(string campaignId, string merchantId, Money subsidy) =>
    [
        new(Accounts.MerchantPayable(merchantId), subsidy.Currency.Code, subsidy.Minor),
        new(Expense(campaignId), subsidy.Currency.Code, -subsidy.Minor),
    ];
}
