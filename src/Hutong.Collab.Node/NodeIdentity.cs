using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Hutong.Collab.Node;

/// <summary>
/// A node's identity: an ECDSA P-256 self-signed certificate whose SHA-256 fingerprint the peer pins (no CA). Kept in
/// one PEM file (certificate, then the PKCS#8 private key) at Hutong:Collab:CertificatePath, created with mode 0600;
/// the private key never leaves that file (docs/collab-nodes.md "Node identity").
/// </summary>
public static class NodeIdentity
{
    public static X509Certificate2 Create(string commonName, TimeSpan validity, TimeProvider time)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(commonName);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName("CN=" + commonName.Replace(",", " ", StringComparison.Ordinal)), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false)); // serverAuth, clientAuth
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        var now = time.GetUtcNow();
        return request.CreateSelfSigned(now.AddMinutes(-5), now.Add(validity));
    }

    /// <summary>Writes certificate and key to a new file (refuses to overwrite one), readable by the owner only.</summary>
    public static void Save(X509Certificate2 certificate, string path)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        using var key = certificate.GetECDsaPrivateKey() ?? throw new InvalidOperationException("The certificate has no ECDSA private key.");
        var pem = certificate.ExportCertificatePem() + "\n" + key.ExportPkcs8PrivateKeyPem() + "\n";
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }

        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var file = new StreamWriter(new FileStream(path, options));
        file.Write(pem);
    }

    public static X509Certificate2 Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"no node certificate at {path}: create one with `hutong collab cert new`", path);
        }

        using var pemCert = X509Certificate2.CreateFromPemFile(path);
        // An ephemeral key cannot be used by SslStream on every platform: round-trip through PKCS#12 in memory.
        return X509CertificateLoader.LoadPkcs12(pemCert.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>SHA-256 of the DER certificate, lower-case hex (64 characters): what a peer pins.</summary>
    public static string Fingerprint(X509Certificate certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return Convert.ToHexStringLower(SHA256.HashData(certificate.GetRawCertData()));
    }

    /// <summary>Accepts a fingerprint as printed here or by openssl (colons, upper case); null if it is not 32 bytes of hex.</summary>
    public static string? NormalizeFingerprint(string? given)
    {
        if (given is null)
        {
            return null;
        }

        var hex = given.Replace(":", string.Empty, StringComparison.Ordinal).Replace(" ", string.Empty, StringComparison.Ordinal).Trim().ToLowerInvariant();
        return hex.Length == 64 && hex.All(char.IsAsciiHexDigit) ? hex : null;
    }
}
