using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server.Features.Workers;
using Microsoft.Playwright;

namespace Hutong.Integration.Tests;

/// <summary>The checkout page in real Chromium: the QR is decoded from its pixels and paid in the sandbox wallet.</summary>
[Collection("sqlite")]
public sealed class CheckoutBrowserTests(SqliteHub hub, BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task Buyer_scans_the_QR_pays_in_the_sandbox_wallet_and_the_checkout_shows_paid()
    {
        var (m, _, _) = await hub.NewMerchantAsync("互通茶庄 Tea House");
        var id = await m.CreatePaymentAsync(1234);
        var confirm = await m.ConfirmAsync(id);
        var codeUrl = confirm.Json.GetProperty("next_action").GetProperty("code_url").GetString()!;

        await using var shopper = await browser.Browser.NewContextAsync(new BrowserNewContextOptions { Locale = "zh-CN" });
        var page = await shopper.NewPageAsync();
        await page.GotoAsync(confirm.Str("checkout_url"));
        Assert.Equal("¥12.34", await page.Locator("#amount").InnerTextAsync());
        Assert.Contains("互通茶庄 Tea House", await page.Locator(".merchant").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Contains("请扫码支付", await page.Locator("#status").InnerTextAsync(), StringComparison.Ordinal); // Chinese for a zh-CN browser
        await BrowserFixture.ScreenshotAsync(page, Path.Combine(BrowserFixture.ArtifactsDir, "checkout-pending.png"));

        var decoded = await BrowserFixture.DecodeQrAsync(page);
        Assert.Equal(codeUrl, decoded);

        // The buyer's phone: a separate browser context opens the sandbox WeChat app with what it scanned.
        await using var phone = await browser.Browser.NewContextAsync();
        var wallet = await phone.NewPageAsync();
        await wallet.GotoAsync($"{hub.Sandbox.BaseUrl}/sandbox/wechatpay/buyer?code_url={Uri.EscapeDataString(decoded)}");
        Assert.Contains("¥12.34", await wallet.Locator("#order").InnerTextAsync(), StringComparison.Ordinal);
        await wallet.GetByRole(AriaRole.Button, new() { Name = "确认支付 Pay" }).ClickAsync();
        Assert.Contains("支付成功", await wallet.Locator("#result").InnerTextAsync(), StringComparison.Ordinal);

        // The checkout page updates by itself (it polls and reloads on change).
        await page.Locator("#status[data-status='succeeded']").WaitForAsync(new LocatorWaitForOptions { Timeout = 15000 });
        Assert.Contains("支付成功", await page.Locator("#status").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(0, await page.Locator("#qr").CountAsync());
        await BrowserFixture.ScreenshotAsync(page, Path.Combine(BrowserFixture.ArtifactsDir, "checkout-paid.png"));
        Assert.Equal("succeeded", (await m.GetAsync($"/v1/payments/{id}")).Str("status"));
    }

    [Fact]
    public async Task Without_javascript_the_buyer_can_still_choose_the_wallet_and_get_a_QR()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(500);
        var payment = await m.GetAsync($"/v1/payments/{id}");

        await using var ctx = await browser.Browser.NewContextAsync(new BrowserNewContextOptions { JavaScriptEnabled = false });
        var page = await ctx.NewPageAsync();
        await page.GotoAsync(payment.Str("checkout_url"));
        Assert.Contains("Choose how to pay", await page.Locator("#status").InnerTextAsync(), StringComparison.Ordinal);
        await page.Locator("#pay-wechatpay").ClickAsync();
        await page.Locator("#qr").WaitForAsync();
        Assert.Equal("pending", (await m.GetAsync($"/v1/payments/{id}")).Str("status"));
        Assert.Contains("Scan to pay", await page.Locator("#status").InnerTextAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_expired_payment_shows_expired_and_no_QR()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(500);
        var confirm = await m.ConfirmAsync(id);

        await using var ctx = await browser.Browser.NewContextAsync();
        var page = await ctx.NewPageAsync();
        await page.GotoAsync(confirm.Str("checkout_url"));
        await page.Locator("#qr").WaitForAsync();

        await hub.ExecAsync("UPDATE payments SET expires_at = 0 WHERE id = @id", new { id });
        await hub.Service<Jobs>().RunOnceAsync(default);

        await page.Locator("#status[data-status='expired']").WaitForAsync(new LocatorWaitForOptions { Timeout = 15000 });
        Assert.Contains("Expired", await page.Locator("#status").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(0, await page.Locator("#qr").CountAsync());
        Assert.Equal(404, (await page.APIRequest.GetAsync(confirm.Str("checkout_url") + "/qr.png")).Status);
    }

    [Fact]
    public async Task Under_the_pages_CSP_their_own_style_and_script_work_injected_script_does_not_and_nothing_frames_them()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(700);
        var checkout = (await m.GetAsync($"/v1/payments/{id}")).Str("checkout_url");
        await using var ctx = await browser.Browser.NewContextAsync();
        var page = await ctx.NewPageAsync();
        var refused = new List<string>();
        page.Console += (_, msg) =>
        {
            if (msg.Text.Contains("Content Security Policy", StringComparison.Ordinal))
            {
                refused.Add(msg.Text);
            }
        };
        await page.GotoAsync(checkout);
        Assert.Equal("rgb(242, 242, 242)", await page.EvaluateAsync<string>("() => getComputedStyle(document.body).backgroundColor")); // the stylesheet loaded
        await page.Locator("#pay-wechatpay").ClickAsync();
        await page.Locator("#qr").WaitForAsync();
        await hub.BuyerPaysAsync((await m.GetAsync($"/v1/payments/{id}")).Json.GetProperty("next_action").GetProperty("code_url").GetString()!);
        await page.Locator("#status[data-status='succeeded']").WaitForAsync(new LocatorWaitForOptions { Timeout = 15000 }); // the live script ran
        Assert.Empty(refused);

        // What an injection would add is refused.
        Assert.True(await page.EvaluateAsync<bool>("""
            () => { const s = document.createElement('script'); s.textContent = 'window.injected = 1'; document.body.appendChild(s); return window.injected === undefined; }
            """));
        Assert.NotEmpty(refused);

        // Another site framing the cashier (to clickjack its pay buttons) gets nothing.
        var attacker = await ctx.NewPageAsync();
        await attacker.SetContentAsync($"<iframe id=\"f\" src=\"{checkout}\" width=\"400\" height=\"400\"></iframe>");
        await attacker.WaitForTimeoutAsync(500);
        var frame = attacker.Frames.Single(f => f != attacker.MainFrame);
        Assert.Equal(0, await frame.Locator("#amount").CountAsync());
    }

    [Fact]
    public async Task The_API_reference_renders_under_its_CSP()
    {
        await using var ctx = await browser.Browser.NewContextAsync();
        var page = await ctx.NewPageAsync();
        var errors = new List<string>();
        page.Console += (_, msg) => errors.Add(msg.Type + ": " + msg.Text);
        page.PageError += (_, e) => errors.Add("pageerror: " + e);
        await page.GotoAsync(hub.Hub.BaseUrl + "/scalar/v1");
        // The reference shows the document's title once its script has fetched /openapi/v1.json.
        try
        {
            await page.GetByText("Hutong merchant API").First.WaitForAsync(new LocatorWaitForOptions { Timeout = 15000 });
        }
        catch (TimeoutException)
        {
            Assert.Fail(string.Join('\n', errors) + "\n" + (await page.ContentAsync())[..Math.Min(3000, (await page.ContentAsync()).Length)]);
        }

        var refused = errors.Where(e => e.Contains("Content Security Policy", StringComparison.Ordinal)).ToList();
        Assert.True(refused.Count == 0, string.Join('\n', refused));
    }

    [Fact]
    public async Task An_unknown_checkout_token_is_a_404_page() =>
        Assert.Equal(404, (await (await browser.Browser.NewPageAsync()).GotoAsync(hub.Hub.BaseUrl + "/pay/not-a-token"))!.Status);
}
