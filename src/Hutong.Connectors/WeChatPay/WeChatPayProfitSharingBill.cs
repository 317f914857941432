using System.Globalization;
using Hutong.Connectors.Abstractions;

namespace Hutong.Connectors.WeChatPay;

/// <summary>
/// The v3 profit-sharing bill (分账账单, GET /v3/profitsharing/bills then the file at download_url). WeChat Pay's
/// 申请分账账单 pages (https://pay.weixin.qq.com/doc/v3/merchant/4012529628, …/partner/4012715572) say: one file a day,
/// only successful splits and returns, amounts in yuan, a detail part and a summary part each with one header row, every
/// detail cell prefixed with a backtick (fixed 2025-01-15 where some were missing). The detail columns, in order, as
/// an open-source parser of the real file reads them (row[0]..row[12], see docs/settlement-payouts.md for the source):
/// 分账时间, 分账发起方, 分账方, 微信订单号, 微信分账/回退单号, 分账明细单号, 商户分账/回退单号, 订单金额, 分账接收方, 金额,
/// 业务类型, 处理状态, 备注. The summary part's columns are not pinned: it is skipped.
/// </summary>
public static class WeChatPayProfitSharingBill
{
    public const string Header = "分账时间,分账发起方,分账方,微信订单号,微信分账/回退单号,分账明细单号,商户分账/回退单号,订单金额,分账接收方,金额,业务类型,处理状态,备注";
    private const int Columns = 13;
    private const int MaxRows = 1_000_000;
    private static readonly TimeSpan China = TimeSpan.FromHours(8);

    public static IReadOnlyList<SplitBillLine> Parse(string csv)
    {
        var lines = csv.TrimStart('\uFEFF').Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        if (lines.Length < 1 || lines[0].Trim() != Header)
        {
            throw new BillFormatException("not a WeChat Pay profit-sharing bill (header)");
        }

        var result = new List<SplitBillLine>();
        for (var i = 1; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.Length == 0)
            {
                continue;
            }

            if (!line.StartsWith('`'))
            {
                break; // the summary part's header: the detail rows are over
            }

            if (result.Count >= MaxRows)
            {
                throw new BillFormatException("the bill has too many rows");
            }

            var c = Cells(line);
            var kind = c[10] switch
            {
                "分账" or "PROFIT_SHARING" => SplitBillLineKind.Split,
                "回退" or "分账回退" or "RETURN" => SplitBillLineKind.Return,
                _ => throw new BillFormatException($"unknown 业务类型 '{Truncate(c[10])}'"),
            };
            var at = DateTime.TryParseExact(c[0], "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var t)
                ? new DateTimeOffset(t, China)
                : throw new BillFormatException($"not a 分账时间: '{Truncate(c[0])}'");
            var amount = BillAmounts.ParseYuan(c[9]);
            if (amount <= 0)
            {
                throw new BillFormatException("a row's 金额 is not positive");
            }

            result.Add(new SplitBillLine(kind, c[3], Required(c[6], "商户分账/回退单号"), Required(c[8], "分账接收方"), amount, c[11], at));
        }

        return result;
    }

    /// <summary>
    /// Cells start with a backtick, so ",`" separates them even when 备注 holds a comma; a row where some cells lost
    /// their backtick (the defect WeChat fixed on 2025-01-15) is read by plain commas when that gives the right count.
    /// </summary>
    private static string[] Cells(string line)
    {
        var cells = line[1..].Split(",`");
        if (cells.Length != Columns)
        {
            cells = line.Split(',');
            if (cells.Length != Columns)
            {
                throw new BillFormatException($"a row has {cells.Length} cells, expected {Columns}");
            }
        }

        return [.. cells.Select(x => x.Trim().TrimStart('`').Trim())];
    }

    private static string Truncate(string s) => s.Length <= 32 ? s : s[..32];

    private static string Required(string value, string name) =>
        value.Length > 0 ? value : throw new BillFormatException($"{name} is empty");
}
