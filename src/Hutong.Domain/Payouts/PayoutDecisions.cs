using Hutong.Domain.FollowUps;
using Hutong.Domain.Ledger;

namespace Hutong.Domain.Payouts;

/// <summary>What one wallet answer does to a payout: its next follow-up, and whether it just became final.</summary>
/// <param name="Next">The payout's state after the answer (next check on the schedule while it is open).</param>
/// <param name="Settled">It just became succeeded or failed: its ledger entry and payout.* event go with the change.</param>
public sealed record PayoutDecision(FollowUp<PayoutState> Next, bool Settled)
{
    public bool Succeeded => Settled && Next.Status == PayoutState.Succeeded;

    public bool Failed => Settled && Next.Status == PayoutState.Failed;
}

/// <summary>The hub's payout limits (per payout, per payee per day, per merchant per day), in minor units; 0 turns one off.</summary>
public sealed record PayoutLimits(long PerPayout, long PerPayeeDaily, long PerMerchantDaily);

/// <summary>
/// What the merchant has and has already sent, read under the ledger's lock in the transaction that would reserve the payout.
/// </summary>
/// <param name="Available">The merchant's balance owed to it (merchant_payable, as a positive number) in the payout's currency.</param>
/// <param name="PayeeToday">What this merchant sent or is sending to this payee since the start of today (China time), failed payouts excluded.</param>
/// <param name="MerchantToday">What this merchant sent or is sending to anyone today, failed payouts excluded.</param>
public sealed record PayoutFunds(long Available, long PayeeToday, long MerchantToday);

public static class PayoutDecisions
{
    /// <summary>
    /// Whether a payout of <paramref name="amount"/> may be reserved: within the per-payout, per-payee-daily and per-merchant-daily
    /// limits, and within what the ledger says the merchant has. Null: it may. Decided before any wallet call; a refusal changes nothing.
    /// </summary>
    public static Failure? Admit(long amount, PayoutFunds funds, PayoutLimits limits)
    {
        ArgumentNullException.ThrowIfNull(funds);
        ArgumentNullException.ThrowIfNull(limits);
        if (amount <= 0 || amount > Money.MaxAmount)
        {
            return Failure.Invalid("amount", $"amount must be 1-{Money.MaxAmount} minor units.");
        }

        if (limits.PerPayout > 0 && amount > limits.PerPayout)
        {
            return Refused("payout_limit_exceeded", "The payout is above the per-payout limit.", $"At most {limits.PerPayout} minor units per payout.");
        }

        // Sums are bounded: each payout is at most Money.MaxAmount and a day's payouts are limited by the balance, but a long
        // still cannot overflow before the comparison because both terms are below 2^62.
        if (limits.PerPayeeDaily > 0 && funds.PayeeToday + amount > limits.PerPayeeDaily)
        {
            return Refused("payout_payee_daily_limit_exceeded", "The payout would take this payee past the daily limit.",
                $"{Math.Max(0, limits.PerPayeeDaily - funds.PayeeToday)} of {limits.PerPayeeDaily} minor units are left for this payee today.");
        }

        if (limits.PerMerchantDaily > 0 && funds.MerchantToday + amount > limits.PerMerchantDaily)
        {
            return Refused("payout_daily_limit_exceeded", "The payout would take the merchant past its daily payout limit.",
                $"{Math.Max(0, limits.PerMerchantDaily - funds.MerchantToday)} of {limits.PerMerchantDaily} minor units are left today.");
        }

        if (amount > funds.Available)
        {
            return Refused("insufficient_balance", "The payout is more than the merchant's available balance.",
                $"{Math.Max(0, funds.Available)} minor units are available.");
        }

        return null;
    }

    private static Failure Refused(string code, string title, string detail) => new(FailureKind.Unprocessable, code, title, detail, "amount");

    /// <summary>
    /// The wallet's answer for an open payout. A final payout takes no answer: that is an <see cref="IllegalTransitionException"/>
    /// (the caller read it open, so a final one means another hub settled it first).
    /// </summary>
    public static PayoutDecision Decide(FollowUp<PayoutState> current, WalletAnswer answer, FollowUpSchedule schedule, DateTimeOffset now)
    {
        var to = answer switch
        {
            WalletAnswer.Succeeded => PayoutState.Succeeded,
            WalletAnswer.Failed => PayoutState.Failed,
            WalletAnswer.Processing => PayoutState.Processing,
            WalletAnswer.NoAnswer => PayoutState.Unknown,
            _ => throw new ArgumentOutOfRangeException(nameof(answer), answer, null),
        };
        PayoutStates.Machine.Apply(current.Status, to).ToOrThrow();
        return PayoutStates.Machine.IsFinal(to)
            ? new PayoutDecision(current.Settle(to), Settled: true)
            : new PayoutDecision(current.CheckLater(to, schedule, now).Next, Settled: false);
    }

    /// <summary>
    /// The wallet call an open payout takes next (<see cref="SendOnce"/>): one no hub claimed to send is sent; one a hub
    /// claimed before, or one the wallet already answered for, is queried first and re-sent only when the wallet never got it.
    /// </summary>
    public static NextCall Call(PayoutState state, bool sendStarted, WalletLookup lookup)
    {
        if (PayoutStates.Machine.IsFinal(state))
        {
            throw new IllegalTransitionException($"A {state.ToWire()} payout takes no wallet call.");
        }

        return SendOnce.Next(sendStarted || state != PayoutState.Pending, lookup);
    }
}

/// <summary>The ledger side of a payout: reserved from the merchant's balance when created, then sent or given back.</summary>
public static class PayoutPostings
{
    /// <summary>Money set aside for a payout in flight: no longer available to the merchant, not yet gone.</summary>
    public static string Reserve(string merchantId) => $"payout_reserve:{merchantId}";

    /// <summary>Created: the amount leaves the merchant's available balance for the reserve.</summary>
    public static LedgerLine[] Reserved(string merchantId, Money amount) =>
    [
        new(Accounts.MerchantPayable(merchantId), amount.Currency.Code, amount.Minor),
        new(Reserve(merchantId), amount.Currency.Code, -amount.Minor),
    ];

    /// <summary>Succeeded: the wallet paid the payee out of the funds it holds for the merchant.</summary>
    public static LedgerLine[] Sent(string wallet, string merchantId, Money amount) =>
    [
        new(Reserve(merchantId), amount.Currency.Code, amount.Minor),
        new(Accounts.WalletClearing(wallet), amount.Currency.Code, -amount.Minor),
    ];

    /// <summary>Failed (or returned): the reservation goes back to the merchant's available balance.</summary>
    public static LedgerLine[] Released(string merchantId, Money amount) =>
    [
        new(Reserve(merchantId), amount.Currency.Code, amount.Minor),
        new(Accounts.MerchantPayable(merchantId), amount.Currency.Code, -amount.Minor),
    ];
}
