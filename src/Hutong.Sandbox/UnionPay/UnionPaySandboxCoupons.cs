using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Unicode;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hutong.Sandbox.UnionPay;

/// <summary>
/// One sponsor's part of a UnionPay discount activity, as couponInfo lists it: type DD01 (随机立减) / CP01 (抵金券1, 无需领取)
/// / CP02 (抵金券2, 事前领取); spnsrId 00010000 for UnionPay, the 8-digit institution code of the paying bank, or the
/// 15-digit merchant code; offstAmt in fen; id (票券号码/活动编号); desc. Source: 招商银行 聚合收单 API §2.6.3 银联优惠信息
/// (the stored public page, read_file id 12509909572), which describes the field UnionPay passes through.
/// </summary>
public sealed record UnionPaySandboxCouponPart(string Type, string SpnsrId, long OffstAmt, string Id, string Desc);

/// <summary>
/// A discount activity a sandbox buyer (by card number, accNo) holds: its parts by sponsor. "一笔交易只会适配最多一个优惠活动，
/// 一个活动可以包含多个出资方" — so a payment uses at most one. The merchant's part is written with the paying merchant's
/// merId as its spnsrId. <paramref name="RawCouponInfo"/>, when a test sets it, is sent verbatim as couponInfo instead of
/// the parts (a lever for a malformed report; the parts still decide settleAmt).
/// </summary>
public sealed record UnionPaySandboxActivity(string Type, string Id, string Desc, long UnionPay, long Bank, string BankCode, long Merchant, string? RawCouponInfo)
{
    public long Total => UnionPay + Bank + Merchant;
}

/// <summary>POST /sandbox/unionpay/buyer/coupons: give a card (acc_no) a discount activity, with each sponsor's part in fen.</summary>
public sealed record GrantUnionPayCouponRequest(
    string? AccNo, string? Type = null, long? UnionPay = null, long? Bank = null, long? Merchant = null, string? BankCode = null,
    string? Id = null, string? Desc = null, string? RawCouponInfo = null);

/// <summary>
/// The buyers' UnionPay discounts, and how a payment uses and a 退货 returns them. The sources say UnionPay- and
/// bank-funded amounts do not reduce the merchant's settlement (settleAmt = txnAmt − the merchant's part). They say nothing
/// on refunds: this sandbox returns each sponsor kind's part in proportion to the refund, rounded half up on the running
/// refunded total (as WeChat documents for its coupons), so refunds adding up to the order return every part exactly.
/// </summary>
public sealed class UnionPaySandboxCoupons
{
    public const int MaxPerBuyer = 20;

    /// <summary>The 8-digit institution code the sandbox uses for an issuer bank's part when the test names none.</summary>
    public const string DefaultBankCode = "01020000";

    private static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.Create(UnicodeRanges.All) };

    private readonly ConcurrentDictionary<string, List<UnionPaySandboxActivity>> _held = new(StringComparer.Ordinal);

    /// <summary>Takes the buyer's first activity that the order covers (at most one per payment), or null.</summary>
    public UnionPaySandboxActivity? Use(string? accNo, long txnAmt)
    {
        if (accNo is null || !_held.TryGetValue(accNo, out var list))
        {
            return null;
        }

        lock (list)
        {
            var a = list.FirstOrDefault(a => a.Total <= txnAmt);
            if (a is not null)
            {
                list.Remove(a);
            }

            return a;
        }
    }

    /// <summary>The parts couponInfo lists for an activity used by merchant <paramref name="merId"/>.</summary>
    public static List<UnionPaySandboxCouponPart> Parts(UnionPaySandboxActivity a, string merId)
    {
        var parts = new List<UnionPaySandboxCouponPart>();
        if (a.UnionPay > 0)
        {
            parts.Add(new(a.Type, "00010000", a.UnionPay, a.Id, a.Desc));
        }

        if (a.Bank > 0)
        {
            parts.Add(new(a.Type, a.BankCode, a.Bank, a.Id, a.Desc));
        }

        if (a.Merchant > 0)
        {
            parts.Add(new(a.Type, merId, a.Merchant, a.Id, a.Desc));
        }

        return parts;
    }

    /// <summary>couponInfo as a JSON array of objects with string values (the sources' example and recorded notification).</summary>
    public static string CouponInfo(IEnumerable<UnionPaySandboxCouponPart> parts) => new JsonArray(
    [
        .. parts.Select(p => (JsonNode)new JsonObject
        {
            ["type"] = p.Type, ["spnsrId"] = p.SpnsrId, ["offstAmt"] = p.OffstAmt.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["id"] = p.Id, ["desc"] = p.Desc,
        }),
    ]).ToJsonString(Compact);

    /// <summary>A share of <paramref name="value"/> for a refund of <paramref name="part"/> after <paramref name="before"/>, half up on the running total.</summary>
    public static long Share(long value, long whole, long before, long part) => Cumulative(value, before + part, whole) - Cumulative(value, before, whole);

    private static long Cumulative(long value, long part, long whole) =>
        whole == 0 ? 0 : (long)((((Int128)value * part * 2) + whole) / (2 * (Int128)whole));

    public void Map(RouteGroupBuilder g) =>
        g.MapPost("/buyer/coupons", (GrantUnionPayCouponRequest r) =>
        {
            var type = r.Type ?? "DD01";
            var bankCode = r.BankCode ?? DefaultBankCode;
            if (string.IsNullOrEmpty(r.AccNo) || r.AccNo.Length > 19 || type is not ("DD01" or "CP01" or "CP02")
                || r.UnionPay is < 0 or > 100_000_000 || r.Bank is < 0 or > 100_000_000 || r.Merchant is < 0 or > 100_000_000
                || (r.UnionPay ?? 0) + (r.Bank ?? 0) + (r.Merchant ?? 0) < 1
                || bankCode.Length != 8 || !bankCode.All(char.IsAsciiDigit) || bankCode == "00010000"
                || r.Id is { Length: > 40 } || r.Desc is { Length: > 60 } || r.RawCouponInfo is { Length: > 4096 })
            {
                return Results.BadRequest(new
                {
                    code = "PARAM_ERROR",
                    message = "acc_no (≤ 19), type DD01/CP01/CP02, union_pay/bank/merchant 0..100000000 fen (at least one), bank_code 8 digits (not 00010000), id ≤ 40, desc ≤ 60",
                });
            }

            var activity = new UnionPaySandboxActivity(type, r.Id ?? "cupcp" + RandomNumberGenerator.GetString("0123456789", 8), r.Desc ?? "银联优惠 沙箱立减",
                r.UnionPay ?? 0, r.Bank ?? 0, bankCode, r.Merchant ?? 0, r.RawCouponInfo);
            var list = _held.GetOrAdd(r.AccNo, _ => []);
            lock (list)
            {
                if (list.Count >= MaxPerBuyer)
                {
                    return Results.BadRequest(new { code = "COUPON_LIMIT", message = $"at most {MaxPerBuyer} activities per card" });
                }

                list.Add(activity);
            }

            return Results.Ok(new { acc_no = r.AccNo, type, id = activity.Id, union_pay = activity.UnionPay, bank = activity.Bank, bank_code = bankCode, merchant = activity.Merchant });
        });
}
