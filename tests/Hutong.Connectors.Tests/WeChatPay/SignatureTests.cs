using System.Security.Cryptography;
using System.Text;
using Hutong.Connectors.Abstractions;
using Hutong.Connectors.WeChatPay;

namespace Hutong.Connectors.Tests.WeChatPay;

public class SignatureTests
{
    [Fact]
    public void Request_message_is_the_published_five_line_format()
    {
        var message = WeChatPaySignature.RequestMessage("POST", "/v3/pay/transactions/native", 1554208460, "593BEC0C930BF1AFEB40B4A08C8FB242", "{\"a\":1}");
        Assert.Equal("POST\n/v3/pay/transactions/native\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{\"a\":1}\n", message);
    }

    [Fact]
    public void Get_request_signs_an_empty_body_line()
    {
        var message = WeChatPaySignature.RequestMessage("GET", "/v3/certificates?x=1", 1, "N", string.Empty);
        Assert.Equal("GET\n/v3/certificates?x=1\n1\nN\n\n", message);
    }

    [Fact]
    public void Authorization_header_has_the_schema_and_five_fields()
    {
        var header = WeChatPaySignature.Authorization("1900009191", "NONCE", 1554208460, "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C", "SIG==");
        Assert.Equal(
            "WECHATPAY2-SHA256-RSA2048 mchid=\"1900009191\",nonce_str=\"NONCE\",timestamp=\"1554208460\",serial_no=\"1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C\",signature=\"SIG==\"",
            header);
    }

    [Fact]
    public void Authorization_fields_parse_in_any_order()
    {
        // wechatpay-axios-plugin's order
        var header = "WECHATPAY2-SHA256-RSA2048 mchid=\"1\",serial_no=\"S\",timestamp=\"2\",nonce_str=\"N\",signature=\"a+b/c==\"";
        Assert.True(WeChatPaySignature.TryParseAuthorization(header, out var f));
        Assert.Equal("a+b/c==", f["signature"]);
        Assert.Equal("S", f["serial_no"]);
    }

    [Theory]
    [InlineData("Bearer x")]
    [InlineData("WECHATPAY2-SHA256-RSA2048 mchid=\"1\",nonce_str=\"N\",timestamp=\"2\",serial_no=\"S\"")]
    [InlineData("WECHATPAY2-SHA256-RSA2048 mchid=\"1\",mchid=\"2\",nonce_str=\"N\",timestamp=\"2\",serial_no=\"S\",signature=\"x\"")]
    [InlineData("WECHATPAY2-SHA256-RSA2048 mchid=1,nonce_str=\"N\",timestamp=\"2\",serial_no=\"S\",signature=\"x\"")]
    public void Malformed_authorization_is_refused(string header) =>
        Assert.False(WeChatPaySignature.TryParseAuthorization(header, out _));

    [Fact]
    public void Sign_then_verify_round_trips_and_detects_tampering()
    {
        using var key = RSA.Create(2048);
        var sig = WeChatPaySignature.Sign(key, "1\nN\nbody\n");
        Assert.True(WeChatPaySignature.Verify(key, "1\nN\nbody\n", sig));
        Assert.False(WeChatPaySignature.Verify(key, "1\nN\nbody!\n", sig));
        Assert.False(WeChatPaySignature.Verify(key, "1\nN\nbody\n", "not base64"));
    }

    [Fact]
    public void Resource_encryption_round_trips_with_a_32_byte_key_and_rejects_wrong_aad()
    {
        var key = Encoding.UTF8.GetBytes("0123456789abcdef0123456789abcdef");
        var c = WeChatPaySignature.EncryptResource(key, "abcdefghijkl", "transaction", "{\"trade_state\":\"SUCCESS\"}");
        Assert.Equal("{\"trade_state\":\"SUCCESS\"}", WeChatPaySignature.DecryptResource(key, "abcdefghijkl", "transaction", c));
        Assert.ThrowsAny<CryptographicException>(() => WeChatPaySignature.DecryptResource(key, "abcdefghijkl", "certificate", c));
    }

    [Theory]
    [InlineData(299, true)]
    [InlineData(-299, true)]
    [InlineData(300, false)]
    [InlineData(-301, false)]
    public void Timestamp_tolerance_is_five_minutes(int offsetSeconds, bool ok)
    {
        var now = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);
        Assert.Equal(ok, WeChatPaySignature.IsWithinTolerance((1_700_000_000 + offsetSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture), now));
    }

    [Theory]
    [InlineData("SUCCESS", WalletStatus.Succeeded)]
    [InlineData("REFUND", WalletStatus.Succeeded)]
    [InlineData("NOTPAY", WalletStatus.NotPaid)]
    [InlineData("CLOSED", WalletStatus.Closed)]
    [InlineData("REVOKED", WalletStatus.Closed)]
    [InlineData("USERPAYING", WalletStatus.Paying)]
    [InlineData("ACCEPT", WalletStatus.Paying)]
    [InlineData("PAYERROR", WalletStatus.Failed)]
    [InlineData("SOMETHING_NEW", WalletStatus.Unrecognised)]
    [InlineData(null, WalletStatus.Unrecognised)]
    public void Every_trade_state_maps(string? tradeState, WalletStatus expected) =>
        Assert.Equal(expected, WeChatPayStatusMap.Map(tradeState));

    [Fact]
    public void The_status_map_covers_the_documented_trade_states()
    {
        string[] documented = ["SUCCESS", "REFUND", "NOTPAY", "CLOSED", "REVOKED", "USERPAYING", "PAYERROR", "ACCEPT"];
        Assert.Equal(documented.Order(), WeChatPayStatusMap.TradeStates.Keys.Order());
    }

    [Fact]
    public void Platform_keys_distinguish_public_key_ids_from_certificate_serials()
    {
        using var rsa = RSA.Create(2048);
        var keys = new WeChatPayPlatformKeys();
        keys.AddPublicKey("PUB_KEY_ID_0114232134912410000000000000", rsa.ExportSubjectPublicKeyInfoPem());
        Assert.True(keys.TryGet("PUB_KEY_ID_0114232134912410000000000000", out _));
        Assert.False(keys.TryGet("PUB_KEY_ID_0000", out _));
        Assert.False(keys.HasCertificates);
        Assert.Throws<ArgumentException>(() => keys.AddPublicKey("0114232134912410", rsa.ExportSubjectPublicKeyInfoPem()));
    }
}
