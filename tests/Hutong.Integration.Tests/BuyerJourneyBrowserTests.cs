using Hutong.Integration.Tests.Infrastructure;
using Microsoft.Playwright;

namespace Hutong.Integration.Tests;

/// <summary>Friend-pay and share codes in real Chromium, with separate browser contexts for separate people.</summary>
[Collection("sqlite")]
public sealed class BuyerJourneyBrowserTests(SqliteHub hub, BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    private static string Shot(string name) => Path.Combine(BrowserFixture.ArtifactsDir, name);

    /// <summary>axe-core's WCAG 2 A/AA rules (labels, contrast, language, names): the ids of what fails.</summary>
    private static async Task<string[]> AccessibilityViolationsAsync(IPage page)
    {
        await BrowserFixture.AddLibraryAsync(page, Path.Combine(BrowserFixture.RepoRoot, "tests", "e2e", "node_modules", "axe-core", "axe.min.js"));
        return await page.EvaluateAsync<string[]>("""
            async () => (await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] } }))
              .violations.map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))
            """);
    }

    private async Task PayInSandboxAsync(string codeUrl)
    {
        await using var phone = await browser.Browser.NewContextAsync();
        var wallet = await phone.NewPageAsync();
        await wallet.GotoAsync($"{hub.Sandbox.BaseUrl}/sandbox/wechatpay/buyer?code_url={Uri.EscapeDataString(codeUrl)}");
        await wallet.GetByRole(AriaRole.Button, new() { Name = "确认支付 Pay" }).ClickAsync();
        Assert.Contains("支付成功", await wallet.Locator("#result").InnerTextAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_friend_pays_from_a_second_browser_and_both_pages_show_it()
    {
        var (m, _, _) = await hub.NewMerchantAsync("互通茶庄 Tea House");
        var id = await m.CreatePaymentAsync(6800);
        var payment = await m.GetAsync($"/v1/payments/{id}");
        await using var buyer = await browser.Browser.NewContextAsync(new BrowserNewContextOptions { Locale = "zh-CN" });
        var cashier = await buyer.NewPageAsync();
        await cashier.GotoAsync(payment.Str("checkout_url"));
        Assert.Equal(1, await cashier.Locator("#pay-wechatpay").CountAsync());
        Assert.Empty(await AccessibilityViolationsAsync(cashier));
        await BrowserFixture.ScreenshotAsync(cashier, Shot("cashier.png"));

        await cashier.Locator("#ask-friend").ClickAsync();
        await cashier.Locator("#requester_name").FillAsync("小明");
        await cashier.Locator("#note").FillAsync("帮我付一下茶钱");
        await cashier.Locator("#create-friend-link").ClickAsync();
        var friendUrl = (await cashier.Locator("[id^=friend-link-]").First.InnerTextAsync()).Trim();
        Assert.Empty(await AccessibilityViolationsAsync(cashier));
        await BrowserFixture.ScreenshotAsync(cashier, Shot("friend-share.png"));

        await using var friendContext = await browser.Browser.NewContextAsync(new BrowserNewContextOptions { Locale = "en-US" });
        var friend = await friendContext.NewPageAsync();
        await friend.GotoAsync(friendUrl);
        Assert.Contains("小明", await friend.Locator("#asker").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal("¥68.00", await friend.Locator("#amount").InnerTextAsync());
        Assert.Empty(await AccessibilityViolationsAsync(friend));
        await friend.Locator("#pay-wechatpay").ClickAsync();
        await friend.Locator("#qr").WaitForAsync();
        Assert.Empty(await AccessibilityViolationsAsync(friend)); // with the QR and the pay-another-way buttons
        await BrowserFixture.ScreenshotAsync(friend, Shot("friend-pay.png"));
        await PayInSandboxAsync(await BrowserFixture.DecodeQrAsync(friend));

        await friend.Locator("#status[data-status='succeeded']").WaitForAsync(new LocatorWaitForOptions { Timeout = 15000 });
        Assert.Contains("Paid — thank you", await friend.Locator("#status").InnerTextAsync(), StringComparison.Ordinal);
        await cashier.GotoAsync(payment.Str("checkout_url"));
        Assert.Contains("好友已为你付款", await cashier.Locator("#status").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal("friend", (await m.GetAsync($"/v1/payments/{id}")).Json.GetProperty("payer").GetProperty("via").GetString());
    }

    [Fact]
    public async Task Two_friends_race_and_only_one_is_charged()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(2500);
        var url = (await m.PostAsync($"/v1/payments/{id}/friend_pay_links", new { requester_name = "小红" })).Str("url");
        await using var a = await browser.Browser.NewContextAsync();
        await using var b = await browser.Browser.NewContextAsync();
        var pa = await a.NewPageAsync();
        var pb = await b.NewPageAsync();
        await Task.WhenAll(pa.GotoAsync(url), pb.GotoAsync(url));

        // Clicked from the page without waiting for the click's navigation: the loser's page may be reloaded by its live
        // status at the same moment, and the locators below wait for whichever view each page ends on.
        const string click = "() => document.getElementById('pay-wechatpay').click()";
        await Task.WhenAll(pa.EvaluateAsync(click), pb.EvaluateAsync(click));
        var withQr = new List<IPage>();
        foreach (var p in new[] { pa, pb })
        {
            // The QR, or "another friend has just started paying": as an error after the refused click, or — when the page's
            // live status reloaded it on the other friend's claim before the click's answer arrived — as the claimed view.
            await p.Locator("#qr, #error, #status[data-view$='|claimed']").First.WaitForAsync();
            if (await p.Locator("#qr").CountAsync() == 1)
            {
                withQr.Add(p);
            }
        }

        var winner = Assert.Single(withQr);
        var loser = winner == pa ? pb : pa;
        Assert.Contains("Someone else is paying", await loser.Locator("#status").InnerTextAsync(), StringComparison.Ordinal);
        await PayInSandboxAsync(await BrowserFixture.DecodeQrAsync(winner));
        await loser.Locator("#status[data-status='succeeded']").WaitForAsync(new LocatorWaitForOptions { Timeout = 15000 });
        Assert.Contains("Someone has already paid", await loser.Locator("#status").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(0, await loser.Locator("#pay-wechatpay").CountAsync());
        Assert.Single(hub.Sandbox.WeChat.Orders.Values, o => o.Attach == id && o.TradeState == "SUCCESS");
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM payment_attempts WHERE payment_id = @id", new { id }));
    }

    [Fact]
    public async Task An_expired_friend_link_shows_a_clear_page()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(2500);
        var url = (await m.PostAsync($"/v1/payments/{id}/friend_pay_links", new { requester_name = "小红" })).Str("url");
        await hub.ExecAsync("UPDATE payments SET expires_at = 1 WHERE id = @id", new { id });
        await using var ctx = await browser.Browser.NewContextAsync();
        var page = await ctx.NewPageAsync();
        Assert.Equal(410, (await page.GotoAsync(url))!.Status);
        Assert.Contains("This pay-for-me link has expired", await page.Locator("h1").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(0, await page.Locator("button").CountAsync());
    }

    [Fact]
    public async Task A_share_code_pasted_with_surrounding_text_opens_the_product()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var product = hub.Hub.BaseUrl + "/healthz?product=42";
        var share = await m.PostAsync("/v1/share_codes", new { url = product, title = "宜兴紫砂壶 Yixing teapot" });
        await using var ctx = await browser.Browser.NewContextAsync();
        var page = await ctx.NewPageAsync();
        await page.GotoAsync(hub.Hub.BaseUrl + "/s");
        Assert.Empty(await AccessibilityViolationsAsync(page));
        await page.Locator("#text").FillAsync("【刚看到的】8.0 复zんí这段话 " + share.Str("text").Replace('￥', '¥') + " 咑閞👉手机App👈");
        await page.Locator("#resolve").ClickAsync();
        await BrowserFixture.ArrivedAsync(page, product);
        Assert.Contains("healthy", await page.ContentAsync(), StringComparison.Ordinal); // the product stand-in: /healthz answered
    }
}
