using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hutong.Sandbox.WeChatPay;

/// <summary>
/// A coupon a sandbox buyer holds (代金券). Fields as WeChat reports them in promotion_detail (wechatpay-java
/// service/payments/model/PromotionDetail.java): scope GLOBAL (全场) or SINGLE (单品), type CASH (充值型: pre-funded, WeChat
/// settles it to the merchant) or NOCASH (免充值型: not settled, the merchant bears it); contributions in fen.
/// </summary>
public sealed record SandboxCoupon(
    string CouponId, string StockId, string Name, string Scope, string Type, long Amount, long WechatpayContribute, long MerchantContribute, long OtherContribute)
{
    public bool NoCash => Type == "NOCASH";
}

/// <summary>POST /sandbox/wechatpay/buyer/coupons: give a buyer (openid) a coupon. Contributions default to the issuer's whole amount.</summary>
public sealed record GrantCouponRequest(
    string? OpenId, string? Type, long? Amount, string? Scope = null, long? WechatpayContribute = null, long? MerchantContribute = null, long? OtherContribute = null);

/// <summary>
/// The buyers' coupons, and how an order uses and a refund returns them. A paying buyer's coupons are used in the order
/// they were given, each only while the rest of the order covers it; a refund returns each kind of coupon in proportion to
/// the refund (WeChat: 部分退款时代金券按比例退回), rounded half up on the running refunded total so a full refund returns
/// every coupon exactly, and the buyer gets the rest (payer_refund = refund − discount_refund).
/// </summary>
public sealed class WeChatSandboxCoupons
{
    /// <summary>At most this many coupons per buyer (the sandbox bounds what a test can pile up).</summary>
    public const int MaxPerBuyer = 20;

    private readonly ConcurrentDictionary<string, List<SandboxCoupon>> _held = new(StringComparer.Ordinal);

    public SandboxCoupon? Grant(string openId, SandboxCoupon coupon)
    {
        var list = _held.GetOrAdd(openId, _ => []);
        lock (list)
        {
            if (list.Count >= MaxPerBuyer)
            {
                return null;
            }

            list.Add(coupon);
            return coupon;
        }
    }

    /// <summary>Takes the buyer's coupons that fit <paramref name="total"/> (used: they leave the buyer).</summary>
    public List<SandboxCoupon> Use(string? openId, long total)
    {
        var used = new List<SandboxCoupon>();
        if (openId is null || !_held.TryGetValue(openId, out var list))
        {
            return used;
        }

        lock (list)
        {
            var left = total;
            foreach (var c in list.ToList())
            {
                if (c.Amount <= left)
                {
                    used.Add(c);
                    list.Remove(c);
                    left -= c.Amount;
                }
            }
        }

        return used;
    }

    /// <summary>Gives the buyer's coupons back (the order could not be paid after all).</summary>
    public void Return(string? openId, IEnumerable<SandboxCoupon> coupons)
    {
        if (openId is not null && _held.TryGetValue(openId, out var list))
        {
            lock (list)
            {
                list.AddRange(coupons);
            }
        }
    }

    /// <summary>The running share of <paramref name="value"/> for <paramref name="part"/> after <paramref name="before"/> of <paramref name="whole"/>, half up.</summary>
    private static long Share(long value, long whole, long before, long part) => Cumulative(value, before + part, whole) - Cumulative(value, before, whole);

    private static long Cumulative(long value, long part, long whole) =>
        whole == 0 ? 0 : (long)((((Int128)value * part * 2) + whole) / (2 * (Int128)whole));

    /// <summary>Each coupon's refund for a refund of <paramref name="refund"/> after <paramref name="before"/> was refunded (under the order's lock).</summary>
    public static Dictionary<string, long> SplitRefund(SandboxOrder order, long before, long refund)
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var kind in order.Promotions.GroupBy(p => p.NoCash))
        {
            // The kind's share, then spread over its coupons by their amounts (the last takes what rounding leaves).
            var kindTotal = kind.Sum(p => p.Amount);
            var share = Share(kindTotal, order.Total, before, refund);
            var coupons = kind.ToList();
            var given = 0L;
            for (var i = 0; i < coupons.Count; i++)
            {
                var part = i == coupons.Count - 1 ? share - given : Share(share, kindTotal, 0, coupons[i].Amount);
                given += part;
                result[coupons[i].CouponId] = part;
            }
        }

        return result;
    }

    /// <summary>promotion_detail of a paid order (query and TRANSACTION.SUCCESS), as WeChat lists it.</summary>
    public static JsonArray PromotionDetail(SandboxOrder o, string currency) =>
    [
        .. o.Promotions.Select(p => (JsonNode)new JsonObject
        {
            ["coupon_id"] = p.CouponId, ["name"] = p.Name, ["scope"] = p.Scope, ["type"] = p.Type, ["amount"] = p.Amount, ["stock_id"] = p.StockId,
            ["wechatpay_contribute"] = p.WechatpayContribute, ["merchant_contribute"] = p.MerchantContribute, ["other_contribute"] = p.OtherContribute,
            ["currency"] = currency,
        }),
    ];

    /// <summary>
    /// promotion_detail of a refund (wechatpay-java service/refund/model/Promotion.java): promotion_id, scope, type COUPON (充值型,
    /// settled) or DISCOUNT (免充值型), amount and refund_amount.
    /// </summary>
    public static JsonArray RefundPromotionDetail(SandboxOrder o, SandboxRefund r) =>
    [
        .. o.Promotions.Select(p => (JsonNode)new JsonObject
        {
            ["promotion_id"] = p.CouponId, ["scope"] = p.Scope, ["type"] = p.NoCash ? "DISCOUNT" : "COUPON", ["amount"] = p.Amount,
            ["refund_amount"] = r.CouponRefunds.GetValueOrDefault(p.CouponId),
        }),
    ];

    public static void Map(RouteGroupBuilder g, WeChatSandboxState state) =>
        g.MapPost("/buyer/coupons", (GrantCouponRequest r) =>
        {
            if (string.IsNullOrEmpty(r.OpenId) || r.Type is not ("CASH" or "NOCASH") || r.Amount is not (> 0 and <= 100_000_000)
                || r.Scope is not (null or "GLOBAL" or "SINGLE"))
            {
                return Results.BadRequest(new { code = "PARAM_ERROR", message = "openid, type CASH|NOCASH, amount 1..100000000 and scope GLOBAL|SINGLE" });
            }

            var amount = r.Amount.Value;
            var anyGiven = r.WechatpayContribute is not null || r.MerchantContribute is not null || r.OtherContribute is not null;
            // By default a CASH coupon is WeChat's (or a pre-funded issuer's) money, a NOCASH one the merchant's; a test may
            // set contributions that do not add up, to see the hub refuse the report.
            var coupon = new SandboxCoupon(
                RandomNumberGenerator.GetString("0123456789", 10), "stk" + RandomNumberGenerator.GetString("0123456789", 8),
                r.Type == "CASH" ? "代金券" : "免充值券", r.Scope ?? "GLOBAL", r.Type, amount,
                anyGiven ? r.WechatpayContribute ?? 0 : r.Type == "CASH" ? amount : 0,
                anyGiven ? r.MerchantContribute ?? 0 : r.Type == "NOCASH" ? amount : 0,
                anyGiven ? r.OtherContribute ?? 0 : 0);
            return state.Coupons.Grant(r.OpenId, coupon) is { } granted
                ? Results.Ok(new { coupon_id = granted.CouponId, stock_id = granted.StockId, type = granted.Type, amount = granted.Amount })
                : Results.BadRequest(new { code = "COUPON_LIMIT", message = $"at most {MaxPerBuyer} coupons per buyer" });
        });
}
