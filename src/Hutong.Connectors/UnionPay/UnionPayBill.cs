using System.Globalization;
using System.IO.Compression;
using System.Text;
using Hutong.Connectors.Abstractions;

namespace Hutong.Connectors.UnionPay;

/// <summary>
/// The settlement file that ACP file transfer (txnType=76, fileType=00) returns: Base64 of a ZIP whose "…ZM_{merId}"
/// entry lists the day's transactions. The real file is fixed-width (ACOMN); this reads the sandbox's delimited
/// rendering of the same fields — txnType|orderId|queryId|txnAmt|fee|txnTime|origQueryId|respCode, amounts in fen —
/// with a "#TOTAL|count|amount" trailer that is checked against the rows.
/// </summary>
public static class UnionPayBill
{
    public const string Header = "txnType|orderId|queryId|txnAmt|fee|txnTime|origQueryId|respCode";
    private static readonly TimeSpan China = TimeSpan.FromHours(8);

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
            var entry = archive.Entries.FirstOrDefault(e => e.Name.Contains("ZM_", StringComparison.Ordinal))
                ?? throw new BillFormatException("the archive holds no ZM_ settlement file");
            using var reader = new StreamReader(entry.Open(), Encoding.UTF8);
            return Parse(reader.ReadToEnd());
        }
        catch (InvalidDataException e)
        {
            throw new BillFormatException("not a ZIP archive: " + e.Message);
        }
    }

    public static IReadOnlyList<BillLine> Parse(string text)
    {
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n').Where(l => l.Length > 0).ToList();
        if (lines.Count < 2 || lines[0] != Header)
        {
            throw new BillFormatException("not a UnionPay settlement file (header)");
        }

        var trailer = lines[^1].Split('|');
        if (trailer.Length != 3 || trailer[0] != "#TOTAL")
        {
            throw new BillFormatException("the #TOTAL trailer is missing (truncated file)");
        }

        var result = new List<BillLine>();
        long sum = 0;
        foreach (var line in lines.Skip(1).SkipLast(1))
        {
            var c = line.Split('|');
            if (c.Length != 8)
            {
                throw new BillFormatException($"a row has {c.Length} fields, expected 8");
            }

            if (!long.TryParse(c[3], NumberStyles.None, CultureInfo.InvariantCulture, out var amount) || !long.TryParse(c[4], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var fee)
                || c[1].Length == 0)
            {
                throw new BillFormatException("a row's amount, fee or orderId is not valid");
            }

            var at = DateTime.TryParseExact(c[5], "yyyyMMddHHmmss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var t) ? new DateTimeOffset(t, China) : (DateTimeOffset?)null;
            sum += amount;
            result.Add(c[0] switch
            {
                "01" => new BillLine(BillLineKind.Payment, c[1], c[2], null, amount, fee, c[7], at),
                // A 退货 names the refund by its own orderId; the payment it returns is found by origQueryId.
                "04" => new BillLine(BillLineKind.Refund, c[6], c[2], c[1], amount, -fee, c[7], at),
                _ => throw new BillFormatException($"unknown txnType '{c[0]}'"),
            });
        }

        if (!long.TryParse(trailer[1], NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count != result.Count
            || !long.TryParse(trailer[2], NumberStyles.None, CultureInfo.InvariantCulture, out var total) || total != sum)
        {
            throw new BillFormatException("the rows do not add up to the #TOTAL trailer");
        }

        return result;
    }
}
