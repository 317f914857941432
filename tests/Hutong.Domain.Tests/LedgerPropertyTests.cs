using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Hutong.Domain.Ledger;
using Hutong.Domain.Settlement;

namespace Hutong.Domain.Tests;

/// <summary>
/// Random sequences of payments, failures, profit-sharing splits, refunds (partial and full, in any order, taking shares
/// back) and double captures, posted with the production planner and postings: every entry balances, money is never
/// created or lost, no payable goes negative (counting what receivers owe back), splits stay within the cap, and refunds
/// never exceed what was captured.
/// </summary>
public class LedgerPropertyTests
{
    /// <summary>One step: pay (and maybe fail), refund part of an earlier payment, or a capture that must go back.</summary>
    public sealed record Op(int Kind, long Amount, int Target, int FeeBasisPoints);

    private static Arbitrary<Op[]> Ops() =>
        Gen.Sized(size => Gen.ArrayOf(
            from kind in Gen.Choose(0, 6)
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

        /// <summary>Each split share: receiver, amount, what came back, and whether the wallet can take it back (else clawback).</summary>
        public List<(string Receiver, long Amount, long Back, bool Returnable)> Shares { get; } = [];

        public int Splits { get; set; }
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
                    for (var i = 0; i < p.Shares.Count; i++)
                    {
                        var share = p.Shares[i];
                        var take = SplitPlanner.ReturnOnRefund(share.Amount, share.Amount - share.Back, p.Amount.Minor, p.Refunded, refund);
                        if (take > 0)
                        {
                            book.Post(share.Returnable
                                ? Postings.SplitReturned(p.Wallet, merchant, Money.Of(take, "CNY"))
                                : Postings.ClawbackDue(share.Receiver, merchant, Money.Of(take, "CNY")));
                            p.Shares[i] = share with { Back = share.Back + take };
                        }
                    }

                    p.Refunded += refund;
                    break;
                case 5 or 6 when paid.Count > 0: // split an earlier payment to one or two receivers, as the planner allows
                    var sp = paid[op.Target % paid.Count];
                    var rules = new List<SplitRule> { new("rcv_a", null, 1 + (int)(op.Amount % 3_500)) };
                    if (op.Kind == 6)
                    {
                        rules.Add(new SplitRule("rcv_b", 1 + (op.Amount % 900), null));
                    }

                    var now = DateTimeOffset.UnixEpoch.AddDays(1);
                    var context = new SplitContext(sp.Amount.Minor, sp.Fee.Minor, sp.Refunded, sp.Shares.Sum(x => x.Amount - x.Back), sp.Splits, false, now);
                    var (shares, _) = SplitPlanner.Plan(rules, context, SplitPolicy.WeChatPay, now.AddMinutes(2));
                    foreach (var share in shares ?? [])
                    {
                        book.Post(Postings.SplitPaid(sp.Wallet, merchant, Money.Of(share.Amount, "CNY")));
                        sp.Shares.Add((share.ReceiverId, share.Amount, 0, share.ReceiverId == "rcv_a" || op.FeeBasisPoints == 0));
                    }

                    sp.Splits += shares is null ? 0 : 1;
                    if (shares is not null && context.AlreadySplit + shares.Sum(x => x.Amount) > (sp.Amount.Minor - sp.Fee.Minor - sp.Refunded) * 30 / 100)
                    {
                        return false.Label("a split past the cap was planned");
                    }

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
        var splitNet = paid.Sum(x => x.Shares.Sum(s => s.Amount - (s.Returnable ? s.Back : 0)));
        var clawedBack = paid.Sum(x => x.Shares.Where(s => !s.Returnable).Sum(s => s.Back));
        var expectedPayable = paid.Sum(x => x.Amount.Minor - x.Fee.Minor - x.Refunded + ProRataBack(x)) - splitNet;
        var claims = -book.Balance(Accounts.ClawbackClaims(merchant));
        return (all.Sum(l => l.Amount) == 0).Label("debits equal credits")
            .And((clearing == -payable - book.Balance(Accounts.Suspense(merchant))).Label("the wallets hold exactly what is owed"))
            .And((-payable + claims >= 0).Label("no negative payable, counting what receivers owe back"))
            .And((claims == clawedBack && book.Balance(Accounts.ClawbackReceivable("rcv_b")) + book.Balance(Accounts.ClawbackReceivable("rcv_a")) == claims).Label("clawbacks: receivables = claims"))
            .And(paid.Where(x => x.Refunded == x.Amount.Minor).All(x => x.Shares.All(s => s.Back == s.Amount)).Label("a full refund takes every share back"))
            .And((-payable == expectedPayable).Label("payable = captures − fees − refunds + fees returned − shares kept by receivers"))
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
