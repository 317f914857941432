using System.Text;
using Hutong.Connectors.UnionPay;
using Hutong.Domain.Payments;

namespace Hutong.Connectors.Tests.UnionPay;

/// <summary>
/// UnionPay couponInfo (银联优惠信息), pinned to the public sources named on each vector (docs/discounts-unionpay.md): read
/// strictly, classified by spnsrId, and turned into the hub's amount report — refused, never read in part, when it does not
/// add up or cannot be read.
/// </summary>
public class UnionPayCouponTests
{
    /// <summary>
    /// 招商银行 聚合收单 API §2.6.3 银联优惠信息, its couponInfo example (stored public page, read_file id 12509909572): one DD01
    /// activity funded 5.00 by UnionPay (spnsrId 00010000) and 5.00 by the merchant (a 15-digit merchant code).
    /// </summary>
    private const string CmbExample =
        """[{"type":"DD01","spnsrId":"00010000","offstAmt":"500","id":"cupcp01000023","desc":"银联优惠 随机立减"},{"type":"DD01","spnsrId":"848120048712365","offstAmt":"500","id":"cupcp01000023","desc":"银联优惠 随机立减"}]""";

    /// <summary>A real stored couponInfo (github.com/woleirenlai, "SQL常用方法记录", read_file id 45590614887): a CP01 of 50.00 funded by UnionPay.</summary>
    private const string StoredExample = """[{"id":"1201202004070935","desc":"云闪付满100立减50（新户专享）","type":"CP01","spnsrId":"00010000","offstAmt":"5000"}]""";

    /// <summary>
    /// couponInfo as a recorded UnionPay QR notification carries it, plain JSON in the form field (TestFour.java, read_file id
    /// 5790377363: "couponInfo%3D%5B%7B%22id%22…" decoded).
    /// </summary>
    private const string NotificationExample = """[{"id":"2112020082527747","desc":"银联单品测试联调-满减","type":"CP01","spnsrId":"00010000","offstAmt":"1000"}]""";

    /// <summary>An aggregator's recorded UnionPay QR discount with a 15-character QR merchant code as sponsor (read_file id 43703007548).</summary>
    private const string QrMerchantExample = """[{"id":"1201201901265194","desc":"宁城农商行超市二维码满50减10","type":"CP01","spnsrId":"QRA194853315031","offstAmt":"1000"}]""";

    private static Dictionary<string, string> Fields(string txnAmt, string? couponInfo, string? settleAmt = null)
    {
        var f = new Dictionary<string, string>(StringComparer.Ordinal) { ["txnAmt"] = txnAmt, ["settleCurrencyCode"] = "156" };
        if (couponInfo is not null)
        {
            f["couponInfo"] = couponInfo;
        }

        if (settleAmt is not null)
        {
            f["settleAmt"] = settleAmt;
        }

        return f;
    }

    [Theory]
    // spnsrId: "银联出资固定填写00010000，付款行作为出资方则填写8位付款方机构代码，商户作为出资方则填写15位商户代码" (id 12509909572);
    // an aggregator sums 00010000 as the platform's, length 15 as the merchant's, length 8 (not 00010000) as a third party's (id 21688409638).
    [InlineData("00010000", UnionPaySponsor.UnionPay)]
    [InlineData("03080000", UnionPaySponsor.IssuerBank)]
    [InlineData("848120048712365", UnionPaySponsor.Merchant)]
    [InlineData("QRA194853315031", UnionPaySponsor.Merchant)]
    [InlineData("0001000", UnionPaySponsor.Unknown)]
    [InlineData("0308000A", UnionPaySponsor.Unknown)]
    [InlineData("84812004871236", UnionPaySponsor.Unknown)]
    [InlineData("848120048712365-", UnionPaySponsor.Unknown)]
    [InlineData("", UnionPaySponsor.Unknown)]
    public void The_sponsor_is_read_from_spnsrId(string spnsrId, UnionPaySponsor expected) => Assert.Equal(expected, UnionPayCoupons.Classify(spnsrId));

    [Fact]
    public void The_CMB_example_is_UnionPay_s_part_settled_and_the_merchant_s_part_borne()
    {
        var (coupons, problem) = UnionPayCoupons.Parse(CmbExample);
        Assert.Null(problem);
        Assert.Equal([("DD01", UnionPaySponsor.UnionPay, 500L), ("DD01", UnionPaySponsor.Merchant, 500L)], coupons!.Select(c => (c.Type, c.Sponsor, c.OffstAmt)));
        Assert.Equal("银联优惠 随机立减", coupons![0].Desc);

        // On an order of 30.00 with settleAmt 25.00 (the merchant's 5.00 is not settled; UnionPay's is):
        var report = UnionPayCoupons.Report(Fields("3000", CmbExample, "2500"))!;
        var (details, refused) = WalletDiscounts.Derive(3_000, report);
        Assert.Null(refused);
        Assert.Equal(new AmountDetails(3_000, 2_000, 500, 500), details);
        Assert.Equal(2_500, details!.Settlement);
    }

    [Fact]
    public void Recorded_couponInfo_from_real_transactions_reads_as_UnionPay_funded_or_merchant_funded()
    {
        Assert.Equal(new AmountDetails(10_000, 5_000, 5_000, 0), WalletDiscounts.Derive(10_000, UnionPayCoupons.Report(Fields("10000", StoredExample, "10000"))!).Details);
        Assert.Equal(new AmountDetails(4_200, 3_200, 1_000, 0), WalletDiscounts.Derive(4_200, UnionPayCoupons.Report(Fields("4200", NotificationExample))!).Details);
        Assert.Equal(new AmountDetails(5_000, 4_000, 0, 1_000), WalletDiscounts.Derive(5_000, UnionPayCoupons.Report(Fields("5000", QrMerchantExample, "4000"))!).Details);
    }

    [Fact]
    public void An_issuer_bank_s_part_is_settled_like_UnionPay_s_and_counted_as_another_funder_s()
    {
        const string text = """[{"type":"CP02","spnsrId":"03080000","offstAmt":"200","id":"bank-1"},{"type":"CP02","spnsrId":"00010000","offstAmt":"300","id":"bank-1"}]""";
        var report = UnionPayCoupons.Report(Fields("1000", text, "1000"))!;
        Assert.Equal([(CouponFunding.WalletSettled, 0L, 0L, 200L), (CouponFunding.WalletSettled, 300L, 0L, 0L)],
            report.Coupons.Select(c => (c.Funding, c.WalletContribute, c.MerchantContribute, c.OtherContribute)));
        Assert.Equal(new AmountDetails(1_000, 500, 500, 0), WalletDiscounts.Derive(1_000, report).Details);
    }

    [Fact]
    public void Base64_of_the_JSON_array_is_read_the_same()
    {
        // One acquirer's handler Base64-decodes couponInfo first (read_file id 47286041561); the JSON inside is the same.
        var (coupons, problem) = UnionPayCoupons.Parse(Convert.ToBase64String(Encoding.UTF8.GetBytes(CmbExample)));
        Assert.Null(problem);
        Assert.Equal(1_000, coupons!.Sum(c => c.OffstAmt));
    }

    [Fact]
    public void No_couponInfo_and_a_matching_settleAmt_is_no_report_at_all()
    {
        Assert.Null(UnionPayCoupons.Report(Fields("1", null, "1"))); // the real queryTrans answer (Samples/UnionPay): txnAmt=1, settleAmt=1
        Assert.Null(UnionPayCoupons.Report(Fields("1", null)));
        // Another settlement currency: settleAmt is in it, not comparable with txnAmt.
        var usd = Fields("1000", null, "140");
        usd["settleCurrencyCode"] = "840";
        Assert.Null(UnionPayCoupons.Report(usd));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{\"type\":\"DD01\"}")]
    [InlineData("[]")]
    [InlineData("[1]")]
    [InlineData("[{\"type\":\"DD01\",\"spnsrId\":\"00010000\",\"offstAmt\":\"500\"}]")] // id missing
    [InlineData("[{\"type\":\"DD01\",\"spnsrId\":\"00010000\",\"offstAmt\":\"\",\"id\":\"a\"}]")]
    [InlineData("[{\"type\":\"DD01\",\"spnsrId\":\"00010000\",\"offstAmt\":\"000\",\"id\":\"a\"}]")] // 不能全为0
    [InlineData("[{\"type\":\"DD01\",\"spnsrId\":\"00010000\",\"offstAmt\":\"-5\",\"id\":\"a\"}]")]
    [InlineData("[{\"type\":\"DD01\",\"spnsrId\":\"00010000\",\"offstAmt\":\"5.00\",\"id\":\"a\"}]")]
    [InlineData("[{\"type\":\"DD01\",\"spnsrId\":\"00010000\",\"offstAmt\":\"1000000000000\",\"id\":\"a\"}]")] // 13 digits: String(12)
    [InlineData("[{\"type\":\"DD01\",\"spnsrId\":\"00010000\",\"offstAmt\":500,\"id\":\"a\"}]")] // a number, not String(12)
    [InlineData("[{\"type\":\"DD01\",\"spnsrId\":\"00010000\",\"offstAmt\":\"500\",\"offstAmt\":\"1\",\"id\":\"a\"}]")] // duplicate key
    [InlineData("[{\"type\":\"DD001\",\"spnsrId\":\"00010000\",\"offstAmt\":\"500\",\"id\":\"a\"}]")] // String(4)
    [InlineData("[{\"type\":\"DD01\",\"spnsrId\":\"000100000000000000001\",\"offstAmt\":\"500\",\"id\":\"a\"}]")] // String(20)
    [InlineData("[{\"type\":\"DD01\",\"spnsrId\":\"00010000\",\"offstAmt\":\"500\",\"id\":\"a\",\"desc\":{\"x\":1}}]")]
    [InlineData("[{\"type\":\"DD01\",\"spnsrId\":\"00010000\",\"offstAmt\":\"500\",\"id\":\"a\"},]")] // trailing comma
    [InlineData("[[[[[[{}]]]]]]")]
    [InlineData("W3sidHlwZSI6IkREMDEifQ")] // Base64 with bad padding
    [InlineData("e30=")] // Base64 of "{}": not an array
    public void Unreadable_couponInfo_is_refused_never_read_in_part(string text)
    {
        Assert.NotNull(UnionPayCoupons.Parse(text).Problem);
        var report = UnionPayCoupons.Report(Fields("1000", text))!;
        Assert.NotNull(report.Unreadable);
        Assert.NotNull(WalletDiscounts.Derive(1_000, report).Problem);
    }

    [Fact]
    public void Field_sizes_and_counts_are_bounded()
    {
        static string Entry(string id, string? desc = null) =>
            $$"""{"type":"DD01","spnsrId":"00010000","offstAmt":"1","id":"{{id}}"{{(desc is null ? string.Empty : $",\"desc\":\"{desc}\"")}}}""";
        Assert.Null(UnionPayCoupons.Parse($"[{Entry(new string('a', 40), new string('描', 60))}]").Problem);
        Assert.NotNull(UnionPayCoupons.Parse($"[{Entry(new string('a', 41))}]").Problem); // id String(40)
        Assert.NotNull(UnionPayCoupons.Parse($"[{Entry("a", new string('描', 61))}]").Problem); // desc String(60)
        Assert.Null(UnionPayCoupons.Parse($"[{string.Join(',', Enumerable.Repeat(Entry("a"), WalletDiscounts.MaxCoupons))}]").Problem);
        Assert.NotNull(UnionPayCoupons.Parse($"[{string.Join(',', Enumerable.Repeat(Entry("a"), WalletDiscounts.MaxCoupons + 1))}]").Problem);
        Assert.NotNull(UnionPayCoupons.Parse("[" + new string(' ', UnionPayCoupons.MaxTextChars) + "]").Problem);
    }

    [Theory]
    [InlineData("3000", CmbExample, "3000", "the merchant's part settled")] // settleAmt says the merchant's 5.00 was settled
    [InlineData("3000", CmbExample, "x", "settleAmt not a number")]
    [InlineData("800", CmbExample, "300", "more than the order")]
    [InlineData("3000", """[{"type":"ZZ01","spnsrId":"00010000","offstAmt":"500","id":"a"}]""", null, "a type UnionPay may add later")]
    [InlineData("3000", """[{"type":"DD01","spnsrId":"123456789","offstAmt":"500","id":"a"}]""", null, "an unknown sponsor")]
    [InlineData("3000", null, "2500", "a settleAmt below txnAmt without couponInfo")]
    public void A_report_that_does_not_add_up_is_refused(string txnAmt, string? couponInfo, string? settleAmt, string why)
    {
        var report = UnionPayCoupons.Report(Fields(txnAmt, couponInfo, settleAmt));
        Assert.NotNull(report);
        Assert.True(WalletDiscounts.Derive(long.Parse(txnAmt, System.Globalization.CultureInfo.InvariantCulture), report).Problem is not null, why);
    }
}
