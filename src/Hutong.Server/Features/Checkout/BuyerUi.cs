using System.Net;
using Hutong.Domain;
using Hutong.Domain.Payments;
using Hutong.Server.Features.Payments;
using QRCoder;

namespace Hutong.Server.Features.Checkout;

/// <summary>The page language: ?lang=en|zh, else the browser's first Accept-Language, else Chinese; and the hub's wallets, to name them.</summary>
public sealed record Lang(bool En)
{
    /// <summary>The hub's wallets (their names and button colours); empty outside a hub.</summary>
    public IReadOnlyList<Hutong.Connectors.Abstractions.IWalletModule> Wallets { get; init; } = [];

    /// <summary>The wallets' stylesheet (pay button colours), when the page belongs to a hub.</summary>
    public string? WalletCssUrl { get; init; }

    public static Lang Of(HttpContext ctx)
    {
        var catalog = ctx.RequestServices.GetService<WalletCatalog>();
        return new Lang(IsEnglish(ctx)) { Wallets = catalog?.All ?? [], WalletCssUrl = catalog?.CssUrl };
    }

    private static bool IsEnglish(HttpContext ctx)
    {
        var q = ctx.Request.Query["lang"].ToString();
        if (q is "en" or "zh")
        {
            // Remembered, so the forms a page posts (which carry no ?lang) answer in the language chosen.
            ctx.Response.Cookies.Append("hutong_lang", q, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Lax, MaxAge = TimeSpan.FromDays(365) });
            return q == "en";
        }

        if (ctx.Request.Cookies["hutong_lang"] is "en" or "zh")
        {
            return ctx.Request.Cookies["hutong_lang"] == "en";
        }

        var first = ctx.Request.Headers.AcceptLanguage.ToString().Split(',')[0].Trim();
        return first.StartsWith("en", StringComparison.OrdinalIgnoreCase);
    }

    public string T(string zh, string en) => En ? en : zh;

    public string Code => En ? "en" : "zh-CN";

    public Hutong.Connectors.Abstractions.WalletDisplay? Display(string wallet) => Wallets.FirstOrDefault(m => m.Name == wallet)?.Display;

    public string WalletName(string wallet) => Display(wallet) is { } d ? T(d.NameZh, d.NameEn) : wallet;
}

/// <summary>Shared parts of the buyer-facing pages (cashier, friend-pay, links): layout, QR codes, the payment panel.</summary>
public static class BuyerUi
{
    public static string E(string? s) => WebUtility.HtmlEncode(s ?? string.Empty);

    public static bool IsMobile(HttpContext ctx)
    {
        var ua = ctx.Request.Headers.UserAgent.ToString();
        return ua.Contains("Mobile", StringComparison.Ordinal) || ua.Contains("Android", StringComparison.Ordinal) || ua.Contains("iPhone", StringComparison.Ordinal);
    }

    public static byte[] QrPng(string text, int pixelsPerModule = 8)
    {
        using var generator = new QRCodeGenerator();
        using var data = generator.CreateQrCode(text, QRCodeGenerator.ECCLevel.M);
        return new PngByteQRCode(data).GetGraphic(pixelsPerModule);
    }

    public static string QrSvg(string text)
    {
        using var generator = new QRCodeGenerator();
        using var data = generator.CreateQrCode(text, QRCodeGenerator.ECCLevel.M);
        return new SvgQRCode(data).GetGraphic(8);
    }

    public static string Html(Lang l, string title, string content, bool refresh, string path) => $$"""
        <!doctype html>
        <html lang="{{l.Code}}">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        {{(refresh ? "<noscript><meta http-equiv=\"refresh\" content=\"5\"></noscript>" : string.Empty)}}
        <title>{{E(title)}}</title>
        <link rel="stylesheet" href="{{BuyerAssets.CssUrl}}">
        {{(l.WalletCssUrl is null ? string.Empty : $"<link rel=\"stylesheet\" href=\"{E(l.WalletCssUrl)}\">")}}
        </head>
        <body>
        <nav class="lang" aria-label="{{l.T("语言", "Language")}}"><a href="{{E(path)}}?lang=zh" lang="zh-CN">中文</a> · <a href="{{E(path)}}?lang=en" lang="en">English</a></nav>
        {{content}}
        </body>
        </html>
        """;

    /// <summary>
    /// Back to the page after a pay button (post/redirect/get), in the language the buyer reads, with the reason in
    /// <c>e</c> when the attempt was refused ("claimed": someone else holds the payment).
    /// </summary>
    public static IResult BackAfterConfirm<T>(HttpContext ctx, string page, Outcome<T> result)
    {
        var lang = Lang.Of(ctx).En ? "?lang=en" : "?lang=zh";
        return Results.Redirect(result.Failure is not { } refused ? $"{page}{lang}" : $"{page}{lang}&e={ErrorCode(refused.Code)}");
    }

    /// <summary>
    /// A pay button posted without the payer cookie its page sets: it takes no claim (one nobody could prove would lock
    /// the payment for everyone), and the page says to allow cookies.
    /// </summary>
    public static IResult WithoutPayerSession(HttpContext ctx, string page) =>
        Results.Redirect($"{page}{(Lang.Of(ctx).En ? "?lang=en" : "?lang=zh")}&e=cookie");

    /// <summary>The <c>e</c> a refused pay button sends back: one of the codes <see cref="ErrorText"/> knows.</summary>
    public static string ErrorCode(string? problemCode) => problemCode switch
    {
        "payment_claimed" => "claimed",
        "payment_expired" or "payment_not_confirmable" or "payment_already_paid" => "not_payable",
        "wallet_unavailable" or "no_channel" => "unavailable",
        "wallet_not_offered" or "validation_error" => "not_offered",
        _ => "error",
    };

    /// <summary>
    /// The alert for a page's <c>?e=</c>. Only known codes are shown, as our own words: anything else in the URL is
    /// ignored, so a crafted link cannot put its text inside the page's trusted error alert.
    /// </summary>
    public static string? ErrorText(Lang l, string? code, bool friendPage) => code switch
    {
        "claimed" when friendPage => l.T("刚刚有另一位好友开始支付，请稍后再试。", "Another friend has just started paying; try again later."),
        "claimed" => l.T("好友正在为你支付，请稍候。", "A friend is paying for you right now."),
        "cookie" => l.T("请允许本页使用 Cookie 后重试：它用来确认是谁在付款。", "Allow cookies for this page and try again: they show who is paying."),
        "not_payable" => l.T("该订单现在无法支付。", "This payment cannot be paid now."),
        "unavailable" => l.T("钱包暂时无法连接，请稍后重试或换一种方式。", "The wallet cannot be reached right now; try again shortly or pay another way."),
        "not_offered" => l.T("该支付方式暂不可用，请换一种方式。", "This way to pay is not available; choose another."),
        "error" when friendPage => l.T("暂时无法发起支付，请重试。", "The payment could not be started; please try again."),
        "error" => l.T("暂时无法发起支付，请重试或换一种方式。", "The payment could not be started; try again or pay another way."),
        _ => null,
    };

    public static string Message(Lang l, string title, string heading, string text, string path) =>
        Html(l, title, $"<main><h1>{E(heading)}</h1><p>{E(text)}</p></main>", refresh: false, path);

    /// <summary>Polls the page's status URL and reloads when what this browser should see changes (a file: the CSP forbids inline script).</summary>
    public static string LiveScript(string statusPath) =>
        $"<script src=\"{BuyerAssets.LiveJsUrl}\" data-status-url=\"{E(statusPath)}\"></script>";

    /// <summary>What one browser sees of a payment; the status endpoint returns it so pages reload only on a real change.</summary>
    public static string View(PaymentRow p, bool mine, bool claimedByOther) =>
        $"{p.Status}|{p.CurrentAttemptId}|{(p.CodeUrl is null ? "-" : "qr")}|{(mine ? "mine" : "other")}{(claimedByOther ? "|claimed" : string.Empty)}";

    public static string Countdown(Lang l, long secondsLeft) =>
        $"<p class=\"hint\">{l.T("剩余时间：", "Time left: ")}<span id=\"countdown\" data-seconds=\"{secondsLeft}\">{secondsLeft / 60}:{secondsLeft % 60:00}</span></p>";

    /// <summary>
    /// The merchant's description of what is bought. The hub cannot translate it, so on an English page an all-Chinese
    /// description says what it is and carries lang="zh-CN" (screen readers then read it in Chinese, not as gibberish).
    /// </summary>
    public static string Item(Lang l, string description, string? id = null)
    {
        var idAttr = id is null ? string.Empty : $" id=\"{id}\"";
        // A description that already carries English words ("测试商品 test item") reads as it is; a unit ("250 g") is no word.
        return l.En && HasHan(description) && !HasLatinWord(description)
            ? $"<p class=\"desc\"{idAttr}><span lang=\"zh-CN\">{E(description)}</span> <span class=\"tag\">(item name in Chinese)</span></p>"
            : $"<p class=\"desc\"{idAttr}>{E(description)}</p>";
    }

    /// <summary>Text a person typed (a name, a note), marked lang="zh-CN" when it is Chinese on an English page.</summary>
    public static string Typed(Lang l, string? text) =>
        l.En && HasHan(text ?? string.Empty) ? $"<span lang=\"zh-CN\">{E(text)}</span>" : E(text);

    private static bool HasLatinWord(string s) => s.Zip(s.Skip(1)).Any(p => char.IsAsciiLetter(p.First) && char.IsAsciiLetter(p.Second));

    public static bool HasHan(string s) => s.Any(c => c is (>= '\u3400' and <= '\u9FFF') or (>= '\uF900' and <= '\uFAFF'));

    /// <summary>
    /// A copy button for the text of element <paramref name="targetId"/>. Hidden until /assets/copy.js shows it: without
    /// script the text stays selectable, and a button that cannot work is not offered.
    /// </summary>
    public static string CopyButton(Lang l, string targetId) =>
        $"<p class=\"copy-row\"><button type=\"button\" class=\"button copy\" id=\"copy-{E(targetId)}\" data-copy=\"{E(targetId)}\" data-done=\"{l.T("已复制", "Copied")}\" data-failed=\"{l.T("无法复制，请长按文字手动复制", "Could not copy: select the text and copy it")}\" hidden>{l.T("复制", "Copy")}</button>"
        + $" <span class=\"hint\" role=\"status\" id=\"copy-{E(targetId)}-status\"></span></p>";

    public static string CopyScript => $"<script src=\"{BuyerAssets.CopyJsUrl}\"></script>";

    public static (string Text, string Css) StatusLine(Lang l, PaymentRow p, bool mine, bool claimedByOther, bool friendPage) => p.State switch
    {
        PaymentStatus.Succeeded when friendPage => (mine ? l.T("支付成功，谢谢你！", "Paid — thank you!") : l.T("已有人付款，无需再付", "Someone has already paid this"), "ok"),
        PaymentStatus.Succeeded => (p.PaidVia == "friend" ? l.T("好友已为你付款", "A friend paid for you") : l.T("支付成功", "Paid"), "ok"),
        PaymentStatus.Expired => (l.T("已过期", "Expired"), "bad"),
        PaymentStatus.Canceled => (l.T("已取消", "Canceled"), "bad"),
        PaymentStatus.Unknown => (l.T("正在向钱包确认支付结果…", "Confirming with the wallet…"), "wait"),
        _ when claimedByOther && friendPage => (l.T("另一位好友正在支付", "Someone else is paying this right now"), "wait"),
        _ when claimedByOther => (l.T("好友正在为你支付", "A friend is paying for you"), "wait"),
        PaymentStatus.Failed => (l.T("支付失败，请重试或换一种方式", "Payment failed — try again or choose another way to pay"), "bad"),
        PaymentStatus.Pending when mine && p.CodeUrl is not null => (l.T("请扫码支付", "Scan to pay"), "wait"),
        PaymentStatus.Pending when mine => (l.T("正在生成付款码…", "Preparing the payment code…"), "wait"),
        _ => (l.T("请选择支付方式", "Choose how to pay"), "wait"),
    };

    /// <summary>The QR (desktop) or open-the-app button (mobile) for this browser's open attempt.</summary>
    public static string PayPanel(Lang l, PaymentRow p, string qrPath, bool mobile, string? sandboxUrl)
    {
        var wallet = p.Wallet ?? string.Empty;
        var amount = p.Money.ToDisplayString();
        var display = l.Display(wallet);
        // Alipay and UnionPay QR links open their apps from a phone browser; WeChat's weixin:// code links only work
        // when scanned, so a phone shows the QR to long-press (inside WeChat) or to scan from another screen.
        var deepLink = mobile && display is { CodeUrlOpensApp: true } && p.CodeUrl is not null
            ? $"<a class=\"button\" id=\"open-app\" href=\"{E(p.CodeUrl)}\">{l.T("打开", "Open ")}{E(l.WalletName(wallet))}{l.T("付款", " to pay")}</a>"
            : string.Empty;
        var sandbox = sandboxUrl is null || display is null ? string.Empty
            : $"<p class=\"hint\"><a id=\"sandbox-buyer\" href=\"{E(sandboxUrl.TrimEnd('/'))}/sandbox/{display.SandboxBuyerPath}{Uri.EscapeDataString(p.CodeUrl ?? string.Empty)}\" target=\"_blank\" rel=\"noopener\">{l.T("沙箱：在模拟钱包 App 中扫码", "Sandbox: scan with the sandbox wallet app")}</a></p>";
        var scanHint = display is { ScanHintZh: { } zh, ScanHintEn: { } en }
            ? l.T(zh, en)
            : l.T($"打开{l.WalletName(wallet)}扫一扫", $"Open {l.WalletName(wallet)} and scan");
        return $"""
            {deepLink}
            <figure class="qr"><img id="qr" src="{E(qrPath)}" width="264" height="264" alt="{E(l.WalletName(wallet))} {l.T("付款码", "payment code")} {E(amount)}">
            <figcaption>{E(scanHint)}</figcaption></figure>
            {sandbox}
            """;
    }

    public static string WalletButtons(Lang l, IEnumerable<string> wallets, string actionBase, string? except, bool asSwitch)
    {
        var buttons = wallets.Where(w => w != except).Select(w =>
            $"<button type=\"submit\" class=\"{E(w)}\" formaction=\"{E(actionBase)}/{E(w)}\" id=\"pay-{E(w)}\">{(asSwitch ? l.T("改用", "Use ") : string.Empty)}{E(l.WalletName(w))}</button>").ToList();
        if (buttons.Count == 0)
        {
            return string.Empty;
        }

        var label = asSwitch ? l.T("换一种支付方式", "Pay another way") : l.T("支付方式", "Payment method");
        return $"<form method=\"post\" class=\"wallets{(asSwitch ? " switch" : string.Empty)}\" aria-label=\"{label}\">{(asSwitch ? $"<p class=\"hint\">{label}</p>" : string.Empty)}{string.Join("\n", buttons)}</form>";
    }
}

/// <summary>What one browser may do with a payment: whether the open attempt is its own, and whether another payer holds it.</summary>
public readonly record struct PayerView(bool Mine, bool ClaimedByOther, long ClaimSecondsLeft)
{
    /// <summary>What this request's browser sees of <paramref name="p"/> now (reads the open attempt).</summary>
    public static async Task<PayerView> ForAsync(HttpContext ctx, PaymentRow p, PaymentStore store, long nowMs, bool anyoneOwnsUnclaimed) =>
        Of(p, await store.CurrentAttemptAsync(p, ctx.RequestAborted), PayerSession.Existing(ctx), nowMs, anyoneOwnsUnclaimed);

    /// <param name="anyoneOwnsUnclaimed">The cashier: an attempt started by the merchant's API (no payer session) is the buyer's.</param>
    public static PayerView Of(PaymentRow p, AttemptRow? current, string? session, long nowMs, bool anyoneOwnsUnclaimed)
    {
        var mine = current is not null && ((anyoneOwnsUnclaimed && current.PayerClaim is null) || (session is not null && current.PayerClaim == session));
        var claimActive = p.PayerClaim is not null && p.PayerClaimUntil > nowMs && p.State is PaymentStatus.Created or PaymentStatus.Pending;
        var byOther = claimActive && p.PayerClaim != session && !mine;
        return new PayerView(mine, byOther, byOther ? Math.Max(0, (p.PayerClaimUntil!.Value - nowMs) / 1000) : 0);
    }
}
