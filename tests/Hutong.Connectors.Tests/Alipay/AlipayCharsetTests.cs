using System.Net;
using System.Security.Cryptography;
using System.Web;
using Hutong.Connectors.Abstractions;
using Hutong.Connectors.Alipay;
using Microsoft.Extensions.Logging.Abstractions;

namespace Hutong.Connectors.Tests.Alipay;

/// <summary>
/// Alipay decodes a request's parameters and verifies its signature in the charset the request names: the connector
/// signs UTF-8 bytes, so every request (and the page.pay/wap.pay URL) must say charset=utf-8, exactly once.
/// </summary>
public class AlipayCharsetTests
{
    private sealed class Capture : HttpMessageHandler
    {
        public List<string> Bodies { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Bodies.Add(request.RequestUri!.Query + "&" + await request.Content!.ReadAsStringAsync(cancellationToken));
            return new HttpResponseMessage(HttpStatusCode.ServiceUnavailable);
        }
    }

    [Fact]
    public async Task Every_request_and_the_pay_URL_say_charset_utf_8()
    {
        using var app = RSA.Create(2048);
        using var alipay = RSA.Create(2048);
        var capture = new Capture();
        var options = new AlipayOptions
        {
            AppId = "2021000000000001", GatewayUrl = "https://gateway.example/gateway.do", AppPrivateKeyPem = app.ExportPkcs8PrivateKeyPem(),
            AlipayPublicKeyPem = alipay.ExportSubjectPublicKeyInfoPem(), MaxRetries = 0,
        };
        using var connector = new AlipayConnector(new HttpClient(capture), options, TimeProvider.System, NullLogger<AlipayConnector>.Instance);
        var order = new CreateOrderRequest("A1", Hutong.Domain.Money.Of(100, "CNY"), "中文商品", DateTimeOffset.UtcNow.AddMinutes(10), "https://shop.example/n");

        await connector.CreateQrOrderAsync(order, default);
        await connector.QueryAsync("A1", default);
        await connector.CloseAsync("A1", default);
        await connector.RefundAsync(new RefundRequest("A1", "R1", Hutong.Domain.Money.Of(50, "CNY"), Hutong.Domain.Money.Of(100, "CNY"), "退款", null), default);
        await connector.QueryRefundAsync("A1", "R1", default);
        await connector.DownloadBillAsync(new DateOnly(2026, 11, 22), default);
        var urls = new[] { connector.BuildPayUrl(order, mobile: false, null), connector.BuildPayUrl(order, mobile: true, null) };

        Assert.True(capture.Bodies.Count >= 6);
        foreach (var request in capture.Bodies.Concat(urls.Select(u => new Uri(u).Query)))
        {
            var charsets = request.Split('&', '?').Where(p => p.StartsWith("charset=", StringComparison.Ordinal)).Select(p => HttpUtility.UrlDecode(p["charset=".Length..])).ToList();
            Assert.Equal(["utf-8"], charsets);
        }
    }
}
