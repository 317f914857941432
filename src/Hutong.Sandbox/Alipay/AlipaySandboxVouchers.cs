using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hutong.Sandbox.Alipay;

/// <summary>
/// A voucher (券) a sandbox Alipay buyer holds, as Alipay reports it in voucher_detail_list (alipay-sdk-java-all
/// domain/VoucherDetail.java): amount = merchant_contribute (the trading merchant's part, which the merchant does not
/// receive) + other_contribute (Alipay's or a brand's part, which Alipay settles to the merchant), in fen here.
/// </summary>
public sealed record AlipaySandboxVoucher(string Id, string Name, string Type, long AmountFen, long MerchantContributeFen, long OtherContributeFen);

/// <summary>POST /sandbox/alipay/buyer/vouchers: give a buyer (buyer_id) a voucher; contributions default to Alipay's whole amount.</summary>
public sealed record GrantVoucherRequest(string? BuyerId, long? Amount, long? MerchantContribute = null, long? OtherContribute = null, string? Type = null);

/// <summary>
/// The buyers' vouchers and how orders use and refunds return them: a paying buyer's vouchers are used while the order
/// covers them; a refund returns the merchant's and the others' parts each in proportion to the refund, rounded half up on
/// the running refunded total (present_refund_mdiscount_amount / present_refund_discount_amount), the buyer the rest.
/// </summary>
public static class AlipaySandboxVouchers
{
    public const int MaxPerBuyer = 20;

    public static List<AlipaySandboxVoucher> Use(AlipaySandboxState state, string? buyerId, long totalFen)
    {
        var used = new List<AlipaySandboxVoucher>();
        if (buyerId is null || !state.Vouchers.TryGetValue(buyerId, out var list))
        {
            return used;
        }

        lock (list)
        {
            var left = totalFen;
            foreach (var v in list.ToList())
            {
                if (v.AmountFen <= left)
                {
                    used.Add(v);
                    list.Remove(v);
                    left -= v.AmountFen;
                }
            }
        }

        return used;
    }

    private static long Share(long value, long whole, long before, long part) => Cumulative(value, before + part, whole) - Cumulative(value, before, whole);

    private static long Cumulative(long value, long part, long whole) =>
        whole == 0 ? 0 : (long)((((Int128)value * part * 2) + whole) / (2 * (Int128)whole));

    /// <summary>The merchant's and the others' voucher parts a refund of <paramref name="fen"/> after <paramref name="before"/> returns.</summary>
    public static (long Merchant, long Other) SplitRefund(AlipaySandboxOrder o, long before, long fen) =>
        (Share(o.VouchersUsed.Sum(v => v.MerchantContributeFen), o.TotalFen, before, fen), Share(o.VouchersUsed.Sum(v => v.OtherContributeFen), o.TotalFen, before, fen));

    /// <summary>voucher_detail_list of the query answer (snake_case keys, yuan strings).</summary>
    public static JsonArray QueryList(AlipaySandboxOrder o) =>
    [
        .. o.VouchersUsed.Select(v => (JsonNode)new JsonObject
        {
            ["id"] = v.Id, ["name"] = v.Name, ["type"] = v.Type, ["amount"] = AlipayAmount.FromFen(v.AmountFen),
            ["merchant_contribute"] = AlipayAmount.FromFen(v.MerchantContributeFen), ["other_contribute"] = AlipayAmount.FromFen(v.OtherContributeFen),
        }),
    ];

    /// <summary>
    /// voucher_detail_list of the asynchronous notification: a JSON text in one form field, keys in camelCase as in Alipay's
    /// notification example ([{"amount":"0.20","merchantContribute":"0.00","name":"…","otherContribute":"0.20","type":"ALIPAY_DISCOUNT_VOUCHER"}]).
    /// </summary>
    public static string NotifyList(AlipaySandboxOrder o) => new JsonArray(
    [
        .. o.VouchersUsed.Select(v => (JsonNode)new JsonObject
        {
            ["amount"] = AlipayAmount.FromFen(v.AmountFen), ["merchantContribute"] = AlipayAmount.FromFen(v.MerchantContributeFen), ["name"] = v.Name,
            ["otherContribute"] = AlipayAmount.FromFen(v.OtherContributeFen), ["type"] = v.Type, ["voucherId"] = v.Id,
        }),
    ]).ToJsonString();

    /// <summary>fund_bill_list of the notification: the buyer's balance and, per voucher part, its channel (camelCase keys).</summary>
    public static string NotifyFundBills(AlipaySandboxOrder o)
    {
        var bills = new JsonArray();
        if (o.BuyerPayFen > 0)
        {
            bills.Add(new JsonObject { ["amount"] = AlipayAmount.FromFen(o.BuyerPayFen), ["fundChannel"] = "ALIPAYACCOUNT" });
        }

        var other = o.VouchersUsed.Sum(v => v.OtherContributeFen);
        var merchant = o.VouchersUsed.Sum(v => v.MerchantContributeFen);
        if (other > 0)
        {
            bills.Add(new JsonObject { ["amount"] = AlipayAmount.FromFen(other), ["fundChannel"] = "DISCOUNT" });
        }

        if (merchant > 0)
        {
            bills.Add(new JsonObject { ["amount"] = AlipayAmount.FromFen(merchant), ["fundChannel"] = "MDISCOUNT" });
        }

        return bills.ToJsonString();
    }

    public static void Map(RouteGroupBuilder g, AlipaySandboxState state) =>
        g.MapPost("/buyer/vouchers", (GrantVoucherRequest r) =>
        {
            if (string.IsNullOrEmpty(r.BuyerId) || r.Amount is not (> 0 and <= 100_000_000) || r.MerchantContribute is < 0 || r.OtherContribute is < 0)
            {
                return Results.BadRequest(new { code = "PARAM_ERROR", message = "buyer_id, amount 1..100000000 fen, contributions ≥ 0" });
            }

            var amount = r.Amount.Value;
            var merchant = r.MerchantContribute ?? 0;
            var other = r.OtherContribute ?? (r.MerchantContribute is null ? amount : 0);
            var voucher = new AlipaySandboxVoucher("2026" + RandomNumberGenerator.GetString("0123456789", 16), "沙箱代金券", r.Type ?? "ALIPAY_FIX_VOUCHER", amount, merchant, other);
            var list = state.Vouchers.GetOrAdd(r.BuyerId, _ => []);
            lock (list)
            {
                if (list.Count >= MaxPerBuyer)
                {
                    return Results.BadRequest(new { code = "VOUCHER_LIMIT", message = $"at most {MaxPerBuyer} vouchers per buyer" });
                }

                list.Add(voucher);
            }

            return Results.Ok(new { voucher_id = voucher.Id, amount, merchant_contribute = merchant, other_contribute = other });
        });
}
