using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Hutong.Domain.Ledger;

/// <summary>One line of a journal entry: signed minor units, debit positive, credit negative.</summary>
public sealed record LedgerLine(string Account, string Currency, long Amount);

/// <summary>A journal entry as stored (the chain's unit).</summary>
public sealed record LedgerEntry(string Id, string Kind, string Reference, string? MerchantId, long CreatedAt, IReadOnlyList<LedgerLine> Lines);

public sealed class UnbalancedEntryException(string message) : InvalidOperationException(message);

/// <summary>A posting would take an account's balance past <see cref="Money.MaxBalance"/>; nothing was posted.</summary>
public sealed class LedgerLimitException(string account, string currency)
    : InvalidOperationException($"Posting this entry would take {account} ({currency}) past the ledger's balance limit of {Money.MaxBalance} minor units.")
{
    public string Account { get; } = account;

    public string Currency { get; } = currency;
}

/// <summary>
/// The chart of accounts. Assets are positive when debited: <c>wallet_clearing</c> is money the wallet holds for the hub.
/// Liabilities carry credit (negative) balances: what is owed to merchants, hosts, agencies and the tax office.
/// </summary>
public static class Accounts
{
    public static string WalletClearing(string wallet) => $"wallet_clearing:{wallet}";

    public static string MerchantPayable(string merchantId) => $"merchant_payable:{merchantId}";

    /// <summary>Money captured that no payment may keep (a second capture, a payment after cancel): it goes back.</summary>
    public static string Suspense(string merchantId) => $"suspense:{merchantId}";

    public static string HostPayable(string hostId) => $"host_payable:{hostId}";

    public static string AgencyPayable(string agencyId) => $"agency_payable:{agencyId}";

    public static string PlatformRevenue(string merchantId) => $"platform_revenue:{merchantId}";

    /// <summary>The hosting service's cost of host pay (guarantees and shares).</summary>
    public static string HostCost(string merchantId) => $"host_cost:{merchantId}";

    /// <summary>Individual income tax withheld from host pay, owed to the tax office.</summary>
    public const string TaxWithheld = "tax_withheld";

    /// <summary>Money sent out to payees (bank or wallet transfers).</summary>
    public const string PayoutClearing = "payout_clearing";

    /// <summary>A split receiver's share of a refunded payment that the wallet cannot take back (a memorandum pair with <see cref="ClawbackClaims"/>).</summary>
    public static string ClawbackReceivable(string receiverId) => $"clawback_receivable:{receiverId}";

    /// <summary>
    /// The wallet-settled (pre-funded) coupons of paid orders: the part of the order the wallet settles to the merchant out of
    /// a coupon issuer's deposit rather than the buyer's money (WeChat CASH coupons, Alipay's own discounts). An asset like
    /// <see cref="WalletClearing"/>, kept apart so the buyer's money and the wallet's funding can be told apart.
    /// </summary>
    public static string WalletDiscountReceivable(string wallet) => $"wallet_discount_receivable:{wallet}";

    /// <summary>
    /// The merchant-borne (not pre-funded) coupons of paid orders (WeChat NOCASH, Alipay merchant vouchers): the merchant's
    /// discount expense. The wallet never settles this part, so the merchant's payable never holds it; this memorandum pair
    /// with <see cref="MerchantDiscountGranted"/> records what it cost the merchant.
    /// </summary>
    public static string MerchantDiscountExpense(string merchantId) => $"merchant_discount_expense:{merchantId}";

    /// <summary>The other side of <see cref="MerchantDiscountExpense"/>: the order value the buyer did not pay, granted by the merchant.</summary>
    public static string MerchantDiscountGranted(string merchantId) => $"merchant_discount_granted:{merchantId}";

    /// <summary>The merchant's side of open clawbacks: what its receivers owe it back, outside the wallet.</summary>
    public static string ClawbackClaims(string merchantId) => $"clawback_claims:{merchantId}";
}

/// <summary>The postings of each business event, and the rules every entry obeys.</summary>
public static class Postings
{
    /// <summary>The buyer paid: the wallet holds it, the merchant is owed it.</summary>
    public static LedgerLine[] Captured(string wallet, string merchantId, Money amount) =>
    [
        new(Accounts.WalletClearing(wallet), amount.Currency.Code, amount.Minor),
        new(Accounts.MerchantPayable(merchantId), amount.Currency.Code, -amount.Minor),
    ];

    /// <summary>
    /// The buyer paid with coupons: the wallet holds what the buyer paid and owes the wallet-settled coupons, the merchant is
    /// owed the settlement (order less merchant-borne coupons), and the merchant-borne coupons are booked as its discount
    /// expense (memorandum pair). Without coupons this is exactly <see cref="Captured"/>.
    /// </summary>
    public static LedgerLine[] CapturedWithDiscounts(string wallet, string merchantId, string currency, Payments.AmountDetails d) => NonZero(
    [
        new(Accounts.WalletClearing(wallet), currency, d.BuyerPaid),
        new(Accounts.WalletDiscountReceivable(wallet), currency, d.WalletDiscount),
        new(Accounts.MerchantPayable(merchantId), currency, -d.Settlement),
        new(Accounts.MerchantDiscountExpense(merchantId), currency, d.MerchantDiscount),
        new(Accounts.MerchantDiscountGranted(merchantId), currency, -d.MerchantDiscount),
    ]);

    /// <summary>
    /// A refund of a discounted payment: the buyer's part (less the fee returned) leaves the wallet's clearing, the
    /// wallet-settled coupons' part leaves the receivable, the merchant's payable drops by the settlement refund less the fee
    /// returned, and the merchant-borne coupons' part reverses its expense. Without coupons this is exactly <see cref="Refunded"/>.
    /// </summary>
    public static LedgerLine[] RefundedWithDiscounts(string wallet, string merchantId, string currency, Payments.RefundDetails r, long feeReturned) =>
        NetOrGross(
        [
            new(Accounts.MerchantPayable(merchantId), currency, r.SettlementRefund - feeReturned),
            new(Accounts.WalletClearing(wallet), currency, -(r.BuyerRefund - feeReturned)),
            new(Accounts.WalletDiscountReceivable(wallet), currency, -r.WalletDiscountRefund),
            new(Accounts.MerchantDiscountGranted(merchantId), currency, r.MerchantDiscountRefund),
            new(Accounts.MerchantDiscountExpense(merchantId), currency, -r.MerchantDiscountRefund),
        ], wallet, merchantId, currency, r.SettlementRefund, r.BuyerRefund, feeReturned);

    private static LedgerLine[] NonZero(LedgerLine[] lines) => lines.Where(l => l.Amount != 0).ToArray();

    /// <summary>
    /// A refund's lines net of the fee returned; when those all cancel out (a 1-fen refund that returns a 1-fen share of the
    /// fee, at a rounding step of the running total), the refund and the fee returned as two pairs of their own instead —
    /// an entry needs lines, and the money did move both ways at the wallet.
    /// </summary>
    private static LedgerLine[] NetOrGross(LedgerLine[] net, string wallet, string merchantId, string currency, long settlementRefund, long buyerRefund, long feeReturned)
    {
        var lines = NonZero(net);
        return lines.Length > 0 ? lines : NonZero(
        [
            new(Accounts.MerchantPayable(merchantId), currency, settlementRefund),
            new(Accounts.WalletClearing(wallet), currency, -buyerRefund),
            new(Accounts.MerchantPayable(merchantId), currency, -feeReturned),
            new(Accounts.WalletClearing(wallet), currency, feeReturned),
        ]);
    }

    /// <summary>The wallet keeps its fee out of the capture; the merchant bears it.</summary>
    public static LedgerLine[] WalletFee(string wallet, string merchantId, Money fee) =>
    [
        new(Accounts.MerchantPayable(merchantId), fee.Currency.Code, fee.Minor),
        new(Accounts.WalletClearing(wallet), fee.Currency.Code, -fee.Minor),
    ];

    /// <summary>
    /// A merchant refund: the wallet pays the buyer back and returns the matching part of its fee, so both the
    /// merchant's balance and the wallet's clearing drop by the refund less the fee returned.
    /// </summary>
    public static LedgerLine[] Refunded(string wallet, string merchantId, Money amount, Money feeReturned) => NetOrGross(
    [
        new(Accounts.MerchantPayable(merchantId), amount.Currency.Code, amount.Minor - feeReturned.Minor),
        new(Accounts.WalletClearing(wallet), amount.Currency.Code, -(amount.Minor - feeReturned.Minor)),
    ], wallet, merchantId, amount.Currency.Code, amount.Minor, amount.Minor, feeReturned.Minor);

    /// <summary>
    /// The part of a payment's fee a refund returns (wallets return fees pro rata). Computed on the running total, so
    /// partial refunds that add up to the whole return exactly the whole fee, whatever their order and rounding.
    /// </summary>
    public static Money FeeReturned(Money fee, long captured, long refundedBefore, long refund) =>
        new(RunningShare(fee.Minor, captured, refundedBefore, refund), fee.Currency);

    /// <summary>
    /// The part of <paramref name="value"/> that <paramref name="part"/> of <paramref name="whole"/> carries, rounded half up on
    /// the running total (<paramref name="before"/> + part, less what <paramref name="before"/> already carried), so parts that
    /// add up to the whole carry exactly the whole value. Fees returned on refunds and split shares taken back both use it.
    /// </summary>
    public static long RunningShare(long value, long whole, long before, long part) =>
        checked(ProRata(value, checked(before + part), whole) - ProRata(value, before, whole));

    // value × part overflows a long from about ¥30,000,000 payments (a fee of 0.6 % times the amount), so in 128 bits;
    // with part ≤ whole the result is at most value.
    private static long ProRata(long value, long part, long whole) =>
        whole == 0 ? 0 : checked((long)((((Int128)value * part * 2) + whole) / (2 * (Int128)whole)));

    /// <summary>Money captured that must go back (held in suspense until the refund succeeds).</summary>
    public static LedgerLine[] CapturedToSuspense(string wallet, string merchantId, Money amount) =>
    [
        new(Accounts.WalletClearing(wallet), amount.Currency.Code, amount.Minor),
        new(Accounts.Suspense(merchantId), amount.Currency.Code, -amount.Minor),
    ];

    public static LedgerLine[] SuspenseReturned(string wallet, string merchantId, Money amount) =>
    [
        new(Accounts.Suspense(merchantId), amount.Currency.Code, amount.Minor),
        new(Accounts.WalletClearing(wallet), amount.Currency.Code, -amount.Minor),
    ];

    /// <summary>
    /// A profit-sharing split: the wallet pays a receiver (platform, host, agency) out of the merchant's funds it holds,
    /// so the merchant is owed less and the wallet holds less.
    /// </summary>
    public static LedgerLine[] SplitPaid(string wallet, string merchantId, Money amount) =>
    [
        new(Accounts.MerchantPayable(merchantId), amount.Currency.Code, amount.Minor),
        new(Accounts.WalletClearing(wallet), amount.Currency.Code, -amount.Minor),
    ];

    /// <summary>A receiver's share came back to the merchant's funds at the wallet (a return order, or with the refund).</summary>
    public static LedgerLine[] SplitReturned(string wallet, string merchantId, Money amount) =>
    [
        new(Accounts.WalletClearing(wallet), amount.Currency.Code, amount.Minor),
        new(Accounts.MerchantPayable(merchantId), amount.Currency.Code, -amount.Minor),
    ];

    /// <summary>A share the wallet cannot take back (WeChat: personal receivers): recorded as owed by the receiver to the merchant.</summary>
    public static LedgerLine[] ClawbackDue(string receiverId, string merchantId, Money amount) =>
    [
        new(Accounts.ClawbackReceivable(receiverId), amount.Currency.Code, amount.Minor),
        new(Accounts.ClawbackClaims(merchantId), amount.Currency.Code, -amount.Minor),
    ];

    /// <summary>
    /// A receiver's clawback closed (the reverse of <see cref="ClawbackDue"/>): netted against a split share or payout the
    /// merchant sent less of (the difference stayed in the merchant's funds), repaid outside the hub, or written off.
    /// </summary>
    public static LedgerLine[] ClawbackClosed(string receiverId, string merchantId, Money amount) =>
    [
        new(Accounts.ClawbackClaims(merchantId), amount.Currency.Code, amount.Minor),
        new(Accounts.ClawbackReceivable(receiverId), amount.Currency.Code, -amount.Minor),
    ];

    /// <summary>A wallet fee in basis points of the amount, rounded half up to the minor unit (四舍五入, as the wallets bill it).</summary>
    public static Money Fee(Money amount, int basisPoints) =>
        new(checked((long)((((Int128)amount.Minor * basisPoints) + 5_000) / 10_000)), amount.Currency);

    /// <summary>Every entry has at least two lines, no zero line, and sums to zero in each currency.</summary>
    public static void EnsureBalanced(IReadOnlyList<LedgerLine> lines)
    {
        if (lines.Count < 2)
        {
            throw new UnbalancedEntryException("A ledger entry needs at least two lines.");
        }

        if (lines.Any(l => l.Amount == 0))
        {
            throw new UnbalancedEntryException("A ledger line cannot be zero.");
        }

        foreach (var g in lines.GroupBy(l => l.Currency, StringComparer.Ordinal))
        {
            var sum = g.Aggregate(0L, (s, l) => checked(s + l.Amount));
            if (sum != 0)
            {
                throw new UnbalancedEntryException($"The entry's {g.Key} lines sum to {sum}, not zero.");
            }
        }
    }

    public const string Genesis = "0000000000000000000000000000000000000000000000000000000000000000";

    /// <summary>
    /// The chain link: SHA-256 over the previous hash and a canonical text of the entry (lines sorted, so the order the
    /// database returns them in does not matter). Any edited field, line, or reordering of entries breaks the chain.
    /// </summary>
    public static string Hash(string previousHash, LedgerEntry e) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(previousHash + "\n" + CanonicalText(e))));

    /// <summary>
    /// The entry's canonical text, which <see cref="Hash"/> hashes after the previous hash and a line feed: a store may
    /// compute the same link itself (SHA-256 of the UTF-8 text, lower-case hex).
    /// </summary>
    public static string CanonicalText(LedgerEntry e)
    {
        var sb = new StringBuilder();
        sb.Append(e.Id).Append('|').Append(e.Kind).Append('|').Append(e.Reference).Append('|')
            .Append(e.MerchantId).Append('|').Append(e.CreatedAt.ToString(CultureInfo.InvariantCulture));
        foreach (var l in e.Lines.OrderBy(l => l.Account, StringComparer.Ordinal).ThenBy(l => l.Currency, StringComparer.Ordinal).ThenBy(l => l.Amount))
        {
            sb.Append('\n').Append(l.Account).Append('|').Append(l.Currency).Append('|').Append(l.Amount.ToString(CultureInfo.InvariantCulture));
        }

        return sb.ToString();
    }
}
