using System.Text.Json;
using System.Text.Json.Nodes;
using Hutong.Domain.Payments;

namespace Hutong.Connectors.Alipay;

/// <summary>
/// How Alipay says an order was funded (docs/discounts.md): total_amount, buyer_pay_amount (+ point_amount, 集分宝),
/// receipt_amount (商家实收: the total less the merchant's voucher parts) and voucher_detail_list, whose every voucher's
/// amount = merchant_contribute (borne by the merchant, never settled) + other_contribute (Alipay's or a brand's, settled
/// with the order) — alipay-sdk-java-all domain/VoucherDetail.java. The query answer lists vouchers as objects with
/// snake_case keys; the asynchronous notification carries the list as JSON text with camelCase keys.
/// </summary>
internal static class AlipayDiscounts
{
    public static WalletAmountReport? Report(long? total, string? buyerPay, string? point, string? receipt, IEnumerable<(string Id, string? Amount, string? Merchant, string? Other)> vouchers)
    {
        if (total is not { } t || !AlipayAmount.TryParseFen(buyerPay, out var paid))
        {
            return null;
        }

        var points = AlipayAmount.TryParseFen(point, out var p) ? p : 0;
        var list = vouchers.Take(WalletDiscounts.MaxCoupons + 1).ToList();
        if (list.Count == 0 && paid + points == t)
        {
            return null; // the buyer paid it all
        }

        var coupons = new List<WalletCoupon>();
        foreach (var (id, amountText, merchantText, otherText) in list)
        {
            var ok = AlipayAmount.TryParseFen(amountText, out var amount);
            var merchant = AlipayAmount.TryParseFen(merchantText, out var m) ? m : 0;
            var other = AlipayAmount.TryParseFen(otherText, out var o) ? o : 0;
            if (!ok || merchant + other != amount)
            {
                // Parts that do not make the voucher: handed on as they are, so the hub refuses the report.
                coupons.Add(new WalletCoupon(id, CouponFunding.WalletSettled, ok ? amount : -1, other, merchant, 0));
                continue;
            }

            if (merchant > 0)
            {
                coupons.Add(new WalletCoupon(id + ":merchant", CouponFunding.MerchantBorne, merchant, 0, merchant, 0));
            }

            if (other > 0)
            {
                coupons.Add(new WalletCoupon(id + ":other", CouponFunding.WalletSettled, other, 0, 0, other));
            }
        }

        return new WalletAmountReport(t, paid + points, coupons, AlipayAmount.TryParseFen(receipt, out var r) ? r : null);
    }

    /// <summary>The query answer's voucher_detail_list.</summary>
    public static IEnumerable<(string, string?, string?, string?)> FromQuery(JsonNode? list) =>
        (list as JsonArray ?? []).Take(WalletDiscounts.MaxCoupons + 1).OfType<JsonObject>().Select(v => (
            Str(v, "id") ?? string.Empty, Str(v, "amount"), Str(v, "merchant_contribute"), Str(v, "other_contribute")));

    /// <summary>The notification's voucher_detail_list (JSON text, camelCase); unreadable text gives a voucher that cannot add up.</summary>
    public static IEnumerable<(string, string?, string?, string?)> FromNotification(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return [];
        }

        try
        {
            return (JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { MaxDepth = 8 }) as JsonArray ?? []).Take(WalletDiscounts.MaxCoupons + 1).OfType<JsonObject>()
                .Select(v => (Str(v, "voucherId") ?? Str(v, "id") ?? string.Empty, Str(v, "amount"), Str(v, "merchantContribute"), Str(v, "otherContribute"))).ToList();
        }
        catch (JsonException)
        {
            return [("unreadable", null, null, null)];
        }
    }

    private static string? Str(JsonObject o, string name) => o[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}
