using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace Hutong.Sandbox.UnionPay;

/// <summary>
/// One settled transaction as UnionPay's ZM file lists it (amounts in fen; the fee is what the merchant pays, negative when
/// returned). <paramref name="Settled"/> is what UnionPay settles before the fee — the amount less the merchant-funded
/// discount (or, for a 退货, less the merchant-funded part it returns); <paramref name="Discount"/> every sponsor's discount
/// on the line (优惠金额).
/// </summary>
internal sealed record AcpSettledTransaction(string TxnType, string OrderId, string QueryId, long Amount, long MerchantFee, DateTimeOffset Transmitted, string? OrigQryId,
    long? Settled = null, long Discount = 0);

/// <summary>A ZM row of any txnType (amount in fen) that a test adds to a day's settlement file.</summary>
public sealed record UnionPaySettledRow(string MerId, string TxnType, string OrderId, string QueryId, long Amount, DateTimeOffset Transmitted, string? OrigQryId = null);

/// <summary>A ZME (差错/adjustment) row: its 交易代码, 系统跟踪号, 交易金额 in fen and transmission time.</summary>
public sealed record UnionPayErrorFileRow(string MerId, string TxnCode, string Trace, long Amount, DateTimeOffset Transmitted);

/// <summary>
/// UnionPay's side of the ACP settlement file, written the way the official demo kit's sample archive is
/// (assets/对账文件样例/802310048993424_20150905.zip): a ZIP of "INN{yyMMdd}88ZM_{merId}" in GBK, CRLF, no header or
/// trailer, 607-byte lines of fixed-width fields separated by one space (the kit's parseZMFile widths), amounts as
/// 12 digits and the fee/settlement fields as D or C and 12 digits. Kept apart from the connector's reader on purpose.
/// </summary>
internal static class AcpSettlementFile
{
    private static readonly int[] Widths = [3, 11, 11, 6, 10, 19, 12, 4, 2, 21, 2, 32, 2, 6, 10, 13, 13, 4, 15, 2, 2, 6, 2, 4, 32, 1, 21, 15, 1, 15, 32, 13, 13, 8, 32, 13, 13, 12, 2, 1, 131];
    /// <summary>ZME widths: the kit's DemoBase.parseZMEFile (github.com/xingchen0085/ACPSample_B2C, commit 41d336c0).</summary>
    private static readonly int[] ZmeWidths = [3, 11, 11, 6, 10, 19, 12, 4, 2, 2, 6, 10, 4, 12, 13, 13, 15, 15, 1, 12, 2, 135];
    private static readonly TimeSpan China = TimeSpan.FromHours(8);

    static AcpSettlementFile() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    public static string EntryName(string merId, DateOnly settleDate) => $"INN{settleDate:yyMMdd}88ZM_{merId}";

    /// <summary>The archive: the ZM file, and a ZME file ("INN{yyMMdd}88ZME_{merId}") only on a day with 差错 rows.</summary>
    public static byte[] Zip(string merId, DateOnly settleDate, IEnumerable<AcpSettledTransaction> rows, IReadOnlyCollection<UnionPayErrorFileRow> errors)
    {
        var gbk = Encoding.GetEncoding("GBK");
        using var zip = new MemoryStream();
        using (var archive = new ZipArchive(zip, ZipArchiveMode.Create, leaveOpen: true))
        {
            using (var w = archive.CreateEntry(EntryName(merId, settleDate)).Open())
            {
                foreach (var r in rows)
                {
                    w.Write(gbk.GetBytes(Line(merId, r) + "\r\n"));
                }
            }

            if (errors.Count > 0)
            {
                using var e = archive.CreateEntry($"INN{settleDate:yyMMdd}88ZME_{merId}").Open();
                foreach (var r in errors)
                {
                    e.Write(gbk.GetBytes(ErrorLine(r) + "\r\n"));
                }
            }
        }

        return zip.ToArray();
    }

    private static string ErrorLine(UnionPayErrorFileRow r)
    {
        var f = new string[ZmeWidths.Length];
        f[0] = r.TxnCode;
        f[3] = r.Trace;
        f[4] = r.Transmitted.ToOffset(China).ToString("MMddHHmmss", CultureInfo.InvariantCulture);
        f[6] = r.Amount.ToString("D12", CultureInfo.InvariantCulture);
        return Join(f, ZmeWidths, "ZME");
    }

    private static string Line(string merId, AcpSettledTransaction r)
    {
        var f = new string[Widths.Length];
        // 交易代码: the kit's sample shows S56 for a consumption; S30 for a 退货 is this sandbox's choice (nothing reads it).
        f[0] = r.TxnType == "04" ? "S30" : "S56";
        f[3] = r.QueryId[^6..];
        f[4] = r.Transmitted.ToOffset(China).ToString("MMddHHmmss", CultureInfo.InvariantCulture);
        f[6] = r.Amount.ToString("D12", CultureInfo.InvariantCulture);
        f[9] = r.QueryId;
        f[11] = r.OrderId;
        f[15] = DebitCredit(r.MerchantFee);
        // 结算金额 and 清算净额: what reaches the merchant, credited on a payment and debited on a 退货 — net of the fee, as in
        // the kit's sample (交易金额 476800, 商户手续费 D2861, 结算金额 C473939); a merchant-funded discount is not settled,
        // UnionPay's and the issuer bank's are ("银联或付款行出资的营销金额不影响商户的清算金额", id 12509909572).
        var settled = r.Settled ?? r.Amount;
        var net = r.TxnType == "01" ? settled - r.MerchantFee : -(settled + r.MerchantFee);
        f[16] = DebitCredit(-net);
        f[19] = r.TxnType;
        f[20] = r.TxnType == "01" ? "07" : "00";
        f[21] = "000000";
        f[26] = r.OrigQryId ?? string.Empty;
        f[27] = merId;
        f[32] = f[16];
        // 优惠金额 (field 36): 12 digits as the kit's sample writes it ("000000000000"); the sandbox puts every sponsor's
        // discount there. Its exact meaning is not public, so the hub's reader does not rely on it.
        f[35] = r.Discount.ToString("D12", CultureInfo.InvariantCulture);
        return Join(f, Widths, "ZM");
    }

    /// <summary>Fixed-width fields, one space between; the values written are ASCII, so characters are bytes.</summary>
    private static string Join(string?[] f, int[] widths, string file)
    {
        var sb = new StringBuilder(widths.Sum() + widths.Length);
        for (var i = 0; i < widths.Length; i++)
        {
            var v = f[i] ?? string.Empty;
            if (v.Length > widths[i])
            {
                throw new InvalidOperationException($"{file} field {i + 1} '{v}' is wider than {widths[i]}");
            }

            sb.Append(i == 0 ? string.Empty : " ").Append(v.PadRight(widths[i]));
        }

        return sb.ToString();
    }

    /// <summary>D: the merchant pays (a positive amount here); C: the merchant is credited.</summary>
    private static string DebitCredit(long merchantPays) =>
        (merchantPays >= 0 ? "D" : "C") + Math.Abs(merchantPays).ToString("D12", CultureInfo.InvariantCulture);
}
