using System.Security.Cryptography;
using System.Text;

namespace Hutong.Sandbox.UnionPay;

/// <summary>
/// UnionPay's own side of ACP 5.1.0 signMethod=01, written from the specification and the official demo kit rather than
/// shared with the connector, so that a misreading in one cannot hide in the other: the signed text is every field but
/// signature, sorted by name, joined as k=v with '&amp;'; its SHA-256 as lowercase hex (UTF-8) is what RSA signs.
/// </summary>
internal static class AcpGatewayCodec
{
    public static string Sign(RSA key, IEnumerable<KeyValuePair<string, string>> fields) =>
        Convert.ToBase64String(key.SignData(SignedBytes(fields), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));

    public static bool Verify(RSA key, IReadOnlyDictionary<string, string> fields)
    {
        if (!fields.TryGetValue("signature", out var signature) || signature.Length == 0)
        {
            return false;
        }

        var raw = new byte[signature.Length];
        return Convert.TryFromBase64String(signature, raw, out var n)
            && key.VerifyData(SignedBytes(fields), raw.AsSpan(0, n), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
    }

    /// <summary>
    /// The gateway's synchronous answer as the real one writes it: raw k=v joined by '&amp;', nothing URL-encoded (the
    /// certificate keeps its CRLFs, the signature its '+' and '/').
    /// </summary>
    public static string RawAnswer(IEnumerable<KeyValuePair<string, string>> fields)
    {
        var sb = new StringBuilder();
        foreach (var (k, v) in fields)
        {
            sb.Append(sb.Length == 0 ? string.Empty : "&").Append(k).Append('=').Append(v);
        }

        return sb.ToString();
    }

    private static byte[] SignedBytes(IEnumerable<KeyValuePair<string, string>> fields)
    {
        var text = new StringBuilder();
        foreach (var (k, v) in fields.Where(f => f.Key != "signature").OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            text.Append(text.Length == 0 ? string.Empty : "&").Append(k).Append('=').Append(v);
        }

        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString()));
        return Encoding.UTF8.GetBytes(Convert.ToHexStringLower(digest));
    }
}
