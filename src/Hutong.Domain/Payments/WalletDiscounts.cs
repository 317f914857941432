using System.Globalization;
using Hutong.Domain.Ledger;

namespace Hutong.Domain.Payments;

/// <summary>
/// Who bears a wallet coupon, in settlement terms (docs/discounts.md): a <see cref="WalletSettled"/> coupon is pre-funded
/// (WeChat <c>CASH</c> 充值型代金券) — the wallet settles the order's whole amount to the merchant and takes the coupon out of
/// the issuer's deposit; a <see cref="MerchantBorne"/> one is not pre-funded (WeChat <c>NOCASH</c> 免充值型) — the wallet
/// settles the order less the coupon, so the merchant bears it.
/// </summary>
public enum CouponFunding
{
    WalletSettled,
    MerchantBorne,

    /// <summary>A coupon type this hub does not know: the report is refused (never guessed).</summary>
    Unrecognised,
}

/// <summary>One coupon as the wallet reported it: its amount and who contributed it (minor units).</summary>
public sealed record WalletCoupon(
    string CouponId, CouponFunding Funding, long Amount, long WalletContribute, long MerchantContribute, long OtherContribute);

/// <summary>What a wallet reported about how an order was paid: the order amount, the buyer's part and the coupons.</summary>
/// <param name="SettlementTotal">The settlement amount when the wallet states it (WeChat <c>settlement_total</c>); checked, never trusted alone.</param>
/// <param name="Unreadable">Why the connector could not read the wallet's coupon report (bad JSON, a field out of its bounds —
/// UnionPay <c>couponInfo</c>); such a report is refused, never read in part.</param>
public sealed record WalletAmountReport(long Total, long PayerTotal, IReadOnlyList<WalletCoupon> Coupons, long? SettlementTotal = null, string? Unreadable = null)
{
    /// <summary>A report the connector could not read: refused by <see cref="WalletDiscounts.Derive"/> with the reason.</summary>
    public static WalletAmountReport Unread(long total, string reason) => new(total, total, [], null, reason);
}

/// <summary>
/// How a paid order's amount was funded, in minor units: <see cref="Order"/> = <see cref="BuyerPaid"/> +
/// <see cref="WalletDiscount"/> + <see cref="MerchantDiscount"/>, and <see cref="Settlement"/> (what the wallet settles to the
/// merchant) = <see cref="Order"/> − <see cref="MerchantDiscount"/>.
/// </summary>
public sealed record AmountDetails(long Order, long BuyerPaid, long WalletDiscount, long MerchantDiscount)
{
    public long Settlement => Order - MerchantDiscount;

    /// <summary>An order paid in full by the buyer (no coupon, or a wallet that reports none).</summary>
    public static AmountDetails Undiscounted(long order) => new(order, order, 0, 0);

    public bool Discounted => WalletDiscount != 0 || MerchantDiscount != 0;
}

/// <summary>What a refund returns, split as the wallet splits it: to the buyer, and to each kind of coupon.</summary>
/// <param name="Refund">The refund asked for, on the order amount (WeChat <c>amount.refund</c>).</param>
public sealed record RefundDetails(long Refund, long BuyerRefund, long WalletDiscountRefund, long MerchantDiscountRefund)
{
    /// <summary>The part of the refund the wallet takes out of the merchant's settlement (WeChat <c>settlement_refund</c>).</summary>
    public long SettlementRefund => Refund - MerchantDiscountRefund;

    /// <summary>All coupons returned (WeChat <c>discount_refund</c>).</summary>
    public long DiscountRefund => WalletDiscountRefund + MerchantDiscountRefund;
}

/// <summary>Why a wallet's amount report cannot be taken as it is (a problem to reconcile, never booked).</summary>
public sealed record DiscountProblem(string Detail);

/// <summary>
/// Pure rules for wallet discounts: derive a payment's amount details from the wallet's report (refusing reports whose
/// parts do not add up), and split refunds as the wallets do — each coupon is returned in proportion to the refund,
/// rounded on the running total so that refunds adding up to the order return exactly every coupon.
/// </summary>
public static class WalletDiscounts
{
    /// <summary>At most this many coupons on one order are read (WeChat and Alipay list a handful at most).</summary>
    public const int MaxCoupons = 50;

    /// <summary>The payment's amount details from the wallet's report, or why the report is inconsistent.</summary>
    public static (AmountDetails? Details, DiscountProblem? Problem) Derive(long orderAmount, WalletAmountReport report)
    {
        if (report.Unreadable is { } unreadable)
        {
            return Problem($"the wallet's coupon report cannot be read: {unreadable}");
        }

        if (report.Total != orderAmount)
        {
            return Problem($"the report is for {report.Total}, the order is {orderAmount}");
        }

        if (report.Coupons.Count > MaxCoupons)
        {
            return Problem($"{report.Coupons.Count} coupons, more than {MaxCoupons}");
        }

        if (report.PayerTotal < 0 || report.PayerTotal > orderAmount)
        {
            return Problem($"the buyer paid {report.PayerTotal} of {orderAmount}");
        }

        long walletSettled = 0, merchantBorne = 0;
        foreach (var c in report.Coupons)
        {
            if (c.Funding == CouponFunding.Unrecognised)
            {
                return Problem($"coupon {c.CouponId}: a coupon type nobody here knows");
            }

            if (c.Amount <= 0 || c.WalletContribute < 0 || c.MerchantContribute < 0 || c.OtherContribute < 0 || c.Amount > orderAmount)
            {
                return Problem($"coupon {c.CouponId}: amount {c.Amount} or a contribution is out of range");
            }

            // 优惠券面额 = 微信出资金额 + 商家出资金额 + 其他出资方金额 (wechatpay-java refund Promotion.amount).
            if (c.WalletContribute + c.MerchantContribute + c.OtherContribute != c.Amount)
            {
                return Problem($"coupon {c.CouponId}: contributions {c.WalletContribute} + {c.MerchantContribute} + {c.OtherContribute} do not make its amount {c.Amount}");
            }

            if (c.Funding == CouponFunding.WalletSettled)
            {
                walletSettled += c.Amount;
            }
            else
            {
                merchantBorne += c.Amount;
            }

            if (walletSettled + merchantBorne > orderAmount)
            {
                return Problem($"the coupons ({walletSettled + merchantBorne}) exceed the order ({orderAmount})");
            }
        }

        if (report.PayerTotal + walletSettled + merchantBorne != orderAmount)
        {
            return Problem($"the buyer's {report.PayerTotal} and the coupons' {walletSettled + merchantBorne} do not make the order's {orderAmount}");
        }

        var details = new AmountDetails(orderAmount, report.PayerTotal, walletSettled, merchantBorne);
        if (report.SettlementTotal is { } settlement && settlement != details.Settlement)
        {
            return Problem($"the wallet states a settlement of {settlement}, the coupons make it {details.Settlement}");
        }

        return (details, null);

        static (AmountDetails?, DiscountProblem?) Problem(string detail) => (null, new DiscountProblem(detail));
    }

    /// <summary>
    /// The split of a refund of <paramref name="refund"/> after <paramref name="refundedBefore"/> was already refunded: each
    /// funding source returns its running pro-rata share of the order (half up), so a full refund returns every coupon and
    /// the buyer exactly what they paid.
    /// </summary>
    public static RefundDetails SplitRefund(AmountDetails details, long refundedBefore, long refund)
    {
        if (refund <= 0 || refundedBefore < 0 || checked(refundedBefore + refund) > details.Order)
        {
            throw new ArgumentOutOfRangeException(nameof(refund), string.Create(CultureInfo.InvariantCulture, $"refund {refund} after {refundedBefore} of {details.Order}"));
        }

        // Each kind of coupon goes back in proportion to the refund (WeChat: 代金券按比例退回), the buyer gets the rest. On a rare
        // partial step the rounding of two kinds may leave the buyer's part a fen short (even −1); the running totals still
        // return every coupon and the buyer's whole payment exactly once the order is refunded in full.
        var wallet = Postings.RunningShare(details.WalletDiscount, details.Order, refundedBefore, refund);
        var merchant = Postings.RunningShare(details.MerchantDiscount, details.Order, refundedBefore, refund);
        return new RefundDetails(refund, refund - wallet - merchant, wallet, merchant);
    }
}
