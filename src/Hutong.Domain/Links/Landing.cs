using System.Text.RegularExpressions;

namespace Hutong.Domain.Links;

/// <summary>Where a link click comes from, as far as its User-Agent tells.</summary>
public enum LandingPlatform
{
    Desktop,
    Ios,
    Android,

    /// <summary>A chat or super-app's in-app browser (WeChat, QQ, Weibo, DingTalk, Alipay, Douyin).</summary>
    InApp,

    /// <summary>A link-preview fetcher or crawler: gets the preview card, never counted as a click.</summary>
    Bot,
}

/// <summary>A cross-app link's per-app targets. Only <see cref="Url"/> is required; the rest fall back to it.</summary>
public sealed record LinkTargets(string Url, string? IosUrl, string? AndroidPackage, string? AndroidUrl, string? DesktopUrl);

/// <summary>What the redirect does for one click.</summary>
public abstract record LandingAction
{
    private LandingAction()
    {
    }

    public sealed record Redirect(string Location) : LandingAction;

    /// <summary>A page that opens the product directly with one tap (in-app browsers, which may refuse redirects to apps).</summary>
    public sealed record Interstitial(string OpenUrl, string App) : LandingAction;

    /// <summary>A preview card (Open Graph tags) for unfurlers.</summary>
    public sealed record Preview : LandingAction;
}

/// <summary>
/// Per-app landing rules. In-app browsers get an interstitial whose button opens the product page itself (the
/// 2021 MIIT rule: no "copy this into a browser"); iOS gets the universal link (the app opens if installed, the web
/// page otherwise); Android gets an intent:// URL with S.browser_fallback_url (Chrome opens the app or falls back);
/// desktops get the desktop or web URL.
/// </summary>
public static partial class Landing
{
    public static (LandingPlatform Platform, string? App) Classify(string? userAgent)
    {
        var ua = userAgent ?? string.Empty;
        bool Has(string s) => ua.Contains(s, StringComparison.OrdinalIgnoreCase);

        if (ua.Length == 0 || Has("bot") || Has("spider") || Has("crawler") || Has("facebookexternalhit") || Has("Slackbot") || Has("TelegramBot") || Has("curl/"))
        {
            return (LandingPlatform.Bot, null);
        }

        var app = Has("MicroMessenger") ? "wechat"
            : Has("DingTalk") ? "dingtalk"
            : Has("AlipayClient") ? "alipay"
            : Has("Weibo") ? "weibo"
            : Has("aweme") || Has("BytedanceWebview") ? "douyin"
            : Has(" QQ/") ? "qq"
            : null;
        if (app is not null)
        {
            return (LandingPlatform.InApp, app);
        }

        if (Has("iPhone") || Has("iPad") || Has("iPod"))
        {
            return (LandingPlatform.Ios, null);
        }

        return Has("Android") ? (LandingPlatform.Android, null) : (LandingPlatform.Desktop, null);
    }

    public static LandingAction Decide(LinkTargets t, LandingPlatform platform, string? app) => platform switch
    {
        LandingPlatform.Bot => new LandingAction.Preview(),
        LandingPlatform.InApp => new LandingAction.Interstitial(t.Url, app ?? "app"),
        LandingPlatform.Ios => new LandingAction.Redirect(t.IosUrl ?? t.Url),
        LandingPlatform.Android => new LandingAction.Redirect(
            (t.AndroidPackage is null || t.AndroidUrl is null ? null : AndroidIntent(t.AndroidUrl, t.AndroidPackage, t.Url)) ?? t.Url),
        _ => new LandingAction.Redirect(t.DesktopUrl ?? t.Url),
    };

    /// <summary>
    /// Chrome's intent syntax: intent://HOST/PATH?QUERY#Intent;scheme=SCHEME;package=PKG;S.browser_fallback_url=URL;end.
    /// The fallback opens when the app is not installed. Built from the parsed app URL, never pasted from it: Android
    /// reads parameters after the last '#' up to ';end', so each part is one the parser escaped (no '#' outside ours),
    /// the scheme and package are checked against their grammars, and the fallback is percent-encoded. Null (the caller
    /// then redirects to the web page) for anything else, such as a link stored before these rules.
    /// </summary>
    public static string? AndroidIntent(string appUrl, string package, string fallbackUrl)
    {
        if (LinkUrl.NormalizeAppLink(appUrl) is not { } normalized || !IsAndroidPackage(package) || LinkUrl.NormalizeWeb(fallbackUrl) is not { } fallback)
        {
            return null;
        }

        var u = new Uri(normalized);
        // A hierarchical URL keeps its authority; an opaque one (shop:p/1) becomes intent://p/1, which Chrome opens as shop://p/1.
        var authority = u.IdnHost.Length == 0 ? string.Empty : u.IsDefaultPort || u.Port < 0 ? u.IdnHost : $"{u.IdnHost}:{u.Port}";
        var rest = authority + u.AbsolutePath + u.Query;
        var intent = $"intent://{rest}#Intent;scheme={u.Scheme};package={package};S.browser_fallback_url={Uri.EscapeDataString(fallback)};end";
        return LinkUrl.IsHeaderSafe(intent) ? intent : null;
    }

    /// <summary>
    /// An Android application id: dot-separated Java identifiers, at least two segments, at most
    /// <see cref="AndroidPackageMaxLength"/> characters. The one rule for creation and for the click, so a link that was
    /// created is one the click can follow.
    /// </summary>
    public static bool IsAndroidPackage(string package) => package.Length <= AndroidPackageMaxLength && AndroidPackage().IsMatch(package);

    /// <summary>
    /// The app's data directory is named after its package, so a longer one cannot be installed (Linux NAME_MAX is 255
    /// bytes); the bound also keeps the intent URL well inside <see cref="LinkUrl.MaxLength"/>.
    /// </summary>
    public const int AndroidPackageMaxLength = 255;

    // \z, not $: .NET's $ also matches before a final "\n", which let "com.example.shop\n" through at creation.
    [GeneratedRegex(@"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+\z")]
    private static partial Regex AndroidPackage();
}
