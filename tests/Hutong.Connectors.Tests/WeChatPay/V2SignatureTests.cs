using Hutong.Connectors.WeChatPay;

namespace Hutong.Connectors.Tests.WeChatPay;

/// <summary>The v2 (payment-code) signature against WeChat's published example.</summary>
public class V2SignatureTests
{
    // WeChat Pay's v2 "安全规范 / 签名算法" example (pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3), as copied in
    // github.com/liuyanliang2015/springMVC WebContent/doc/sign.md @ fc0d72f5e5a495491f6abe04993758afd3fa8827:
    // stringA = appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA,
    // key 192006250b4c09247ec02edce69f6a2d, HMAC-SHA256 → 6A9AE165…0DACD6 (and MD5 → 9A0A8659F005D6984697E2CA0A9CF3B7).
    private static readonly Dictionary<string, string> Example = new()
    {
        ["appid"] = "wxd930ea5d5a258f4f",
        ["mch_id"] = "10000100",
        ["device_info"] = "1000",
        ["body"] = "test",
        ["nonce_str"] = "ibuaiVcKdpRxkhJA",
    };

    private const string Key = "192006250b4c09247ec02edce69f6a2d";

    [Fact]
    public void The_official_example_signs_to_the_published_HMAC_SHA256_value()
    {
        Assert.Equal(
            "appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&key=192006250b4c09247ec02edce69f6a2d",
            WeChatPayV2.SignContent(Example, Key));
        Assert.Equal("6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6", WeChatPayV2.Sign(Example, Key));
    }

    [Fact]
    public void Empty_values_and_the_sign_itself_are_not_signed_and_a_tampered_answer_does_not_verify()
    {
        var withExtras = new Dictionary<string, string>(Example) { ["attach"] = string.Empty, ["sign"] = "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6" };
        Assert.True(WeChatPayV2.Verify(withExtras, Key));
        withExtras["body"] = "test2";
        Assert.False(WeChatPayV2.Verify(withExtras, Key));
        Assert.False(WeChatPayV2.Verify(Example, Key)); // no sign at all
    }

    [Fact]
    public void Xml_round_trips_and_refuses_doctypes_and_repeated_fields()
    {
        var fields = WeChatPayV2.ParseXml(WeChatPayV2.ToXml(Example));
        Assert.Equal(Example.OrderBy(f => f.Key), fields!.OrderBy(f => f.Key));
        Assert.Equal("SUCCESS", WeChatPayV2.ParseXml("<xml><return_code><![CDATA[SUCCESS]]></return_code></xml>")!["return_code"]);
        Assert.Null(WeChatPayV2.ParseXml("<!DOCTYPE xml [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><xml><a>&x;</a></xml>"));
        Assert.Null(WeChatPayV2.ParseXml("<xml><a>1</a><a>2</a></xml>"));
        Assert.Null(WeChatPayV2.ParseXml("<other><a>1</a></other>"));
    }
}
