using Hutong.Domain.Settlement;

namespace Hutong.Domain.Tests;

public class IncomeTaxTests
{
    [Theory]
    [InlineData(3_000_000, 2_400_000, 3_000, 200_000, 520_000)] // the worked example: 30,000 → 5,200
    [InlineData(80_000, 0, 2_000, 0, 0)] // 800: nothing taxable
    [InlineData(50_000, 0, 2_000, 0, 0)]
    [InlineData(100_000, 20_000, 2_000, 0, 4_000)] // 1,000 → (1,000 − 800) × 20 % = 40
    [InlineData(400_000, 320_000, 2_000, 0, 64_000)] // 4,000: the last amount with the 800 deduction → 640
    [InlineData(400_100, 320_080, 2_000, 0, 64_016)] // 4,001: now ×80 % → 3,200.80 × 20 % = 640.16
    [InlineData(2_500_000, 2_000_000, 2_000, 0, 400_000)] // taxable exactly 20,000: still 20 %
    [InlineData(2_500_125, 2_000_100, 3_000, 200_000, 400_030)] // just over: 30 % − 2,000
    [InlineData(6_250_000, 5_000_000, 3_000, 200_000, 1_300_000)] // taxable exactly 50,000
    [InlineData(10_000_000, 8_000_000, 4_000, 700_000, 2_500_000)] // 100,000 → 80,000 × 40 % − 7,000 = 25,000
    public void Labour_remuneration_withholding_follows_the_table(long gross, long taxable, int rate, long quick, long tax)
    {
        var t = IncomeTax.WithholdingOnLabour(gross);
        Assert.Equal((taxable, rate, quick, tax), (t.TaxableIncome, t.RateBasisPoints, t.QuickDeduction, t.Tax));
        Assert.Equal(gross - tax, t.Net);
    }

    [Fact]
    public void Tax_never_exceeds_pay_and_grows_with_it()
    {
        long previous = 0;
        for (long gross = 0; gross <= 20_000_000; gross += 12_345)
        {
            var tax = IncomeTax.WithholdingOnLabour(gross).Tax;
            Assert.InRange(tax, previous, gross);
            previous = tax;
        }
    }
}

public class HostContractTests
{
    private static HostContract Contract(HostPayModel model, DateOnly start, DateOnly? exit = null) =>
        new("hc_1", "host_1", start, model, MonthlyGuaranteeFen: 500_000, ShareBasisPoints: 1_000, exit);

    [Fact]
    public void A_contract_ends_by_itself_after_six_months_and_the_host_may_leave_earlier()
    {
        var c = Contract(HostPayModel.GreaterOf, new DateOnly(2026, 1, 15));
        Assert.Equal(new DateOnly(2026, 7, 15), c.TermEnd);
        Assert.True(c.IsActiveOn(new DateOnly(2026, 7, 14)));
        Assert.False(c.IsActiveOn(new DateOnly(2026, 7, 15)));
        Assert.False(c.IsActiveOn(new DateOnly(2026, 1, 14)));

        var left = c with { ExitedOn = new DateOnly(2026, 3, 10) };
        Assert.False(left.IsActiveOn(new DateOnly(2026, 3, 10)));
        Assert.Equal(new DateOnly(2026, 3, 10), left.EndExclusive);
        Assert.Equal(c.TermEnd, (c with { ExitedOn = new DateOnly(2027, 1, 1) }).EndExclusive); // leaving after the end changes nothing
    }

    [Fact]
    public void Month_boundaries_start_on_the_31st_end_on_a_clamped_day()
    {
        var c = Contract(HostPayModel.GuaranteedMinimum, new DateOnly(2026, 8, 31));
        Assert.Equal(new DateOnly(2027, 2, 28), c.TermEnd); // Aug 31 + 6 months → Feb 28
        var aug = HostSettlement.Monthly(c, 2026, 8, 0);
        Assert.Equal((1, 31), (aug.ActiveDays, aug.DaysInMonth));
        Assert.Equal(16_129, aug.Guarantee); // 5,000 × 1/31 = 161.29
        Assert.Equal(30, HostSettlement.Monthly(c, 2026, 9, 0).ActiveDays);
        var feb = HostSettlement.Monthly(c, 2027, 2, 0);
        Assert.Equal(27, feb.ActiveDays); // Feb 1 … Feb 27; the contract is over on the 28th
        Assert.Equal(0, HostSettlement.Monthly(c, 2027, 3, 999_999).Payable);
        Assert.Equal(0, HostSettlement.Monthly(c, 2026, 7, 999_999).Payable);

        var (from, to) = c.ActiveInstants(2026, 8);
        Assert.Equal(DateTimeOffset.Parse("2026-08-30T16:00:00Z", System.Globalization.CultureInfo.InvariantCulture), from); // China midnight
        Assert.Equal(DateTimeOffset.Parse("2026-08-31T16:00:00Z", System.Globalization.CultureInfo.InvariantCulture), to);
    }

    [Fact]
    public void Greater_of_advances_the_guarantee_and_trues_up_to_the_share()
    {
        var c = Contract(HostPayModel.GreaterOf, new DateOnly(2026, 1, 1));
        var slow = HostSettlement.Monthly(c, 2026, 2, 3_000_000); // share 3,000 < guarantee 5,000
        Assert.Equal((500_000L, 300_000L, 500_000L, 0L), (slow.Guarantee, slow.Share, slow.Payable, slow.TrueUp));

        var busy = HostSettlement.Monthly(c, 2026, 3, 30_000_000); // sales 300,000 → share 30,000
        Assert.Equal((3_000_000L, 500_000L, 2_500_000L), (busy.Payable, busy.GuaranteeAdvanced, busy.TrueUp));
        Assert.Equal(520_000, busy.Tax.Tax); // 30,000 → 5,200 withheld
        Assert.Equal(2_480_000, busy.NetPayout);
    }

    [Fact]
    public void Each_model_pays_what_it_says_and_refunds_cannot_make_pay_negative()
    {
        var start = new DateOnly(2026, 1, 1);
        Assert.Equal(500_000, HostSettlement.Monthly(Contract(HostPayModel.GuaranteedMinimum, start), 2026, 1, 90_000_000).Payable);
        Assert.Equal(9_000_000, HostSettlement.Monthly(Contract(HostPayModel.RevenueShare, start), 2026, 1, 90_000_000).Payable);
        Assert.Equal(0, HostSettlement.Monthly(Contract(HostPayModel.RevenueShare, start), 2026, 1, -5_000).Payable);
        var exitMid = HostSettlement.Monthly(Contract(HostPayModel.GuaranteedMinimum, start, new DateOnly(2026, 3, 15)), 2026, 3, 0);
        Assert.Equal(14, exitMid.ActiveDays);
        Assert.Equal(225_806, exitMid.Guarantee); // 5,000 × 14/31 = 2,258.06
    }

    [Fact]
    public void A_refund_after_a_closed_month_claws_back_the_pay_it_changes_and_nothing_else()
    {
        var share = Contract(HostPayModel.RevenueShare, new DateOnly(2026, 1, 1)); // 10 %
        Assert.Equal(-50_000, HostSettlement.Clawback(share, 2026, 2, 1_000_000, 500_000)); // 100.00 → 50.00
        Assert.Equal(0, HostSettlement.Clawback(share, 2026, 2, 1_000_000, 1_000_000));
        Assert.Equal(0, HostSettlement.Clawback(share, 2026, 2, 1_000_000, 1_200_000)); // sales never rise after a close: nothing paid here

        // Greater of: the guarantee (5,000) stays above the share either way, so the refund takes nothing back.
        var greater = Contract(HostPayModel.GreaterOf, new DateOnly(2026, 1, 1));
        Assert.Equal(0, HostSettlement.Clawback(greater, 2026, 2, 3_000_000, 1_000_000));
        // A busy month's true-up shrinks to the guarantee, no further: 30,000 share → 5,000 guarantee.
        Assert.Equal(-2_500_000, HostSettlement.Clawback(greater, 2026, 3, 30_000_000, 0));
    }

    [Fact]
    public void Clawbacks_carried_into_a_statement_lower_its_pay_and_tax_and_a_rest_goes_on()
    {
        var c = Contract(HostPayModel.RevenueShare, new DateOnly(2026, 1, 1));
        var month = HostSettlement.Monthly(c, 2026, 3, 2_000_000); // 200.00
        var after = HostSettlement.Carry(month, -50_000);
        Assert.Equal((200_000L, -50_000L, 150_000L), (after.Payable, after.CarriedIn, after.Gross));
        Assert.Equal(14_000, after.Tax.Tax); // (1,500 − 800) × 20 %
        Assert.Equal(136_000, after.NetPayout);
        Assert.Equal(0, after.CarryOut);

        var exceeded = HostSettlement.Carry(month, -300_000);
        Assert.Equal((0L, 0L, -100_000L), (exceeded.NetPayout, exceeded.Tax.Tax, exceeded.CarryOut));
        Assert.Equal(month, HostSettlement.Carry(month, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => HostSettlement.Carry(month, 1));
    }
}
