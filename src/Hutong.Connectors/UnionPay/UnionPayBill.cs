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
/// digits. A 退货 is txnType 04 and names the payment it returns by 原交易查询流水号 (origQryId); rows of any other
/// txnType (撤销 31, 预授权 02/03/32/33, …) are kept as Other lines and the ZME file's rows as Adjustment lines, so that
/// reconciliation shows them to a person instead of one unexpected row refusing the whole day. With no trailer to check,
/// every line is held to its layout: a file that drifts from it is refused, never half-read.
/// </summary>
public static class UnionPayBill
{
    /// <summary>ZM field widths, in bytes (DemoBase.parseZMFile; the last 131 is 原始订单号 and reserved space).</summary>
    public static readonly IReadOnlyList<int> ZmWidths = [3, 11, 11, 6, 10, 19, 12, 4, 2, 21, 2, 32, 2, 6, 10, 13, 13, 4, 15, 2, 2, 6, 2, 4, 32, 1, 21, 15, 1, 15, 32, 13, 13, 8, 32, 13, 13, 12, 2, 1, 131];

    public const int ZmLineBytes = 607;

    /// <summary>
    /// ZME (差错/adjustment) field widths, in bytes: the official demo kit's DemoBase.parseZMEFile, "参照《全渠道平台接入接口规范
    /// 第3部分 文件接口》6.2 ZME 文件" (github.com/xingchen0085/ACPSample_B2C src/com/unionpay/acp/demo/DemoBase.java, commit
    /// 41d336c0eaabaf78aa205d8e4daf85169db47691; the kit's Ruby demo has the same array; the older kit in
    /// chenzuolin/ACPSample_B2C pasted the ZM widths there by mistake). The kit names no fields; the first seven have the ZM
    /// file's widths and are read as its 交易代码, 代理机构标识码, 发送机构标识码, 系统跟踪号, 交易传输时间, 帐号 and 交易金额.
    /// The rest are kept raw for the reviewer.
    /// </summary>
    public static readonly IReadOnlyList<int> ZmeWidths = [3, 11, 11, 6, 10, 19, 12, 4, 2, 2, 6, 10, 4, 12, 13, 13, 15, 15, 1, 12, 2, 135];

    public const int ZmeLineBytes = 339;

    /// <summary>Decompressed bytes read from the archive at most: a day of ~100,000 lines, far past any merchant's.</summary>
    private const int MaxFileBytes = 64 * 1024 * 1024;

    private const int Transmitted = 4, Amount = 6, QueryId = 9, OrderId = 11, Fee = 15, Settled = 16, TxnType = 19, TxnSubType = 20, OrigQueryId = 26, MerId = 27;
    private const int ZmeCode = 0, ZmeTrace = 3, ZmeAccount = 5;
    private static readonly TimeSpan China = TimeSpan.FromHours(8);
    private static readonly int[] Offsets = ZmWidths.Select((_, i) => ZmWidths.Take(i).Sum() + i).ToArray();
    private static readonly int[] ZmeOffsets = ZmeWidths.Select((_, i) => ZmeWidths.Take(i).Sum() + i).ToArray();

    /// <summary>ACP txnType names, for the person who reviews a row the hub does not reconcile.</summary>
    private static readonly Dictionary<string, string> TxnTypeNames = new(StringComparer.Ordinal)
    {
        ["02"] = "预授权", ["03"] = "预授权完成", ["31"] = "消费撤销", ["32"] = "预授权撤销", ["33"] = "预授权完成撤销",
    };

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
            var zm = archive.Entries.FirstOrDefault(e => e.Name.StartsWith("INN", StringComparison.Ordinal) && e.Name.Contains("ZM_", StringComparison.Ordinal))
                ?? throw new BillFormatException("the archive holds no INN…ZM_ settlement file");
            var lines = Parse(zm.Name, ReadBounded(zm)).ToList();
            // ZME comes only on days with errors or adjustments.
            var zme = archive.Entries.FirstOrDefault(e => e.Name.StartsWith("INN", StringComparison.Ordinal) && e.Name.Contains("ZME_", StringComparison.Ordinal));
            if (zme is not null)
            {
                lines.AddRange(ParseZme(zme.Name, ReadBounded(zme)));
            }

            return lines;
        }
        catch (InvalidDataException e)
        {
            throw new BillFormatException("not a ZIP archive: " + e.Message);
        }
    }

    private static byte[] ReadBounded(ZipArchiveEntry entry)
    {
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

        return bounded.ToArray();
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
        foreach (var range in Lines(file))
        {
            result.Add(Row(file[range], merId, settled));
        }

        return result;
    }

    /// <summary>
    /// Reads one ZME file ("INN{yyMMdd}{nn}ZME_{merId}"): each row an Adjustment line carrying its 交易代码, 系统跟踪号,
    /// 交易传输时间 and 交易金额, and the other fields raw (the masked 帐号 left out) for the person who reviews it.
    /// </summary>
    public static IReadOnlyList<BillLine> ParseZme(string fileName, ReadOnlySpan<byte> file)
    {
        var zme = fileName.IndexOf("ZME_", StringComparison.Ordinal);
        if (!fileName.StartsWith("INN", StringComparison.Ordinal) || zme != 11
            || !DateOnly.TryParseExact(fileName.AsSpan(3, 6), "yyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var settled))
        {
            throw new BillFormatException($"'{fileName}' is not an INN{{yyMMdd}}{{nn}}ZME_{{merId}} file name");
        }

        var result = new List<BillLine>();
        foreach (var range in Lines(file))
        {
            var line = file[range];
            if (line.Length != ZmeLineBytes)
            {
                throw new BillFormatException($"a ZME line has {line.Length} bytes, expected {ZmeLineBytes}");
            }

            for (var i = 1; i < ZmeOffsets.Length; i++)
            {
                if (line[ZmeOffsets[i] - 1] != (byte)' ')
                {
                    throw new BillFormatException($"ZME field {i + 1} is not separated by a space");
                }
            }

            var amountText = ZmeField(line, Amount);
            if (amountText.Length != 12 || !long.TryParse(amountText, NumberStyles.None, CultureInfo.InvariantCulture, out var amount))
            {
                throw new BillFormatException("a ZME line's 交易金额 is not 12 digits");
            }

            var code = ZmeField(line, ZmeCode);
            var trace = ZmeField(line, ZmeTrace);
            var at = Transmission(ZmeField(line, Transmitted), settled);
            var rest = new List<string>();
            for (var i = ZmeAccount + 2; i < ZmeWidths.Count; i++)
            {
                if (ZmeField(line, i) is { Length: > 0 } f)
                {
                    rest.Add(f);
                }
            }

            var raw = string.Join(' ', rest);
            result.Add(new BillLine(BillLineKind.Adjustment, string.Empty, trace, null, amount, 0, code, at,
                $"ZME {fileName}: 交易代码 {code}, 系统跟踪号 {trace}, 交易传输时间 {ZmeField(line, Transmitted)}, 交易金额 {amount} fen; other fields: {raw}"));
        }

        return result;
    }

    /// <summary>The CRLF-ended lines of a file, the empty end after the last CRLF left out.</summary>
    private static List<Range> Lines(ReadOnlySpan<byte> file)
    {
        var lines = new List<Range>();
        var start = 0;
        while (start < file.Length)
        {
            var end = file[start..].IndexOf((byte)'\n');
            var stop = end < 0 ? file.Length : start + end;
            var last = stop > start && file[stop - 1] == '\r' ? stop - 1 : stop;
            lines.Add(start..last);
            start = end < 0 ? file.Length : stop + 1;
        }

        return lines;
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
        var txnType = Field(line, TxnType);
        if (!long.TryParse(Field(line, Amount), NumberStyles.None, CultureInfo.InvariantCulture, out var amount) || Field(line, Amount).Length != 12
            || (txnType is "01" or "04" && (orderId.Length == 0 || queryId.Length == 0)))
        {
            throw new BillFormatException("a line's 交易金额, orderId or queryId is not valid");
        }

        var merchantFee = Signed(Field(line, Fee));
        var at = Transmission(Field(line, Transmitted), settled);
        var origQueryId = Field(line, OrigQueryId);
        // 结算金额: what reaches the merchant net of the fee — C on a payment, D on a 退货 (the kit's sample: 交易金额 476800,
        // 商户手续费 D2861, 结算金额 C473939). Before the fee it is what UnionPay settles: the order less merchant-funded
        // discounts ("银联或付款行出资的营销金额不影响商户的清算金额", docs/discounts-unionpay.md). Blank: the file does not say.
        long? net = Field(line, Settled) is { Length: > 0 } settledText ? Signed(settledText) : null;
        return txnType switch
        {
            "01" => new BillLine(BillLineKind.Payment, orderId, queryId, null, amount, merchantFee, "00", at, SettlementMinor: -net + merchantFee),
            // A 退货 is named by its own orderId; the payment it returns is found by origQryId. Its fee comes back (C).
            "04" => new BillLine(BillLineKind.Refund, NonEmpty(origQueryId), queryId, orderId, amount, -merchantFee, "00", at, SettlementMinor: net - merchantFee),
            _ => new BillLine(BillLineKind.Other, orderId, queryId, null, amount, merchantFee, txnType, at,
                $"txnType {txnType}{(TxnTypeNames.TryGetValue(txnType, out var name) ? $" ({name})" : string.Empty)}, txnSubType {Field(line, TxnSubType)}, "
                + $"queryId {queryId}{(origQueryId.Length > 0 ? $", origQryId {origQueryId}" : string.Empty)}: not a payment (01) or a 退货 (04)"),
        };
    }

    private static string Field(ReadOnlySpan<byte> line, int i) => Gbk.GetString(line.Slice(Offsets[i], ZmWidths[i])).Trim();

    private static string ZmeField(ReadOnlySpan<byte> line, int i) => Gbk.GetString(line.Slice(ZmeOffsets[i], ZmeWidths[i])).Trim();

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
