using Hutong.Server.Features.Console;
using OtpNet;

namespace Hutong.Integration.Tests;

/// <summary>The console's permission table cell by cell, the password KDF and the TOTP algorithm against RFC 6238's vectors.</summary>
public class ConsoleSecurityTests
{
    // The tables of docs/console.md and docs/console-pages.md; a change to ConsolePermissions or ConsoleOpsPermissions must change this test and those docs together.
    [Theory]
    [InlineData(ConsoleRole.Operator, "PaymentsRead PaymentsRefund PaymentsCancel WebhooksResend UsersRead UsersManage AuditRead AllMerchants MoneyRead DisputesRespond KeysRead KeysManage EventsRead WebhookEndpointsManage OperationsRead RolloutManage ReconciliationRead LinksManage HostsManage ChannelsManage")]
    [InlineData(ConsoleRole.Owner, "PaymentsRead PaymentsRefund PaymentsCancel WebhooksResend UsersRead UsersManage AuditRead MoneyRead DisputesRespond KeysRead KeysManage EventsRead WebhookEndpointsManage OperationsRead RolloutManage LinksManage HostsManage")]
    [InlineData(ConsoleRole.Developer, "PaymentsRead PaymentsCancel WebhooksResend AuditRead KeysRead KeysManage EventsRead WebhookEndpointsManage OperationsRead LinksManage")]
    [InlineData(ConsoleRole.Support, "PaymentsRead EventsRead")]
    [InlineData(ConsoleRole.Finance, "PaymentsRead PaymentsRefund AuditRead MoneyRead DisputesRespond")]
    public void The_permission_table_is_as_documented(ConsoleRole role, string allowed)
    {
        var expected = allowed.Split(' ').Select(Enum.Parse<ConsolePermission>).ToHashSet();
        foreach (var p in Enum.GetValues<ConsolePermission>())
        {
            Assert.True(expected.Contains(p) == ConsolePermissions.Allows(role, p), $"{role} {p}");
        }
    }

    [Fact]
    public void Only_operators_see_every_merchant_and_support_cannot_refund()
    {
        Assert.Equal([ConsoleRole.Operator], Enum.GetValues<ConsoleRole>().Where(r => ConsolePermissions.Allows(r, ConsolePermission.AllMerchants)));
        Assert.False(ConsolePermissions.Allows(ConsoleRole.Support, ConsolePermission.PaymentsRefund));
        foreach (var r in Enum.GetValues<ConsoleRole>())
        {
            Assert.Equal(r, ConsolePermissions.Parse(ConsolePermissions.Name(r)));
        }
    }

    [Fact]
    public void Passwords_are_hashed_with_pbkdf2_sha512_v3_and_verify()
    {
        var hash = ConsoleCrypto.HashPassword("correct horse battery staple");
        var bytes = Convert.FromBase64String(hash);
        // Identity's v3 format (aspnetcore src/Identity/Extensions.Core/src/PasswordHasher.cs): 0x01, PRF (2 = HMACSHA512),
        // iteration count, salt length, salt, subkey — all big-endian.
        Assert.Equal(0x01, bytes[0]);
        Assert.Equal(2u, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(1)));
        Assert.Equal(100_000u, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(5)));
        Assert.Equal(16u, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(9)));
        Assert.True(ConsoleCrypto.VerifyPassword(hash, "correct horse battery staple", out var rehash));
        Assert.False(rehash);
        Assert.False(ConsoleCrypto.VerifyPassword(hash, "correct horse battery stapl", out _));
        Assert.NotEqual(hash, ConsoleCrypto.HashPassword("correct horse battery staple")); // salted
    }

    /// <summary>RFC 6238 Appendix B (https://www.rfc-editor.org/rfc/rfc6238#appendix-B): 8-digit codes for the SHA-1 seed
    /// "12345678901234567890" (ASCII), SHA-256 and SHA-512 seeds of 32 and 64 bytes.</summary>
    [Theory]
    [InlineData(59L, "94287082", "46119246", "90693936")]
    [InlineData(1111111109L, "07081804", "68084774", "25091201")]
    [InlineData(1111111111L, "14050471", "67062674", "99943326")]
    [InlineData(1234567890L, "89005924", "91819424", "93441116")]
    [InlineData(2000000000L, "69279037", "90698825", "38618901")]
    [InlineData(20000000000L, "65353130", "77737706", "47863826")]
    public void Totp_matches_the_rfc_6238_vectors(long unixSeconds, string sha1, string sha256, string sha512)
    {
        var at = DateTimeOffset.FromUnixTimeSeconds(unixSeconds).UtcDateTime;
        var seed1 = "12345678901234567890"u8.ToArray();
        var seed256 = "12345678901234567890123456789012"u8.ToArray();
        var seed512 = "1234567890123456789012345678901234567890123456789012345678901234"u8.ToArray();
        Assert.Equal(sha1, new Totp(seed1, mode: OtpHashMode.Sha1, totpSize: 8).ComputeTotp(at));
        Assert.Equal(sha256, new Totp(seed256, mode: OtpHashMode.Sha256, totpSize: 8).ComputeTotp(at));
        Assert.Equal(sha512, new Totp(seed512, mode: OtpHashMode.Sha512, totpSize: 8).ComputeTotp(at));

        // The console's 6-digit codes are the last six digits of the same value (RFC 4226 §5.3: modulo 10^Digit).
        var secret = Base32Encoding.ToString(seed1);
        var now = DateTimeOffset.FromUnixTimeSeconds(unixSeconds);
        Assert.Equal(unixSeconds / 30, ConsoleCrypto.MatchTotp(secret, sha1[2..], now));
        Assert.Equal(unixSeconds / 30, ConsoleCrypto.MatchTotp(secret, sha1[2..], now.AddSeconds(30))); // one step of drift
        Assert.Null(ConsoleCrypto.MatchTotp(secret, sha1[2..], now.AddSeconds(95)));
        Assert.Null(ConsoleCrypto.MatchTotp(secret, "12345", now));
    }
}
