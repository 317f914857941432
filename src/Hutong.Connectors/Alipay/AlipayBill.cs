using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using Hutong.Connectors.Abstractions;

namespace Hutong.Connectors.Alipay;

/// <summary>
/// Alipay's trade bill (bill_type=trade): a ZIP holding "…_业务明细.csv" in GBK. Lines starting with '#' are titles and
/// summaries; then a header row and one row per 交易 (payment) or 退款 (refund), cells often padded with tabs. Amounts
/// are yuan; 服务费 is negative on a payment (the fee taken) and positive on a refund (the fee returned). The summary
/// line "#交易合计：N笔，商家实收共X元" is checked against the rows.
/// </summary>
public static partial class AlipayBill
{
    public const string Header = "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注";
    private static readonly TimeSpan China = TimeSpan.FromHours(8);

    static AlipayBill() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    public static Encoding Gbk => Encoding.GetEncoding("GBK");

    public static IReadOnlyList<BillLine> ParseZip(byte[] zip)
    {
        try
        {
            using var archive = new ZipArchive(new MemoryStream(zip), ZipArchiveMode.Read);
            var entry = archive.Entries.FirstOrDefault(e => e.Name.EndsWith("业务明细.csv", StringComparison.Ordinal))
                ?? throw new BillFormatException("the archive holds no 业务明细 file");
            using var s = entry.Open();
            using var reader = new StreamReader(s, Gbk);
            return Parse(reader.ReadToEnd());
        }
        catch (InvalidDataException e)
        {
            throw new BillFormatException("not a ZIP archive: " + e.Message);
        }
    }

    public static IReadOnlyList<BillLine> Parse(string csv)
    {
        var result = new List<BillLine>();
        var headerSeen = false;
        int? declaredTrades = null;
        long? declaredReceived = null;
        long received = 0;
        var trades = 0;
        foreach (var raw in csv.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0)
            {
                continue;
            }

            if (line.StartsWith('#'))
            {
                if (line.StartsWith("#交易合计：", StringComparison.Ordinal))
                {
                    (declaredTrades, declaredReceived) = Summary(line);
                }

                continue;
            }

            var cells = line.Split(',').Select(c => c.Trim().Trim('\t')).ToArray();
            if (!headerSeen)
            {
                if (string.Join(',', cells) != Header)
                {
                    throw new BillFormatException("not an Alipay trade bill (header)");
                }

                headerSeen = true;
                continue;
            }

            if (cells.Length != 25)
            {
                throw new BillFormatException($"a row has {cells.Length} cells, expected 25");
            }

            var at = DateTime.TryParseExact(cells[5], "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var t) ? new DateTimeOffset(t, China) : (DateTimeOffset?)null;
            var fee = BillAmounts.ParseYuan(cells[22]);
            switch (cells[2])
            {
                // 订单金额 is the line's amount; 商家实收 (the order less the merchant's discounts) the settled one; the coupon
                // column is 商家优惠 for a payment and, for a refund, 支付宝优惠 (the platform's voucher part returned).
                case "交易":
                    var receipt = BillAmounts.ParseYuan(cells[12]);
                    received += receipt;
                    trades++;
                    result.Add(new BillLine(BillLineKind.Payment, NonEmpty(cells[1]), cells[0], null, BillAmounts.ParseYuan(cells[11]), -fee, "交易", at,
                        SettlementMinor: receipt, CouponMinor: BillAmounts.ParseYuan(cells[16])));
                    break;
                case "退款":
                    result.Add(new BillLine(BillLineKind.Refund, NonEmpty(cells[1]), cells[0], NonEmpty(cells[21]), -BillAmounts.ParseYuan(cells[11]), fee, "退款", at,
                        SettlementMinor: -BillAmounts.ParseYuan(cells[12]), CouponMinor: -BillAmounts.ParseYuan(cells[15])));
                    break;
                default:
                    throw new BillFormatException($"unknown 业务类型 '{cells[2]}'");
            }
        }

        if (!headerSeen || declaredTrades is null)
        {
            throw new BillFormatException("header or 交易合计 summary missing (truncated bill)");
        }

        if (declaredTrades != trades || declaredReceived != received)
        {
            throw new BillFormatException("the rows do not add up to the bill's 交易合计");
        }

        return result;
    }

    /// <summary>
    /// "#交易合计：N笔，商家实收共X元，…" → (N, X in fen). Real bills write no colon after 商家实收共 (alipay-sdk users'
    /// recorded bills: "#交易合计：6笔，商家实收共0.06元，商家优惠共0.00元"), older ones say 交易金额共; a colon is tolerated.
    /// </summary>
    private static (int Trades, long Received) Summary(string line)
    {
        var m = SummaryPattern().Match(line);
        if (!m.Success || !int.TryParse(m.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
        {
            throw new BillFormatException("the 交易合计 summary is malformed");
        }

        return (n, BillAmounts.ParseYuan(m.Groups[2].Value));
    }

    [GeneratedRegex(@"^#交易合计：(\d{1,9})笔，(?:商家实收共|交易金额共)：?(-?\d{1,13}(?:\.\d{1,2})?)元", RegexOptions.CultureInvariant)]
    private static partial Regex SummaryPattern();

    private static string NonEmpty(string s) => s.Length > 0 ? s : throw new BillFormatException("an order number is empty");
}
