using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Hutong.Connectors.Alipay;
using Hutong.Connectors.UnionPay;
using Hutong.Connectors.WeChatPay;
using Microsoft.Extensions.Logging.Abstractions;

namespace Hutong.Connectors.Tests.Fuzz;

/// <summary>
/// Bounded, seeded fuzz targets for every parser of wallet notifications (a failing seed replays exactly). Two kinds:
/// raw mutations (must be refused, never crash) and well-signed notifications whose fields are garbage — the attacker
/// cannot sign, but a wallet bug or an unexpected value must still not crash the hub or be taken as a payment.
/// </summary>
public class NotificationFuzzTests
{
    private static readonly string[] Garbage = ["", "-1", "abc", "1e9", "99999999999999999999", "0.001", "null", "中文", "\u0000", "SUCCESS", "TRADE_SUCCESS", "2026-13-45T99:99:99+08:00", "{\"x\":1}"];

    private static string Mutate(Random rng, string s)
    {
        var chars = s.ToCharArray().ToList();
        for (var k = rng.Next(1, 5); k > 0 && chars.Count > 0; k--)
        {
            var at = rng.Next(chars.Count);
            switch (rng.Next(3))
            {
                case 0: chars[at] = (char)rng.Next(0, 0x2FFF); break;
                case 1: chars.RemoveAt(at); break;
                default: chars.RemoveRange(at, chars.Count - at); break;
            }
        }

        return new string([.. chars]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(20261123)]
    public void WeChat_notifications_with_garbage_inside_a_valid_signature_never_crash_or_count_as_paid(int seed)
    {
        var rng = new Random(seed);
        using var platform = RSA.Create(2048);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=fuzz", platform, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var keys = new WeChatPayPlatformKeys();
        keys.AddCertificate(cert);
        var apiV3Key = Encoding.UTF8.GetBytes("0123456789abcdef0123456789abcdef");
        var verifier = new WeChatPayNotificationVerifier(keys, apiV3Key, TimeProvider.System);
        var fields = new[] { "out_trade_no", "transaction_id", "trade_state", "success_time", "out_refund_no", "refund_status" };

        for (var i = 0; i < 400; i++)
        {
            var resource = new Dictionary<string, object?>
            {
                ["mchid"] = "1900000100", ["out_trade_no"] = "A1", ["transaction_id"] = "42", ["trade_state"] = "SUCCESS",
                ["success_time"] = "2026-11-23T10:00:00+08:00", ["amount"] = new { total = 100, currency = "CNY" },
                ["out_refund_no"] = "R1", ["refund_status"] = "SUCCESS",
            };
            resource[fields[rng.Next(fields.Length)]] = rng.Next(4) == 0 ? null : Garbage[rng.Next(Garbage.Length)];
            if (rng.Next(3) == 0)
            {
                resource["amount"] = rng.Next(2) == 0 ? "oops" : new { total = Garbage[rng.Next(Garbage.Length)] };
            }

            var mutatedPlaintext = rng.Next(10) == 0;
            var plaintext = mutatedPlaintext ? Mutate(rng, JsonSerializer.Serialize(resource)) : JsonSerializer.Serialize(resource);
            var eventType = rng.Next(2) == 0 ? "TRANSACTION.SUCCESS" : "REFUND.SUCCESS";
            var nonce = "n0nce0123456";
            var body = JsonSerializer.Serialize(new
            {
                id = Guid.NewGuid().ToString(), event_type = eventType, resource_type = "encrypt-resource",
                resource = new { algorithm = "AEAD_AES_256_GCM", ciphertext = WeChatPaySignature.EncryptResource(apiV3Key, nonce, "transaction", plaintext), associated_data = "transaction", nonce, original_type = "transaction" },
            });
            if (rng.Next(5) == 0)
            {
                body = Mutate(rng, body); // then the signature no longer matches: refused
            }

            var ts = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
            {
                ["Wechatpay-Timestamp"] = ts, ["Wechatpay-Nonce"] = "abc", ["Wechatpay-Serial"] = cert.SerialNumber,
                ["Wechatpay-Signature"] = WeChatPaySignature.Sign(platform, WeChatPaySignature.ResponseMessage(ts, "abc", body)),
            };

            var result = verifier.Verify(headers, body);
            if (!mutatedPlaintext && result.Transaction is { Status: Abstractions.WalletStatus.Succeeded } tx)
            {
                // Garbage never turns into some other amount: the total is the one sent, or unknown (and the hub then refuses it).
                Assert.True(tx.AmountMinor is 100 or null, $"amount {tx.AmountMinor}");
            }
        }
    }

    [Theory]
    [InlineData(3)]
    [InlineData(20261123)]
    public async Task Alipay_notifications_with_garbage_fields_under_a_valid_signature_never_crash(int seed)
    {
        var rng = new Random(seed);
        using var alipay = RSA.Create(2048);
        using var app = RSA.Create(2048);
        var options = new AlipayOptions { AppId = "2021000000000001", AppPrivateKeyPem = app.ExportPkcs8PrivateKeyPem(), AlipayPublicKeyPem = alipay.ExportSubjectPublicKeyInfoPem() };
        using var http = new HttpClient();
        var connector = new AlipayConnector(http, options, TimeProvider.System, NullLogger<AlipayConnector>.Instance);
        var names = new[] { "out_trade_no", "trade_no", "trade_status", "total_amount", "gmt_payment", "buyer_id", "app_id", "notify_id" };
        for (var i = 0; i < 400; i++)
        {
            var form = new Dictionary<string, string?>
            {
                ["app_id"] = options.AppId, ["notify_id"] = "n" + i, ["out_trade_no"] = "A1", ["trade_no"] = "2026", ["trade_status"] = "TRADE_SUCCESS",
                ["total_amount"] = "1.00", ["gmt_payment"] = "2026-11-23 10:00:00", ["buyer_id"] = "2088", ["sign_type"] = "RSA2",
            };
            form[names[rng.Next(names.Length)]] = Garbage[rng.Next(Garbage.Length)];
            form["sign"] = AlipaySignature.Sign(alipay, AlipaySignature.Content(form, dropEmpty: true, "sign_type"));
            var body = string.Join('&', form.Select(kv => $"{Uri.EscapeDataString(kv.Key)}={Uri.EscapeDataString(kv.Value ?? string.Empty)}"));
            if (rng.Next(5) == 0)
            {
                body = Mutate(rng, body);
            }

            var result = await connector.VerifyNotificationAsync(new Dictionary<string, string>(), body, default);
            if (result.Transaction is { Status: Abstractions.WalletStatus.Succeeded } tx && form["total_amount"] != "1.00")
            {
                Assert.True(tx.AmountMinor is null, $"garbage total_amount '{form["total_amount"]}' read as {tx.AmountMinor}");
            }
        }
    }

    [Fact]
    public void UnionPay_form_and_answer_parsers_parse_or_refuse_anything()
    {
        var rng = new Random(20261123);
        const string valid = "version=5.1.0&encoding=UTF-8&txnType=01&merId=777290058110048&orderId=A1&queryId=Q1&respCode=00&txnAmt=100&signature=abc%3D%3D";
        for (var i = 0; i < 5_000; i++)
        {
            var mutated = Mutate(rng, valid);
            try
            {
                UnionPaySignature.ParseForm(mutated);
            }
            catch (FormatException)
            {
            }

            try
            {
                UnionPaySignature.ParseAnswer(mutated);
            }
            catch (FormatException)
            {
            }
        }
    }
}
