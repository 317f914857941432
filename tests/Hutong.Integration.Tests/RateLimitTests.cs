using System.Net;
using Hutong.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Hutong.Integration.Tests;

/// <summary>The public pages are rate limited per client address (the shared test hubs turn this off).</summary>
public sealed class RateLimitTests
{
    [Fact]
    public async Task Public_pages_and_link_redirects_answer_429_with_Retry_After_past_their_limits()
    {
        var dir = Directory.CreateTempSubdirectory("hutong-rl-");
        await using var hub = await HubApp.BuildAsync([], b =>
        {
            b.WebHost.UseUrls("http://127.0.0.1:0");
            b.Logging.ClearProviders();
            b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Store:ConnectionString"] = $"Data Source={Path.Combine(dir.FullName, "rl.db")}",
                ["Hutong:PublicRateLimitPerMinute"] = "5",
                ["Hutong:LinkRateLimitPerMinute"] = "3",
            });
        }, new WalletAccounts(null, null, null));
        await hub.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(hub.BaseUrl) };

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/f/guess-" + i)).StatusCode); // guessing friend-pay tokens
        }

        var refused = await http.GetAsync("/f/guess-5");
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.True(refused.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.Contains("rate_limited", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await http.GetAsync("/s")).StatusCode); // one budget across the public pages
        using (var noRedirects = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(hub.BaseUrl) })
        {
            // The aggregated QR's scan, its wallet choice and its image are public pages too.
            Assert.Equal(HttpStatusCode.TooManyRequests, (await noRedirects.GetAsync("/a/guess")).StatusCode);
            Assert.Equal(HttpStatusCode.TooManyRequests, (await noRedirects.PostAsync("/a/guess", null)).StatusCode);
            Assert.Equal(HttpStatusCode.TooManyRequests, (await noRedirects.GetAsync("/pay/guess/aggregate.png")).StatusCode);
        }

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/l/nothing" + i)).StatusCode);
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, (await http.GetAsync("/l/nothing3")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode); // the API and health checks are not these limits

        await hub.DisposeAsync();
        dir.Delete(recursive: true);
    }
}
