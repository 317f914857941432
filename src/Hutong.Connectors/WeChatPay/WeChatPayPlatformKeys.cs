using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Hutong.Connectors.WeChatPay;

/// <summary>
/// The platform's verification keys by <c>Wechatpay-Serial</c>. Holds a <c>PUB_KEY_ID_…</c> public key,
/// platform certificates by serial, or both during a migration (wechatpay-go's combined verifier).
/// </summary>
public sealed class WeChatPayPlatformKeys : IDisposable
{
    public const string PublicKeyIdPrefix = "PUB_KEY_ID_";

    private readonly ConcurrentDictionary<string, RSA> _keys = new(StringComparer.Ordinal);

    public static bool IsPublicKeyId(string serial) => serial.StartsWith(PublicKeyIdPrefix, StringComparison.Ordinal);

    public void AddPublicKey(string publicKeyId, string pem)
    {
        if (!IsPublicKeyId(publicKeyId))
        {
            throw new ArgumentException($"A platform public key id starts with {PublicKeyIdPrefix}.", nameof(publicKeyId));
        }

        var rsa = RSA.Create();
        rsa.ImportFromPem(pem);
        Replace(publicKeyId, rsa);
    }

    public void AddCertificate(X509Certificate2 certificate)
    {
        var rsa = certificate.GetRSAPublicKey() ?? throw new CryptographicException("Platform certificate has no RSA key.");
        Replace(Normalize(certificate.SerialNumber), rsa);
    }

    public bool TryGet(string serial, out RSA key)
    {
        var found = _keys.TryGetValue(IsPublicKeyId(serial) ? serial : Normalize(serial), out var k);
        key = k!;
        return found;
    }

    /// <summary>
    /// The key to encrypt sensitive fields (a split receiver's name) with, and the serial to send as Wechatpay-Serial:
    /// the platform public key when there is one, else a platform certificate.
    /// </summary>
    public bool TryGetEncryptionKey(out string serial, out RSA key)
    {
        var pick = _keys.Keys.Where(IsPublicKeyId).Concat(_keys.Keys.Where(k => !IsPublicKeyId(k)).OrderDescending(StringComparer.Ordinal)).FirstOrDefault();
        serial = pick ?? string.Empty;
        key = pick is null ? null! : _keys[pick];
        return pick is not null;
    }

    public bool HasCertificates => _keys.Keys.Any(k => !IsPublicKeyId(k));

    public void Dispose()
    {
        foreach (var k in _keys.Values)
        {
            k.Dispose();
        }

        _keys.Clear();
    }

    /// <summary>Hex serials compare as numbers: DER adds a 00 byte before a high bit (X509 "00D7CE…" is WeChat's "D7CE…").</summary>
    private static string Normalize(string hexSerial)
    {
        var trimmed = hexSerial.ToUpperInvariant().TrimStart('0');
        return trimmed.Length == 0 ? "0" : trimmed;
    }

    private void Replace(string serial, RSA rsa)
    {
        _keys.AddOrUpdate(serial, rsa, (_, old) => rsa);
    }
}
