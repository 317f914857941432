namespace Hutong.Domain.Settlement;

/// <summary>How a new livestream host is paid by the hosting service.</summary>
public enum HostPayModel
{
    /// <summary>保底: a fixed monthly amount, whatever the sales.</summary>
    GuaranteedMinimum,

    /// <summary>分润: a share of the sales attributed to the host's live room.</summary>
    RevenueShare,

    /// <summary>The greater of the two: the guarantee is advanced during the month and trued up to the share at month end.</summary>
    GreaterOf,
}

/// <summary>
/// A host contract: starts on a date, ends automatically after six months, and the host may leave at any time.
/// <see cref="ExitedOn"/> and <see cref="EndExclusive"/> are the first day no longer under contract. Dates are China
/// dates (UTC+8).
/// </summary>
public sealed record HostContract(string Id, string HostId, DateOnly Start, HostPayModel Model, long MonthlyGuaranteeFen, int ShareBasisPoints, DateOnly? ExitedOn = null)
{
    public const int TermMonths = 6;

    public static readonly TimeSpan ChinaOffset = TimeSpan.FromHours(8);

    /// <summary>Automatic termination: the same day-of-month six months on (clamped to the month's end, as AddMonths does).</summary>
    public DateOnly TermEnd => Start.AddMonths(TermMonths);

    public DateOnly EndExclusive => ExitedOn is { } e && e < TermEnd ? e : TermEnd;

    public bool IsActiveOn(DateOnly day) => day >= Start && day < EndExclusive;

    /// <summary>The days of a month under contract, [From, To); empty when none.</summary>
    public (DateOnly From, DateOnly To) ActiveWindow(int year, int month)
    {
        var first = new DateOnly(year, month, 1);
        var next = first.AddMonths(1);
        var from = first > Start ? first : Start;
        var to = next < EndExclusive ? next : EndExclusive;
        return to > from ? (from, to) : (from, from);
    }

    /// <summary>The window as instants (China midnight to China midnight), to select the sales it covers.</summary>
    public (DateTimeOffset From, DateTimeOffset To) ActiveInstants(int year, int month)
    {
        var (from, to) = ActiveWindow(year, month);
        return (new DateTimeOffset(from.ToDateTime(TimeOnly.MinValue), ChinaOffset), new DateTimeOffset(to.ToDateTime(TimeOnly.MinValue), ChinaOffset));
    }
}

/// <summary>One host's month: what the contract owes, the true-up, the tax withheld and what is paid out (fen).</summary>
/// <param name="CarriedIn">Clawbacks carried into this statement (zero or negative): earlier months' pay taken back because of
/// refunds after they closed, and an earlier statement's negative rest. Tax is withheld on <see cref="Gross"/>.</param>
public sealed record HostStatement(
    string ContractId, int Year, int Month, int ActiveDays, int DaysInMonth, long AttributedSales, long Guarantee, long Share,
    long Payable, long GuaranteeAdvanced, long TrueUp, LabourTax Tax, long CarriedIn = 0)
{
    /// <summary>The month's pay with the clawbacks carried in: what tax is withheld on and what the ledger posts (when positive).</summary>
    public long Gross => checked(Payable + CarriedIn);

    /// <summary>What is paid out to the host: never negative.</summary>
    public long NetPayout => Math.Max(0, Tax.Net);

    /// <summary>What the host still owes when the clawbacks exceed this month's pay (zero or negative): carried into the next statement.</summary>
    public long CarryOut => Math.Min(0, Tax.Net);
}

public static class HostSettlement
{
    /// <summary>
    /// The statement for a month. The guarantee is prorated by the days under contract (a contract starting on the 31st
    /// earns 1/31 of it in that month); the share is of sales attributed in those days, net of refunds, never negative.
    /// Under <see cref="HostPayModel.GreaterOf"/> the prorated guarantee is advanced and the true-up adds what the share
    /// exceeds it by. Tax is withheld on the month's whole payable as one labour-remuneration payment.
    /// </summary>
    public static HostStatement Monthly(HostContract c, int year, int month, long attributedSalesFen)
    {
        var (from, to) = c.ActiveWindow(year, month);
        var activeDays = to.DayNumber - from.DayNumber;
        var daysInMonth = DateTime.DaysInMonth(year, month);
        var sales = activeDays == 0 ? 0 : Math.Max(0, attributedSalesFen);
        // Products in 128 bits: a prorated guarantee is at most the guarantee and a share at most the sales, so the results
        // always fit; the API holds both to Money.MaxAmount, but this function must not wrap whatever it is given.
        var guarantee = c.Model == HostPayModel.RevenueShare ? 0 : checked((long)((((Int128)c.MonthlyGuaranteeFen * activeDays * 2) + daysInMonth) / (2 * daysInMonth)));
        var share = c.Model == HostPayModel.GuaranteedMinimum ? 0 : checked((long)((((Int128)sales * c.ShareBasisPoints) + 5_000) / 10_000));
        var payable = c.Model switch
        {
            HostPayModel.GuaranteedMinimum => guarantee,
            HostPayModel.RevenueShare => share,
            _ => Math.Max(guarantee, share),
        };
        var advanced = c.Model == HostPayModel.RevenueShare ? 0 : guarantee;
        return new HostStatement(c.Id, year, month, activeDays, daysInMonth, sales, guarantee, share, payable, advanced, checked(payable - advanced),
            IncomeTax.WithholdingOnLabour(payable));
    }

    /// <summary>
    /// A statement with clawbacks carried into it (<paramref name="carriedIn"/> ≤ 0): tax is withheld on the month's pay less
    /// the clawbacks; when they exceed it, nothing is paid and the rest (<see cref="HostStatement.CarryOut"/>) goes on to the
    /// next statement. Tax withheld on the earlier month is not given back here (that is the annual reconciliation's).
    /// </summary>
    public static HostStatement Carry(HostStatement s, long carriedIn)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(carriedIn, 0);
        var gross = checked(s.Payable + carriedIn);
        return s with { CarriedIn = carriedIn, Tax = IncomeTax.WithholdingOnLabour(gross) };
    }

    /// <summary>
    /// What a closed month's pay changes by (zero or negative) now that its attributed sales are <paramref name="salesNow"/>
    /// instead of the <paramref name="settledSales"/> it was settled on (a refund after the month closed). Sales only go
    /// down after a month closes (refunds); a rise is not paid here (it is a payment the statement did not count: zero).
    /// </summary>
    public static long Clawback(HostContract c, int year, int month, long settledSales, long salesNow)
    {
        ArgumentNullException.ThrowIfNull(c);
        if (salesNow >= settledSales)
        {
            return 0;
        }

        return checked(Monthly(c, year, month, salesNow).Payable - Monthly(c, year, month, settledSales).Payable);
    }
}
