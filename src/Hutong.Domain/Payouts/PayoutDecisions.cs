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

    /// <summary>Withdrawn at the merchant's request: the reservation goes back, as for a failure.</summary>
    public bool Canceled => Settled && Next.Status == PayoutState.Canceled;
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
        return Decide(current, to, schedule, now);
    }

    /// <summary>
    /// The state a wallet answer names for an open payout (<see cref="Answered"/>): final ones settle it, open ones put
    /// its next check on the schedule. A final payout takes no answer (<see cref="IllegalTransitionException"/>).
    /// </summary>
    public static PayoutDecision Decide(FollowUp<PayoutState> current, PayoutState to, FollowUpSchedule schedule, DateTimeOffset now)
    {
        PayoutStates.Machine.Apply(current.Status, to).ToOrThrow();
        return PayoutStates.Machine.IsFinal(to)
            ? new PayoutDecision(current.Settle(to), Settled: true)
            : new PayoutDecision(current.CheckLater(to, schedule, now).Next, Settled: false);
    }

    /// <summary>
    /// What a wallet's answer about a transfer makes of the payout. <paramref name="cancelRequested"/>: the merchant asked to
    /// cancel it, so a transfer the wallet withdrew is <see cref="PayoutState.Canceled"/>; one withdrawn without that request
    /// (the payee never confirmed in time) failed. Null state: no answer (or the wallet never got it) — unknown, queried.
    /// </summary>
    public static PayoutState Answered(PayoutWalletAnswer? answer, bool cancelRequested) => answer switch
    {
        PayoutWalletAnswer.Succeeded => PayoutState.Succeeded,
        PayoutWalletAnswer.Failed => PayoutState.Failed,
        PayoutWalletAnswer.Processing => PayoutState.Processing,
        PayoutWalletAnswer.AwaitingConfirmation => PayoutState.AwaitingConfirmation,
        PayoutWalletAnswer.Canceling => PayoutState.Canceling,
        PayoutWalletAnswer.Canceled => cancelRequested ? PayoutState.Canceled : PayoutState.Failed,
        null => PayoutState.Unknown,
        _ => throw new ArgumentOutOfRangeException(nameof(answer), answer, null),
    };

    /// <summary>
    /// The wallet call a payout the merchant asked to cancel takes: a transfer still waiting for the payee is withdrawn
    /// (WeChat Pay cancel); one the wallet is already withdrawing, or whose state is unknown, is queried first.
    /// </summary>
    public static PayoutCancelCall CancelCall(PayoutState state) => state switch
    {
        PayoutState.AwaitingConfirmation => PayoutCancelCall.Cancel,
        PayoutState.Canceling or PayoutState.Unknown => PayoutCancelCall.Query,
        _ => PayoutCancelCall.None,
    };

    /// <summary>Whether the merchant may still ask to cancel a payout in this state (before the payee accepted it).</summary>
    public static bool Cancelable(PayoutState state) => state == PayoutState.AwaitingConfirmation;

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

/// <summary>A wallet's reading of one transfer, as far as the payout's state goes.</summary>
public enum PayoutWalletAnswer
{
    Processing,
    Succeeded,
    Failed,

    /// <summary>Held until the payee accepts it in the wallet's app.</summary>
    AwaitingConfirmation,

    /// <summary>Being withdrawn.</summary>
    Canceling,

    /// <summary>Withdrawn before the payee accepted it.</summary>
    Canceled,
}

/// <summary>What a payout the merchant asked to cancel does next.</summary>
public enum PayoutCancelCall
{
    /// <summary>Nothing to cancel (already past the payee's confirmation): followed as usual.</summary>
    None,

    /// <summary>Ask the wallet to withdraw it.</summary>
    Cancel,

    /// <summary>Ask the wallet where it is (a withdrawal under way or an unknown state).</summary>
    Query,
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
