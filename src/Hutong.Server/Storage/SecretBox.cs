using System.Security.Cryptography;
using System.Text;

namespace Hutong.Server.Storage;

/// <summary>
/// Encrypts credentials at rest with AES-256-GCM under the operator's master key (Hutong:MasterKey, base64 of 32 bytes).
/// Format: base64(nonce ‖ ciphertext ‖ tag). Without a master key, nothing secret can be stored.
/// </summary>
public sealed class SecretBox(byte[]? key)
{
    public bool Enabled => key is { Length: 32 };

    public static SecretBox FromBase64(string? masterKey)
    {
        if (string.IsNullOrEmpty(masterKey))
        {
            return new SecretBox(null);
        }

        var bytes = Convert.FromBase64String(masterKey);
        return bytes.Length == 32 ? new SecretBox(bytes) : throw new InvalidOperationException("Hutong:MasterKey must be base64 of exactly 32 bytes.");
    }

    private const string SealedPrefix = "sealed:v1:";

    /// <summary>Seals when a master key is configured; otherwise keeps the value as it is (local development).</summary>
    public string SealIfEnabled(string plaintext, string associatedData) =>
        Enabled ? SealedPrefix + Seal(plaintext, associatedData) : plaintext;

    /// <summary>Opens a value written by <see cref="SealIfEnabled"/>.</summary>
    public string OpenIfSealed(string stored, string associatedData) =>
        stored.StartsWith(SealedPrefix, StringComparison.Ordinal) ? Open(stored[SealedPrefix.Length..], associatedData) : stored;

    public string Seal(string plaintext, string associatedData)
    {
        var k = key ?? throw new InvalidOperationException("No master key is configured (Hutong:MasterKey); credentials cannot be stored.");
        var plain = Encoding.UTF8.GetBytes(plaintext);
        var output = new byte[12 + plain.Length + 16];
        RandomNumberGenerator.Fill(output.AsSpan(0, 12));
        using var gcm = new AesGcm(k, 16);
        gcm.Encrypt(output.AsSpan(0, 12), plain, output.AsSpan(12, plain.Length), output.AsSpan(12 + plain.Length), Encoding.UTF8.GetBytes(associatedData));
        return Convert.ToBase64String(output);
    }

    public string Open(string sealedText, string associatedData)
    {
        var k = key ?? throw new InvalidOperationException("No master key is configured (Hutong:MasterKey).");
        var all = Convert.FromBase64String(sealedText);
        var plain = new byte[all.Length - 28];
        using var gcm = new AesGcm(k, 16);
        gcm.Decrypt(all.AsSpan(0, 12), all.AsSpan(12, plain.Length), all.AsSpan(12 + plain.Length), plain, Encoding.UTF8.GetBytes(associatedData));
        return Encoding.UTF8.GetString(plain);
    }
}
