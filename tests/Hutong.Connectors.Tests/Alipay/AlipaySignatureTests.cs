using System.Security.Cryptography;
using Hutong.Connectors.Abstractions;
using Hutong.Connectors.Alipay;

namespace Hutong.Connectors.Tests.Alipay;

public class AlipaySignatureTests
{
    private static readonly Dictionary<string, string?> Params = new()
    {
        ["method"] = "alipay.trade.precreate",
        ["app_id"] = "2021000000000001",
        ["sign_type"] = "RSA2",
        ["biz_content"] = "{\"out_trade_no\":\"A1\"}",
        ["charset"] = "utf-8",
        ["notify_url"] = string.Empty,
        ["sign"] = "ignored",
        ["timestamp"] = "2026-11-22 12:00:00",
    };

    [Fact]
    public void Java_rule_sorts_keys_skips_sign_and_empty_values_and_keeps_sign_type()
    {
        Assert.Equal(
            "app_id=2021000000000001&biz_content={\"out_trade_no\":\"A1\"}&charset=utf-8&method=alipay.trade.precreate&sign_type=RSA2&timestamp=2026-11-22 12:00:00",
            AlipaySignature.Content(Params));
    }

    [Fact]
    public void Node_rule_keeps_empty_values()
    {
        Assert.Contains("&notify_url=&", AlipaySignature.Content(Params, dropEmpty: false), StringComparison.Ordinal);
    }

    [Fact]
    public void Notification_rule_also_leaves_out_sign_type()
    {
        Assert.DoesNotContain("sign_type", AlipaySignature.Content(Params, dropEmpty: true, "sign_type"), StringComparison.Ordinal);
    }

    [Fact]
    public void Sign_and_verify_round_trip_and_reject_tampering()
    {
        using var key = RSA.Create(2048);
        var content = AlipaySignature.Content(Params);
        var sig = AlipaySignature.Sign(key, content);
        Assert.True(AlipaySignature.Verify(key, content, sig));
        Assert.False(AlipaySignature.Verify(key, content + "x", sig));
        Assert.False(AlipaySignature.Verify(key, content, null));
        Assert.False(AlipaySignature.Verify(key, content, "%%%"));
    }

    [Fact]
    public void The_signed_response_text_is_cut_out_verbatim()
    {
        const string inner = "{\"code\":\"10000\",\"msg\":\"Success\",\"out_trade_no\":\"A1\",\"qr_code\":\"https://qr.alipay.com/bax0}\\\"{x\",\"nested\":{\"a\":[1,{\"b\":2}]}}";
        var body = "{\"alipay_trade_precreate_response\" : " + inner + ",\"sign\":\"abc\"}";
        Assert.Equal(inner, AlipaySignature.ExtractResponseText(body, "alipay_trade_precreate_response"));
        Assert.Null(AlipaySignature.ExtractResponseText(body, "alipay_trade_query_response"));
        Assert.Null(AlipaySignature.ExtractResponseText("{\"alipay_trade_query_response\":{\"code\":", "alipay_trade_query_response"));
    }

    [Theory]
    [InlineData(1, "0.01")]
    [InlineData(1234, "12.34")]
    [InlineData(100, "1.00")]
    [InlineData(10_000_000_000, "100000000.00")]
    public void Fen_to_yuan_without_floating_point(long fen, string yuan)
    {
        Assert.Equal(yuan, AlipayAmount.FromFen(fen));
        Assert.True(AlipayAmount.TryParseFen(yuan, out var back));
        Assert.Equal(fen, back);
    }

    [Theory]
    [InlineData("12.3", 1230L)]
    [InlineData("12", 1200L)]
    [InlineData("12.345", null)]
    [InlineData("-1.00", null)]
    [InlineData("1e3", null)]
    [InlineData("12.", null)]
    [InlineData(".5", null)]
    [InlineData("", null)]
    [InlineData(null, null)]
    [InlineData("99999999999999999999", null)] // found by the notification fuzz target: it used to overflow
    public void Yuan_strings_parse_strictly(string? yuan, long? fen)
    {
        Assert.Equal(fen is not null, AlipayAmount.TryParseFen(yuan, out var parsed));
        if (fen is not null)
        {
            Assert.Equal(fen, parsed);
        }
    }

    [Theory]
    [InlineData("WAIT_BUYER_PAY", WalletStatus.NotPaid)]
    [InlineData("TRADE_SUCCESS", WalletStatus.Succeeded)]
    [InlineData("TRADE_FINISHED", WalletStatus.Succeeded)]
    [InlineData("TRADE_CLOSED", WalletStatus.Closed)]
    [InlineData("TRADE_PENDING", WalletStatus.Unrecognised)]
    public void Every_trade_status_maps(string status, WalletStatus expected) => Assert.Equal(expected, AlipayStatusMap.Map(status));
}
