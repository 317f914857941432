using System.Globalization;
using System.Net;
using System.Text;

namespace Hutong.Server.Features.Reconciliation;

/// <summary>A reconciliation report as CSV (for spreadsheets; cells that a spreadsheet would run as formulas are defused) or HTML.</summary>
public static class ReconciliationReportWriter
{
    private static readonly string[] Columns = ["bill_date", "channel", "wallet", "kind", "out_trade_no", "out_refund_no", "hub_amount", "wallet_amount", "resolution", "detail"];

    public static string Csv(ReconciliationReport r)
    {
        var sb = new StringBuilder(string.Join(',', Columns)).Append("\r\n");
        foreach (var d in r.Discrepancies)
        {
            sb.Append(string.Join(',', new[]
            {
                r.BillDate, d.Channel, d.Wallet, d.Kind, d.OutTradeNo, d.OutRefundNo ?? string.Empty,
                d.HubAmount?.ToString(CultureInfo.InvariantCulture) ?? string.Empty, d.WalletAmount?.ToString(CultureInfo.InvariantCulture) ?? string.Empty,
                d.Resolution, d.Detail,
            }.Select(Cell))).Append("\r\n");
        }

        return sb.ToString();
    }

    /// <summary>The report's one stylesheet, inline so a saved report is one file; served, it is allowed by its hash.</summary>
    public const string Style = "body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse;margin-bottom:2rem}td,th{border:1px solid #999;padding:.3rem .6rem;text-align:left}tr.open td{background:#fdecea}tr.repaired td{background:#e6f7ee}";

    public static string Html(ReconciliationReport r)
    {
        static string E(string? s) => WebUtility.HtmlEncode(s ?? string.Empty);
        var channels = string.Join("\n", r.Channels.Select(c =>
            $"<tr><td>{E(c.Channel)}</td><td>{E(c.Wallet)}</td><td>{E(c.Status)}</td><td>{c.BillLines}</td><td>{c.Matched}</td><td>{c.Repaired}</td><td>{c.Discrepancies.Count(d => d.Resolution == "open")}</td><td>{E(c.Error)}</td></tr>"));
        var rows = string.Join("\n", r.Discrepancies.Select(d =>
            $"<tr class=\"{E(d.Resolution)}\"><td>{E(d.Channel)}</td><td>{E(d.Kind)}</td><td>{E(d.OutTradeNo)}</td><td>{E(d.OutRefundNo)}</td><td>{d.HubAmount}</td><td>{d.WalletAmount}</td><td>{E(d.Resolution)}</td><td>{E(d.Detail)}</td></tr>"));
        return $$"""
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>Reconciliation {{E(r.BillDate)}}</title>
            <style>{{Style}}</style>
            </head><body><h1>对账 Reconciliation — {{E(r.BillDate)}}</h1>
            <table><caption>Channels</caption><tr><th>channel</th><th>wallet</th><th>status</th><th>bill lines</th><th>matched</th><th>repaired</th><th>open</th><th>error</th></tr>
            {{channels}}</table>
            <table><caption>Discrepancies (amounts in minor units)</caption><tr><th>channel</th><th>kind</th><th>out_trade_no</th><th>out_refund_no</th><th>hub</th><th>wallet</th><th>resolution</th><th>detail</th></tr>
            {{rows}}</table></body></html>
            """;
    }

    private static string Cell(string s)
    {
        if (s.Length > 0 && "=+-@\t\r".Contains(s[0], StringComparison.Ordinal) && !long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
        {
            s = "'" + s; // a spreadsheet would run it as a formula
        }

        return s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : s;
    }
}
