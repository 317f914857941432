using System.Text.RegularExpressions;
using System.Net;
using Hutong.Integration.Tests.Infrastructure;
using Microsoft.Playwright;

namespace Hutong.Integration.Tests;

/// <summary>
/// Paying inside WeChat's in-app browser in real Chromium: a MicroMessenger User-Agent, and the sandbox's buyer-phone
/// emulator (/sandbox/wechat/bridge.js) injected as WeChat would provide WeixinJSBridge. The bridge verifies paySign
/// with the merchant's public key and makes the sandbox buyer pay; the encrypted notification and the merchant's
/// webhook follow. A phone browser outside WeChat takes the H5 route.
/// </summary>
[Collection("sqlite")]
public sealed class WeChatInAppBrowserTests(SqliteHub hub, BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    public const string WeChatUa = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN";
    public const string PhoneUa = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36";

    private static string Shot(string name) => Path.Combine(BrowserFixture.ArtifactsDir, name);

    /// <summary>A phone inside WeChat: its User-Agent, and WeixinJSBridge from the sandbox. The native bridge is not subject to the page's CSP; the injected one is, hence BypassCSP.</summary>
    private async Task<IBrowserContext> WeChatPhoneAsync()
    {
        var ctx = await browser.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            UserAgent = WeChatUa, Locale = "zh-CN", ViewportSize = new ViewportSize { Width = 390, Height = 844 }, BypassCSP = true,
        });
        using var http = new HttpClient();
        await ctx.AddInitScriptAsync(await http.GetStringAsync($"{hub.Sandbox.BaseUrl}/sandbox/wechat/bridge.js"));
        return ctx;
    }

    [Fact]
    public async Task A_cross_app_link_opened_inside_WeChat_is_paid_in_place_and_the_merchant_gets_the_webhook()
    {
        var (m, _, _) = await hub.NewMerchantAsync("互通茶庄 Tea House");
        var hook = "/hooks/" + Guid.NewGuid().ToString("N");
        Assert.Equal(HttpStatusCode.Created, (await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url(hook), enabled_events = new[] { "payment.succeeded" } })).Status);
        var id = await m.CreatePaymentAsync(6800);
        var checkout = (await m.GetAsync($"/v1/payments/{id}")).Str("checkout_url");
        var link = await m.PostAsync("/v1/links", new { url = checkout, title = "宜兴紫砂壶 Yixing teapot" });

        await using var phone = await WeChatPhoneAsync();
        var page = await phone.NewPageAsync();
        await page.GotoAsync(link.Str("short_url"));
        await page.Locator("#open").ClickAsync(); // WeChat's interstitial: open the product page
        await BrowserFixture.ArrivedAsync(page, new Regex("^" + Regex.Escape(checkout))); // through WeChat's silent OAuth and back
        Assert.Equal(0, await page.Locator("img").CountAsync()); // no QR inside WeChat
        await BrowserFixture.ScreenshotAsync(page, Shot("wechat-jsapi-cashier.png"));
        await page.Locator("#pay-wechatpay").ClickAsync();

        // The page asks WeixinJSBridge at once; the bridge pays and the page shows the hub's answer.
        await page.Locator("#status[data-status='succeeded']").WaitForAsync(new LocatorWaitForOptions { Timeout = 15000 });
        await BrowserFixture.ScreenshotAsync(page, Shot("wechat-jsapi-paid.png"));
        var order = Assert.Single(hub.Sandbox.WeChat.Orders.Values, o => o.Attach == id);
        Assert.Equal(("JSAPI", "SUCCESS"), (order.TradeType, order.TradeState));
        Assert.Contains(hub.Sandbox.WeChat.InApp.BridgeCalls, c => c.Package == "prepay_id=" + order.PrepayId && c.ErrMsg == "get_brand_wcpay_request:ok");

        var delivery = await hub.EventuallyAsync(() => Task.FromResult(hub.Receiver.Deliveries.FirstOrDefault(d => d.Path == hook)), d => d is not null, what: "the payment.succeeded webhook");
        Assert.Contains(id, delivery!.Body, StringComparison.Ordinal);
        // The openid never leaves the hub: not in the webhook, not in the API, not in the page.
        Assert.DoesNotContain(order.PayerOpenId!, delivery.Body, StringComparison.Ordinal);
        Assert.DoesNotContain(order.PayerOpenId!, (await m.GetAsync($"/v1/payments/{id}")).Body, StringComparison.Ordinal);
        Assert.DoesNotContain(order.PayerOpenId!, await page.ContentAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_friend_pay_link_is_paid_inside_WeChat()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(2500);
        var url = (await m.PostAsync($"/v1/payments/{id}/friend_pay_links", new { requester_name = "小红" })).Str("url");
        await using var phone = await WeChatPhoneAsync();
        var page = await phone.NewPageAsync();
        await page.GotoAsync(url);
        await page.Locator("#pay-wechatpay").ClickAsync();
        await page.Locator("#status[data-status='succeeded']").WaitForAsync(new LocatorWaitForOptions { Timeout = 15000 });
        await BrowserFixture.ScreenshotAsync(page, Shot("wechat-jsapi-friend-paid.png"));
        Assert.Contains("支付成功", await page.Locator("#status").InnerTextAsync(), StringComparison.Ordinal);
        var paid = await m.GetAsync($"/v1/payments/{id}");
        Assert.Equal("friend", paid.Json.GetProperty("payer").GetProperty("via").GetString());
        Assert.Equal("JSAPI", Assert.Single(hub.Sandbox.WeChat.Orders.Values, o => o.Attach == id).TradeType);
    }

    [Fact]
    public async Task A_phone_browser_outside_WeChat_takes_the_H5_route_and_the_return_is_not_proof()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(1900);
        var checkout = (await m.GetAsync($"/v1/payments/{id}")).Str("checkout_url");
        await using var ctx = await browser.Browser.NewContextAsync(new BrowserNewContextOptions { UserAgent = PhoneUa, Locale = "zh-CN", ViewportSize = new ViewportSize { Width = 390, Height = 844 } });
        var page = await ctx.NewPageAsync();
        await page.GotoAsync(checkout);
        await page.Locator("#pay-wechatpay").ClickAsync();
        await page.Locator("#h5-pay").WaitForAsync();
        await BrowserFixture.ScreenshotAsync(page, Shot("wechat-h5-cashier.png"));
        Assert.Equal("pending", (await m.GetAsync($"/v1/payments/{id}")).Str("status"));
        await page.Locator("#h5-pay").ClickAsync();
        await page.Locator("#h5-pay").ClickAsync(); // WeChat's H5 cashier (the sandbox's page behind h5_url)
        await BrowserFixture.ArrivedAsync(page, new Regex("^" + Regex.Escape(checkout)));
        await page.Locator("#status[data-status='succeeded']").WaitForAsync(new LocatorWaitForOptions { Timeout = 15000 });
        Assert.Equal("MWEB", Assert.Single(hub.Sandbox.WeChat.Orders.Values, o => o.Attach == id).TradeType);
    }
}
