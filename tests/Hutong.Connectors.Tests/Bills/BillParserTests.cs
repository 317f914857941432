using System.IO.Compression;
using Hutong.Connectors.Abstractions;
using Hutong.Connectors.Alipay;
using Hutong.Connectors.UnionPay;
using Hutong.Connectors.WeChatPay;

namespace Hutong.Connectors.Tests.Bills;

/// <summary>The three wallets' bill parsers: exact amounts, totals checked, and no input makes them do anything but parse or refuse.</summary>
public class BillParserTests
{
    private static string[] WxPayment(string outTradeNo, string amount, string fee) =>
    [
        "2026-11-22 10:00:01", "wx8888888888888888", "1900000100", string.Empty, string.Empty, "4200000001202611220001", outTradeNo, "oUser1", "NATIVE", "SUCCESS",
        "OTHERS", "CNY", amount, "0.00", "0", "0", "0.00", "0.00", string.Empty, string.Empty, "龙井茶, 250 g", "pay_x", fee, "0.60%", amount, "0.00", string.Empty,
    ];

    private static string[] WxRefund(string outTradeNo, string outRefundNo, string amount, string feeBack) =>
    [
        "2026-11-22 11:00:00", "wx8888888888888888", "1900000100", string.Empty, string.Empty, "4200000001202611220001", outTradeNo, "oUser1", "NATIVE", "REFUND",
        "OTHERS", "CNY", "0.00", "0.00", "50300001", outRefundNo, amount, "0.00", "ORIGINAL", "SUCCESS", "龙井茶", "pay_x", "-" + feeBack, "0.60%", "0.00", amount, string.Empty,
    ];

    /// <summary>A small bill in WeChat's layout, written here by hand so the parser is not checked against a writer of its own.</summary>
    private static string WeChatSample() =>
        "\uFEFF" + WeChatPayBill.Header + "\r\n"
        + string.Join("\r\n", new[] { WxPayment("A1", "100.50", "0.60000"), WxPayment("A2", "0.01", "0.00000"), WxRefund("A1", "R1", "50.25", "0.30000") }.Select(r => string.Join(',', r.Select(c => "`" + c))))
        + "\r\n" + WeChatPayBill.TotalsHeader + "\r\n`3,`100.51,`50.25,`0.00,`0.30,`100.51,`50.25\r\n";

    [Fact]
    public void WeChat_bill_rows_become_exact_fen_and_the_totals_are_checked()
    {
        var lines = WeChatPayBill.Parse(WeChatSample());
        Assert.Equal(3, lines.Count); // the product name "龙井茶, 250 g" holds a comma: cells split on ",`" only
        Assert.Equal(new BillLine(BillLineKind.Payment, "A1", "4200000001202611220001", null, 10_050, 60, "SUCCESS", new DateTimeOffset(2026, 11, 22, 10, 0, 1, TimeSpan.FromHours(8)),
            SettlementMinor: 10_050, CouponMinor: 0), lines[0]);
        Assert.Equal(1, lines[1].AmountMinor);
        Assert.Equal((BillLineKind.Refund, "R1", 5_025L, 30L), (lines[2].Kind, lines[2].OutRefundNo, lines[2].AmountMinor, lines[2].FeeMinor));
        Assert.Contains("`100.50", WeChatSample(), StringComparison.Ordinal); // every cell starts with a backtick

        var tampered = WeChatSample().Replace("`100.50,`0.00,`0,`0", "`100.51,`0.00,`0,`0", StringComparison.Ordinal);
        Assert.Throws<BillFormatException>(() => WeChatPayBill.Parse(tampered));
        var truncated = WeChatSample()[..WeChatSample().IndexOf(WeChatPayBill.TotalsHeader, StringComparison.Ordinal)];
        Assert.Throws<BillFormatException>(() => WeChatPayBill.Parse(truncated));
    }

    [Fact]
    public void WeChat_coupon_columns_give_the_order_amount_the_settled_amount_and_the_coupons()
    {
        // 订单金额 100.00 paid with a 2.00 免充值 coupon: 应结订单金额 98.00, 代金券金额 2.00 (应结 = 订单 − 免充值券). A refund of
        // 申请退款金额 30.00 returning 0.60 of it and 0.90 of a 充值 coupon: 退款金额 (settled) 29.40, 充值券退款金额 0.90.
        string[] payment =
        [
            "2026-11-22 10:00:01", "wx8888888888888888", "1900000100", string.Empty, string.Empty, "4200000001202611220009", "C1", "oUser1", "NATIVE", "SUCCESS",
            "OTHERS", "CNY", "98.00", "2.00", "0", "0", "0.00", "0.00", string.Empty, string.Empty, "茶", "pay_c", "0.59000", "0.60%", "100.00", "0.00", string.Empty,
        ];
        string[] refund =
        [
            "2026-11-22 11:00:00", "wx8888888888888888", "1900000100", string.Empty, string.Empty, "4200000001202611220009", "C1", "oUser1", "NATIVE", "REFUND",
            "OTHERS", "CNY", "0.00", "0.00", "50300009", "RC1", "29.40", "0.90", "ORIGINAL", "SUCCESS", "茶", "pay_c", "-0.18000", "0.60%", "0.00", "30.00", string.Empty,
        ];
        var csv = "\uFEFF" + WeChatPayBill.Header + "\r\n"
            + string.Join("\r\n", new[] { payment, refund }.Select(r => string.Join(',', r.Select(c => "`" + c))))
            + "\r\n" + WeChatPayBill.TotalsHeader + "\r\n`2,`98.00,`29.40,`0.90,`0.41,`100.00,`30.00\r\n";
        var lines = WeChatPayBill.Parse(csv);
        Assert.Equal((10_000L, 9_800L, 200L, 59L), (lines[0].AmountMinor, lines[0].SettlementMinor!.Value, lines[0].CouponMinor!.Value, lines[0].FeeMinor));
        Assert.Equal((3_000L, 2_940L, 90L, 18L), (lines[1].AmountMinor, lines[1].SettlementMinor!.Value, lines[1].CouponMinor!.Value, lines[1].FeeMinor));
    }

    private const string AlipaySample = """
        #支付宝业务明细查询
        #账号：[20880000000000]
        #起始日期：[2026年11月22日 00:00:00]   终止日期：[2026年11月23日 00:00:00]
        #-----------------------------------------业务明细列表----------------------------------------
        支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注
        2026112222001400001	,B1	,交易	,茶	,2026-11-22 09:00:00	,2026-11-22 09:00:05	,	,	,	,	,2088001	,23.45	,23.45	,0.00	,0.00	,0.00	,0.00	,0.00	,	,0.00	,0.00	,	,-0.14	,0.00	,
        2026112222001400001	,B1	,退款	,茶	,2026-11-22 09:00:00	,2026-11-22 12:00:00	,	,	,	,	,2088001	,-3.45	,-3.45	,0.00	,0.00	,0.00	,0.00	,0.00	,	,0.00	,0.00	,RQ1	,0.02	,0.00	,
        #-----------------------------------------业务明细列表结束------------------------------------
        #交易合计：1笔，商家实收共：23.45元，商家优惠共：0.00元
        #退款合计：1笔，商家实收退款共：-3.45元，商家优惠退款共：0.00元
        #导出时间：[2026年11月23日 09:00:00]
        """;

    [Fact]
    public void Alipay_bill_in_a_GBK_zip_reads_payments_and_refunds_with_their_fees()
    {
        using var zip = new MemoryStream();
        using (var archive = new ZipArchive(zip, ZipArchiveMode.Create, leaveOpen: true))
        {
            using var w = archive.CreateEntry("20880000000000_20261122_业务明细.csv").Open();
            w.Write(AlipayBill.Gbk.GetBytes(AlipaySample));
        }

        var lines = AlipayBill.ParseZip(zip.ToArray());
        Assert.Equal((BillLineKind.Payment, "B1", 2_345L, 14L), (lines[0].Kind, lines[0].OutTradeNo, lines[0].AmountMinor, lines[0].FeeMinor));
        Assert.Equal((BillLineKind.Refund, "RQ1", 345L, 2L), (lines[1].Kind, lines[1].OutRefundNo, lines[1].AmountMinor, lines[1].FeeMinor));
        Assert.Throws<BillFormatException>(() => AlipayBill.Parse(AlipaySample.Replace("商家实收共：23.45元", "商家实收共：23.46元", StringComparison.Ordinal)));
        Assert.Throws<BillFormatException>(() => AlipayBill.ParseZip([1, 2, 3]));
    }

    /// <summary>The official demo kit's sample settlement archive (Samples/SOURCES.md), as fileContent carries it.</summary>
    private static string UnionPayFileContent => Convert.ToBase64String(Samples.Bytes("UnionPay", "802310048993424_20150905.zip"));

    private const string ZmName = "INN15090588ZM_802310048993424";

    private static byte[] ZmFile()
    {
        using var archive = new ZipArchive(new MemoryStream(Samples.Bytes("UnionPay", "802310048993424_20150905.zip")), ZipArchiveMode.Read);
        using var s = archive.GetEntry(ZmName)!.Open();
        using var copy = new MemoryStream();
        s.CopyTo(copy);
        return copy.ToArray();
    }

    [Fact]
    public void UnionPay_official_sample_settlement_file_reads_as_fixed_width_fen()
    {
        var lines = UnionPayBill.ParseFileContent(UnionPayFileContent);

        Assert.Equal(8, lines.Count);
        Assert.All(lines, l => Assert.Equal(BillLineKind.Payment, l.Kind));
        var first = lines[0];
        Assert.Equal(("10078087", "201509061122031906248", 476_800L, 2_861L), (first.OutTradeNo, first.TransactionId, first.AmountMinor, first.FeeMinor));
        Assert.Equal(new DateTimeOffset(2015, 9, 6, 11, 22, 3, TimeSpan.FromHours(8)), first.At);
        Assert.Throws<BillFormatException>(() => UnionPayBill.ParseFileContent("not base64!"));
    }

    [Fact]
    public void UnionPay_refund_lines_are_txnType_04_naming_the_payment_by_origQryId()
    {
        // Derived from the kit's first line: the same row turned into a 退货 of 1.00 yuan whose 0.06 fee comes back (C).
        var file = ZmFile();
        var row = file[..609].ToArray();
        void Put(int field, string value)
        {
            var offset = UnionPayBill.ZmWidths.Take(field).Sum() + field;
            System.Text.Encoding.ASCII.GetBytes(value.PadRight(UnionPayBill.ZmWidths[field])).CopyTo(row, offset);
        }

        Put(6, "000000000100");
        Put(9, "201509061200000000001");
        Put(11, "R10078087");
        Put(15, "C000000000006");
        Put(19, "04");
        Put(26, "201509061122031906248");
        var lines = UnionPayBill.Parse(ZmName, [.. file, .. row]);

        var refund = lines[^1];
        Assert.Equal((BillLineKind.Refund, "201509061122031906248", "R10078087", 100L, 6L), (refund.Kind, refund.OutTradeNo, refund.OutRefundNo, refund.AmountMinor, refund.FeeMinor));
        Put(26, string.Empty);
        Assert.Throws<BillFormatException>(() => UnionPayBill.Parse(ZmName, [.. file, .. row]));
    }

    [Theory]
    [InlineData(0, 1)] // a byte dropped: the line is 606 bytes
    [InlineData(3, 0)] // the separator after the first field is not a space
    public void UnionPay_lines_that_drift_from_the_layout_are_refused(int at, int drop)
    {
        var file = ZmFile().ToList();
        if (drop > 0)
        {
            file.RemoveAt(at);
        }
        else
        {
            file[at] = (byte)'X';
        }

        Assert.Throws<BillFormatException>(() => UnionPayBill.Parse(ZmName, file.ToArray()));
        Assert.Throws<BillFormatException>(() => UnionPayBill.Parse("INN15090588ZM_777290058110048", ZmFile())); // another merchant's lines
    }

    [Theory]
    [InlineData("12.34", 1_234)]
    [InlineData("-0.07", -7)]
    [InlineData("0.5", 50)]
    [InlineData("100", 10_000)]
    [InlineData("`9.99", 999)]
    public void Yuan_amounts_are_read_exactly(string text, long fen) => Assert.Equal(fen, BillAmounts.ParseYuan(text));

    [Theory]
    [InlineData("1.234")]
    [InlineData("1e3")]
    [InlineData("")]
    [InlineData("1,000.00")]
    [InlineData("NaN")]
    public void Anything_else_is_not_an_amount(string text) => Assert.Throws<BillFormatException>(() => BillAmounts.ParseYuan(text));

    /// <summary>
    /// Fuzz target (bounded, seeded so a failure replays): random byte flips, deletions, duplications and truncations of
    /// valid bills. Each parser must either return or throw <see cref="BillFormatException"/> — never anything else.
    /// </summary>
    [Theory]
    [InlineData(20261122)]
    [InlineData(7)]
    public void Mutated_bills_are_parsed_or_refused_never_crash(int seed)
    {
        var rng = new Random(seed);
        var samples = new (string Text, Func<string, object> Parse)[]
        {
            (WeChatSample(), t => WeChatPayBill.Parse(t)),
            (AlipaySample, t => AlipayBill.Parse(t)),
            (System.Text.Encoding.Latin1.GetString(ZmFile()), t => UnionPayBill.Parse(ZmName, System.Text.Encoding.Latin1.GetBytes(t))),
        };
        foreach (var (text, parse) in samples)
        {
            for (var i = 0; i < 3_000; i++)
            {
                var chars = text.ToCharArray().ToList();
                for (var k = rng.Next(1, 6); k > 0 && chars.Count > 0; k--)
                {
                    var at = rng.Next(chars.Count);
                    switch (rng.Next(4))
                    {
                        case 0: chars[at] = (char)rng.Next(0, 0x3000); break;
                        case 1: chars.RemoveAt(at); break;
                        case 2: chars.Insert(at, chars[rng.Next(chars.Count)]); break;
                        default: chars.RemoveRange(at, chars.Count - at); break;
                    }
                }

                try
                {
                    parse(new string([.. chars]));
                }
                catch (BillFormatException)
                {
                }
            }
        }
    }
}
