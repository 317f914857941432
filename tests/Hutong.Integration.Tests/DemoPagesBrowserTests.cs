using System.Text.RegularExpressions;
using System.Net.Http.Json;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Server;
using Microsoft.Playwright;

namespace Hutong.Integration.Tests;

/// <summary>
/// Every page of the demo journey (shop, product and its share code, cart, cashier, friend-pay, the friend's page, paid,
/// back to the shop, paste a code) in Chinese and English, at a phone's 390 px and a desktop's 1280 px: nothing wider
/// than the screen, Chinese punctuation in Chinese, WCAG 2 AA. Screenshots of each go to artifacts/screenshots/pages.
/// </summary>
public sealed class DemoPagesBrowserTests(BrowserFixture browser) : IClassFixture<BrowserFixture>, IAsyncLifetime
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("hutong-demo-pages-");
    private Hutong.Demo.DemoHandle _hub = null!;

    public async Task InitializeAsync()
    {
        _hub = await DemoHub.StartAsync(_dir.FullName);
    }

    public async Task DisposeAsync()
    {
        await _hub.DisposeAsync();
        _dir.Delete(recursive: true);
    }

    private static async Task<string[]> AccessibilityViolationsAsync(IPage page)
    {
        await BrowserFixture.AddLibraryAsync(page, Path.Combine(BrowserFixture.RepoRoot, "tests", "e2e", "node_modules", "axe-core", "axe.min.js"));
        return await page.EvaluateAsync<string[]>("""
            async () => (await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] } }))
              .violations.map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))
            """);
    }

    [Theory]
    [InlineData("zh", 390)]
    [InlineData("en", 390)]
    [InlineData("zh", 1280)]
    [InlineData("en", 1280)]
    public async Task Every_page_fits_the_screen_and_reads_right(string lang, int width)
    {
        await using var buyer = await browser.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            Locale = lang == "zh" ? "zh-CN" : "en-US",
            ViewportSize = new ViewportSize { Width = width, Height = width < 600 ? 844 : 800 },
            Permissions = ["clipboard-read", "clipboard-write"],
        });
        var page = await buyer.NewPageAsync();
        var watches = new Dictionary<IPage, PageWatch> { [page] = new PageWatch(page) };
        var problems = new List<string>();
        var shotDir = Path.Combine(BrowserFixture.ArtifactsDir, "pages");
        Directory.CreateDirectory(shotDir);

        async Task CheckAsync(string name)
        {
            await watches[page].LoadedAsync();
            await BrowserFixture.ScreenshotAsync(page, Path.Combine(shotDir, $"{name}-{lang}-{width}.png"));
            var overflow = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - window.innerWidth");
            if (overflow > 0)
            {
                var wide = await page.EvaluateAsync<string>("""
                    () => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth)
                      .map(e => e.tagName + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : '')).join(' ')
                    """);
                problems.Add($"{name}: {overflow}px wider than the screen ({wide})");
            }

            if (lang == "zh")
            {
                foreach (var p in await page.EvaluateAsync<string[]>(BuyerPagesBrowserTests.HalfWidthPunctuationScript))
                {
                    problems.Add($"{name}: half-width punctuation in Chinese: '{p}'");
                }
            }

            if (width < 600)
            {
                problems.AddRange((await AccessibilityViolationsAsync(page)).Select(v => $"{name}: {v}"));
            }
        }

        await page.GotoAsync($"{_hub.BaseUrl}/shop?lang={lang}");
        await CheckAsync("shop");

        await page.Locator("#product-tea").ClickAsync();
        await CheckAsync("product");
        Assert.Equal(lang == "zh" ? "西湖龙井 250 g" : "Longjing tea, 250 g", await page.Locator("#product-name").InnerTextAsync());

        await page.Locator("#share").ClickAsync();
        await page.Locator("#share-text").WaitForAsync();
        await CheckAsync("product-share");
        // The share code (￥…￥) stays on one line: neither the code nor a lone ￥ is carried to the next one.
        Assert.Equal(1, await page.EvaluateAsync<int>("() => document.getElementById('share-code').getClientRects().length"));
        await page.Locator("#copy-share-text").ClickAsync();
        await page.Locator("#copy-share-text-status").Filter(new() { HasText = lang == "zh" ? "已复制" : "Copied" }).WaitForAsync();
        var shareText = (await page.Locator("#share-text").TextContentAsync())!.Trim();
        Assert.Matches("￥[A-Za-z0-9]{11}￥", shareText);
        Assert.Equal(shareText, await page.EvaluateAsync<string>("() => navigator.clipboard.readText()"));

        await page.Locator("#add-tea").ClickAsync();
        await BrowserFixture.ArrivedAsync(page, new Regex("/shop/cart$"));
        await CheckAsync("cart");

        await page.Locator("#checkout").ClickAsync();
        await page.Locator("#pay-wechatpay").WaitForAsync();
        var cashier = page.Url.Split('?')[0];
        await CheckAsync("cashier");
        if (lang == "en")
        {
            Assert.Contains("Longjing tea", await page.Locator(".desc").InnerTextAsync(), StringComparison.Ordinal); // the demo names it in English
        }

        await page.Locator("#ask-friend").ClickAsync();
        await page.Locator("#requester_name").FillAsync(lang == "zh" ? "小明" : "Ming");
        await page.Locator("#create-friend-link").ClickAsync();
        await page.Locator("[id^=friend-link-]").First.WaitForAsync();
        await CheckAsync("friend-share");
        var friendUrl = (await page.Locator("[id^=friend-link-]").First.InnerTextAsync()).Trim();

        await using var friendContext = await browser.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            Locale = lang == "zh" ? "zh-CN" : "en-US",
            ViewportSize = new ViewportSize { Width = width, Height = width < 600 ? 844 : 800 },
        });
        var friend = await friendContext.NewPageAsync();
        watches[friend] = new PageWatch(friend);
        await friend.GotoAsync(friendUrl);
        var mainPage = page;
        page = friend;
        await CheckAsync("friend-page");
        page = mainPage;

        await page.GotoAsync(cashier);
        await page.Locator("#pay-wechatpay").ClickAsync();
        await page.Locator("#qr").WaitForAsync();
        await CheckAsync("cashier-pending");

        var codeUrl = await BrowserFixture.DecodeQrAsync(page);
        using (var sandbox = new HttpClient { BaseAddress = new Uri(_hub.Sandbox.BaseUrl) })
        {
            (await sandbox.PostAsJsonAsync("/sandbox/wechatpay/buyer/pay", new { code_url = codeUrl }, SandboxJson.Options)).EnsureSuccessStatusCode();
        }

        await page.Locator("#status[data-status='succeeded']").WaitForAsync(new LocatorWaitForOptions { Timeout = 15000 });
        await CheckAsync("cashier-paid");
        Assert.StartsWith("demo-", await page.Locator("#order-id").InnerTextAsync(), StringComparison.Ordinal);

        await page.Locator("#return-link").ClickAsync();
        await BrowserFixture.ArrivedAsync(page, new Regex(@"/shop\?order="));
        Assert.Contains(lang == "zh" ? "已支付" : "is paid", await page.Locator("#order-status").InnerTextAsync(), StringComparison.Ordinal);
        await CheckAsync("shop-back");

        await page.GotoAsync($"{_hub.BaseUrl}/s");
        await CheckAsync("paste");

        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }
}
