using System.Text.RegularExpressions;
using Hutong.Domain.Text;

namespace Hutong.Domain.Links;

/// <summary>
/// Turns the URLs a merchant gives a link into what can go in a Location header: printable ASCII, IDN hosts in
/// punycode, non-ASCII paths and queries percent-encoded. A URL that cannot be made so is refused, never stored.
/// </summary>
public static partial class LinkUrl
{
    public const int MaxLength = 2048;

    /// <summary>
    /// Schemes a browser or Android handles itself (script, local files, nested intents, internal pages): they match the
    /// custom-scheme grammar below but are never an app's own deep link.
    /// </summary>
    private static readonly HashSet<string> BrowserSchemes = new(StringComparer.Ordinal)
    {
        "javascript", "vbscript", "data", "blob", "file", "filesystem", "content", "intent", "android-app", "about",
        "chrome", "chrome-extension", "view-source", "jar", "resource", "ws", "wss", "ftp", "mailto", "tel", "sms",
    };

    /// <summary>An absolute http(s) URL, normalised; null when it is not one or has control characters or user info.</summary>
    public static string? NormalizeWeb(string? raw, bool httpsOnly = false) =>
        Parse(raw) is { } u && (u.Scheme == Uri.UriSchemeHttps || (!httpsOnly && u.Scheme == Uri.UriSchemeHttp)) && u.IdnHost.Length > 0
            ? Ascii(u)
            : null;

    /// <summary>
    /// An app deep link for Android, normalised. Allowed: https/http (App Links), or the app's own scheme, which must fit
    /// RFC 3986's scheme grammar (letters, digits, + . -; nothing that could end an intent parameter) and not be one the
    /// browser handles itself. No fragment: Chrome's intent syntax owns the fragment, so one in the app URL would end up
    /// among the intent's parameters.
    /// </summary>
    public static string? NormalizeAppLink(string? raw) =>
        Parse(raw) is { } u && IsAppScheme(u.Scheme) && u.Fragment.Length == 0 && (u.IdnHost.Length > 0 || u.AbsolutePath.Length > 0)
            ? Ascii(u)
            : null;

    public static bool IsAppScheme(string scheme) =>
        scheme is "https" or "http" || (AppScheme().IsMatch(scheme) && !BrowserSchemes.Contains(scheme));

    /// <summary>Printable ASCII only: what a header value may carry without the server refusing to send it.</summary>
    public static bool IsHeaderSafe(string s) => s.Length is > 0 and <= MaxLength && s.All(c => c is > ' ' and < '\u007f');

    private static Uri? Parse(string? raw)
    {
        // Raw control characters (CR/LF, NUL, tab) are refused, not percent-encoded: they are never part of an address a
        // merchant meant, and CR/LF are how a Location header is split. So are bidirectional and invisible characters
        // (PlainText), which make an address read as another; a space is still percent-encoded, as browsers do.
        if (raw is null || raw.Length > MaxLength || !PlainText.IsPrintable(raw)
            || !Uri.TryCreate(raw, UriKind.Absolute, out var u) || u.UserInfo.Length > 0)
        {
            return null;
        }

        return u;
    }

    private static string? Ascii(Uri u)
    {
        string s;
        try
        {
            // AbsoluteUri percent-encodes a non-ASCII path and query but keeps a Unicode host; IdnHost is its punycode.
            s = u.IdnHost.Length == 0 || u.IdnHost == u.Host ? u.AbsoluteUri : new UriBuilder(u) { Host = u.IdnHost }.Uri.AbsoluteUri;
        }
        catch (UriFormatException)
        {
            return null;
        }

        return IsHeaderSafe(s) ? s : null;
    }

    [GeneratedRegex("^[a-z][a-z0-9+.-]{0,63}$")]
    private static partial Regex AppScheme();
}
