using Hutong.Domain.Ledger;
using Hutong.Domain.Payments;

namespace Hutong.Domain.Tests;

/// <summary>A refund's ledger lines when the fee it returns is as large as the refund itself (found by an outside probe).</summary>
public class RefundPostingsTests
{
    private static long Sum(IEnumerable<LedgerLine> lines, string account) => lines.Where(l => l.Account == account).Sum(l => l.Amount);

    [Fact]
    public void A_one_fen_refund_that_returns_a_one_fen_fee_share_posts_both_moves_and_balances()
    {
        // 100 fen paid, fee 1 fen (0.6 %, half up). 49 back returns no fee (0.49 → 0); the next 1 fen takes the running
        // total to 50, whose share is 0.5 → 1: that refund returns as much fee as it refunds, so its net lines are zero.
        var fee = Money.Of(1, "CNY");
        Assert.Equal(0, Postings.FeeReturned(fee, 100, 0, 49).Minor);
        var back = Postings.FeeReturned(fee, 100, 49, 1);
        Assert.Equal(1, back.Minor);

        var lines = Postings.Refunded("wechatpay", "m", Money.Of(1, "CNY"), back);
        Postings.EnsureBalanced(lines); // threw "A ledger line cannot be zero" before: the refund stayed processing for good
        Assert.Equal(4, lines.Length);
        Assert.Equal(0, Sum(lines, Accounts.MerchantPayable("m")));
        Assert.Equal(0, Sum(lines, Accounts.WalletClearing("wechatpay")));
        Assert.Contains(lines, l => l.Account == Accounts.WalletClearing("wechatpay") && l.Amount == -1); // the buyer's fen left the wallet
    }

    [Fact]
    public void A_refund_larger_than_its_fee_share_still_posts_two_net_lines()
    {
        var lines = Postings.Refunded("wechatpay", "m", Money.Of(49, "CNY"), Money.Of(1, "CNY"));
        Postings.EnsureBalanced(lines);
        Assert.Equal([48, -48], lines.Select(l => l.Amount));
    }

    [Fact]
    public void A_discounted_refund_whose_net_lines_cancel_posts_the_moves_too()
    {
        var lines = Postings.RefundedWithDiscounts("wechatpay", "m", "CNY", new RefundDetails(1, 1, 0, 0), feeReturned: 1);
        Postings.EnsureBalanced(lines);
        Assert.Equal(0, Sum(lines, Accounts.MerchantPayable("m")));
        Assert.Equal(0, Sum(lines, Accounts.WalletClearing("wechatpay")));
    }
}
