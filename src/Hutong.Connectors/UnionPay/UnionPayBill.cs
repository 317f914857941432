using System.Globalization;
using System.IO.Compression;
using System.Text;
using Hutong.Connectors.Abstractions;

namespace Hutong.Connectors.UnionPay;

/// <summary>
/// The settlement file that ACP file transfer (txnType=76, fileType=00) returns: Base64 of a ZIP holding
/// "INN{yyMMdd}{nn}ZM_{merId}" (one line per settled transaction) beside an "RD…" summary and, some days, "…ZME_…"
/// (errors and adjustments, its own layout). The ZM file is GBK, CRLF, with no header and no trailer: fixed-width fields
/// separated by one space, 607 bytes a line, the widths those of the official demo kit's DemoBase.parseZMFile. Amounts
/// are fen, 交易金额 as 12 digits and the fee and settlement fields as D (debit to the merchant) or C (credit) and 12
/// digits. A 退货 is txnType 04 and names the payment it returns by 原交易查询流水号 (origQryId). With no trailer to
/// check, every line is held to the layout: a file that drifts from it is refused, never half-read.
/// </summary>
public static class UnionPayBill
{
    /// <summary>ZM field widths, in bytes (DemoBase.parseZMFile; the last 131 is 原始订单号 and reserved space).</summary>
    public static readonly IReadOnlyList<int> ZmWidths = [3, 11, 11, 6, 10, 19, 12, 4, 2, 21, 2, 32, 2, 6, 10, 13, 13, 4, 15, 2, 2, 6, 2, 4, 32, 1, 21, 15, 1, 15, 32, 13, 13, 8, 32, 13, 13, 12, 2, 1, 131];

    public const int ZmLineBytes = 607;

    /// <summary>Decompressed bytes read from the archive at most: a day of ~100,000 lines, far past any merchant's.</summary>
    private const int MaxFileBytes = 64 * 1024 * 1024;

    private const int Transmitted = 4, Amount = 6, QueryId = 9, OrderId = 11, Fee = 15, TxnType = 19, OrigQueryId = 26, MerId = 27;
    private static readonly TimeSpan China = TimeSpan.FromHours(8);
    private static readonly int[] Offsets = ZmWidths.Select((_, i) => ZmWidths.Take(i).Sum() + i).ToArray();

    static UnionPayBill() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    private static Encoding Gbk => Encoding.GetEncoding("GBK");

    public static IReadOnlyList<BillLine> ParseFileContent(string base64)
    {
        byte[] zip;
        try
        {
            zip = Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            throw new BillFormatException("fileContent is not Base64");
        }

        try
        {
            using var archive = new ZipArchive(new MemoryStream(zip), ZipArchiveMode.Read);
            var entry = archive.Entries.FirstOrDefault(e => e.Name.StartsWith("INN", StringComparison.Ordinal) && e.Name.Contains("ZM_", StringComparison.Ordinal))
                ?? throw new BillFormatException("the archive holds no INN…ZM_ settlement file");
            using var s = entry.Open();
            using var bounded = new MemoryStream();
            var buffer = new byte[81920];
            int n;
            while ((n = s.Read(buffer)) > 0)
            {
                if (bounded.Length + n > MaxFileBytes)
                {
                    throw new BillFormatException("the settlement file is larger than any real one");
                }

                bounded.Write(buffer, 0, n);
            }

            return Parse(entry.Name, bounded.ToArray());
        }
        catch (InvalidDataException e)
        {
            throw new BillFormatException("not a ZIP archive: " + e.Message);
        }
    }

    /// <summary>Reads one ZM file; its name ("INN{yyMMdd}{nn}ZM_{merId}") gives the settlement date and the merchant.</summary>
    public static IReadOnlyList<BillLine> Parse(string fileName, ReadOnlySpan<byte> file)
    {
        var zm = fileName.IndexOf("ZM_", StringComparison.Ordinal);
        if (!fileName.StartsWith("INN", StringComparison.Ordinal) || zm != 11
            || !DateOnly.TryParseExact(fileName.AsSpan(3, 6), "yyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var settled))
        {
            throw new BillFormatException($"'{fileName}' is not an INN{{yyMMdd}}{{nn}}ZM_{{merId}} file name");
        }

        var merId = fileName[(zm + 3)..];
        var result = new List<BillLine>();
        while (file.Length > 0)
        {
            var end = file.IndexOf((byte)'\n');
            var line = end < 0 ? file : file[..end];
            file = end < 0 ? [] : file[(end + 1)..];
            if (line.Length > 0 && line[^1] == '\r')
            {
                line = line[..^1];
            }

            if (line.Length == 0 && file.Length == 0)
            {
                break; // the CRLF after the last line
            }

            result.Add(Row(line, merId, settled));
        }

        return result;
    }

    private static BillLine Row(ReadOnlySpan<byte> line, string merId, DateOnly settled)
    {
        if (line.Length != ZmLineBytes)
        {
            throw new BillFormatException($"a ZM line has {line.Length} bytes, expected {ZmLineBytes}");
        }

        for (var i = 1; i < Offsets.Length; i++)
        {
            if (line[Offsets[i] - 1] != (byte)' ')
            {
                throw new BillFormatException($"field {i + 1} is not separated by a space");
            }
        }

        if (Field(line, MerId) != merId)
        {
            throw new BillFormatException("a line names another merchant than the file");
        }

        var orderId = Field(line, OrderId);
        var queryId = Field(line, QueryId);
        if (orderId.Length == 0 || queryId.Length == 0
            || !long.TryParse(Field(line, Amount), NumberStyles.None, CultureInfo.InvariantCulture, out var amount) || Field(line, Amount).Length != 12)
        {
            throw new BillFormatException("a line's 交易金额, orderId or queryId is not valid");
        }

        var merchantFee = Signed(Field(line, Fee));
        var at = Transmission(Field(line, Transmitted), settled);
        return Field(line, TxnType) switch
        {
            "01" => new BillLine(BillLineKind.Payment, orderId, queryId, null, amount, merchantFee, "00", at),
            // A 退货 is named by its own orderId; the payment it returns is found by origQryId. Its fee comes back (C).
            "04" => new BillLine(BillLineKind.Refund, NonEmpty(Field(line, OrigQueryId)), queryId, orderId, amount, -merchantFee, "00", at),
            var t => throw new BillFormatException($"txnType '{t}' is not a payment (01) or a 退货 (04)"),
        };
    }

    private static string Field(ReadOnlySpan<byte> line, int i) => Gbk.GetString(line.Slice(Offsets[i], ZmWidths[i])).Trim();

    /// <summary>"D000000002861" → 2861 (the merchant pays), "C…" → negative (the merchant is credited).</summary>
    private static long Signed(string field)
    {
        if (field.Length != 13 || field[0] is not ('D' or 'C')
            || !long.TryParse(field.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var fen))
        {
            throw new BillFormatException($"'{field}' is not D/C and 12 digits");
        }

        return field[0] == 'D' ? fen : -fen;
    }

    /// <summary>交易传输时间 is MMDDhhmmss in China time: the year is the settlement date's, or the one before across New Year.</summary>
    private static DateTimeOffset? Transmission(string mmddhhmmss, DateOnly settled)
    {
        if (!DateTime.TryParseExact($"{settled.Year}{mmddhhmmss}", "yyyyMMddHHmmss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var t)
            && !DateTime.TryParseExact($"{settled.Year - 1}{mmddhhmmss}", "yyyyMMddHHmmss", CultureInfo.InvariantCulture, DateTimeStyles.None, out t))
        {
            return null;
        }

        if (DateOnly.FromDateTime(t) > settled.AddDays(1))
        {
            t = t.AddYears(-1);
        }

        return new DateTimeOffset(t, China);
    }

    private static string NonEmpty(string s) => s.Length > 0 ? s : throw new BillFormatException("a 退货 line has no origQryId");
}
