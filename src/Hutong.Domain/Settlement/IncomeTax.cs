namespace Hutong.Domain.Settlement;

/// <summary>One 劳务报酬 (labour remuneration) prepayment, in fen.</summary>
public sealed record LabourTax(long Gross, long TaxableIncome, int RateBasisPoints, long QuickDeduction, long Tax)
{
    public long Net => checked(Gross - Tax);
}

/// <summary>
/// Individual income tax withheld on labour remuneration paid to a resident individual, per payment (预扣率表二):
/// taxable income is the payment less 800 when it is at most 4,000 yuan, else 80 % of it; then 20 % up to 20,000,
/// 30 % less 2,000 up to 50,000, 40 % less 7,000 above. Worked example: 30,000 → 24,000 × 30 % − 2,000 = 5,200.
/// Integer fen throughout; fractions of a fen round half up.
/// </summary>
public static class IncomeTax
{
    public static LabourTax WithholdingOnLabour(long grossFen)
    {
        if (grossFen <= 0)
        {
            return new LabourTax(grossFen, 0, 0, 0, 0);
        }

        // Products in 128 bits, so no gross wraps (a long's gross × 8 or taxable × rate would); the results are at most the gross.
        var taxable = grossFen <= 400_000 ? Math.Max(0, grossFen - 80_000) : checked((long)(((Int128)grossFen * 8 + 5) / 10));
        var (rate, quick) = taxable switch
        {
            <= 2_000_000 => (2_000, 0L),
            <= 5_000_000 => (3_000, 200_000L),
            _ => (4_000, 700_000L),
        };
        var tax = Math.Max(0, checked((long)((((Int128)taxable * rate) + 5_000) / 10_000) - quick));
        return new LabourTax(grossFen, taxable, rate, quick, tax);
    }
}
