using System.Text.RegularExpressions;
using System.Net;
using Hutong.Integration.Tests.Infrastructure;
using Microsoft.Playwright;

namespace Hutong.Integration.Tests;

/// <summary>
/// Paying inside the Alipay app's browser in real Chromium: an AlipayClient User-Agent, and the sandbox's buyer-phone
/// emulator (/sandbox/alipay/bridge.js) injected as the Alipay client would provide AlipayJSBridge. The cashier signs
/// the buyer in through Alipay's silent auth_base OAuth, creates the trade with alipay.trade.create for that buyer, and
/// the page pays it in place with tradePay; the notification and the merchant's webhook follow.
/// </summary>
[Collection("sqlite")]
public sealed class AlipayInAppBrowserTests(SqliteHub hub, BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    private static string Shot(string name) => Path.Combine(BrowserFixture.ArtifactsDir, name);

    /// <summary>A phone inside Alipay: its User-Agent, and AlipayJSBridge from the sandbox (injected, hence BypassCSP).</summary>
    private async Task<IBrowserContext> AlipayPhoneAsync()
    {
        var ctx = await browser.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            UserAgent = AlipayInAppTests.AlipayUa, Locale = "zh-CN", ViewportSize = new ViewportSize { Width = 390, Height = 844 }, BypassCSP = true,
        });
        using var http = new HttpClient();
        await ctx.AddInitScriptAsync(await http.GetStringAsync($"{hub.Sandbox.BaseUrl}/sandbox/alipay/bridge.js"));
        return ctx;
    }

    [Fact]
    public async Task A_cross_app_link_opened_inside_Alipay_is_paid_in_place_and_the_merchant_gets_the_webhook()
    {
        var (m, _, _) = await hub.NewMerchantAsync("互通茶庄 Tea House");
        var hook = "/hooks/" + Guid.NewGuid().ToString("N");
        Assert.Equal(HttpStatusCode.Created, (await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url(hook), enabled_events = new[] { "payment.succeeded" } })).Status);
        var id = await m.CreatePaymentAsync(6800);
        var checkout = (await m.GetAsync($"/v1/payments/{id}")).Str("checkout_url");
        var link = await m.PostAsync("/v1/links", new { url = checkout, title = "宜兴紫砂壶 Yixing teapot" });

        await using var phone = await AlipayPhoneAsync();
        var page = await phone.NewPageAsync();
        await page.GotoAsync(link.Str("short_url"));
        await page.Locator("#open").ClickAsync(); // the landing page: open the product page
        await BrowserFixture.ArrivedAsync(page, new Regex("^" + Regex.Escape(checkout))); // through Alipay's silent auth_base and back
        Assert.Equal(0, await page.Locator("img").CountAsync()); // no QR inside Alipay
        await BrowserFixture.ScreenshotAsync(page, Shot("alipay-inapp-cashier.png"));
        await page.Locator("#pay-alipay").ClickAsync();

        // The page calls tradePay at once; the bridge pays and the page shows the hub's answer.
        await page.Locator("#status[data-status='succeeded']").WaitForAsync(new LocatorWaitForOptions { Timeout = 15000 });
        await BrowserFixture.ScreenshotAsync(page, Shot("alipay-inapp-paid.png"));
        var order = Assert.Single(hub.Sandbox.Alipay.Orders.Values, o => o.PassbackParams == id);
        Assert.Equal(("JSAPI_PAY", "TRADE_SUCCESS"), (order.ProductCode, order.TradeStatus));
        Assert.Equal(order.OrderedFor, order.BuyerOpenId);
        Assert.Contains(hub.Sandbox.Alipay.InApp.BridgeCalls, c => c.TradeNo == order.TradeNo && c.ResultCode == "9000");

        var delivery = await hub.EventuallyAsync(() => Task.FromResult(hub.Receiver.Deliveries.FirstOrDefault(d => d.Path == hook)), d => d is not null, what: "the payment.succeeded webhook");
        Assert.Contains(id, delivery!.Body, StringComparison.Ordinal);
        // The buyer's open_id never leaves the hub: not in the webhook, not in the API, not in the page.
        Assert.DoesNotContain(order.BuyerOpenId!, delivery.Body, StringComparison.Ordinal);
        Assert.DoesNotContain(order.BuyerOpenId!, (await m.GetAsync($"/v1/payments/{id}")).Body, StringComparison.Ordinal);
        Assert.DoesNotContain(order.BuyerOpenId!, await page.ContentAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_friend_pay_link_is_paid_inside_Alipay()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(2500);
        var url = (await m.PostAsync($"/v1/payments/{id}/friend_pay_links", new { requester_name = "小红" })).Str("url");
        await using var phone = await AlipayPhoneAsync();
        var page = await phone.NewPageAsync();
        await page.GotoAsync(url);
        await page.Locator("#pay-alipay").ClickAsync();
        await page.Locator("#status[data-status='succeeded']").WaitForAsync(new LocatorWaitForOptions { Timeout = 15000 });
        await BrowserFixture.ScreenshotAsync(page, Shot("alipay-inapp-friend-paid.png"));
        var paid = await m.GetAsync($"/v1/payments/{id}");
        Assert.Equal("friend", paid.Json.GetProperty("payer").GetProperty("via").GetString());
        Assert.Equal("JSAPI_PAY", Assert.Single(hub.Sandbox.Alipay.Orders.Values, o => o.PassbackParams == id).ProductCode);
    }

    [Fact]
    public async Task A_buyer_who_cancels_in_Alipay_sees_it_and_nothing_is_paid()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(1500);
        var checkout = (await m.GetAsync($"/v1/payments/{id}")).Str("checkout_url");
        await using var phone = await AlipayPhoneAsync();
        await phone.AddInitScriptAsync("window.__alipaySandboxResult = 'cancel';");
        var page = await phone.NewPageAsync();
        await page.GotoAsync(checkout);
        await page.Locator("#pay-alipay").ClickAsync();
        await page.Locator("#alipay-pay-status").Filter(new LocatorFilterOptions { HasText = "已取消" }).WaitForAsync(new LocatorWaitForOptions { Timeout = 15000 });
        Assert.Equal("pending", (await m.GetAsync($"/v1/payments/{id}")).Str("status"));
        var order = Assert.Single(hub.Sandbox.Alipay.Orders.Values, o => o.PassbackParams == id);
        Assert.Equal("WAIT_BUYER_PAY", order.TradeStatus);
        Assert.Contains(hub.Sandbox.Alipay.InApp.BridgeCalls, c => c.TradeNo == order.TradeNo && c.ResultCode == "6001");
    }
}
