using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace Hutong.Connectors.UnionPay;

/// <summary>
/// ACP 5.1.0 signMethod=01: signature = base64(SHA256withRSA(UTF-8 of lowercase hex SHA-256 of the sorted
/// "k=v&amp;…" string without "signature")), as egzosn/pay-java-parent and the official SDK compute it.
/// </summary>
public static class UnionPaySignature
{
    public static string Content(IEnumerable<KeyValuePair<string, string>> fields) =>
        string.Join('&', fields.Where(f => f.Key != "signature").OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Key}={f.Value}"));

    public static string Digest(string content) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(content)));

    public static string Sign(RSA key, IEnumerable<KeyValuePair<string, string>> fields) =>
        Convert.ToBase64String(key.SignData(Encoding.UTF8.GetBytes(Digest(Content(fields))), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));

    public static bool Verify(RSA key, IEnumerable<KeyValuePair<string, string>> fields, string? signature)
    {
        if (string.IsNullOrEmpty(signature))
        {
            return false;
        }

        try
        {
            return key.VerifyData(Encoding.UTF8.GetBytes(Digest(Content(fields))), Convert.FromBase64String(signature), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>At most this many fields in one message: bounds the work a hostile or broken body can cause.</summary>
    public const int MaxFields = 256;

    /// <summary>
    /// A synchronous gateway answer (backTransReq, queryTrans, fileTransRequest) is raw "k=v&amp;k=v" text, not a form:
    /// values keep their '+', '/', '=' and CRLF as sent (signPubKeyCert, signature, fileContent), and a value that opens
    /// with '{' or '[' runs to its matching close, '&amp;' and '=' included — the official SDK's parseQString reads it so.
    /// Nothing is URL-decoded: decoding would turn the signature's '+' into a space and fail every real answer.
    /// </summary>
    public static Dictionary<string, string> ParseAnswer(string body)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var i = 0;
        while (i < body.Length)
        {
            var eq = body.IndexOf('=', i);
            var amp = body.IndexOf('&', i);
            if (eq <= i || (amp >= 0 && amp < eq))
            {
                throw new FormatException("field without a name");
            }

            var name = body[i..eq];
            var j = eq + 1;
            var depth = 0;
            var open = '\0';
            var close = '\0';
            for (; j < body.Length; j++)
            {
                var c = body[j];
                if (depth == 0 && c == '&')
                {
                    break;
                }

                if (depth == 0 && c is '{' or '[')
                {
                    (open, close, depth) = (c, c == '{' ? '}' : ']', 1);
                }
                else if (depth > 0 && c == open)
                {
                    depth++;
                }
                else if (depth > 0 && c == close)
                {
                    depth--;
                }
            }

            if (result.Count >= MaxFields || !result.TryAdd(name, body[(eq + 1)..j]))
            {
                throw new FormatException(result.Count >= MaxFields ? "too many fields" : $"duplicate field {name}");
            }

            i = j + 1;
        }

        return result;
    }

    /// <summary>A backUrl notification is an HTML form post (application/x-www-form-urlencoded): split, then URL-decode.</summary>
    public static Dictionary<string, string> ParseForm(string body)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in body.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new FormatException("field without a name");
            }

            if (result.Count >= MaxFields || !result.TryAdd(WebUtility.UrlDecode(pair[..eq]), WebUtility.UrlDecode(pair[(eq + 1)..])))
            {
                throw new FormatException(result.Count >= MaxFields ? "too many fields" : $"duplicate field {pair[..eq]}");
            }
        }

        return result;
    }
}
