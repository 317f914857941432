using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;

namespace Hutong.Integration.Tests;

/// <summary>What the README's run command starts (`--demo`): sandbox wallets in-process, demo merchant, demo shop.</summary>
public sealed partial class DemoTests
{
    [Fact]
    public async Task The_demo_shop_sells_through_the_hub_and_shares_products_as_links_and_share_codes()
    {
        var dir = Directory.CreateTempSubdirectory("hutong-demo-");
        await using var hub = await DemoHub.StartAsync(dir.FullName);
        // A browser-like client: keeps cookies (cart, payer session), does not follow redirects so they can be checked.
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() }) { BaseAddress = new Uri(hub.BaseUrl) };
        http.DefaultRequestHeaders.UserAgent.ParseAdd("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36");

        Assert.Contains("互通小铺", await http.GetStringAsync("/shop"), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Redirect, (await http.PostAsync("/shop/cart/tea", null)).StatusCode);
        await http.PostAsync("/shop/cart/fan", null);
        await http.PostAsync("/shop/cart/fan", null);
        Assert.Contains("¥258.00", WebUtility.HtmlDecode(await http.GetStringAsync("/shop/cart")), StringComparison.Ordinal); // 168 + 2 × 45

        var checkout = await http.PostAsync("/shop/checkout", null);
        Assert.Equal(HttpStatusCode.Redirect, checkout.StatusCode);
        var cashier = checkout.Headers.Location!.ToString();
        var page = WebUtility.HtmlDecode(await http.GetStringAsync(cashier));
        Assert.Contains("¥258.00", page, StringComparison.Ordinal);
        Assert.Contains("id=\"pay-wechatpay\"", page, StringComparison.Ordinal);
        Assert.Contains("id=\"pay-alipay\"", page, StringComparison.Ordinal);
        Assert.Contains("id=\"ask-friend\"", page, StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.Redirect, (await http.PostAsync(cashier + "/wechatpay", null)).StatusCode);
        page = WebUtility.HtmlDecode(await http.GetStringAsync(cashier));
        Assert.Contains("id=\"qr\"", page, StringComparison.Ordinal);
        var codeUrl = Uri.UnescapeDataString(page.Split("code_url=")[1].Split('"')[0]);
        using var sandbox = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
        Assert.Equal(HttpStatusCode.OK, (await sandbox.PostAsJsonAsync("/sandbox/wechatpay/buyer/pay", new { code_url = codeUrl }, SandboxJson.Options)).StatusCode);

        var deadline = DateTime.UtcNow.AddSeconds(10);
        string status;
        do
        {
            status = await http.GetStringAsync(cashier + "/status");
            await Task.Delay(50);
        }
        while (!status.Contains("succeeded", StringComparison.Ordinal) && DateTime.UtcNow < deadline);

        Assert.Contains("\"status\":\"succeeded\"", status, StringComparison.Ordinal);

        // Share a product: a share code wrapped in share text; pasting that text (with chat noise around it) opens the product.
        var shared = WebUtility.HtmlDecode(await (await http.PostAsync("/shop/p/tea/share", null)).Content.ReadAsStringAsync());
        var text = Regex.Replace(ShareText().Match(shared).Groups[1].Value, "<[^>]+>", string.Empty); // the code is in a no-wrap span
        Assert.Matches("￥[A-Za-z0-9]{11}￥", text);
        var resolved = await http.PostAsync("/s", new FormUrlEncodedContent(new Dictionary<string, string> { ["text"] = "快看这个 " + text + " 复zんí这段话" }));
        Assert.Equal(HttpStatusCode.Redirect, resolved.StatusCode);
        var landing = await http.GetAsync(resolved.Headers.Location);
        Assert.Equal(HttpStatusCode.Redirect, landing.StatusCode);
        Assert.EndsWith("/shop/p/tea", landing.Headers.Location!.ToString(), StringComparison.Ordinal);

        await hub.DisposeAsync();
        dir.Delete(recursive: true);
    }

    [GeneratedRegex("id=\"share-text\">(.+?)</p>")]
    private static partial Regex ShareText();
}
