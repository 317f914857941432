using Hutong.Connectors.Abstractions;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Hutong.Connectors.Alipay;

/// <summary>
/// Alipay OpenAPI v2 RSA2: SHA256withRSA over the parameters sorted by key and joined as k=v&amp;k=v
/// (alipay-sdk-java-all AlipaySignature.getSignContent). Responses are signed over the raw text of the
/// "xxx_response" JSON value exactly as sent.
/// </summary>
public static class AlipaySignature
{
    /// <summary>
    /// The string to sign. <paramref name="dropEmpty"/> = true is the Java SDK's rule (skip empty values);
    /// the Node SDK keeps them. <paramref name="exclude"/> names keys left out (always "sign"; notifications also "sign_type").
    /// </summary>
    public static string Content(IEnumerable<KeyValuePair<string, string?>> parameters, bool dropEmpty = true, params string[] exclude)
    {
        var skip = new HashSet<string>(exclude.Append("sign"), StringComparer.Ordinal);
        return string.Join('&', parameters
            .Where(p => !skip.Contains(p.Key) && (!dropEmpty || !string.IsNullOrEmpty(p.Value)))
            .OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => $"{p.Key}={p.Value}"));
    }

    public static string Sign(RSA key, string content) =>
        Convert.ToBase64String(key.SignData(Encoding.UTF8.GetBytes(content), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));

    public static bool Verify(RSA key, string content, string? signature)
    {
        if (string.IsNullOrEmpty(signature))
        {
            return false;
        }

        try
        {
            return key.VerifyData(Encoding.UTF8.GetBytes(content), Convert.FromBase64String(signature), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>
    /// Cuts the raw JSON text of <c>"{responseKey}":</c> out of a gateway response, as the SDKs do before verifying
    /// (re-serialising would change escapes and key order and break the signature).
    /// </summary>
    public static string? ExtractResponseText(string body, string responseKey)
    {
        var marker = $"\"{responseKey}\"";
        var at = body.IndexOf(marker, StringComparison.Ordinal);
        if (at < 0)
        {
            return null;
        }

        var i = body.IndexOf(':', at + marker.Length);
        if (i < 0)
        {
            return null;
        }

        i++;
        while (i < body.Length && char.IsWhiteSpace(body[i]))
        {
            i++;
        }

        if (i >= body.Length || body[i] != '{')
        {
            return null;
        }

        var depth = 0;
        var inString = false;
        for (var j = i; j < body.Length; j++)
        {
            var ch = body[j];
            if (inString)
            {
                if (ch == '\\')
                {
                    j++;
                }
                else if (ch == '"')
                {
                    inString = false;
                }

                continue;
            }

            switch (ch)
            {
                case '"':
                    inString = true;
                    break;
                case '{':
                    depth++;
                    break;
                case '}' when --depth == 0:
                    return body[i..(j + 1)];
            }
        }

        return null;
    }

    /// <summary>Alipay's timestamp parameter: "yyyy-MM-dd HH:mm:ss" in China time.</summary>
    public static string Timestamp(DateTimeOffset at) =>
        at.ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
}

/// <summary>Alipay amounts are yuan strings with at most two decimals; Hutong keeps fen. No floating point either way.</summary>
public static class AlipayAmount
{
    public static string FromFen(long fen) => BillAmounts.ToYuan(fen);

    public static bool TryParseFen(string? yuan, out long fen)
    {
        fen = 0;
        if (string.IsNullOrEmpty(yuan) || yuan.Length > 20)
        {
            return false;
        }

        var dot = yuan.IndexOf('.', StringComparison.Ordinal);
        var whole = dot < 0 ? yuan : yuan[..dot];
        var frac = dot < 0 ? string.Empty : yuan[(dot + 1)..];
        // 13 digits of yuan is far beyond any wallet's limit and safely inside a long of fen.
        if (whole.Length is 0 or > 13 || frac.Length > 2 || (dot >= 0 && frac.Length == 0)
            || !whole.All(char.IsAsciiDigit) || !frac.All(char.IsAsciiDigit))
        {
            return false;
        }

        fen = (long.Parse(whole, CultureInfo.InvariantCulture) * 100) + (frac.Length == 0 ? 0 : int.Parse(frac.PadRight(2, '0'), CultureInfo.InvariantCulture));
        return true;
    }
}
