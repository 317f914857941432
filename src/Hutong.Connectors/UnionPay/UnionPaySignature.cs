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

    /// <summary>ACP answers are k=v&amp;k=v; values are URL-encoded when they hold reserved characters (certificates, URLs).</summary>
    public static Dictionary<string, string> ParseFields(string body)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in body.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new FormatException("field without a name");
            }

            if (!result.TryAdd(WebUtility.UrlDecode(pair[..eq]), WebUtility.UrlDecode(pair[(eq + 1)..])))
            {
                throw new FormatException($"duplicate field {pair[..eq]}");
            }
        }

        return result;
    }

    public static string FormatFields(IEnumerable<KeyValuePair<string, string>> fields) =>
        string.Join('&', fields.Select(f => $"{WebUtility.UrlEncode(f.Key)}={WebUtility.UrlEncode(f.Value)}"));
}
