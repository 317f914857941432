using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Hutong.Connectors.WeChatPay;

/// <summary>
/// The WECHATPAY2-SHA256-RSA2048 scheme of WeChat Pay API v3, byte for byte as the official SDKs build it
/// (wechatpay-go core/auth/credentials and core/auth/validators).
/// </summary>
public static class WeChatPaySignature
{
    public const string Schema = "WECHATPAY2-SHA256-RSA2048";

    /// <summary>Test signatures WeChat sends on purpose to check that merchants verify; always invalid.</summary>
    public const string SignTestPrefix = "WECHATPAY/SIGNTEST/";

    /// <summary>Responses and notifications older or newer than this are rejected (wechatpay-go FiveMinute).</summary>
    public static readonly TimeSpan Tolerance = TimeSpan.FromMinutes(5);

    /// <summary>METHOD\nCANONICAL_URL\nTIMESTAMP\nNONCE\nBODY\n — the URL is path plus query; GET body is empty.</summary>
    public static string RequestMessage(string method, string canonicalUrl, long timestamp, string nonce, string body) =>
        string.Create(CultureInfo.InvariantCulture, $"{method}\n{canonicalUrl}\n{timestamp}\n{nonce}\n{body}\n");

    /// <summary>TIMESTAMP\nNONCE\nBODY\n — what the platform signs on responses and notifications.</summary>
    public static string ResponseMessage(string timestamp, string nonce, string body) => $"{timestamp}\n{nonce}\n{body}\n";

    public static string Sign(RSA privateKey, string message) =>
        Convert.ToBase64String(privateKey.SignData(Encoding.UTF8.GetBytes(message), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));

    public static bool Verify(RSA publicKey, string message, string signatureBase64)
    {
        Span<byte> sig = stackalloc byte[512];
        if (!Convert.TryFromBase64String(signatureBase64, sig, out var len))
        {
            return false;
        }

        return publicKey.VerifyData(Encoding.UTF8.GetBytes(message), sig[..len], HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
    }

    public static string Authorization(string mchId, string nonce, long timestamp, string serialNo, string signature) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{Schema} mchid=\"{mchId}\",nonce_str=\"{nonce}\",timestamp=\"{timestamp}\",serial_no=\"{serialNo}\",signature=\"{signature}\"");

    /// <summary>
    /// Parses an Authorization header. The five fields may come in any order
    /// (wechatpay-axios-plugin sends mchid,serial_no,timestamp,nonce_str,signature).
    /// </summary>
    public static bool TryParseAuthorization(string? header, out IReadOnlyDictionary<string, string> fields)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        fields = result;
        if (header is null || !header.StartsWith(Schema + " ", StringComparison.Ordinal))
        {
            return false;
        }

        var rest = header.AsSpan(Schema.Length + 1);
        while (!rest.IsEmpty)
        {
            rest = rest.TrimStart(" ,");
            if (rest.IsEmpty)
            {
                break;
            }

            var eq = rest.IndexOf('=');
            if (eq <= 0 || eq + 1 >= rest.Length || rest[eq + 1] != '"')
            {
                return false;
            }

            var key = rest[..eq].Trim().ToString();
            var afterQuote = rest[(eq + 2)..];
            var close = afterQuote.IndexOf('"');
            if (close < 0)
            {
                return false;
            }

            if (!result.TryAdd(key, afterQuote[..close].ToString()))
            {
                return false; // a repeated field is an attack, not a typo
            }

            rest = afterQuote[(close + 1)..];
        }

        string[] required = ["mchid", "nonce_str", "timestamp", "serial_no", "signature"];
        return required.All(result.ContainsKey);
    }

    public static string NewNonce() => Convert.ToHexString(RandomNumberGenerator.GetBytes(16));

    /// <summary>AEAD_AES_256_GCM as used for notification resources and platform certificates.
    /// IV = UTF-8 of nonce, AAD = associated_data, ciphertext = base64(ciphertext ‖ 16-byte tag).</summary>
    public static string DecryptResource(byte[] key, string nonce, string associatedData, string ciphertextBase64)
    {
        var all = Convert.FromBase64String(ciphertextBase64);
        if (all.Length < 16)
        {
            throw new CryptographicException("Ciphertext shorter than the GCM tag.");
        }

        var cipher = all.AsSpan(0, all.Length - 16);
        var tag = all.AsSpan(all.Length - 16);
        var plain = new byte[cipher.Length];
        using var gcm = new AesGcm(key, 16);
        gcm.Decrypt(Encoding.UTF8.GetBytes(nonce), cipher, tag, plain, Encoding.UTF8.GetBytes(associatedData));
        return Encoding.UTF8.GetString(plain);
    }

    public static string EncryptResource(byte[] key, string nonce, string associatedData, string plaintext)
    {
        var plain = Encoding.UTF8.GetBytes(plaintext);
        var output = new byte[plain.Length + 16];
        using var gcm = new AesGcm(key, 16);
        gcm.Encrypt(Encoding.UTF8.GetBytes(nonce), plain, output.AsSpan(0, plain.Length), output.AsSpan(plain.Length), Encoding.UTF8.GetBytes(associatedData));
        return Convert.ToBase64String(output);
    }

    public static bool IsWithinTolerance(string timestamp, DateTimeOffset now)
    {
        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var ts))
        {
            return false;
        }

        return Math.Abs(now.ToUnixTimeSeconds() - ts) < (long)Tolerance.TotalSeconds;
    }
}
