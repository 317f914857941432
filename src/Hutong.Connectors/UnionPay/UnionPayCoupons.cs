using System.Globalization;
using System.Text;
using System.Text.Json;
using Hutong.Domain.Payments;

namespace Hutong.Connectors.UnionPay;

/// <summary>Who funds one couponInfo entry, read from its spnsrId (出资方).</summary>
public enum UnionPaySponsor
{
    /// <summary>spnsrId 00010000: UnionPay itself (银联出资).</summary>
    UnionPay,

    /// <summary>An 8-digit institution code other than 00010000: the paying (issuer) bank (付款行出资).</summary>
    IssuerBank,

    /// <summary>A 15-character merchant code: the merchant (商户出资).</summary>
    Merchant,

    /// <summary>Any other spnsrId: nobody this hub knows; the report is refused.</summary>
    Unknown,
}

/// <summary>One couponInfo entry: a sponsor's part of the (one) discount activity the transaction matched.</summary>
public sealed record UnionPayCoupon(string Type, string SpnsrId, long OffstAmt, string Id, string? Desc, string? AddnInfo)
{
    public UnionPaySponsor Sponsor => UnionPayCoupons.Classify(SpnsrId);
}

/// <summary>
/// UnionPay's discount report (银联优惠信息 <c>couponInfo</c>) on a consumption's backUrl notification and query answer, read
/// strictly, and mapped to the hub's discount model (docs/discounts-unionpay.md).
/// <para>
/// The format, from the public sources (ACP's own specification is not public; these are acquirers' and aggregators'
/// documents that pass ACP's field through): a JSON array of objects {type String(4) required — DD01 随机立减, CP01 抵金券1
/// (无需领取), CP02 抵金券2 (事前领取), "未来银联可能根据业务发展拓展新的项目类型"; spnsrId String(20) required — "银联出资固定填写
/// 00010000，付款行作为出资方则填写8位付款方机构代码，商户作为出资方则填写15位商户代码"; offstAmt String(12) required — fen, "不能全为0";
/// id String(40) required — 票券号码、活动编号; desc String(60) optional; addnInfo String(100) optional}. "一笔交易只会适配最多
/// 一个优惠活动，一个活动可以包含多个出资方 … couponInfo将包含多个json对象 … 其中，银联或付款行出资的营销金额不影响商户的清算金额。"
/// — 招商银行 聚合收单 API, §2.6.3 银联优惠信息 (stored public page, read_file id 12509909572). The same fields:
/// 汇付 API <c>unionpay_response.coupon_info[]</c> (id 59641742447); an aggregator's C# model classifying
/// spnsrId = 00010000 as the platform's, length 15 as the merchant's, length 8 (not 00010000) as a third party's
/// (id 21688409638).
/// </para>
/// <para>
/// Transport: a UnionPay QR notification recorded in public code carries couponInfo as plain JSON text in one form field
/// (<c>couponInfo=[{"id":…,"type":"CP01","spnsrId":"00010000","offstAmt":"1000"}]</c>, id 5790377363); another acquirer's
/// (commented-out) handler Base64-decodes it first (id 47286041561). Both are accepted: a value that is not a JSON array
/// is read as Base64 of one, and anything else is refused.
/// </para>
/// <para>
/// Mapping: UnionPay- and issuer-bank-funded parts do not reduce the merchant's settlement (wallet-settled: UnionPay's as
/// the wallet's contribution, the bank's as another funder's); a merchant-funded part does (merchant-borne).
/// </para>
/// </summary>
public static class UnionPayCoupons
{
    /// <summary>spnsrId of UnionPay itself (银联出资固定填写00010000).</summary>
    public const string UnionPaySponsorId = "00010000";

    /// <summary>The couponInfo text read at most (50 entries of the documented sizes fit well within it).</summary>
    public const int MaxTextChars = 16_384;

    /// <summary>The project types the sources define; any other is refused (never guessed).</summary>
    public static readonly IReadOnlySet<string> KnownTypes = new HashSet<string>(StringComparer.Ordinal) { "DD01", "CP01", "CP02" };

    private static readonly JsonDocumentOptions Json = new() { MaxDepth = 4, CommentHandling = JsonCommentHandling.Disallow, AllowTrailingCommas = false };

    public static UnionPaySponsor Classify(string spnsrId) => spnsrId switch
    {
        UnionPaySponsorId => UnionPaySponsor.UnionPay,
        { Length: 8 } when spnsrId.All(char.IsAsciiDigit) => UnionPaySponsor.IssuerBank,
        // 15 characters: the merchant code (a QR merchant's may begin with letters, e.g. "QRA194853315031", id 43703007548).
        { Length: 15 } when spnsrId.All(char.IsAsciiLetterOrDigit) => UnionPaySponsor.Merchant,
        _ => UnionPaySponsor.Unknown,
    };

    /// <summary>Reads couponInfo: the entries, or why the text cannot be taken (never a partial list).</summary>
    public static (IReadOnlyList<UnionPayCoupon>? Coupons, string? Problem) Parse(string text)
    {
        if (text.Length > MaxTextChars)
        {
            return (null, $"couponInfo is {text.Length} characters, more than {MaxTextChars}");
        }

        var json = text.TrimStart();
        if (!json.StartsWith('['))
        {
            try
            {
                json = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(Convert.FromBase64String(text.Trim())).TrimStart();
            }
            catch (Exception e) when (e is FormatException or DecoderFallbackException)
            {
                return (null, "couponInfo is neither a JSON array nor Base64 of one");
            }

            if (!json.StartsWith('['))
            {
                return (null, "couponInfo (Base64) does not hold a JSON array");
            }
        }

        try
        {
            using var doc = JsonDocument.Parse(json, Json);
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
            {
                return (null, "couponInfo is not a JSON array");
            }

            var count = doc.RootElement.GetArrayLength();
            if (count == 0 || count > WalletDiscounts.MaxCoupons)
            {
                return (null, $"couponInfo lists {count} entries (1 to {WalletDiscounts.MaxCoupons})");
            }

            var coupons = new List<UnionPayCoupon>(count);
            var i = 0;
            foreach (var entry in doc.RootElement.EnumerateArray())
            {
                var (coupon, problem) = Entry(entry);
                if (problem is not null)
                {
                    return (null, $"couponInfo[{i}]: {problem}");
                }

                coupons.Add(coupon!);
                i++;
            }

            return (coupons, null);
        }
        catch (JsonException)
        {
            return (null, "couponInfo is not valid JSON");
        }
    }

    private static (UnionPayCoupon?, string?) Entry(JsonElement entry)
    {
        if (entry.ValueKind != JsonValueKind.Object)
        {
            return (null, "not an object");
        }

        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in entry.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String)
            {
                return (null, $"{p.Name} is not a string");
            }

            if (!fields.TryAdd(p.Name, p.Value.GetString()!))
            {
                return (null, $"{p.Name} appears twice");
            }
        }

        // Field sizes as documented (String(n)); unknown keys are tolerated (UnionPay may add some), known ones are bounded.
        string? Field(string name, int max, bool required, out string? problem)
        {
            problem = null;
            if (!fields.TryGetValue(name, out var v) || v.Length == 0)
            {
                problem = required ? $"{name} is missing" : null;
                return null;
            }

            if (v.Length > max)
            {
                problem = $"{name} is longer than {max}";
                return null;
            }

            return v;
        }

        var type = Field("type", 4, true, out var p1);
        var sponsor = Field("spnsrId", 20, true, out var p2);
        var amount = Field("offstAmt", 12, true, out var p3);
        var id = Field("id", 40, true, out var p4);
        var desc = Field("desc", 60, false, out var p5);
        var addn = Field("addnInfo", 100, false, out var p6);
        if ((p1 ?? p2 ?? p3 ?? p4 ?? p5 ?? p6) is { } missing)
        {
            return (null, missing);
        }

        // offstAmt: fen as digits, "不能全为0".
        if (!amount!.All(char.IsAsciiDigit) || !long.TryParse(amount, NumberStyles.None, CultureInfo.InvariantCulture, out var fen) || fen == 0)
        {
            return (null, $"offstAmt '{amount}' is not a positive whole number of fen");
        }

        return (new UnionPayCoupon(type!, sponsor!, fen, id!, desc, addn), null);
    }

    /// <summary>
    /// The hub's amount report from a consumption's fields: null when UnionPay reports no discount (no couponInfo, and no
    /// settleAmt other than txnAmt). A couponInfo that cannot be read, an unknown type or sponsor, or a settleAmt that is not a
    /// number gives a report the hub refuses; settleAmt (in CNY) is checked against the merchant-funded parts.
    /// </summary>
    public static WalletAmountReport? Report(IReadOnlyDictionary<string, string> f)
    {
        var couponText = f.GetValueOrDefault("couponInfo");
        var hasCoupons = !string.IsNullOrEmpty(couponText);
        if (!long.TryParse(f.GetValueOrDefault("txnAmt"), NumberStyles.None, CultureInfo.InvariantCulture, out var total))
        {
            return hasCoupons ? WalletAmountReport.Unread(-1, "couponInfo without a readable txnAmt") : null;
        }

        long? settlement = null;
        if (f.GetValueOrDefault("settleAmt") is { Length: > 0 } settleText && f.GetValueOrDefault("settleCurrencyCode") is null or "156")
        {
            if (settleText.Length > 12 || !long.TryParse(settleText, NumberStyles.None, CultureInfo.InvariantCulture, out var s))
            {
                return WalletAmountReport.Unread(total, "settleAmt is not a whole number of fen");
            }

            settlement = s;
        }

        if (!hasCoupons)
        {
            // No discount reported: a settleAmt other than txnAmt is a discrepancy to refuse, not to ignore.
            return settlement is { } st && st != total ? new WalletAmountReport(total, total, [], st) : null;
        }

        var (coupons, problem) = Parse(couponText!);
        if (problem is not null)
        {
            return WalletAmountReport.Unread(total, problem);
        }

        var list = new List<WalletCoupon>(coupons!.Count);
        long discount = 0;
        for (var i = 0; i < coupons.Count; i++)
        {
            var c = coupons[i];
            var key = $"{c.Id}:{c.SpnsrId}:{i}";
            discount += c.OffstAmt;
            list.Add(!KnownTypes.Contains(c.Type)
                ? new WalletCoupon(key, CouponFunding.Unrecognised, c.OffstAmt, 0, 0, 0)
                : c.Sponsor switch
                {
                    UnionPaySponsor.UnionPay => new WalletCoupon(key, CouponFunding.WalletSettled, c.OffstAmt, c.OffstAmt, 0, 0),
                    UnionPaySponsor.IssuerBank => new WalletCoupon(key, CouponFunding.WalletSettled, c.OffstAmt, 0, 0, c.OffstAmt),
                    UnionPaySponsor.Merchant => new WalletCoupon(key, CouponFunding.MerchantBorne, c.OffstAmt, 0, c.OffstAmt, 0),
                    _ => new WalletCoupon(key, CouponFunding.Unrecognised, c.OffstAmt, 0, 0, 0),
                });
        }

        // txnAmt is the order; the buyer paid what the discount did not cover (checked by the hub: never below zero).
        return new WalletAmountReport(total, total - discount, list, settlement);
    }
}
