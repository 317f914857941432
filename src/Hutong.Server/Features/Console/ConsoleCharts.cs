using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Html;

namespace Hutong.Server.Features.Console;

/// <summary>One bar of a chart: its label, its value, and the series it belongs to (a wallet, a stage).</summary>
public sealed record ChartBar(string Label, long Value, string Series = "");

/// <summary>
/// Charts drawn on the server as inline SVG: no script, no CDN, nothing the pages' CSP refuses (presentation attributes,
/// no style attributes). Each chart is an <c>role="img"</c> with an aria-label that says what it shows; the page puts
/// the same numbers in a table next to it (the text alternative, and what tests compare with the rows).
/// </summary>
public static class ConsoleCharts
{
    // Colours with at least 3:1 against white (WCAG 1.4.11 for graphical objects).
    private static readonly string[] Palette = ["#0b4fb3", "#a4161a", "#05603a", "#7a3e00", "#5b2a86", "#00607a", "#8a1c5c", "#3d3d3d"];

    public static string Colour(int i) => Palette[i % Palette.Length];

    /// <summary>Vertical bars per label (x), stacked by series; the series' colours in a legend under the chart.</summary>
    public static IHtmlContent Stacked(string id, string label, IReadOnlyList<ChartBar> bars, Func<long, string> format, string noData = "-")
    {
        var labels = bars.Select(b => b.Label).Distinct().ToList();
        var series = bars.Select(b => b.Series).Distinct().ToList();
        const int height = 180, top = 10, left = 70, barGap = 6;
        var width = Math.Max(320, left + labels.Count * 36 + 10);
        var slot = labels.Count == 0 ? 0 : (width - left - 10) / labels.Count;
        var max = Math.Max(1, labels.Select(l => bars.Where(b => b.Label == l).Sum(b => b.Value)).DefaultIfEmpty(0).Max());
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg id=\"{id}\" class=\"chart\" role=\"img\" aria-label=\"{Enc(label)}\" viewBox=\"0 0 {width} {height + 50}\" width=\"{width}\" height=\"{height + 50}\" preserveAspectRatio=\"xMinYMin meet\" xmlns=\"http://www.w3.org/2000/svg\">");
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{top + height}\" x2=\"{width - 5}\" y2=\"{top + height}\" stroke=\"#4a4a4a\"/>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 6}\" y=\"{top + 10}\" text-anchor=\"end\" font-size=\"11\" fill=\"#1a1a1a\">{Enc(format(max))}</text>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 6}\" y=\"{top + height}\" text-anchor=\"end\" font-size=\"11\" fill=\"#1a1a1a\">0</text>");
        for (var i = 0; i < labels.Count; i++)
        {
            var x = left + i * slot + barGap / 2;
            var y = (double)(top + height);
            foreach (var b in bars.Where(b => b.Label == labels[i]))
            {
                var h = (double)b.Value / max * height;
                y -= h;
                svg.Append(CultureInfo.InvariantCulture,
                    $"<rect x=\"{x}\" y=\"{y:0.##}\" width=\"{Math.Max(2, slot - barGap)}\" height=\"{h:0.##}\" fill=\"{Colour(series.IndexOf(b.Series))}\" data-label=\"{Enc(b.Label)}\" data-series=\"{Enc(b.Series)}\" data-value=\"{b.Value}\"><title>{Enc($"{b.Label} {b.Series}: {format(b.Value)}")}</title></rect>");
            }

            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x + (slot - barGap) / 2}\" y=\"{top + height + 14}\" text-anchor=\"middle\" font-size=\"10\" fill=\"#1a1a1a\">{Enc(labels[i].Length > 5 ? labels[i][5..] : labels[i])}</text>");
        }

        if (bars.Count == 0)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left + 10}\" y=\"{top + height / 2}\" font-size=\"13\" fill=\"#1a1a1a\">{Enc(noData)}</text>");
        }

        var lx = left;
        for (var s = 0; s < series.Count && series[s].Length > 0; s++)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{lx}\" y=\"{top + height + 24}\" width=\"10\" height=\"10\" fill=\"{Colour(s)}\"/><text x=\"{lx + 14}\" y=\"{top + height + 33}\" font-size=\"11\" fill=\"#1a1a1a\">{Enc(series[s])}</text>");
            lx += 24 + series[s].Length * 7;
        }

        svg.Append("</svg>");
        return new HtmlString(svg.ToString());
    }

    /// <summary>Horizontal bars, one per row (a funnel's stages, a rate per wallet), each with its value written beside it.</summary>
    public static IHtmlContent Horizontal(string id, string label, IReadOnlyList<ChartBar> bars, Func<long, string> format, long? max = null)
    {
        const int row = 26, left = 150, barWidth = 300;
        var top = max ?? Math.Max(1, bars.Select(b => b.Value).DefaultIfEmpty(0).Max());
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg id=\"{id}\" class=\"chart\" role=\"img\" aria-label=\"{Enc(label)}\" viewBox=\"0 0 {left + barWidth + 90} {bars.Count * row + 6}\" width=\"{left + barWidth + 90}\" height=\"{bars.Count * row + 6}\" preserveAspectRatio=\"xMinYMin meet\" xmlns=\"http://www.w3.org/2000/svg\">");
        for (var i = 0; i < bars.Count; i++)
        {
            var b = bars[i];
            var w = top == 0 ? 0 : (double)b.Value / top * barWidth;
            var y = i * row + 4;
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 6}\" y=\"{y + 14}\" text-anchor=\"end\" font-size=\"12\" fill=\"#1a1a1a\">{Enc(b.Label)}</text>");
            svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{left}\" y=\"{y}\" width=\"{Math.Max(1, w):0.##}\" height=\"{row - 8}\" fill=\"{Colour(i)}\" data-label=\"{Enc(b.Label)}\" data-value=\"{b.Value}\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left + w + 6:0.##}\" y=\"{y + 14}\" font-size=\"12\" fill=\"#1a1a1a\">{Enc(format(b.Value))}</text>");
        }

        svg.Append("</svg>");
        return new HtmlString(svg.ToString());
    }

    public static string Percent(long basisPoints) => (basisPoints / 100m).ToString("0.##", CultureInfo.InvariantCulture) + "%";

    private static string Enc(string s) => WebUtility.HtmlEncode(s);
}
