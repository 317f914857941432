using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Web;
using Hutong.Integration.Tests.Infrastructure;

namespace Hutong.Integration.Tests;

/// <summary>
/// The sandbox gateway honours charset as Alipay does: parameters are decoded and the RSA2 signature verified in the
/// named charset (utf-8, gbk, gb2312), anything else is 40002 isv.invalid-charset; page.pay/wap.pay errors are the
/// HTML page a buyer's browser gets. Requests here are signed by hand, not with the connector's codec.
/// </summary>
[Collection("sqlite")]
public sealed class AlipayGatewayCharsetTests(SqliteHub hub)
{
    static AlipayGatewayCharsetTests() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    private static Encoding Gbk => Encoding.GetEncoding("GBK");

    private Dictionary<string, string> Precreate(string charset, string subject, string outTradeNo) => new()
    {
        ["app_id"] = hub.Alipay.AppId, ["method"] = "alipay.trade.precreate", ["format"] = "JSON", ["charset"] = charset, ["sign_type"] = "RSA2",
        ["timestamp"] = DateTimeOffset.UtcNow.ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture), ["version"] = "1.0",
        ["biz_content"] = $"{{\"out_trade_no\":\"{outTradeNo}\",\"total_amount\":\"1.00\",\"subject\":\"{subject}\"}}",
    };

    /// <summary>Sorted k=v joined with &amp;, signed as the bytes of <paramref name="signAs"/>; the body percent-encodes those bytes.</summary>
    private byte[] SignedBody(Dictionary<string, string> p, Encoding signAs)
    {
        using var key = RSA.Create();
        key.ImportFromPem(hub.Alipay.AppPrivateKeyPem);
        var content = string.Join('&', p.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => $"{e.Key}={e.Value}"));
        var signed = new Dictionary<string, string>(p) { ["sign"] = Convert.ToBase64String(key.SignData(signAs.GetBytes(content), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)) };
        return Encoding.ASCII.GetBytes(string.Join('&', signed.Select(e => $"{HttpUtility.UrlEncode(e.Key, signAs)}={HttpUtility.UrlEncode(e.Value, signAs)}")));
    }

    private async Task<HttpResponseMessage> PostAsync(byte[] body)
    {
        using var http = new HttpClient();
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-www-form-urlencoded");
        return await http.PostAsync(hub.Alipay.GatewayUrl, content);
    }

    [Fact]
    public async Task A_GBK_request_signed_in_GBK_is_decoded_in_GBK_and_answered_signed_in_GBK()
    {
        var no = "gbk" + Guid.NewGuid().ToString("N")[..20];
        var r = await PostAsync(SignedBody(Precreate("GBK", "中文商品（GBK）", no), Gbk));

        Assert.Equal("GBK", r.Content.Headers.ContentType?.CharSet);
        var body = Gbk.GetString(await r.Content.ReadAsByteArrayAsync());
        Assert.Contains("\"code\":\"10000\"", body, StringComparison.Ordinal);
        Assert.Equal("中文商品（GBK）", hub.Sandbox.Alipay.Orders[(hub.Alipay.AppId, no)].Subject);

        // The answer's signature covers its GBK bytes, as the SDKs verify it with the request's charset.
        var start = body.IndexOf("\"alipay_trade_precreate_response\":", StringComparison.Ordinal) + "\"alipay_trade_precreate_response\":".Length;
        var raw = body[start..body.LastIndexOf(",\"sign\":", StringComparison.Ordinal)];
        using var alipayKey = RSA.Create();
        alipayKey.ImportFromPem(hub.Alipay.AlipayPublicKeyPem);
        var sign = Convert.FromBase64String(JsonDocument.Parse(body).RootElement.GetProperty("sign").GetString()!);
        Assert.True(alipayKey.VerifyData(Gbk.GetBytes(raw), sign, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
    }

    [Fact]
    public async Task A_GBK_signed_request_labelled_utf_8_fails_signature_verification()
    {
        var r = await PostAsync(SignedBody(Precreate("utf-8", "中文商品", "mislabelled" + Guid.NewGuid().ToString("N")[..16]), Gbk));

        var body = await r.Content.ReadAsStringAsync();
        Assert.Contains("\"sub_code\":\"isv.invalid-signature\"", body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("big5")]
    [InlineData("")]
    [InlineData(null)]
    public async Task A_missing_or_unknown_charset_is_40002_isv_invalid_charset(string? charset)
    {
        var p = Precreate(charset ?? "x", "商品", "cs" + Guid.NewGuid().ToString("N")[..20]);
        if (charset is null)
        {
            p.Remove("charset");
        }

        var r = await PostAsync(SignedBody(p, Encoding.UTF8));

        Assert.StartsWith("application/json", r.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        var answer = JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.GetProperty("alipay_trade_precreate_response");
        Assert.Equal(("40002", "Invalid Arguments", "isv.invalid-charset"), (answer.GetProperty("code").GetString(), answer.GetProperty("msg").GetString(), answer.GetProperty("sub_code").GetString()));
    }

    [Theory]
    [InlineData("alipay.trade.page.pay")]
    [InlineData("alipay.trade.wap.pay")]
    public async Task Page_and_wap_pay_errors_are_an_HTML_page_for_the_buyers_browser(string method)
    {
        var p = Precreate("utf-8", "网页支付", "page" + Guid.NewGuid().ToString("N")[..20]);
        p["method"] = method;
        var query = Encoding.ASCII.GetString(SignedBody(p, Encoding.UTF8));
        using var http = new HttpClient();

        var tampered = await http.GetAsync(hub.Alipay.GatewayUrl + "?" + query.Replace("1.00", "0.01", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.OK, tampered.StatusCode);
        Assert.Equal("text/html", tampered.Content.Headers.ContentType?.MediaType);
        var page = WebUtility.HtmlDecode(await tampered.Content.ReadAsStringAsync());
        Assert.Contains("调试错误，请回到请求来源地，重新发起请求。", page, StringComparison.Ordinal);
        Assert.Contains("错误代码 <span class=\"code\">invalid-signature</span>", page, StringComparison.Ordinal);
        Assert.DoesNotContain("_response\"", page, StringComparison.Ordinal);

        var badCharset = await http.GetAsync(hub.Alipay.GatewayUrl + "?" + query.Replace("charset=utf-8", "charset=latin9", StringComparison.Ordinal));
        Assert.Equal("text/html", badCharset.Content.Headers.ContentType?.MediaType);
        Assert.Contains("invalid-charset", await badCharset.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var fine = await http.GetAsync(hub.Alipay.GatewayUrl + "?" + query); // the same request untouched opens the cashier
        Assert.Contains("网页支付", WebUtility.HtmlDecode(await fine.Content.ReadAsStringAsync()), StringComparison.Ordinal);
    }
}
