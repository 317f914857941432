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
    [InlineData("https://[64:ff9b::7f00:1]/x", "private")]      // NAT64 of 127.0.0.1
    [InlineData("https://[64:ff9b::a9fe:a9fe]/x", "private")]   // NAT64 of 169.254.169.254
    [InlineData("https://[2002:7f00:1::1]/x", "private")]       // 6to4 of 127.0.0.1
    [InlineData("https://[2002:c0a8:101::1]/x", "private")]     // 6to4 of 192.168.1.1
    [InlineData("https://[::a00:1]/x", "private")]              // IPv4-compatible 10.0.0.1
    [InlineData("https://[64:ff9b::808:808]/x", null)]          // NAT64 of a public address (IPv6-only networks with DNS64)
    [InlineData("https://localhost./x", "machine")]             // a trailing dot names the same host (found by a black-box probe)
    [InlineData("https://LOCALHOST./x", "machine")]
    [InlineData("https://api.localhost./x", "machine")]
    [InlineData("https://10.1.2.3./x", "private")]
    [InlineData("https://hooks.example.com./x", null)]
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
    [InlineData("64:ff9b::7f00:1", true)]
    [InlineData("64:ff9b::a00:1", true)]
    [InlineData("64:ff9b::808:808", false)]
    [InlineData("64:ff9b:1::808:808", true)]   // NAT64 local-use prefix: the translator is on a private network
    [InlineData("2002:7f00:1::", true)]
    [InlineData("2002:a9fe:a9fe::1", true)]
    [InlineData("2002:808:808::1", false)]
    [InlineData("2001:0:4136:e378:8000:63bf:3fff:fdd2", true)] // Teredo
    [InlineData("192.0.2.2", true)]        // documentation ranges (RFC 5737): a probe's VM numbered its own interface from one
    [InlineData("198.51.100.1", true)]
    [InlineData("203.0.113.1", true)]
    [InlineData("192.88.99.1", true)]      // 6to4 relay anycast
    [InlineData("2001:db8::1", true)]      // IPv6 documentation (RFC 3849)
    [InlineData("100::1", true)]           // discard-only (RFC 6666)
    [InlineData("100:0:0:1::1", false)]
    [InlineData("192.0.3.1", false)]
    [InlineData("203.0.114.1", false)]
    public void Address_classification(string ip, bool forbidden) => Assert.Equal(forbidden, WebhookUrlGuard.IsForbidden(IPAddress.Parse(ip)));

    [Fact]
    public async Task The_connect_time_check_refuses_names_that_resolve_to_loopback()
    {
        // "localhost" passes no literal-IP check; only the resolved address reveals it (the DNS-rebinding case).
        using var http = new HttpClient(WebhookUrlGuard.CreateHandler(allowPrivate: false));
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync("http://localhost:9/"));
        Assert.Contains("forbidden addresses", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void This_machines_own_interface_addresses_are_refused_at_connect_time_whatever_their_class()
    {
        var own = WebhookUrlGuard.OwnAddresses();
        Assert.NotEmpty(own);
        Assert.All(own, a => Assert.True(WebhookUrlGuard.IsThisMachine(a, own), a.ToString()));
        Assert.True(WebhookUrlGuard.IsThisMachine(IPAddress.Parse("::ffff:127.0.0.1"), own)); // an IPv4-mapped form of one
        Assert.False(WebhookUrlGuard.IsThisMachine(IPAddress.Parse("8.8.8.8"), own));
    }

    [Fact]
    public async Task Delivery_never_goes_through_a_proxy()
    {
        // With HTTPS_PROXY set, a proxied connection is opened to the proxy, so the connect-time check would judge the
        // proxy's address and the proxy would reach whatever the URL names. A proxy given to the handler stands in for it.
        using var proxy = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        proxy.Start();
        var proxied = proxy.AcceptTcpClientAsync();
        using var target = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        target.Start();
        var direct = target.AcceptTcpClientAsync();

        var handler = WebhookUrlGuard.CreateHandler(allowPrivate: true);
        handler.Proxy = new WebProxy($"http://127.0.0.1:{((IPEndPoint)proxy.LocalEndpoint).Port}");
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(5) };
        var send = http.GetAsync($"http://127.0.0.1:{((IPEndPoint)target.LocalEndpoint).Port}/hook");

        var first = await Task.WhenAny(proxied, direct).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Same(direct, first);
        (await direct).Dispose();
        await Assert.ThrowsAnyAsync<Exception>(() => send);
    }
}
