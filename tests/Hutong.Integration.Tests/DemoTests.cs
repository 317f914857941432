using System.Net;
using System.Net.Http.Json;
using Hutong.Sandbox;
using Hutong.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Hutong.Integration.Tests;

/// <summary>What the README's run command starts (`--demo`): sandbox wallet in-process, demo merchant, demo shop.</summary>
public sealed class DemoTests
{
    [Fact]
    public async Task The_demo_shop_sells_through_the_hub_and_the_sandbox_wallet()
    {
        var dir = Directory.CreateTempSubdirectory("hutong-demo-");
        await using var hub = await HubApp.BuildAsync(["--demo"], b =>
        {
            b.WebHost.UseUrls("http://127.0.0.1:0");
            b.Logging.ClearProviders();
            b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Hutong:Sandbox:Url"] = "http://127.0.0.1:0",
                ["Hutong:Sandbox:TimeScale"] = "0.001",
                ["Store:ConnectionString"] = $"Data Source={Path.Combine(dir.FullName, "demo.db")}",
            });
        });
        await hub.StartAsync();
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(hub.BaseUrl) };

        Assert.Contains("互通小铺", await http.GetStringAsync("/shop"), StringComparison.Ordinal);
        var buy = await http.PostAsync("/shop/buy/tea", null);
        Assert.Equal(HttpStatusCode.Redirect, buy.StatusCode);
        var checkout = buy.Headers.Location!.ToString();
        var page = WebUtility.HtmlDecode(await http.GetStringAsync(checkout));
        Assert.Contains("¥168.00", page, StringComparison.Ordinal);
        Assert.Contains("id=\"qr\"", page, StringComparison.Ordinal);

        var codeUrl = Uri.UnescapeDataString(page.Split("code_url=")[1].Split('"')[0]);
        using var sandbox = new HttpClient { BaseAddress = new Uri(hub.Sandbox!.BaseUrl) };
        var pay = await sandbox.PostAsJsonAsync("/sandbox/wechatpay/buyer/pay", new { code_url = codeUrl }, SandboxJson.Options);
        Assert.Equal(HttpStatusCode.OK, pay.StatusCode);

        var deadline = DateTime.UtcNow.AddSeconds(10);
        string status;
        do
        {
            status = await http.GetStringAsync(checkout + "/status");
            await Task.Delay(50);
        }
        while (!status.Contains("succeeded", StringComparison.Ordinal) && DateTime.UtcNow < deadline);

        Assert.Contains("\"status\":\"succeeded\"", status, StringComparison.Ordinal);
        await hub.DisposeAsync();
        dir.Delete(recursive: true);
    }
}
