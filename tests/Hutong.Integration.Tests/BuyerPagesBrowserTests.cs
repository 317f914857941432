using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server.Features.Workers;
using Microsoft.Playwright;

namespace Hutong.Integration.Tests;

/// <summary>What a buyer sees on the hub's pages and the sandbox wallet apps, in real Chromium at phone and desktop widths.</summary>
[Collection("sqlite")]
public sealed class BuyerPagesBrowserTests(SqliteHub hub, BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    /// <summary>Half-width ( ) : next to a Chinese character (Chinese text takes full-width （）：); the offending snippets.</summary>
    public const string HalfWidthPunctuationScript = """
        () => [...document.body.innerText.matchAll(/[\u3400-\u9fff] ?[():]|[():] ?[\u3400-\u9fff]/g)].map(m => m[0])
        """;

    private const string OverflowScript = "() => document.documentElement.scrollWidth - window.innerWidth";

    private async Task<IBrowserContext> PhoneAsync(string locale = "zh-CN", bool clipboard = false) =>
        await browser.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            Locale = locale,
            ViewportSize = new ViewportSize { Width = 390, Height = 844 },
            Permissions = clipboard ? ["clipboard-read", "clipboard-write"] : null,
        });

    private static async Task<ApiResponse> CreateAsync(ApiClient m, string orderId, string? returnUrl, string description = "西湖龙井 250 g")
    {
        var body = new Dictionary<string, object>
        {
            ["amount"] = 16800,
            ["currency"] = "CNY",
            ["description"] = description,
            ["merchant_order_id"] = orderId,
        };
        if (returnUrl is not null)
        {
            body["return_url"] = returnUrl;
        }

        var r = await m.PostAsync("/v1/payments", body);
        Assert.True(r.Status == System.Net.HttpStatusCode.Created, r.ToString());
        return r;
    }

    [Fact]
    public async Task The_paid_cashier_shows_the_order_number_and_links_back_to_the_merchant()
    {
        var (m, _, _) = await hub.NewMerchantAsync("互通茶庄 Tea House");
        var back = hub.Hub.BaseUrl + "/healthz?order=A-2001";
        var created = await CreateAsync(m, "A-2001", back);
        var confirm = await m.ConfirmAsync(created.Str("id"));
        await using var ctx = await PhoneAsync();
        var page = await ctx.NewPageAsync();
        await page.GotoAsync(created.Str("checkout_url"));
        Assert.Equal(0, await page.Locator("#return-link").CountAsync()); // not while the buyer still has to pay

        await hub.BuyerPaysAsync(confirm.Json.GetProperty("next_action").GetProperty("code_url").GetString()!);
        await page.Locator("#status[data-status='succeeded']").WaitForAsync(new LocatorWaitForOptions { Timeout = 15000 });
        Assert.Equal("A-2001", await page.Locator("#order-id").InnerTextAsync());
        Assert.Contains("订单号：", await page.Locator(".order").InnerTextAsync(), StringComparison.Ordinal);
        var link = page.Locator("#return-link");
        Assert.Equal("返回商家", await link.InnerTextAsync());
        Assert.Equal(back, await link.GetAttributeAsync("href"));
        Assert.True(await page.EvaluateAsync<int>(OverflowScript) <= 0);
        await link.ClickAsync();
        await BrowserFixture.ArrivedAsync(page, back);
    }

    [Fact]
    public async Task An_expired_cashier_also_links_back_and_a_payment_without_return_url_shows_the_order_number_only()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var withUrl = await CreateAsync(m, "A-2002", "https://shop.example/orders/A-2002");
        var without = await CreateAsync(m, "A-2003", null);
        await hub.ExecAsync("UPDATE payments SET expires_at = 0 WHERE id IN (@a, @b)", new { a = withUrl.Str("id"), b = without.Str("id") });
        await hub.Service<Jobs>().RunOnceAsync(default);

        await using var ctx = await browser.Browser.NewContextAsync(new BrowserNewContextOptions { Locale = "en-US" });
        var page = await ctx.NewPageAsync();
        await page.GotoAsync(withUrl.Str("checkout_url"));
        Assert.Equal("expired", await page.Locator("#status").GetAttributeAsync("data-status"));
        Assert.Equal("A-2002", await page.Locator("#order-id").InnerTextAsync());
        Assert.Equal("Back to the shop", await page.Locator("#return-link").InnerTextAsync());
        Assert.Equal("https://shop.example/orders/A-2002", await page.Locator("#return-link").GetAttributeAsync("href"));

        await page.GotoAsync(without.Str("checkout_url"));
        Assert.Equal("A-2003", await page.Locator("#order-id").InnerTextAsync());
        Assert.Equal(0, await page.Locator("#return-link").CountAsync());
    }

    [Fact]
    public async Task The_sandbox_wallet_apps_turn_their_pay_button_off_once_paid()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        await using var phone = await PhoneAsync();
        var wallet = await phone.NewPageAsync();
        foreach (var (name, buyerPage, param) in new[] { ("wechatpay", "wechatpay/buyer", "code_url"), ("alipay", "alipay/buyer", "qr_code"), ("unionpay", "unionpay/buyer", "qr_code") })
        {
            var id = await m.CreatePaymentAsync(300);
            var code = (await m.ConfirmAsync(id, wallet: name)).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
            await wallet.GotoAsync($"{hub.Sandbox.BaseUrl}/sandbox/{buyerPage}?{param}={Uri.EscapeDataString(code)}");
            var pay = wallet.Locator("form button[type=submit]");
            Assert.True(await pay.IsEnabledAsync(), name);
            await pay.ClickAsync();
            Assert.Contains("支付成功", await wallet.Locator("#result").InnerTextAsync(), StringComparison.Ordinal);
            Assert.True(await pay.IsDisabledAsync(), name + ": the Pay button is still active after paying");

            // Opening the paid code again (a second scan) offers nothing to pay either.
            await wallet.GotoAsync($"{hub.Sandbox.BaseUrl}/sandbox/{buyerPage}?{param}={Uri.EscapeDataString(code)}");
            Assert.True(await pay.IsDisabledAsync(), name);
            Assert.True(await wallet.EvaluateAsync<int>(OverflowScript) <= 0, name + " overflows at 390 px");
        }
    }

    [Fact]
    public async Task The_friend_link_page_puts_the_new_link_first_centres_its_QR_and_copies_it()
    {
        var (m, _, _) = await hub.NewMerchantAsync("互通茶庄 Tea House");
        var created = await CreateAsync(m, "A-2004", null);
        await using var ctx = await PhoneAsync(clipboard: true);
        var page = await ctx.NewPageAsync();
        await page.GotoAsync(created.Str("checkout_url") + "/friend");
        await page.Locator("#requester_name").FillAsync("小明");
        await page.Locator("#create-friend-link").ClickAsync();
        var link = page.Locator("[id^=friend-link-]").First;
        var url = (await link.InnerTextAsync()).Trim();
        Assert.Contains("/f/", url, StringComparison.Ordinal);

        Assert.Contains("发给好友（小明）：", await page.Locator("ul.links").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Empty(await page.EvaluateAsync<string[]>(HalfWidthPunctuationScript));
        var linkBox = (await link.BoundingBoxAsync())!;
        Assert.True(linkBox.Y < (await page.Locator("#requester_name").BoundingBoxAsync())!.Y, "the new link comes before the form to make another");

        var qr = (await page.Locator("ul.links img").First.BoundingBoxAsync())!;
        var main = (await page.Locator("main").BoundingBoxAsync())!;
        Assert.InRange(qr.X + (qr.Width / 2) - (main.X + (main.Width / 2)), -1, 1);
        Assert.True(await page.EvaluateAsync<int>(OverflowScript) <= 0, "the page is wider than the phone");

        var copy = page.Locator("button[data-copy]").First;
        await copy.ClickAsync();
        await page.Locator("[id$='-status']:has-text('已复制')").WaitForAsync();
        Assert.Equal(url, await page.EvaluateAsync<string>("() => navigator.clipboard.readText()"));

        // Without script the link is plain selectable text and no dead Copy button is shown.
        await using var noJs = await browser.Browser.NewContextAsync(new BrowserNewContextOptions { JavaScriptEnabled = false, Locale = "zh-CN" });
        var plain = await noJs.NewPageAsync();
        await plain.GotoAsync(created.Str("checkout_url") + "/friend");
        Assert.Equal(url, (await plain.Locator("[id^=friend-link-]").First.InnerTextAsync()).Trim());
        Assert.False(await plain.Locator("button[data-copy]").First.IsVisibleAsync());
    }

    [Fact]
    public async Task Chinese_text_uses_full_width_punctuation_and_English_marks_a_Chinese_item_name()
    {
        var (m, _, _) = await hub.NewMerchantAsync("互通茶庄 Tea House");
        var created = await CreateAsync(m, "A-2005", null);
        await using var zh = await PhoneAsync();
        var page = await zh.NewPageAsync();
        await page.GotoAsync(created.Str("checkout_url"));
        Assert.Contains("剩余时间：", await page.Locator("main").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Empty(await page.EvaluateAsync<string[]>(HalfWidthPunctuationScript));
        Assert.Equal(0, await page.Locator(".desc [lang]").CountAsync()); // Chinese on a Chinese page needs no marking

        await using var en = await PhoneAsync("en-US");
        page = await en.NewPageAsync();
        await page.GotoAsync(created.Str("checkout_url"));
        Assert.Equal("西湖龙井 250 g", await page.Locator(".desc [lang='zh-CN']").InnerTextAsync());
        Assert.Contains("in Chinese", await page.Locator(".desc").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Contains("Time left: ", await page.Locator("main").InnerTextAsync(), StringComparison.Ordinal);

        // What the asking friend typed is marked Chinese too.
        var url = (await m.PostAsync($"/v1/payments/{created.Str("id")}/friend_pay_links", new { requester_name = "小明", note = "帮我付一下茶钱" })).Str("url");
        await page.GotoAsync(url);
        Assert.Equal("小明", await page.Locator("#asker [lang='zh-CN']").InnerTextAsync());
        Assert.Equal("帮我付一下茶钱", await page.Locator(".note [lang='zh-CN']").InnerTextAsync());
        Assert.Equal("西湖龙井 250 g", await page.Locator("#item [lang='zh-CN']").InnerTextAsync());
    }
}
