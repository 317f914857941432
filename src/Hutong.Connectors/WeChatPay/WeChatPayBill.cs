using System.Globalization;
using Hutong.Connectors.Abstractions;

namespace Hutong.Connectors.WeChatPay;

/// <summary>
/// The v3 trade bill (交易账单, bill_type=ALL): UTF-8 CSV with a BOM, a header row, data rows whose every cell starts
/// with a backtick, then the line "总交易单数,…" and one row of totals. Amounts are yuan; 手续费 carries five decimals
/// (`0.05940`), so fees are summed in 0.00001 yuan and compared with 手续费总金额 at that precision (to the fen when the
/// total is written to the fen). The totals are checked against the rows, so a truncated or altered file is refused
/// rather than half-read.
/// </summary>
public static class WeChatPayBill
{
    public const string Header = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";
    public const string TotalsHeader = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额";
    private static readonly TimeSpan China = TimeSpan.FromHours(8);

    public static IReadOnlyList<BillLine> Parse(string csv)
    {
        var lines = csv.TrimStart('\uFEFF').Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        if (lines.Length < 3 || lines[0].Trim() != Header)
        {
            throw new BillFormatException("not a WeChat Pay trade bill (header)");
        }

        var result = new List<BillLine>();
        var i = 1;
        long settled = 0, refunded = 0, fees = 0; // fees in 0.00001 yuan
        for (; i < lines.Length && !lines[i].StartsWith("总交易单数", StringComparison.Ordinal); i++)
        {
            if (lines[i].Length == 0)
            {
                continue;
            }

            var c = Cells(lines[i], 27);
            var status = c[9];
            var at = DateTime.TryParseExact(c[0], "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var t) ? new DateTimeOffset(t, China) : (DateTimeOffset?)null;
            var exactFee = ParseFee(c[22]);
            fees += exactFee;
            var fee = ToFen(exactFee);
            // Amounts: the order-level one (订单金额 / 申请退款金额) is the line's amount; the settled one (应结订单金额 / 退款金额,
            // which leave out merchant-borne 免充值 coupons) and the coupon column go with it for reconciliation.
            if (status == "REFUND")
            {
                var settledRefund = BillAmounts.ParseYuan(c[16]);
                refunded += settledRefund;
                result.Add(new BillLine(BillLineKind.Refund, Required(c[6], "商户订单号"), c[5], Required(c[15], "商户退款单号"), OrderLevel(c[25], settledRefund), -fee, c[19], at,
                    SettlementMinor: settledRefund, CouponMinor: BillAmounts.ParseYuan(c[17])));
            }
            else
            {
                var settlement = BillAmounts.ParseYuan(c[12]);
                settled += settlement;
                result.Add(new BillLine(BillLineKind.Payment, Required(c[6], "商户订单号"), c[5], null, OrderLevel(c[24], settlement), fee, status, at,
                    SettlementMinor: settlement, CouponMinor: BillAmounts.ParseYuan(c[13])));
            }
        }

        if (i + 1 >= lines.Length || lines[i].Trim() != TotalsHeader)
        {
            throw new BillFormatException("the totals are missing (truncated bill)");
        }

        var totals = Cells(lines[i + 1], 7);
        // The count is written "45" or, in WeChat's own SDK fixture, "45.0".
        var countText = totals[0].EndsWith(".0", StringComparison.Ordinal) ? totals[0][..^2] : totals[0];
        var feeTotal = ParseFee(totals[4]);
        var feeTotalToFen = totals[4].IndexOf('.', StringComparison.Ordinal) is var dot && (dot < 0 || totals[4].Length - dot - 1 <= 2);
        if (!long.TryParse(countText, NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count != result.Count
            || BillAmounts.ParseYuan(totals[1]) != settled || BillAmounts.ParseYuan(totals[2]) != refunded
            || (feeTotalToFen ? ToFen(fees) * 1000 != feeTotal : fees != feeTotal))
        {
            throw new BillFormatException("the rows do not add up to the bill's totals");
        }

        return result;
    }

    /// <summary>订单金额 / 申请退款金额, or the settled amount where an older bill leaves the column empty.</summary>
    private static long OrderLevel(string cell, long settled) => cell.Length == 0 ? settled : BillAmounts.ParseYuan(cell);

    /// <summary>A fee of up to five decimals, in 0.00001 yuan (0.001 fen).</summary>
    private static long ParseFee(string text)
    {
        var s = text.Trim();
        var dot = s.IndexOf('.', StringComparison.Ordinal);
        var decimals = dot < 0 ? 0 : s.Length - dot - 1;
        if (decimals > 5)
        {
            throw new BillFormatException($"not a fee in yuan: '{text}'");
        }

        // Shift the five decimals into whole units, then read it as yuan with at most two (bounded by ParseYuan).
        var digits = dot < 0 ? s + "000" : s[..dot] + s[(dot + 1)..].PadRight(5, '0')[..3] + "." + s[(dot + 1)..].PadRight(5, '0')[3..];
        return BillAmounts.ParseYuan(digits);
    }

    /// <summary>A five-decimal fee to the fen, half away from zero (the fen WeChat settles).</summary>
    private static long ToFen(long hundredThousandths) =>
        (long)Math.Round(hundredThousandths / 1000m, MidpointRounding.AwayFromZero);

    /// <summary>Every cell starts with a backtick, so ",`" separates cells even when a product name holds a comma.</summary>
    private static string[] Cells(string line, int expected)
    {
        var trimmed = line.TrimEnd('\r');
        if (!trimmed.StartsWith('`'))
        {
            throw new BillFormatException("a row does not start with a backtick cell");
        }

        var cells = trimmed[1..].Split(",`");
        if (cells.Length != expected)
        {
            throw new BillFormatException($"a row has {cells.Length} cells, expected {expected}");
        }

        for (var k = 0; k < cells.Length; k++)
        {
            cells[k] = cells[k].Trim();
        }

        return cells;
    }

    private static string Required(string value, string name) =>
        value.Length > 0 ? value : throw new BillFormatException($"{name} is empty");
}
