namespace Hutong.Domain.Splits;

/// <summary>
/// What the merchant sends a receiver that owes it a clawback, and what the debt takes: <paramref name="Send"/> goes to the
/// wallet, <paramref name="Offset"/> settles that much of the receiver's clawback (Send + Offset = what was owed).
/// </summary>
public sealed record ClawbackNet(long Send, long Offset);

/// <summary>
/// Clawbacks recovered by netting (docs/settlement-payouts.md, "Split clawbacks"): a receiver whose share of a refunded
/// payment the wallet could not take back owes it to the merchant; the next amount the merchant owes that receiver — a
/// split share, or a payout to the same payee — is reduced by it. Pure: the caller reads the outstanding clawback and
/// takes the offset with a conditional update on the value it read.
/// </summary>
public static class ClawbackNetting
{
    /// <summary>
    /// Nets <paramref name="owed"/> against <paramref name="outstanding"/>: the offset is as much of the debt as the amount
    /// can carry while the wallet still gets <paramref name="minSend"/> (a wallet call carries at least its minimum — 1 fen
    /// for a WeChat split receiver, 10 fen for a transfer); what is left of the debt waits for the next amount owed.
    /// Nothing outstanding, or an amount at the minimum: sent whole.
    /// </summary>
    public static ClawbackNet Net(long owed, long outstanding, long minSend)
    {
        if (owed <= 0 || owed > Money.MaxAmount)
        {
            throw new ArgumentOutOfRangeException(nameof(owed), owed, "An amount owed is 1 to Money.MaxAmount minor units.");
        }

        if (outstanding < 0 || minSend < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(outstanding), outstanding, "An outstanding clawback and a minimum are never negative.");
        }

        var offset = Math.Max(0, Math.Min(outstanding, owed - minSend));
        return new ClawbackNet(owed - offset, offset);
    }

    /// <summary>
    /// Whether <paramref name="amount"/> of a receiver's clawback may be settled by hand (repaid outside the hub) or written
    /// off: 1 up to what it owes now. Null: it may. A refusal changes nothing.
    /// </summary>
    public static Failure? CheckClose(long? amount, long outstanding)
    {
        if (amount is not (>= 1 and <= Money.MaxAmount))
        {
            return Failure.Invalid("amount", $"amount must be 1-{Money.MaxAmount} minor units.");
        }

        return amount > outstanding
            ? new Failure(FailureKind.Unprocessable, "clawback_amount_exceeds_outstanding", "The amount is more than the receiver owes.",
                $"The receiver owes {outstanding} minor units (less any clawback being netted against a split or payout in flight).", "amount")
            : null;
    }
}
