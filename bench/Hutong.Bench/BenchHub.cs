using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Hutong.Server;
using Hutong.Demo;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

/// <summary>A hub on a free loopback port with the given settings (no logging), and a merchant made through the admin API.</summary>
internal static class BenchHub
{
    public const string AdminToken = "bench-admin";

    public static async Task<HubHandle> StartAsync(IDictionary<string, string?> settings, WalletAccounts? wallets = null)
    {
        var hub = await HubApp.BuildAsync([], b =>
        {
            b.WebHost.UseUrls("http://127.0.0.1:0");
            b.Logging.ClearProviders();
            var all = new Dictionary<string, string?>(settings) { ["Hutong:AdminToken"] = AdminToken };
            // The API limiters run, but never refuse the load generator (one address, one key).
            all.TryAdd("Hutong:ApiRateLimitPerAddressPerMinute", "1000000000");
            all.TryAdd("Hutong:ApiRateLimitPerKeyPerMinute", "1000000000");
            b.Configuration.AddInMemoryCollection(all);
        }, wallets);
        await hub.StartAsync();
        return hub;
    }

    /// <summary>Creates a merchant; returns its API key and id.</summary>
    public static async Task<(string Key, string MerchantId)> MerchantAsync(string baseUrl, string name = "bench")
    {
        using var admin = new HttpClient();
        using var req = new HttpRequestMessage(HttpMethod.Post, baseUrl + "/admin/merchants") { Content = new StringContent(JsonSerializer.Serialize(new { name }), Encoding.UTF8, "application/json") };
        req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
        req.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
        using var resp = await admin.SendAsync(req);
        var created = JsonDocument.Parse(await resp.Content.ReadAsStringAsync()).RootElement;
        return (created.GetProperty("api_key").GetProperty("secret").GetString()!, created.GetProperty("merchant").GetProperty("id").GetString()!);
    }
}
