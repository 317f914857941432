using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Identity;
using OtpNet;

namespace Hutong.Server.Features.Console;

/// <summary>
/// Passwords: ASP.NET Core Identity's PasswordHasher, format v3 (PBKDF2 with HMAC-SHA512, 128-bit salt, 100,000
/// iterations in .NET 7 and later; a hash made with fewer iterations verifies as SuccessRehashNeeded and is rehashed).
/// TOTP: RFC 6238 (30 s steps, 6 digits, HMAC-SHA1 as authenticator apps use) through Otp.NET, ±1 step of clock drift,
/// and a step once used is refused again (replay).
/// </summary>
public static class ConsoleCrypto
{
    private static readonly PasswordHasher<object> Hasher = new();
    private static readonly object User = new();

    public const int MinPasswordLength = 12;

    public static string HashPassword(string password) => Hasher.HashPassword(User, password);

    /// <summary>True when <paramref name="password"/> matches; <paramref name="rehash"/> says the hash should be renewed.</summary>
    public static bool VerifyPassword(string hash, string password, out bool rehash)
    {
        var result = Hasher.VerifyHashedPassword(User, hash, password);
        rehash = result == PasswordVerificationResult.SuccessRehashNeeded;
        return result != PasswordVerificationResult.Failed;
    }

    /// <summary>A new TOTP secret: 20 random bytes (RFC 4226 §4 recommends 160 bits), base32 as authenticator apps take it.</summary>
    public static string NewTotpSecret() => Base32Encoding.ToString(RandomNumberGenerator.GetBytes(20));

    /// <summary>
    /// The time step the code matches (within one step either side of <paramref name="now"/>), or null. The caller
    /// refuses a step not after the last one used.
    /// </summary>
    public static long? MatchTotp(string base32Secret, string? code, DateTimeOffset now)
    {
        if (code is null || code.Length != 6 || !code.All(char.IsAsciiDigit))
        {
            return null;
        }

        var totp = new Totp(Base32Encoding.ToBytes(base32Secret), step: 30, mode: OtpHashMode.Sha1, totpSize: 6);
        return totp.VerifyTotp(now.UtcDateTime, code, out var step, new VerificationWindow(previous: 1, future: 1)) ? step : null;
    }

    /// <summary>The otpauth:// URI an authenticator app scans (Key Uri Format, github.com/google/google-authenticator/wiki/Key-Uri-Format).</summary>
    public static string TotpUri(string base32Secret, string account) =>
        $"otpauth://totp/{Uri.EscapeDataString("Hutong:" + account)}?secret={base32Secret}&issuer=Hutong&algorithm=SHA1&digits=6&period=30";

    /// <summary>A session or invite token (256 bits) and the SHA-256 the store keeps instead of it.</summary>
    public static string NewToken() => Base64Url(RandomNumberGenerator.GetBytes(32));

    public static string TokenHash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private static string Base64Url(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
