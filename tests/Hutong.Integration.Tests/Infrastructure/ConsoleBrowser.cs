using System.Text.RegularExpressions;
using Hutong.Server.Features.Console;
using Microsoft.Playwright;

namespace Hutong.Integration.Tests.Infrastructure;

/// <summary>What every console browser test does: make a user, sign in as them, open a page, run axe, post a form.</summary>
public static class ConsoleBrowser
{
    public const string Password = "correct horse battery staple";

    public static async Task<ConsoleUserRow> UserAsync(HubFixture hub, string? merchantId, ConsoleRole role, string? email = null) =>
        (await hub.Service<ConsoleAccounts>().CreateUserAsync(
            email ?? $"{role.ToString().ToLowerInvariant()}-{Guid.NewGuid():N}@example.com", "Test " + role, Password, merchantId, role, default))!;

    /// <summary>A new browser context (its own cookies) signed in as <paramref name="user"/>, on the payments page.</summary>
    public static async Task<IPage> SignInAsync(HubFixture hub, BrowserFixture browser, ConsoleUserRow user, string lang = "en")
    {
        var context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            Locale = lang == "zh" ? "zh-CN" : "en-US",
            ViewportSize = new ViewportSize { Width = 1280, Height = 900 },
        });
        var page = await context.NewPageAsync();
        await page.GotoAsync($"{hub.Hub.BaseUrl}/console/sign-in?lang={lang}", new() { Timeout = 90_000 });
        await page.Locator("#email").FillAsync(user.Email);
        await page.Locator("#password").FillAsync(Password);
        await page.Locator("#sign-in").ClickAsync();
        await BrowserFixture.ArrivedAsync(page, new Regex("/console/payments"));
        return page;
    }

    /// <summary>Opens <paramref name="url"/> and requires a 200, naming the hub's recent problems when not.</summary>
    public static async Task GoAsync(HubFixture hub, IPage page, string url)
    {
        var response = await page.GotoAsync(url, new() { Timeout = 90_000 });
        await BrowserFixture.LoadedAsync(page);
        Assert.True(response?.Status == 200, $"{url} answered {response?.Status}\n{hub.RecentProblems()}");
    }

    /// <summary>axe-core's WCAG 2 A/AA violations on the page, one line each.</summary>
    public static async Task<string[]> AccessibilityViolationsAsync(IPage page)
    {
        await BrowserFixture.AddLibraryAsync(page, Path.Combine(BrowserFixture.RepoRoot, "tests", "e2e", "node_modules", "axe-core", "axe.min.js"));
        return await page.EvaluateAsync<string[]>("""
            async () => (await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] } }))
              .violations.map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))
            """);
    }

    /// <summary>The antiforgery token of the page's first form.</summary>
    public static async Task<string> CsrfAsync(IPage page) => (await page.Locator("input[name=__csrf]").First.GetAttributeAsync("value"))!;

    public static IFormData Form(IAPIRequestContext request, params (string Name, string Value)[] fields)
    {
        var form = request.CreateFormData();
        foreach (var (name, value) in fields)
        {
            form.Set(name, value);
        }

        return form;
    }
}
