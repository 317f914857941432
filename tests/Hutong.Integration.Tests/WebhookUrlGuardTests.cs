using System.Net;
using Hutong.Server.Features.Webhooks;

namespace Hutong.Integration.Tests;

public class WebhookUrlGuardTests
{
    [Theory]
    [InlineData("https://hooks.example.com/hutong", null)]
    [InlineData("http://hooks.example.com/hutong", "https")]
    [InlineData("https://127.0.0.1/x", "machine")]
    [InlineData("https://localhost/x", "machine")]
    [InlineData("https://api.localhost/x", "machine")]
    [InlineData("https://10.1.2.3/x", "private")]
    [InlineData("https://172.20.0.1/x", "private")]
    [InlineData("https://192.168.1.1/x", "private")]
    [InlineData("https://169.254.169.254/latest/meta-data", "private")]
    [InlineData("https://100.64.0.1/x", "private")]
    [InlineData("https://[::1]/x", "machine")]
    [InlineData("https://[fd00::1]/x", "private")]
    [InlineData("https://[fe80::1]/x", "private")]
    [InlineData("https://[::ffff:10.0.0.1]/x", "private")]
    [InlineData("https://0.0.0.0/x", "private")]
    [InlineData("https://u:p@example.com/x", "credentials")]
    [InlineData("not a url", "absolute")]
    public void Urls_are_checked_when_private_targets_are_not_allowed(string url, string? problem)
    {
        var error = WebhookUrlGuard.Validate(url, allowPrivate: false);
        if (problem is null)
        {
            Assert.Null(error);
        }
        else
        {
            Assert.NotNull(error);
            Assert.Contains(problem, error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Local_development_may_allow_loopback_http() =>
        Assert.Null(WebhookUrlGuard.Validate("http://127.0.0.1:5000/hooks", allowPrivate: true));

    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("8.8.8.8", false)]
    [InlineData("2001:4860:4860::8888", false)]
    [InlineData("224.0.0.1", true)]
    public void Address_classification(string ip, bool forbidden) => Assert.Equal(forbidden, WebhookUrlGuard.IsForbidden(IPAddress.Parse(ip)));

    [Fact]
    public async Task The_connect_time_check_refuses_names_that_resolve_to_loopback()
    {
        // "localhost" passes no literal-IP check; only the resolved address reveals it (the DNS-rebinding case).
        using var http = new HttpClient(WebhookUrlGuard.CreateHandler(allowPrivate: false));
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync("http://localhost:9/"));
        Assert.Contains("forbidden addresses", e.Message, StringComparison.Ordinal);
    }
}
