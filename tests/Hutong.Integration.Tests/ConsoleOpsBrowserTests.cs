using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server.Features.Console;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Features.Rollout;
using Microsoft.Playwright;

namespace Hutong.Integration.Tests;

/// <summary>
/// The console's money, developer and operations pages in Chromium, on both stores: each page renders for the roles
/// allowed (zh and en) and passes axe-core's WCAG 2 A/AA rules; API keys are shown once and revoked after a
/// confirmation; a role without the permission is refused on the server (a forged POST is 403, nothing changed);
/// another merchant's key is 404; the rollout check answers as the cashier decides; the charts show the stored rows.
/// </summary>
public abstract class ConsoleOpsBrowserTests(HubFixture hub, BrowserFixture browser)
{
    private const string Password = ConsoleBrowser.Password;

    private string Url => hub.Hub.BaseUrl;

    private async Task<(ApiClient M, string MerchantId, string PaymentId)> PaidAsync(long amount = 8_800, string? merchantOf = null, ApiClient? client = null)
    {
        var (m, merchantId) = client is not null ? (client, merchantOf!) : await NewAsync();
        var id = await m.CreatePaymentAsync(amount);
        var code = (await m.ConfirmAsync(id)).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        await hub.BuyerPaysAsync(code);
        await m.WaitForStatusAsync(id, "succeeded");
        return (m, merchantId, id);
    }

    private async Task<(ApiClient, string)> NewAsync()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        return (m, merchantId);
    }

    private Task<ConsoleUserRow> UserAsync(string? merchantId, ConsoleRole role) => ConsoleBrowser.UserAsync(hub, merchantId, role);

    private Task<IPage> SignInAsync(ConsoleUserRow user, string lang = "en") => ConsoleBrowser.SignInAsync(hub, browser, user, lang);

    private Task GoAsync(IPage page, string url) => ConsoleBrowser.GoAsync(hub, page, url);

    private static Task<string[]> AccessibilityViolationsAsync(IPage page) => ConsoleBrowser.AccessibilityViolationsAsync(page);

    private static Task<string> CsrfAsync(IPage page) => ConsoleBrowser.CsrfAsync(page);

    private static IFormData Form(IAPIRequestContext request, params (string Name, string Value)[] fields) => ConsoleBrowser.Form(request, fields);

    private Task<long> ActiveKeysAsync(string merchantId) =>
        hub.CountAsync("SELECT COUNT(*) FROM api_keys WHERE merchant_id = @merchantId AND revoked_at IS NULL", new { merchantId });

    [Fact]
    public async Task A_developer_creates_a_key_shown_once_and_revokes_it_after_confirming_while_support_and_finance_are_refused()
    {
        var (_, merchantId) = await NewAsync();
        var (_, otherMerchant) = await NewAsync();
        var dev = await SignInAsync(await UserAsync(merchantId, ConsoleRole.Developer));
        Assert.Equal(1, await ActiveKeysAsync(merchantId));

        await GoAsync(dev, $"{Url}/console/developers/keys");
        await dev.Locator("#create-key").ClickAsync();
        await dev.Locator("#new-key").WaitForAsync();
        var secret = (await dev.Locator("#new-key").InnerTextAsync()).Trim();
        Assert.StartsWith(MerchantStore.KeyPrefix, secret, StringComparison.Ordinal);
        Assert.Equal(2, await ActiveKeysAsync(merchantId));
        Assert.Equal(merchantId, await hub.Service<MerchantStore>().AuthenticateAsync(secret, default)); // a working key
        // Only its hash is stored, nowhere the secret: not in the keys, the idempotent answer, nor the audit log.
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM api_keys WHERE key_hash = @secret", new { secret }));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM idempotency_keys WHERE response_body LIKE @p", new { p = "%" + secret + "%" }));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM console_audit WHERE detail LIKE @p OR target LIKE @p", new { p = "%" + secret + "%" }));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM console_audit WHERE merchant_id = @merchantId AND action = 'api_key.created'", new { merchantId }));

        // Shown once: the same page opened again shows no secret; the same form sent again (back, resubmit) makes no second key.
        await GoAsync(dev, $"{Url}/console/developers/keys");
        Assert.Equal(0, await dev.Locator("#new-key").CountAsync());
        Assert.DoesNotContain(secret, await dev.ContentAsync(), StringComparison.Ordinal);
        var formKey = "console-" + Guid.NewGuid().ToString("N");
        var token = await CsrfAsync(dev);
        for (var i = 0; i < 2; i++)
        {
            var again = await dev.Context.APIRequest.PostAsync($"{Url}/console/developers/keys?handler=create", new()
            {
                Form = Form(dev.Context.APIRequest, ("__csrf", token), ("key", formKey)),
                MaxRedirects = 0,
            });
            Assert.True(again.Status is 200 or 302, again.Status.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        Assert.Equal(3, await ActiveKeysAsync(merchantId)); // one more for the two sends of one form

        // Revoke: a confirmation first, nothing changes before it.
        var keyId = (await hub.Service<MerchantStore>().AuthenticateKeyAsync(secret, default))!.KeyId;
        await GoAsync(dev, $"{Url}/console/developers/keys");
        await dev.Locator($"[id='revoke-{keyId}']").ClickAsync();
        await dev.Locator("#confirm-revoke").WaitForAsync();
        Assert.Equal(merchantId, await hub.Service<MerchantStore>().AuthenticateAsync(secret, default));
        await dev.Locator("#confirm-revoke").ClickAsync();
        await dev.Locator("#done").WaitForAsync();
        Assert.Null(await hub.Service<MerchantStore>().AuthenticateAsync(secret, default));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM console_audit WHERE merchant_id = @merchantId AND action = 'api_key.revoked' AND target = @keyId", new { merchantId, keyId }));

        // Another merchant's key is not found, to look at or to revoke.
        var otherKey = await hub.CountAsync("SELECT COUNT(*) FROM api_keys WHERE merchant_id = @otherMerchant", new { otherMerchant });
        Assert.Equal(1, otherKey);
        var otherKeyId = (await hub.Service<ConsoleOpsQueries>().KeysAsync(otherMerchant, default))[0].Id;
        Assert.Equal(404, (await dev.Context.APIRequest.GetAsync($"{Url}/console/developers/keys/{otherKeyId}/revoke")).Status);
        var forgedRevoke = await dev.Context.APIRequest.PostAsync($"{Url}/console/developers/keys/{otherKeyId}/revoke", new()
        {
            Form = Form(dev.Context.APIRequest, ("__csrf", token), ("key", "console-" + Guid.NewGuid().ToString("N"))),
            MaxRedirects = 0,
        });
        Assert.Equal(404, forgedRevoke.Status);
        Assert.Equal(1, await ActiveKeysAsync(otherMerchant));

        // Support and finance: no keys page in the navigation, the page 403, and a forged create POST 403 with nothing made.
        foreach (var role in new[] { ConsoleRole.Support, ConsoleRole.Finance })
        {
            var page = await SignInAsync(await UserAsync(merchantId, role));
            Assert.Equal(0, await page.Locator("#nav-keys").CountAsync());
            Assert.Equal(403, (await page.Context.APIRequest.GetAsync($"{Url}/console/developers/keys", new() { MaxRedirects = 0 })).Status);
            var before = await ActiveKeysAsync(merchantId);
            var forged = await page.Context.APIRequest.PostAsync($"{Url}/console/developers/keys?handler=create", new()
            {
                Form = Form(page.Context.APIRequest, ("__csrf", await CsrfAsync(page)), ("key", "console-" + Guid.NewGuid().ToString("N"))),
                MaxRedirects = 0,
            });
            Assert.Equal(403, forged.Status);
            Assert.Equal(before, await ActiveKeysAsync(merchantId));
        }

        // Without the antiforgery token even a developer's POST is refused.
        var noCsrf = await dev.Context.APIRequest.PostAsync($"{Url}/console/developers/keys?handler=create", new()
        {
            Form = Form(dev.Context.APIRequest, ("key", "console-" + Guid.NewGuid().ToString("N"))),
            MaxRedirects = 0,
        });
        Assert.Equal(400, noCsrf.Status);
        Assert.Equal(2, await ActiveKeysAsync(merchantId));
    }

    [Fact]
    public async Task The_rollout_check_answers_as_the_cashier_decides_and_only_an_owner_sets_the_percentage()
    {
        var (_, merchantId) = await NewAsync();
        var owner = await SignInAsync(await UserAsync(merchantId, ConsoleRole.Owner));
        await GoAsync(owner, $"{Url}/console/operations/rollout?wallet=wechatpay&user=buyer-42");
        Assert.Equal("no_rule", await owner.Locator("#decision").GetAttributeAsync("data-reason"));
        Assert.Equal("true", await owner.Locator("#decision").GetAttributeAsync("data-offered"));

        await owner.Locator("#pct-wechatpay").FillAsync("30");
        await owner.Locator("#save-wechatpay").ClickAsync();
        await owner.Locator("#done").WaitForAsync();
        var rules = await hub.Service<RolloutService>().RulesAsync(merchantId, default);
        Assert.Equal(30, rules["wechatpay"].Percentage);
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM console_audit WHERE merchant_id = @merchantId AND action = 'rollout.saved'", new { merchantId }));

        // Every buyer's answer is the cashier's decision for that buyer, with the bucket and the reason.
        foreach (var buyer in new[] { "buyer-1", "buyer-2", "buyer-3", "buyer-4", "buyer-5" })
        {
            var expected = await hub.Service<RolloutService>().DecideAsync(merchantId, "wechatpay", buyer, null, default);
            await GoAsync(owner, $"{Url}/console/operations/rollout?wallet=wechatpay&user={buyer}");
            var decision = owner.Locator("#decision");
            Assert.Equal(expected.Offered ? "true" : "false", await decision.GetAttributeAsync("data-offered"));
            Assert.Equal(expected.Offered ? "inside_percentage" : "outside_percentage", await decision.GetAttributeAsync("data-reason"));
            Assert.Equal(expected.Bucket?.ToString(System.Globalization.CultureInfo.InvariantCulture), await decision.GetAttributeAsync("data-bucket"));
            Assert.Contains($"bucket {expected.Bucket} of 100", await owner.Locator("#why").InnerTextAsync(), StringComparison.Ordinal);
        }

        // A bad percentage is a problem and changes nothing.
        await owner.Locator("#pct-wechatpay").EvaluateAsync("e => { e.removeAttribute('max'); e.value = '150'; }");
        await owner.Locator("#save-wechatpay").ClickAsync();
        await owner.Locator("#problem").WaitForAsync();
        Assert.Equal(30, (await hub.Service<RolloutService>().RulesAsync(merchantId, default))["wechatpay"].Percentage);

        // A developer sees the rules and the check, but a forged POST is 403 and the rule stays.
        var dev = await SignInAsync(await UserAsync(merchantId, ConsoleRole.Developer), "zh");
        await GoAsync(dev, $"{Url}/console/operations/rollout?wallet=wechatpay&user=buyer-1");
        Assert.Equal(0, await dev.Locator("#save-wechatpay").CountAsync());
        var forged = await dev.Context.APIRequest.PostAsync($"{Url}/console/operations/rollout", new()
        {
            Form = Form(dev.Context.APIRequest, ("__csrf", await CsrfAsync(dev)), ("wallet", "wechatpay"), ("percentage", "100")),
            MaxRedirects = 0,
        });
        Assert.Equal(403, forged.Status);
        Assert.Equal(30, (await hub.Service<RolloutService>().RulesAsync(merchantId, default))["wechatpay"].Percentage);
    }

    [Fact]
    public async Task The_charts_show_the_stored_payments_and_refunds()
    {
        var (m, merchantId, paid1) = await PaidAsync(1_000);
        await PaidAsync(2_500, merchantId, m);
        await m.CreatePaymentAsync(700); // made, no wallet chosen
        Assert.Equal(System.Net.HttpStatusCode.Created, (await m.PostAsync($"/v1/payments/{paid1}/refunds", new { amount = 400 })).Status);
        var finance = await SignInAsync(await UserAsync(merchantId, ConsoleRole.Finance));
        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE payment_id = @paid1 AND status = 'succeeded'", new { paid1 }), n => n == 1, what: "refund succeeded");

        await GoAsync(finance, $"{Url}/console/charts");
        var row = finance.Locator("#volume-table tr[data-wallet=wechatpay]");
        Assert.Equal(1, await row.CountAsync());
        var storedVolume = await hub.CountAsync("SELECT SUM(amount) FROM payments WHERE merchant_id = @merchantId AND status = 'succeeded' AND wallet = 'wechatpay'", new { merchantId });
        Assert.Equal(3_500, storedVolume);
        Assert.Equal("3500", await row.GetAttributeAsync("data-volume"));
        Assert.Equal("2", await row.GetAttributeAsync("data-paid"));
        var day = await row.GetAttributeAsync("data-day");
        Assert.Equal("3500", await finance.Locator($"#volume-chart rect[data-label='{day}'][data-value]").First.GetAttributeAsync("data-value"));
        Assert.Equal("100%", (await finance.Locator("#rate-chart").GetAttributeAsync("aria-label"))!.Split(' ')[^1]);

        var funnel = await finance.Locator("#funnel-table tbody tr").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.value)");
        Assert.Equal(new[] { "3", "0", "2", "2" }, funnel); // made, cashier opened (paid through the API, no hosted page), wallet chosen, paid
        Assert.Equal(3, await hub.CountAsync("SELECT COUNT(*) FROM payments WHERE merchant_id = @merchantId", new { merchantId }));
        Assert.Equal("400", await finance.Locator("#refund-table tr[data-amount]").First.GetAttributeAsync("data-amount"));
        Assert.Equal("400", await finance.Locator("#refund-chart rect[data-value]").First.GetAttributeAsync("data-value"));
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task The_links_page_shows_the_clicks_per_platform_the_hub_counted()
    {
        var (m, merchantId) = await NewAsync();
        var link = await m.PostAsync("/v1/links", new { url = "https://shop.example.com/p/7", title = "紫砂壶 teapot", desktop_url = "https://www.example.com/p/7" });
        Assert.Equal(System.Net.HttpStatusCode.Created, link.Status);
        var path = new Uri(link.Str("short_url")).AbsolutePath;
        for (var i = 0; i < 2; i++)
        {
            using var click = new BrowserLikeClient(hub.Hub.BaseUrl, BrowserLikeClient.DesktopUa);
            Assert.Equal(System.Net.HttpStatusCode.Redirect, (await click.Http.GetAsync(path)).StatusCode);
        }

        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COALESCE(SUM(clicks), 0) FROM link_clicks WHERE link_id = @id", new { id = link.Str("id") }), n => n == 2, what: "clicks counted");
        var dev = await SignInAsync(await UserAsync(merchantId, ConsoleRole.Developer), "zh");
        await GoAsync(dev, $"{Url}/console/operations/links");
        Assert.Equal("2", await dev.Locator($"#links tr[data-link='{link.Str("id")}']").GetAttributeAsync("data-clicks"));
        Assert.Equal("2", await dev.Locator("#clicks-chart rect[data-series=desktop]").GetAttributeAsync("data-value"));
        Assert.Empty(await AccessibilityViolationsAsync(dev));
    }

    [Theory]
    [InlineData("en")]
    [InlineData("zh")]
    public async Task Every_new_page_renders_for_its_roles_and_passes_axe(string lang)
    {
        var (_, merchantId, paymentId) = await PaidAsync();
        var eventId = (await hub.Service<Hutong.Server.Features.Webhooks.EventService>().ListAsync(merchantId, 1, null, null, null, default)).Value!.Data[0].Id;
        var keyId = (await hub.Service<ConsoleOpsQueries>().KeysAsync(merchantId, default))[0].Id;
        var owner = await SignInAsync(await UserAsync(merchantId, ConsoleRole.Owner), lang);
        var op = await SignInAsync(await UserAsync(null, ConsoleRole.Operator), lang);
        var shots = Path.Combine(BrowserFixture.ArtifactsDir, "console");
        Directory.CreateDirectory(shots);
        var problems = new List<string>();

        async Task CheckAsync(IPage page, string name, string path)
        {
            await GoAsync(page, Url + path);
            await BrowserFixture.ScreenshotAsync(page, Path.Combine(shots, $"console-{name}-{lang}.png"));
            problems.AddRange((await AccessibilityViolationsAsync(page)).Select(v => $"{name}: {v}"));
            Assert.Equal(lang == "zh" ? "zh-CN" : "en", await page.Locator("html").GetAttributeAsync("lang"));
        }

        await CheckAsync(owner, "money", "/console/money");
        await CheckAsync(owner, "ledger", "/console/money/ledger");
        await CheckAsync(owner, "charts", "/console/charts");
        await CheckAsync(owner, "keys", "/console/developers/keys");
        await CheckAsync(owner, "revoke-key", $"/console/developers/keys/{keyId}/revoke");
        await CheckAsync(owner, "events", "/console/developers/events");
        await CheckAsync(owner, "event", $"/console/developers/events/{eventId}");
        await CheckAsync(owner, "rollout", "/console/operations/rollout?wallet=wechatpay&user=buyer-7");
        await CheckAsync(owner, "links", "/console/operations/links");
        await CheckAsync(op, "reconciliation", "/console/money/reconciliation");
        await CheckAsync(op, "operator-money", $"/console/money?merchant={merchantId}");
        await CheckAsync(op, "operator-charts", "/console/charts");
        await CheckAsync(op, "operator-keys", "/console/developers/keys");
        await CheckAsync(op, "operator-rollout", $"/console/operations/rollout?merchant={merchantId}&wallet=wechatpay&user=buyer-7");
        Assert.Empty(problems);

        // The ledger page lists the payment's entries; an owner may not open the operators' reconciliation.
        await GoAsync(owner, $"{Url}/console/money/ledger");
        Assert.Contains(paymentId, await owner.Locator("#ledger").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(403, (await owner.Context.APIRequest.GetAsync($"{Url}/console/money/reconciliation", new() { MaxRedirects = 0 })).Status);
        // Support sees none of the money pages.
        var support = await SignInAsync(await UserAsync(merchantId, ConsoleRole.Support), lang);
        foreach (var path in new[] { "/console/money", "/console/money/ledger", "/console/operations/rollout", "/console/developers/keys" })
        {
            Assert.Equal(403, (await support.Context.APIRequest.GetAsync(Url + path, new() { MaxRedirects = 0 })).Status);
        }
    }
}

[Collection("sqlite")]
public sealed class ConsoleOpsBrowserTests_Sqlite(SqliteHub hub, BrowserFixture browser) : ConsoleOpsBrowserTests(hub, browser), IClassFixture<BrowserFixture>;

[Collection("postgres")]
public sealed class ConsoleOpsBrowserTests_Postgres(PostgresHub hub, BrowserFixture browser) : ConsoleOpsBrowserTests(hub, browser), IClassFixture<BrowserFixture>;
