using System.Security.Cryptography.X509Certificates;
using System.Text;
using Hutong.Connectors.WeChatPay;

namespace Hutong.Connectors.Tests.WeChatPay;

/// <summary>
/// The signed, encrypted callback from wechatpay-go core/notify/notify_test.go (TestHandler_ParseNotifyRequest),
/// verified with its platform certificate at its own clock (1624523846) and decrypted with its 16-byte key.
/// Data only: none of the SDK's code is used.
/// </summary>
public class OfficialNotifyVectorTests
{
    private const string ApiV3Key = "testMchAPIv3Key0";

    private const string CertificatePem = """
        -----BEGIN CERTIFICATE-----
        MIIDVzCCAj+gAwIBAgIJANfOWdH1ItcBMA0GCSqGSIb3DQEBCwUAMEIxCzAJBgNV
        BAYTAlhYMRUwEwYDVQQHDAxEZWZhdWx0IENpdHkxHDAaBgNVBAoME0RlZmF1bHQg
        Q29tcGFueSBMdGQwHhcNMjEwNDI3MDg1NTIzWhcNMzEwNDI1MDg1NTIzWjBCMQsw
        CQYDVQQGEwJYWDEVMBMGA1UEBwwMRGVmYXVsdCBDaXR5MRwwGgYDVQQKDBNEZWZh
        dWx0IENvbXBhbnkgTHRkMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA
        2VCTd91fnUn73Xy9DLvt/V62TVxRTEEstVdeRaZ3B3leO0pldE806mXO4RwdHXag
        HQ4vGeZN0yqm++rDsGK+U3AH7kejyD2pXshNP9Cq5YwbptiLGtjcquw4HNxJQUOm
        DeJf2vg6byms9RUipiq4SzbJKqJFlUpbuIPDpSpWz10PYmyCNeDGUUK65E5h2B83
        4uxl1zNLYQCrkdBzb8oUxwYeP5a2DNxmjL5lsJML7DGr5znsevnoqGRwTm9fxCGf
        y8wus7hwKz6clt3Whmmda7UAdb1c08hEQFVRbF14AR73xbnd8N0obCWJPCbzMCtk
        aSef4FdEEgEXJiw0VAJT8wIDAQABo1AwTjAdBgNVHQ4EFgQUT1c7nd/SUO76HSoZ
        umNUJv1R5PwwHwYDVR0jBBgwFoAUT1c7nd/SUO76HSoZumNUJv1R5PwwDAYDVR0T
        BAUwAwEB/zANBgkqhkiG9w0BAQsFAAOCAQEAfTjxKRQMzNB/U6ZoCUS+BSNfa2Oh
        0plMN6ZuzwiVVZwg1jywvv5yv04koS7Pd4i9E4gt9ZBUQXlpq+A3oOCEEHNRR6b2
        kyazGRM7s0OP5X21WrbpSmKmU6K7hkfx30yYs08LVs/Q8DIhvaj1FCFeJzUCzYn/
        fHMq4tsbKO0dKAeydPM/nrUZBmaYQVKMVOORGLFjFKVO7JV6Kq/R86ouhjEPgJOe
        2xulNBUcjicqtZlBdEh/PWCYP2SpGVDclKm8jeo175T3EVAkdKzzmfpxtMmnMlmq
        cTJOU9TxuGvNASMtjj7pYIerTx+xgZDXEVBWFW9PjJ0TV06tCRsgSHItgg==
        -----END CERTIFICATE-----
        """;

    private const string Body =
        "{\"id\":\"3119dfba-e649-5eec-ab1e-3412bc4d2e17\",\"create_time\":\"2021-06-24T16:37:26+08:00\",\"resource_type\":\"encrypt-resource\"," +
        "\"event_type\":\"PAYSCORE.USER_OPEN_SERVICE\",\"summary\":\"签约成功\",\"resource\":{\"original_type\":\"payscore\",\"algorithm\":\"AEAD_AES_256_GCM\"," +
        "\"ciphertext\":\"YDS3lKPaC4Y52Gf3uhft5qUBlIa8b428AWTtTauHQfQrRw+X1WpiuHIDy0vo1Vd6VEq67aVyqPdDYMkRVSDaZL3iZttevRMOoPKMifozg6XPWjIZumks/GpT48lI4Nizyea" +
        "qLBokNebthah3o1H76qSlO9NkDjp9bzmKLEYYH9TEklFUpsvPqOTOcgSLgh21YJXYR7dEBXFgRLiNIKRgO5JdXh1hccRUAlyVWxE54PXpnQ==\",\"associated_data\":\"payscore\"," +
        "\"nonce\":\"Kj7QIyUiYx1q\"}}";

    private const string Plaintext =
        "{\"mchid\":\"1234567890\",\"appid\":\"054aa7d7a2a54ab5898df65bd96f001c\",\"create_time\":\"2020-06-30T12:12:00+08:00\",\"out_contract_code\":\"21640bdbd08e473e828f3206a2741c6e\"}";

    private static readonly DateTimeOffset VectorTime = DateTimeOffset.FromUnixTimeSeconds(1624523846);

    private static Dictionary<string, string> Headers(string? signature = null, string? timestamp = null) => new(StringComparer.OrdinalIgnoreCase)
    {
        ["Wechatpay-Nonce"] = "EcZ9Cmy4Xyx1i6RlJQzLcCyEqDa26NBz",
        ["Wechatpay-Timestamp"] = timestamp ?? "1624523846",
        ["Wechatpay-Serial"] = "D7CE59D1F522D701",
        ["Wechatpay-Signature"] = signature ??
            "tJHIiIS9eB2hAYstmAmbbD3ZE5LiIm/Ug5tuL4fC0YOFRWIHV39UFIZXC0e9Wl6lBu6sKvkqDkzpqzBsVHyXF" +
            "lbYZTOQrVdG4b6LfTnK4mikv9++ixJMd3vTf2yCqvBkh98zs3Ds5zsYQakzbcwhmw4fMJs4nPLws28H0UW9FjDR//rxELLwXvV1VEA1I" +
            "BLX70xptjL8hrfUjEE8kkry6yNJTHZRU8CAc7qHli2Ng1V1qb9ARbK8A3ThmFmPQvRGrapI/jS2laKKgYUmfdEdkNO6B2Cke5e8VTxY4" +
            "06ArAmQ90GAihDwIcb16TQMnzCMBoutnwZKNiKRACrFmtxw2Q==",
    };

    private static WeChatPayNotificationVerifier Verifier(DateTimeOffset now)
    {
        var keys = new WeChatPayPlatformKeys();
        keys.AddCertificate(X509Certificate2.CreateFromPem(CertificatePem));
        return new WeChatPayNotificationVerifier(keys, Encoding.UTF8.GetBytes(ApiV3Key), new FixedTime(now));
    }

    [Fact]
    public void Official_vector_verifies_and_decrypts_to_the_published_plaintext()
    {
        var ok = Verifier(VectorTime).TryVerify(Headers(), Body, out var n, out var reason);

        Assert.True(ok, reason);
        Assert.Equal("3119dfba-e649-5eec-ab1e-3412bc4d2e17", n!.Envelope.Id);
        Assert.Equal("PAYSCORE.USER_OPEN_SERVICE", n.Envelope.EventType);
        Assert.Equal("签约成功", n.Envelope.Summary);
        Assert.Equal(Plaintext, n.Plaintext);
    }

    [Fact]
    public void A_changed_body_byte_fails_the_signature()
    {
        var ok = Verifier(VectorTime).TryVerify(Headers(), Body.Replace("签约成功", "签约失败", StringComparison.Ordinal), out _, out var reason);
        Assert.False(ok);
        Assert.Equal("signature does not verify", reason);
    }

    [Fact]
    public void The_vector_replayed_six_minutes_later_is_refused()
    {
        var ok = Verifier(VectorTime.AddMinutes(6)).TryVerify(Headers(), Body, out _, out var reason);
        Assert.False(ok);
        Assert.Contains("5-minute", reason);
    }

    [Fact]
    public void The_vector_four_minutes_later_is_still_accepted() =>
        Assert.True(Verifier(VectorTime.AddMinutes(4)).TryVerify(Headers(), Body, out _, out _));

    [Fact]
    public void WeChat_signature_probes_are_refused()
    {
        var ok = Verifier(VectorTime).TryVerify(Headers(signature: "WECHATPAY/SIGNTEST/abc"), Body, out _, out var reason);
        Assert.False(ok);
        Assert.Contains("SIGNTEST", reason);
    }

    [Fact]
    public void Unknown_platform_serial_is_refused()
    {
        var h = Headers();
        h["Wechatpay-Serial"] = "ABCDEF";
        Assert.False(Verifier(VectorTime).TryVerify(h, Body, out _, out var reason));
        Assert.Contains("unknown platform key", reason);
    }

    [Fact]
    public void Wrong_apiv3_key_does_not_decrypt()
    {
        var keys = new WeChatPayPlatformKeys();
        keys.AddCertificate(X509Certificate2.CreateFromPem(CertificatePem));
        var v = new WeChatPayNotificationVerifier(keys, Encoding.UTF8.GetBytes("testMchAPIv3Key1"), new FixedTime(VectorTime));
        Assert.False(v.TryVerify(Headers(), Body, out _, out var reason));
        Assert.Contains("decrypt", reason);
    }
}
