using System.Globalization;
using System.Net;
using Hutong.Domain;
using Hutong.Server.Features.Checkout;
using Hutong.Server.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Hutong.Server.Features.Console;

/// <summary>What every console page has: the language, the signed-in user, the audit actor and RFC 9457-style problems.</summary>
public abstract class ConsolePageModel : PageModel
{
    private Lang? _lang;

    public Lang L => _lang ??= Lang.Of(HttpContext);

    /// <summary>The signed-in user; the page filter guarantees one on every page not marked anonymous.</summary>
    public ConsoleIdentity Me => ConsoleIdentity.Of(HttpContext) ?? throw new InvalidOperationException("no console user on a signed-in page");

    public ConsoleIdentity? MaybeMe => ConsoleIdentity.Of(HttpContext);

    public bool Can(ConsolePermission p) => MaybeMe?.Can(p) == true;

    /// <summary>The page's title, in the page's language (the layout puts it in &lt;title&gt; and &lt;h1&gt;).</summary>
    public abstract string Title { get; }

    /// <summary>A problem to show above the page (the same code, title and detail as the REST API's RFC 9457 answer).</summary>
    public ConsoleProblem? Problem { get; set; }

    /// <summary>A one-line confirmation carried across the redirect after a POST (?done=…).</summary>
    [BindProperty(SupportsGet = true, Name = "done")]
    public string? Done { get; set; }

    public string? Ip => HttpContext.Connection.RemoteIpAddress?.ToString();

    /// <summary>The audit log's "who" for an action by the signed-in user.</summary>
    public ConsoleAuditEntry Actor(string action, string? merchantId, string? target = null, string? detail = null) =>
        new(Me.Session.UserId, Me.Session.Email, merchantId, action, target, detail, Ip);

    public string Money(long fen, string currency = "CNY") => ConsoleFormat.Money(fen, currency);

    public string When(long unixMs) => ConsoleFormat.When(unixMs);

    public static IActionResult Forbidden(HttpContext http)
    {
        var l = Lang.Of(http);
        return new ContentResult
        {
            StatusCode = StatusCodes.Status403Forbidden,
            ContentType = "text/html; charset=utf-8",
            Content = $"""
                <!doctype html><html lang="{l.Code}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
                <title>403</title><link rel="stylesheet" href="{ConsoleAssets.CssPath}"></head>
                <body><main><h1>{WebUtility.HtmlEncode(l.T("无权执行此操作", "You may not do this"))}</h1>
                <p>{WebUtility.HtmlEncode(l.T("你的角色没有这项权限。", "Your role does not have this permission."))}</p>
                <p><a href="/console/payments">{WebUtility.HtmlEncode(l.T("返回控制台", "Back to the console"))}</a></p></main></body></html>
                """,
        };
    }

    /// <summary>A 400 page for a form that cannot be stored as sent (a NUL in <paramref name="field"/>); nothing was changed.</summary>
    public static IActionResult BadForm(HttpContext http, string field)
    {
        var l = Lang.Of(http);
        return new ContentResult
        {
            StatusCode = StatusCodes.Status400BadRequest,
            ContentType = "text/html; charset=utf-8",
            Content = $"""
                <!doctype html><html lang="{l.Code}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
                <title>400</title><link rel="stylesheet" href="{ConsoleAssets.CssPath}"></head>
                <body><main><h1>{WebUtility.HtmlEncode(l.T("表单无效", "The form is not valid"))}</h1>
                <p id="problem" data-status="400" data-field="{WebUtility.HtmlEncode(field)}">{WebUtility.HtmlEncode(l.T("字段 ", "The field ") + field + l.T(" 含有 NUL 字符（U+0000）；没有做任何更改。", " holds a NUL character (U+0000); nothing was changed."))}</p>
                <p><a href="/console/payments">{WebUtility.HtmlEncode(l.T("返回控制台", "Back to the console"))}</a></p></main></body></html>
                """,
        };
    }

    /// <summary>A 404 page: also what another merchant's payment answers, so its existence is not told.</summary>
    public IActionResult NotFoundPage()
    {
        Problem = new ConsoleProblem(404, "not_found", L.T("没有找到", "Not found"), null);
        return new ContentResult
        {
            StatusCode = StatusCodes.Status404NotFound,
            ContentType = "text/html; charset=utf-8",
            Content = $"""
                <!doctype html><html lang="{L.Code}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
                <title>404</title><link rel="stylesheet" href="{ConsoleAssets.CssPath}"></head>
                <body><main><h1>{WebUtility.HtmlEncode(L.T("没有找到", "Not found"))}</h1>
                <p><a href="/console/payments">{WebUtility.HtmlEncode(L.T("返回支付列表", "Back to payments"))}</a></p></main></body></html>
                """,
        };
    }

    /// <summary>A use case's refusal as the REST API would state it (status from the same mapping).</summary>
    public static ConsoleProblem ProblemOf(Failure f) => new(OutcomeResults.Status(f.Kind), f.Code, f.Title, f.Detail);
}

/// <summary>A refusal shown on a console page: the RFC 9457 fields the API would answer with.</summary>
public sealed record ConsoleProblem(int Status, string Code, string Title, string? Detail)
{
    public string Type => Problems.Type(Code);
}

public static class ConsoleFormat
{
    /// <summary>China Standard Time (UTC+8, no daylight saving): the console shows and filters dates as merchants see them.</summary>
    public static readonly TimeSpan ChinaOffset = TimeSpan.FromHours(8);

    public static string Money(long fen, string currency) => currency == "CNY"
        ? "¥" + (fen / 100m).ToString("#,0.00", CultureInfo.InvariantCulture)
        : $"{fen} {currency}";

    public static string When(long unixMs) =>
        DateTimeOffset.FromUnixTimeMilliseconds(unixMs).ToOffset(ChinaOffset).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    /// <summary>Yuan as typed ("12.5", "12.50", "1,200") to fen, or null.</summary>
    public static long? Fen(string? yuan)
    {
        if (string.IsNullOrWhiteSpace(yuan) || !decimal.TryParse(yuan.Replace(",", "", StringComparison.Ordinal).Trim(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var d))
        {
            return null;
        }

        var fen = d * 100;
        return fen == decimal.Truncate(fen) && fen is > 0 and <= Hutong.Domain.Money.MaxAmount ? (long)fen : null;
    }

    /// <summary>yyyy-MM-dd (China time) to the unix ms of that day's start, or null.</summary>
    public static long? DayStart(string? day) =>
        DateOnly.TryParseExact(day, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d)
            ? new DateTimeOffset(d.ToDateTime(TimeOnly.MinValue), ChinaOffset).ToUnixTimeMilliseconds()
            : null;
}
