using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Hutong.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Hutong.Integration.Tests;

/// <summary>
/// The public pages are rate limited per client address, the merchant API per address and per key, and the client
/// address comes from forwarded headers only when a configured proxy sent them (the shared test hubs turn limits off).
/// </summary>
public sealed class RateLimitTests
{
    private const string AdminToken = "rate-limit-admin-token";

    [Fact]
    public async Task Public_pages_and_link_redirects_answer_429_with_Retry_After_past_their_limits()
    {
        await using var hub = await OwnHub.StartAsync(new()
        {
            ["Hutong:PublicRateLimitPerMinute"] = "5",
            ["Hutong:LinkRateLimitPerMinute"] = "3",
        });
        var http = hub.Http;

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/f/guess-" + i)).StatusCode); // guessing friend-pay tokens
        }

        var refused = await http.GetAsync("/f/guess-5");
        await AssertRateLimitedAsync(refused);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await http.GetAsync("/s")).StatusCode); // one budget across the public pages
        using (var noRedirects = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = hub.Http.BaseAddress })
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
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode); // health checks are not these limits
    }

    [Fact]
    public async Task Each_api_key_has_its_own_budget_and_past_it_gets_429_with_Retry_After()
    {
        await using var hub = await OwnHub.StartAsync(new()
        {
            ["Hutong:ApiRateLimitPerKeyPerMinute"] = "3",
            ["Hutong:ApiRateLimitPerAddressPerMinute"] = "100",
        });
        var (first, merchantId) = await hub.NewMerchantAsync();
        var second = await hub.NewKeyAsync(merchantId); // same merchant, same address, another key

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await hub.GetAsync("/v1/capabilities", first)).StatusCode);
        }

        await AssertRateLimitedAsync(await hub.GetAsync("/v1/capabilities", first));
        Assert.Equal(HttpStatusCode.OK, (await hub.GetAsync("/v1/capabilities", second)).StatusCode);
        // Made-up keys are not this limit's concern: they stay 401 and never get a budget of their own.
        Assert.Equal(HttpStatusCode.Unauthorized, (await hub.GetAsync("/v1/capabilities", "sk_made_up")).StatusCode);
    }

    [Fact]
    public async Task Each_address_has_one_api_budget_whatever_keys_it_presents()
    {
        await using var hub = await OwnHub.StartAsync(new()
        {
            ["Hutong:ApiRateLimitPerKeyPerMinute"] = "100",
            ["Hutong:ApiRateLimitPerAddressPerMinute"] = "5",
        });
        var (key, _) = await hub.NewMerchantAsync(); // the admin API is not this limit

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await hub.GetAsync("/v1/capabilities", "sk_guess_" + i)).StatusCode);
        }

        await AssertRateLimitedAsync(await hub.GetAsync("/v1/capabilities", "sk_guess_5"));
        await AssertRateLimitedAsync(await hub.GetAsync("/v1/capabilities", key));
        Assert.Equal(HttpStatusCode.OK, (await hub.Http.GetAsync("/healthz")).StatusCode);
    }

    [Fact]
    public async Task Behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget()
    {
        await using var hub = await OwnHub.StartAsync(new()
        {
            ["Hutong:PublicRateLimitPerMinute"] = "2",
            ["Hutong:TrustedProxies:0"] = "192.0.2.10",
            ["Hutong:TrustedProxies:1"] = "127.0.0.0/8", // the test's connections come from 127.0.0.1
        });

        Assert.Equal(HttpStatusCode.NotFound, (await hub.GetFromAsync("/f/guess-0", "203.0.113.7")).StatusCode);
        // What the client wrote itself (left of the proxies' entries) cannot buy it a fresh budget.
        Assert.Equal(HttpStatusCode.NotFound, (await hub.GetFromAsync("/f/guess-1", "198.51.100.1, 203.0.113.7")).StatusCode);
        await AssertRateLimitedAsync(await hub.GetFromAsync("/f/guess-2", "198.51.100.2, 203.0.113.7, 192.0.2.10"));

        Assert.Equal(HttpStatusCode.NotFound, (await hub.GetFromAsync("/f/guess-3", "203.0.113.8")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await hub.GetFromAsync("/f/guess-4", "203.0.113.8, 192.0.2.10")).StatusCode);
        await AssertRateLimitedAsync(await hub.GetFromAsync("/f/guess-5", "203.0.113.8"));
    }

    [Fact]
    public async Task IPv6_clients_are_counted_per_64_so_one_host_cannot_rotate_addresses_for_fresh_budgets()
    {
        await using var hub = await OwnHub.StartAsync(new()
        {
            ["Hutong:PublicRateLimitPerMinute"] = "2",
            ["Hutong:TrustedProxies:0"] = "127.0.0.1",
        });

        Assert.Equal(HttpStatusCode.NotFound, (await hub.GetFromAsync("/f/guess-0", "2001:db8:1:2::1")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await hub.GetFromAsync("/f/guess-1", "2001:db8:1:2:aaaa::2")).StatusCode);
        await AssertRateLimitedAsync(await hub.GetFromAsync("/f/guess-2", "2001:db8:1:2::ffff"));
        Assert.Equal(HttpStatusCode.NotFound, (await hub.GetFromAsync("/f/guess-3", "2001:db8:1:3::1")).StatusCode); // another /64
    }

    [Theory]
    [InlineData(null)] // the default: no proxy is trusted
    [InlineData("10.1.2.3")] // a proxy, but not the address these requests come from
    public async Task Forwarded_headers_from_an_untrusted_address_are_ignored(string? trustedProxy)
    {
        var settings = new Dictionary<string, string?> { ["Hutong:PublicRateLimitPerMinute"] = "2" };
        if (trustedProxy is not null)
        {
            settings["Hutong:TrustedProxies:0"] = trustedProxy;
        }

        await using var hub = await OwnHub.StartAsync(settings);

        Assert.Equal(HttpStatusCode.NotFound, (await hub.GetFromAsync("/f/guess-0", "203.0.113.7")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await hub.GetFromAsync("/f/guess-1", "203.0.113.8")).StatusCode);
        await AssertRateLimitedAsync(await hub.GetFromAsync("/f/guess-2", "203.0.113.9")); // all one client: 127.0.0.1
    }

    [Fact]
    public async Task A_trusted_proxy_entry_that_is_neither_an_address_nor_a_range_stops_the_start()
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => OwnHub.StartAsync(new() { ["Hutong:TrustedProxies:0"] = "proxy.internal" }));
        Assert.Contains("proxy.internal", e.Message, StringComparison.Ordinal);
    }

    private static async Task AssertRateLimitedAsync(HttpResponseMessage refused)
    {
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.True(refused.Headers.RetryAfter?.Delta > TimeSpan.Zero, "Retry-After: " + refused.Headers.RetryAfter);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
        Assert.Equal("rate_limited", problem.RootElement.GetProperty("code").GetString());
        Assert.Equal(429, problem.RootElement.GetProperty("status").GetInt32());
    }

    /// <summary>A hub of its own (SQLite, no wallets) with the given limits.</summary>
    private sealed class OwnHub : IAsyncDisposable
    {
        private readonly DirectoryInfo _dir;
        private readonly HubHandle _hub;

        private OwnHub(DirectoryInfo dir, HubHandle hub)
        {
            _dir = dir;
            _hub = hub;
            Http = new HttpClient { BaseAddress = new Uri(hub.BaseUrl) };
        }

        public HttpClient Http { get; }

        public static async Task<OwnHub> StartAsync(Dictionary<string, string?> settings)
        {
            var dir = Directory.CreateTempSubdirectory("hutong-rl-");
            try
            {
                var hub = await HubApp.BuildAsync([], b =>
                {
                    b.WebHost.UseUrls("http://127.0.0.1:0");
                    b.Logging.ClearProviders();
                    b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(settings)
                    {
                        ["Store:ConnectionString"] = $"Data Source={Path.Combine(dir.FullName, "rl.db")}",
                        ["Hutong:AdminToken"] = AdminToken,
                    });
                }, new WalletAccounts(null, null, null));
                await hub.StartAsync();
                return new OwnHub(dir, hub);
            }
            catch
            {
                dir.Delete(recursive: true);
                throw;
            }
        }

        public Task<HttpResponseMessage> GetAsync(string path, string apiKey)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
            return SendAsync(request);
        }

        /// <summary>A request as a reverse proxy passes it on: the chain of addresses in X-Forwarded-For.</summary>
        public Task<HttpResponseMessage> GetFromAsync(string path, string forwardedFor)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Add("X-Forwarded-For", forwardedFor);
            return SendAsync(request);
        }

        public async Task<(string Key, string MerchantId)> NewMerchantAsync()
        {
            using var created = await AdminPostAsync("/admin/merchants", new { name = "限流商户" });
            return (created.RootElement.GetProperty("api_key").GetProperty("secret").GetString()!,
                created.RootElement.GetProperty("merchant").GetProperty("id").GetString()!);
        }

        public async Task<string> NewKeyAsync(string merchantId)
        {
            using var created = await AdminPostAsync($"/admin/merchants/{merchantId}/api_keys", new { });
            return created.RootElement.GetProperty("secret").GetString()!;
        }

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            await _hub.DisposeAsync();
            _dir.Delete(recursive: true);
        }

        private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request)
        {
            using (request)
            {
                var response = await Http.SendAsync(request);
                await response.Content.LoadIntoBufferAsync();
                return response;
            }
        }

        private async Task<JsonDocument> AdminPostAsync(string path, object body)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
            request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
            using var response = await Http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode} {text}");
            return JsonDocument.Parse(text);
        }
    }
}
