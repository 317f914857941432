using Hutong.Domain.Ledger;
using Hutong.Domain.Payments;

namespace Hutong.Domain.Tests;

/// <summary>
/// WalletDiscounts: a wallet's amount report is taken only when its parts add up (in whole fen, never floating point), and
/// refunds return each kind of coupon pro rata so that refunds adding up to the order return every coupon and the buyer's
/// whole payment exactly; the postings balance at every step.
/// </summary>
public class WalletDiscountsTests
{
    private static WalletCoupon Cash(long amount, string id = "c1") => new(id, CouponFunding.WalletSettled, amount, amount, 0, 0);

    private static WalletCoupon NoCash(long amount, string id = "n1") => new(id, CouponFunding.MerchantBorne, amount, 0, amount, 0);

    [Fact]
    public void A_report_whose_parts_add_up_gives_the_funding_and_the_settlement()
    {
        var (d, problem) = WalletDiscounts.Derive(10_000, new WalletAmountReport(10_000, 9_500, [Cash(300), NoCash(200)], SettlementTotal: 9_800));
        Assert.Null(problem);
        Assert.Equal(new AmountDetails(10_000, 9_500, 300, 200), d);
        Assert.Equal(9_800, d!.Settlement);
        Assert.True(d.Discounted);
        Assert.False(AmountDetails.Undiscounted(10_000).Discounted);
    }

    [Theory]
    [InlineData("contributions")]
    [InlineData("payer")]
    [InlineData("settlement")]
    [InlineData("unknown type")]
    [InlineData("too large")]
    [InlineData("other order")]
    [InlineData("unreadable")]
    public void A_report_that_does_not_add_up_is_a_problem_never_a_funding(string what)
    {
        var report = what switch
        {
            "contributions" => new WalletAmountReport(1_000, 900, [new WalletCoupon("c", CouponFunding.WalletSettled, 100, 50, 10, 0)]),
            "payer" => new WalletAmountReport(1_000, 950, [Cash(100)]),
            "settlement" => new WalletAmountReport(1_000, 900, [NoCash(100)], SettlementTotal: 1_000),
            "unknown type" => new WalletAmountReport(1_000, 900, [new WalletCoupon("c", CouponFunding.Unrecognised, 100, 100, 0, 0)]),
            "too large" => new WalletAmountReport(1_000, 0, [Cash(700), NoCash(700)]),
            "unreadable" => WalletAmountReport.Unread(1_000, "couponInfo is not JSON"),
            _ => new WalletAmountReport(999, 999, []),
        };
        var (d, problem) = WalletDiscounts.Derive(1_000, report);
        Assert.Null(d);
        Assert.NotNull(problem);
    }

    [Fact]
    public void A_partial_refund_returns_each_coupon_in_proportion()
    {
        var d = new AmountDetails(10_000, 9_500, 300, 200);
        var r = WalletDiscounts.SplitRefund(d, 0, 3_000);
        Assert.Equal(new RefundDetails(3_000, 2_850, 90, 60), r);
        Assert.Equal((2_940L, 150L), (r.SettlementRefund, r.DiscountRefund));
    }

    [Fact]
    public void Refunds_adding_up_to_the_order_return_every_coupon_exactly_and_every_entry_balances()
    {
        var rng = new Random(1234); // seeded: the same sequences every run
        for (var run = 0; run < 2_000; run++)
        {
            var order = rng.NextInt64(1, 100_000);
            var wallet = rng.NextInt64(0, order + 1);
            var merchant = rng.NextInt64(0, order - wallet + 1);
            var d = new AmountDetails(order, order - wallet - merchant, wallet, merchant);
            var fee = Postings.Fee(new Money(d.Settlement, Currency.Cny), 60).Minor;
            long before = 0, buyerBack = 0, walletBack = 0, merchantBack = 0, feeBack = 0;
            Postings.EnsureBalanced(d.Discounted ? Postings.CapturedWithDiscounts("w", "m", "CNY", d) : Postings.Captured("w", "m", new Money(order, Currency.Cny)));
            while (before < order)
            {
                var refund = Math.Min(order - before, rng.NextInt64(1, Math.Max(2, order / 3)));
                var r = WalletDiscounts.SplitRefund(d, before, refund);
                var back = Postings.RunningShare(fee, order, before, refund);
                var lines = Postings.RefundedWithDiscounts("w", "m", "CNY", r, back);
                if (lines.Length > 0)
                {
                    Postings.EnsureBalanced(lines);
                }

                (buyerBack, walletBack, merchantBack, feeBack, before) = (buyerBack + r.BuyerRefund, walletBack + r.WalletDiscountRefund, merchantBack + r.MerchantDiscountRefund, feeBack + back, before + refund);
            }

            Assert.Equal((d.BuyerPaid, wallet, merchant, fee), (buyerBack, walletBack, merchantBack, feeBack));
        }
    }

    [Fact]
    public void The_decider_never_marks_paid_on_a_report_that_does_not_add_up_and_alerts_once()
    {
        var payment = new PaymentFacts(PaymentStatus.Pending, 1_000, "CNY", "att_1");
        var bad = new WalletResult.Paid(1_000, "CNY", Amounts: new WalletAmountReport(1_000, 900, [new WalletCoupon("c", CouponFunding.WalletSettled, 100, 50, 10, 0)]));
        var first = Assert.IsType<WalletDecision.Mismatch>(WalletOutcomeDecider.Decide(payment, new AttemptFacts("att_1", AttemptStatus.Open), bad));
        Assert.Equal((MismatchKind.Discounts, WalletDecision.DiscountMismatchCode), (first.Kind, first.ErrorCode));
        var again = Assert.IsType<WalletDecision.Ignore>(WalletOutcomeDecider.Decide(payment, new AttemptFacts("att_1", AttemptStatus.Open, first.ErrorCode), bad));
        Assert.Equal(IgnoreReason.MismatchAlreadyRecorded, again.Reason);

        var good = bad with { Amounts = new WalletAmountReport(1_000, 900, [Cash(100)]) };
        Assert.IsType<WalletDecision.Transition>(WalletOutcomeDecider.Decide(payment, new AttemptFacts("att_1", AttemptStatus.Open), good));
    }
}
