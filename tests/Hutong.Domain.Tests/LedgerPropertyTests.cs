using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Hutong.Domain.Ledger;

namespace Hutong.Domain.Tests;

/// <summary>
/// Random sequences of payments, failures, refunds (partial and full, in any order) and double captures, posted with the
/// production postings: every entry balances, money is never created or lost, no payable goes negative, and refunds never
/// exceed what was captured.
/// </summary>
public class LedgerPropertyTests
{
    /// <summary>One step: pay (and maybe fail), refund part of an earlier payment, or a capture that must go back.</summary>
    public sealed record Op(int Kind, long Amount, int Target, int FeeBasisPoints);

    private static Arbitrary<Op[]> Ops() =>
        Gen.Sized(size => Gen.ArrayOf(
            from kind in Gen.Choose(0, 4)
            from amount in Gen.Choose(1, 5_000_000)
            from target in Gen.Choose(0, 1_000)
            from bps in Gen.Elements(0, 38, 60, 100)
            select new Op(kind, amount, target, bps), Math.Max(1, size)))
        .ToArbitrary();

    private sealed class Book
    {
        public List<LedgerLine[]> Entries { get; } = [];

        public long Balance(string account) => Entries.SelectMany(e => e).Where(l => l.Account == account).Sum(l => l.Amount);

        public void Post(LedgerLine[] lines)
        {
            Postings.EnsureBalanced(lines);
            Entries.Add(lines);
        }
    }

    private sealed record Paid(string Wallet, Money Amount, Money Fee)
    {
        public long Refunded { get; set; }
    }

    [Property(MaxTest = 300)]
    public Property Money_always_adds_up() => Prop.ForAll(Ops(), ops =>
    {
        var book = new Book();
        var paid = new List<Paid>();
        var wallets = new[] { "wechatpay", "alipay", "unionpay" };
        const string merchant = "mch_1";
        var suspense = 0L;
        foreach (var op in ops)
        {
            var wallet = wallets[op.Target % wallets.Length];
            var amount = Money.Of(op.Amount, "CNY");
            switch (op.Kind)
            {
                case 0 or 1: // a payment succeeds
                    var fee = Postings.Fee(amount, op.FeeBasisPoints);
                    book.Post(Postings.Captured(wallet, merchant, amount));
                    if (fee.Minor > 0)
                    {
                        book.Post(Postings.WalletFee(wallet, merchant, fee));
                    }

                    paid.Add(new Paid(wallet, amount, fee));
                    break;
                case 2: // a payment fails: nothing posts
                    break;
                case 3 when paid.Count > 0: // refund part (or the rest) of an earlier payment
                    var p = paid[op.Target % paid.Count];
                    var left = p.Amount.Minor - p.Refunded;
                    var refund = Math.Min(left, 1 + (op.Amount % Math.Max(1, p.Amount.Minor)));
                    if (refund <= 0)
                    {
                        break; // nothing left: the API refuses, nothing posts
                    }

                    var back = Postings.FeeReturned(p.Fee, p.Amount.Minor, p.Refunded, refund);
                    book.Post(Postings.Refunded(p.Wallet, merchant, Money.Of(refund, "CNY"), back));
                    p.Refunded += refund;
                    break;
                case 4: // a second capture: to suspense, then refunded by the hub
                    book.Post(Postings.CapturedToSuspense(wallet, merchant, amount));
                    suspense += amount.Minor;
                    if (op.Target % 2 == 0)
                    {
                        book.Post(Postings.SuspenseReturned(wallet, merchant, amount));
                        suspense -= amount.Minor;
                    }

                    break;
            }
        }

        var all = book.Entries.SelectMany(e => e).ToList();
        var clearing = wallets.Sum(w => book.Balance(Accounts.WalletClearing(w)));
        var payable = book.Balance(Accounts.MerchantPayable(merchant));
        var expectedPayable = paid.Sum(x => x.Amount.Minor - x.Fee.Minor - x.Refunded + ProRataBack(x));
        return (all.Sum(l => l.Amount) == 0).Label("debits equal credits")
            .And((clearing == -payable - book.Balance(Accounts.Suspense(merchant))).Label("the wallets hold exactly what is owed"))
            .And((payable <= 0).Label("no negative payable"))
            .And((-payable == expectedPayable).Label("payable = captures − fees − refunds + fees returned"))
            .And((-book.Balance(Accounts.Suspense(merchant)) == suspense).Label("suspense holds the captures not yet returned"))
            .And(paid.All(x => x.Refunded <= x.Amount.Minor).Label("refunds never exceed the capture"))
            .And(paid.Where(x => x.Refunded == x.Amount.Minor).All(x => ProRataBack(x) == x.Fee.Minor).Label("a full refund returns the whole fee"));
    });

    private static long ProRataBack(Paid p) => Postings.FeeReturned(p.Fee, p.Amount.Minor, 0, p.Refunded).Minor;

    [Property(MaxTest = 500)]
    public Property Fee_returned_in_any_number_of_parts_sums_to_the_fee_returned_at_once(PositiveInt captured, PositiveInt bps, int[] cuts)
    {
        var amount = Math.Min(captured.Get, 10_000_000);
        var fee = Postings.Fee(Money.Of(amount, "CNY"), Math.Min(bps.Get, 1_000));
        long done = 0, back = 0;
        foreach (var cut in cuts ?? [])
        {
            var part = Math.Min(amount - done, Math.Abs((long)cut) % (amount + 1));
            back += Postings.FeeReturned(fee, amount, done, part).Minor;
            done += part;
        }

        return (back == Postings.FeeReturned(fee, amount, 0, done).Minor && back >= 0 && back <= fee.Minor).ToProperty();
    }
}
