using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Hutong.Domain.Links;

/// <summary>
/// Share codes (口令): an 11-character code between two delimiters inside copyable share text, the way 淘口令 works
/// (￥KZTCYyXBLn0￥). Parsing is tolerant because the text travels through chat apps, keyboards and copy/paste:
/// any currency sign or common bracket may delimit it (the two sides need not match: keyboards swap ￥ and ¥),
/// full-width letters, digits and brackets are folded, spaces inside the delimiters are ignored, and the Base64 <c>sp_tk</c>
/// landing-URL parameter that wraps a delimited code is understood too.
/// </summary>
public static partial class ShareCode
{
    public const int Length = 11;

    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    /// <summary>The delimiter Hutong writes; any currency sign is accepted back.</summary>
    public const char Delimiter = '￥';

    /// <summary>A fresh code: 11 base62 characters, about 65 random bits.</summary>
    public static string NewCode() => new(RandomNumberGenerator.GetItems<char>(Alphabet, Length));

    public static bool IsWellFormed(string? code) => code is { Length: Length } && code.All(c => char.IsAsciiLetterOrDigit(c));

    /// <summary>The share text a user copies: title in 【】, the delimited code, the short link, and what to do with it.</summary>
    public static string ShareText(string code, string title, string shortUrl) =>
        $"【{Sanitize(title)}】{Delimiter}{code}{Delimiter} {shortUrl} 复制这段话，打开任一App即可查看 · Copy this text and open any app to view";

    /// <summary>Finds the first share code in <paramref name="text"/>; null when there is none.</summary>
    public static string? Find(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        // Bounded: nobody pastes megabytes of share text, and the regex must never see unbounded input.
        var folded = FoldFullWidth(text.Length > 4096 ? text[..4096] : text);
        var m = Delimited().Match(folded);
        if (m.Success)
        {
            return m.Groups["code"].Value;
        }

        var tk = SpTk().Match(folded);
        if (tk.Success && DecodeSpTk(tk.Groups["v"].Value) is { } inner && inner != folded)
        {
            var im = Delimited().Match(FoldFullWidth(inner));
            return im.Success ? im.Groups["code"].Value : null;
        }

        return null;
    }

    /// <summary>The Base64 form of a delimited code, as carried by a landing URL's sp_tk parameter.</summary>
    public static string SpTk(string code) => Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Delimiter}{code}{Delimiter}"));

    private static string? DecodeSpTk(string value)
    {
        var s = Uri.UnescapeDataString(value).Replace('-', '+').Replace('_', '/');
        s = s.PadRight(s.Length + ((4 - (s.Length % 4)) % 4), '=');
        var buffer = new byte[s.Length];
        return Convert.TryFromBase64String(s, buffer, out var n) ? Encoding.UTF8.GetString(buffer, 0, n) : null;
    }

    /// <summary>
    /// Full-width ASCII (ＡＢＣ１２３, from Chinese input methods) to ASCII, and the ideographic space to a space. Done by
    /// hand: the hub runs with invariant globalization, where Unicode normalization is not available.
    /// </summary>
    private static string FoldFullWidth(string s) => string.Create(s.Length, s, static (span, src) =>
    {
        for (var i = 0; i < src.Length; i++)
        {
            var c = src[i];
            span[i] = c switch
            {
                >= '\uFF01' and <= '\uFF5E' => (char)(c - 0xFEE0),
                '\u3000' => ' ',
                _ => c,
            };
        }
    });

    private static string Sanitize(string title)
    {
        var t = title.Replace('【', '[').Replace('】', ']').ReplaceLineEndings(" ").Trim();
        return t.Length > 60 ? t[..60] + "…" : t;
    }

    // A delimiter is any currency sign (\p{Sc}: ￥ ¥ $ € ¢ ₤ £ …) or a bracket/slash some share texts use.
    [GeneratedRegex(@"[\p{Sc}(/《「]\s*(?<code>[A-Za-z0-9]{11})\s*[\p{Sc})/》」]", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 100)]
    private static partial Regex Delimited();

    [GeneratedRegex(@"sp_tk=(?<v>[A-Za-z0-9+/=%_-]{8,200})", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 100)]
    private static partial Regex SpTk();
}
