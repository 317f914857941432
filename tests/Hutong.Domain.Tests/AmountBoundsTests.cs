using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Hutong.Domain.Ledger;
using Hutong.Domain.Settlement;

namespace Hutong.Domain.Tests;

/// <summary>
/// Money arithmetic never wraps: settlement, tax, fees and pro-rata returns are exact for every amount up to
/// <see cref="Money.MaxAmount"/> (and beyond it they are exact or throw, never a silently wrong figure).
/// </summary>
public class AmountBoundsTests
{
    private static HostContract Guarantee(long fen) => new("hc_1", "host_1", new DateOnly(2026, 1, 1), HostPayModel.GreaterOf, fen, 10_000);

    [Fact]
    public void A_huge_guarantee_is_settled_exactly_not_wrapped_to_nothing()
    {
        // Issue 12: 2^63 − 1 × days × 2 wrapped and the statement came to 0.
        var s = HostSettlement.Monthly(Guarantee(long.MaxValue), 2026, 1, 0);
        Assert.Equal(long.MaxValue, s.Guarantee);
        Assert.Equal(long.MaxValue, s.Payable);
        Assert.True(s.Tax.Tax > 0);
        Assert.Equal(s.Payable, s.NetPayout + s.Tax.Tax);

        var share = HostSettlement.Monthly(Guarantee(1), 2026, 1, long.MaxValue); // 100 % of the largest sales
        Assert.Equal(long.MaxValue, share.Share);
    }

    [Fact]
    public void Tax_on_a_huge_payment_is_withheld_not_wrapped_to_zero()
    {
        // Issue 12: a payable of 1.48e17 withheld no tax (taxable × 40 % wrapped negative and was clamped to 0).
        const long gross = 148_000_000_000_000_000;
        var t = IncomeTax.WithholdingOnLabour(gross);
        Assert.Equal(118_400_000_000_000_000, t.TaxableIncome);
        Assert.Equal(47_360_000_000_000_000 - 700_000, t.Tax);
        Assert.Equal(gross - t.Tax, t.Net);
        Assert.InRange(IncomeTax.WithholdingOnLabour(long.MaxValue).Tax, 1, long.MaxValue);
    }

    [Fact]
    public void Fees_returned_on_refunds_of_the_largest_payment_are_exact()
    {
        // value × part overflowed a long from ~¥30,000,000: the fee returned on a large refund was garbage.
        var amount = new Money(Money.MaxAmount, Currency.Cny);
        var fee = Postings.Fee(amount, 60);
        Assert.Equal(600_000_000, fee.Minor);
        Assert.Equal(300_000_000, Postings.FeeReturned(fee, amount.Minor, 0, amount.Minor / 2).Minor);
        Assert.Equal(300_000_000, Postings.FeeReturned(fee, amount.Minor, amount.Minor / 2, amount.Minor / 2).Minor);
        Assert.Equal(fee.Minor, Postings.FeeReturned(fee, amount.Minor, 0, amount.Minor).Minor);
    }

    [Fact]
    public void Split_amounts_above_the_maximum_are_refused_not_summed()
    {
        // Issue 13: two amounts of 2^62 overflowed the total (an OverflowException, a 500).
        var p = new SplitContext(10_000, 60, 0, 0, 0, false, DateTimeOffset.UnixEpoch);
        var (shares, refusal) = SplitPlanner.Plan([new SplitRule("a", 1L << 62, null), new SplitRule("b", 1L << 62, null)], p, SplitPolicy.Alipay, DateTimeOffset.UnixEpoch);
        Assert.Null(shares);
        Assert.Equal(("invalid_split_rule", "splits"), (refusal!.Code, refusal.Param));
        Assert.Equal("split_exceeds_cap", SplitPlanner.Plan([new SplitRule("a", Money.MaxAmount, null)], p, SplitPolicy.Alipay, DateTimeOffset.UnixEpoch).Refusal!.Code);
    }

    private static Arbitrary<(long Guarantee, long Sales, int Bps, int Day, HostPayModel Model)> Contracts() =>
        (from g in Long(1, Money.MaxAmount)
         from s in Long(-Money.MaxAmount, Money.MaxAmount)
         from bps in Gen.Choose(1, 10_000)
         from day in Gen.Choose(1, 28)
         from model in Gen.Elements(HostPayModel.GuaranteedMinimum, HostPayModel.RevenueShare, HostPayModel.GreaterOf)
         select (g, s, bps, day, model)).ToArbitrary();

    [Property(MaxTest = 1_000)]
    public Property Statements_up_to_the_maximum_add_up(/* guarantee, sales, share, start day, model */) => Prop.ForAll(Contracts(), x =>
    {
        var c = new HostContract("hc", "h", new DateOnly(2026, 3, x.Day), x.Model, x.Model == HostPayModel.RevenueShare ? 0 : x.Guarantee, x.Bps);
        var s = HostSettlement.Monthly(c, 2026, 3, x.Sales);
        var guaranteeOk = s.Guarantee >= 0 && s.Guarantee <= c.MonthlyGuaranteeFen
            && (BigDelta(s.Guarantee * 2L * s.DaysInMonth, (Int128)c.MonthlyGuaranteeFen * s.ActiveDays * 2) <= s.DaysInMonth);
        var shareOk = s.Share >= 0 && s.Share <= Math.Max(0, x.Sales);
        var taxOk = s.Tax.Tax >= 0 && s.Tax.Tax <= s.Payable && s.NetPayout + s.Tax.Tax == s.Payable && s.NetPayout >= 0;
        var payableOk = s.Payable == Math.Max(s.Guarantee, s.Share) && s.Payable <= Money.MaxAmount && s.TrueUp == s.Payable - s.GuaranteeAdvanced;
        return (guaranteeOk && shareOk && taxOk && payableOk).Label($"{x} → {s}");
    });

    [Property(MaxTest = 1_000)]
    public Property Tax_is_monotone_and_never_more_than_pay_up_to_the_maximum() => Prop.ForAll(
        Long(0, Money.MaxAmount).ToArbitrary(), Long(0, 1_000_000).ToArbitrary(), (gross, more) =>
        {
            var a = IncomeTax.WithholdingOnLabour(gross);
            var b = IncomeTax.WithholdingOnLabour(gross + more);
            return (a.Tax >= 0 && a.Tax <= gross && a.Net + a.Tax == gross && b.Tax >= a.Tax).Label($"{gross} +{more}");
        });

    /// <summary>A long in [min, max], edges included often (FsCheck's Choose is int-only).</summary>
    private static Gen<long> Long(long min, long max) => Gen.Frequency(
        (1, Gen.Elements(min, max)),
        (8, from hi in Gen.Choose(0, int.MaxValue) from lo in Gen.Choose(0, int.MaxValue)
            select min + (long)((((Int128)hi << 31) | (uint)lo) % ((Int128)max - min + 1))));

    private static Int128 BigDelta(Int128 a, Int128 b) => a > b ? a - b : b - a;
}
