using System.Text.RegularExpressions;
using Dapper;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server.Features.Console;
using Microsoft.Playwright;

namespace Hutong.Integration.Tests;

/// <summary>
/// The console in Chromium, on both stores: each role's main journey, role enforcement (a hidden button AND a forged
/// POST refused), another merchant's payment 404, CSRF, a locked/removed user's session refused at once, TOTP.
/// </summary>
public abstract class ConsoleBrowserTests(HubFixture hub, BrowserFixture browser)
{
    protected const string Password = "correct horse battery staple";

    protected string Url => hub.Hub.BaseUrl;

    protected async Task<(ApiClient M, string MerchantId, string PaymentId)> PaidAsync(long amount = 8_800)
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url("/console-" + Guid.NewGuid().ToString("N")) });
        var id = await m.CreatePaymentAsync(amount);
        var code = (await m.ConfirmAsync(id)).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        await hub.BuyerPaysAsync(code);
        await m.WaitForStatusAsync(id, "succeeded");
        return (m, merchantId, id);
    }

    protected Task<ConsoleUserRow?> UserAsync(string? merchantId, ConsoleRole role, string? email = null) =>
        hub.Service<ConsoleAccounts>().CreateUserAsync(email ?? $"{role.ToString().ToLowerInvariant()}-{Guid.NewGuid():N}@example.com", "Test " + role, Password, merchantId, role, default);

    protected async Task<IPage> SignInAsync(string email, string lang = "en", IBrowserContext? context = null)
    {
        context ??= await browser.Browser.NewContextAsync(new BrowserNewContextOptions { Locale = lang == "zh" ? "zh-CN" : "en-US" });
        var page = await context.NewPageAsync();
        await page.GotoAsync($"{Url}/console/sign-in?lang={lang}");
        await page.Locator("#email").FillAsync(email);
        await page.Locator("#password").FillAsync(Password);
        await page.Locator("#sign-in").ClickAsync();
        // Signed in (any other console page) or refused (the sign-in page again, with its problem); polled in the
        // browser, for the reason BrowserFixture.ArrivedAsync gives.
        await page.WaitForFunctionAsync(
            "() => document.readyState !== 'loading' && (!location.pathname.startsWith('/console/sign-in') || document.getElementById('problem') !== null)",
            null, new() { Timeout = 90_000 });
        return page;
    }

    private static async Task GoAsync(IPage page, string url)
    {
        await page.GotoAsync(url, new() { Timeout = 90_000 });
        await BrowserFixture.LoadedAsync(page);
    }

    private Task<long> RefundsAsync(string paymentId) => hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE payment_id = @paymentId", new { paymentId });

    [Fact]
    public async Task Owner_invites_a_support_user_who_signs_in_sees_the_payment_and_cannot_refund_then_the_owner_refunds()
    {
        var (_, merchantId, paymentId) = await PaidAsync();
        var owner = await UserAsync(merchantId, ConsoleRole.Owner);
        var ownerPage = await SignInAsync(owner!.Email);
        Assert.EndsWith("/console/payments", ownerPage.Url, StringComparison.Ordinal);

        // The owner invites a support user; the link is shown once.
        var supportEmail = $"support-{Guid.NewGuid():N}@example.com";
        await GoAsync(ownerPage, $"{Url}/console/users");
        await ownerPage.Locator("#invite-email").FillAsync(supportEmail);
        await ownerPage.Locator("#invite-role").SelectOptionAsync("support");
        await ownerPage.Locator("#invite").ClickAsync();
        var link = (await ownerPage.Locator("#invite-link").InnerTextAsync()).Trim();

        await using var supportContext = await browser.Browser.NewContextAsync();
        var support = await supportContext.NewPageAsync();
        await GoAsync(support, link + "?lang=en");
        Assert.Equal(supportEmail, await support.Locator("#invite-email").InnerTextAsync());
        await support.Locator("#name").FillAsync("Li Support");
        await support.Locator("#password").FillAsync(Password);
        await support.Locator("#accept").ClickAsync();
        await BrowserFixture.ArrivedAsync(support, new Regex("/console/sign-in$"));
        support = await SignInAsync(supportEmail, context: supportContext);

        // The link worked once.
        await GoAsync(support, link);
        Assert.Equal(1, await support.Locator("#invite-gone").CountAsync());

        // Support finds the payment by its id and opens it: no refund button; no users page in the navigation.
        await GoAsync(support, $"{Url}/console/payments?payment={paymentId}");
        Assert.Equal(1, await support.Locator("#payments tbody tr").CountAsync());
        await support.Locator($"a[href='/console/payments/{paymentId}']").ClickAsync();
        await BrowserFixture.ArrivedAsync(support, new Regex($"/console/payments/{paymentId}$"));
        Assert.True(await support.Locator("#timeline").CountAsync() == 1, await support.ContentAsync() + hub.RecentProblems());
        Assert.Equal(0, await support.Locator("#refund").CountAsync());
        Assert.Equal(0, await support.Locator("#nav-users").CountAsync());
        Assert.True(await support.Locator("#timeline tr[data-kind=attempt]").CountAsync() >= 1);
        Assert.True(await support.Locator("#timeline tr[data-kind=ledger]").CountAsync() >= 1);

        // A forged refund POST with a valid antiforgery token (from the sign-out form) is still refused: 403, nothing changed.
        var token = await support.Locator("input[name=__csrf]").First.GetAttributeAsync("value");
        var forged = await supportContext.APIRequest.PostAsync($"{Url}/console/payments/{paymentId}/refund", new()
        {
            Form = FormOf(supportContext.APIRequest, ("__csrf", token!), ("key", "console-forged-0001"), ("amount", "88.00"), ("reason", "forged")),
            MaxRedirects = 0,
        });
        Assert.Equal(403, forged.Status);
        Assert.Equal(0, await RefundsAsync(paymentId));
        var usersPage = await supportContext.APIRequest.GetAsync($"{Url}/console/users", new() { MaxRedirects = 0 });
        Assert.Equal(403, usersPage.Status);

        // The owner refunds, with a confirmation step.
        await GoAsync(ownerPage, $"{Url}/console/payments/{paymentId}");
        await ownerPage.Locator("#refund").ClickAsync();
        await ownerPage.Locator("#amount").FillAsync("20.00");
        await ownerPage.Locator("#reason").FillAsync("damaged box");
        await ownerPage.Locator("#review").ClickAsync();
        await ownerPage.Locator("#confirm-refund").WaitForAsync();
        Assert.Equal(0, await RefundsAsync(paymentId)); // nothing before the confirmation
        var sentForm = FormOf(ownerPage.Context.APIRequest,
            ("__csrf", (await ownerPage.Locator("form input[name=__csrf]").Last.GetAttributeAsync("value"))!),
            ("key", (await ownerPage.Locator("input[name=key]").GetAttributeAsync("value"))!), ("amount", "20.00"), ("reason", "damaged box"));
        await ownerPage.Locator("#confirm-refund").ClickAsync();
        await ownerPage.Locator("#done").WaitForAsync();
        Assert.Equal(1, await RefundsAsync(paymentId));
        Assert.Equal(2_000, await hub.CountAsync("SELECT amount FROM refunds WHERE payment_id = @paymentId", new { paymentId }));
        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE payment_id = @paymentId AND status = 'succeeded'", new { paymentId }), n => n == 1, what: "refund succeeded");
        await hub.LedgerVerifiesAsync();

        // The same confirmation form sent again (a double click) refunds nothing more.
        var again = await ownerPage.Context.APIRequest.PostAsync($"{Url}/console/payments/{paymentId}/refund", new() { Form = sentForm, MaxRedirects = 0 });
        Assert.Equal(302, again.Status);
        Assert.EndsWith("done=repeat", again.Headers["location"], StringComparison.Ordinal);
        Assert.Equal(1, await RefundsAsync(paymentId));

        // Every action is in the audit log, in the refund's own transaction for the refund.
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM console_audit WHERE merchant_id = @merchantId AND action = 'refund.created'", new { merchantId }));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM console_audit WHERE merchant_id = @merchantId AND action = 'user.invited'", new { merchantId }));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM console_audit WHERE merchant_id = @merchantId AND action = 'invite.accepted'", new { merchantId }));
        await GoAsync(ownerPage, $"{Url}/console/audit");
        Assert.Contains("refund.created", await ownerPage.Locator("#audit").InnerTextAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_full_refund_form_sent_again_says_already_submitted_not_more_than_is_left_and_refunds_once()
    {
        var (_, merchantId, paymentId) = await PaidAsync(3_300);
        var finance = await UserAsync(merchantId, ConsoleRole.Finance);
        var page = await SignInAsync(finance!.Email);

        // The payment page's refund form, at its default (all that is left, 33.00), confirmed once.
        await GoAsync(page, $"{Url}/console/payments/{paymentId}");
        await page.Locator("#refund").ClickAsync();
        await page.Locator("#review").ClickAsync();
        await page.Locator("#confirm-refund").WaitForAsync();
        var sentForm = FormOf(page.Context.APIRequest,
            ("__csrf", (await page.Locator("form input[name=__csrf]").Last.GetAttributeAsync("value"))!),
            ("key", (await page.Locator("input[name=key]").GetAttributeAsync("value"))!),
            ("amount", (await page.Locator("form[method=post] input[name=amount]").GetAttributeAsync("value"))!), ("reason", string.Empty));
        await page.Locator("#confirm-refund").ClickAsync();
        await page.Locator("#done").WaitForAsync();
        Assert.Equal(1, await RefundsAsync(paymentId));
        Assert.Equal(3_300, await hub.CountAsync("SELECT amount FROM refunds WHERE payment_id = @paymentId", new { paymentId }));
        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE payment_id = @paymentId AND status = 'succeeded'", new { paymentId }), n => n == 1, what: "refund succeeded");

        // The very same form again (a browser re-POST after a slow answer): nothing is left, so refunding now would be refused
        // as "more than what is left to refund" — but this form was done; the page says so and nothing changes.
        var again = await page.Context.APIRequest.PostAsync($"{Url}/console/payments/{paymentId}/refund", new() { Form = sentForm, MaxRedirects = 0 });
        var body = await again.TextAsync();
        Assert.True(again.Status == 302, $"{again.Status}: {body[Math.Max(0, body.IndexOf("<main", StringComparison.Ordinal))..]}");
        var location = again.Headers["location"];
        Assert.EndsWith("done=repeat", location, StringComparison.Ordinal);
        await GoAsync(page, Url + location);
        Assert.Contains("already submitted", await page.Locator("#done").InnerTextAsync(), StringComparison.Ordinal);
        Assert.DoesNotContain("left to refund", await page.Locator("main").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(1, await RefundsAsync(paymentId));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM console_audit WHERE merchant_id = @merchantId AND action = 'refund.created'", new { merchantId }));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM console_audit WHERE merchant_id = @merchantId AND action = 'refund.refused'", new { merchantId }));
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task Finance_views_payments_and_the_audit_log_and_another_merchants_payment_is_404()
    {
        var (_, merchantId, paymentId) = await PaidAsync(1_500);
        var (_, _, otherPayment) = await PaidAsync(2_500);
        var finance = await UserAsync(merchantId, ConsoleRole.Finance);
        var page = await SignInAsync(finance!.Email, "zh");

        await GoAsync(page, $"{Url}/console/payments?amount=15.00");
        Assert.True(1 == await page.Locator("#payments tbody tr").CountAsync(), await page.Locator("main").InnerTextAsync() + hub.RecentProblems());
        Assert.Contains(paymentId, await page.Locator("#payments").InnerTextAsync(), StringComparison.Ordinal);
        Assert.DoesNotContain(otherPayment, await page.Locator("#payments").InnerTextAsync(), StringComparison.Ordinal);
        await GoAsync(page, $"{Url}/console/payments/{paymentId}");
        Assert.Equal(1, await page.Locator("#refund").CountAsync()); // finance may refund
        Assert.Equal(0, await page.Locator("#cancel").CountAsync());
        await GoAsync(page, $"{Url}/console/audit");
        Assert.Equal(1, await page.Locator("#audit").CountAsync());

        var other = await page.Context.APIRequest.GetAsync($"{Url}/console/payments/{otherPayment}");
        Assert.Equal(404, other.Status);
        var otherRefund = await page.Context.APIRequest.GetAsync($"{Url}/console/payments/{otherPayment}/refund");
        Assert.Equal(404, otherRefund.Status);

        // An operator sees both merchants' payments.
        var op = await UserAsync(null, ConsoleRole.Operator);
        var opPage = await SignInAsync(op!.Email);
        Assert.Equal(200, (await opPage.Context.APIRequest.GetAsync($"{Url}/console/payments/{otherPayment}")).Status);
        Assert.Equal(200, (await opPage.Context.APIRequest.GetAsync($"{Url}/console/payments/{paymentId}")).Status);
    }

    [Fact]
    public async Task Developer_resends_a_webhook_and_cannot_refund()
    {
        var (_, merchantId, paymentId) = await PaidAsync();
        var dev = await UserAsync(merchantId, ConsoleRole.Developer);
        var page = await SignInAsync(dev!.Email);
        await GoAsync(page, $"{Url}/console/payments/{paymentId}");
        Assert.Equal(0, await page.Locator("#refund").CountAsync());
        var resend = page.Locator("[id^=resend-]").First;
        await resend.ClickAsync();
        await BrowserFixture.ArrivedAsync(page, new Regex("done=resent$"));
        Assert.Equal(1, await page.Locator("#done").CountAsync());
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM console_audit WHERE merchant_id = @merchantId AND action = 'webhook.resent'", new { merchantId }));
        Assert.Equal(403, (await page.Context.APIRequest.GetAsync($"{Url}/console/payments/{paymentId}/refund", new() { MaxRedirects = 0 })).Status);
    }

    [Fact]
    public async Task A_post_without_the_antiforgery_token_is_refused_and_changes_nothing()
    {
        var (_, merchantId, paymentId) = await PaidAsync();
        var owner = await UserAsync(merchantId, ConsoleRole.Owner);
        var page = await SignInAsync(owner!.Email);
        var response = await page.Context.APIRequest.PostAsync($"{Url}/console/payments/{paymentId}/refund", new()
        {
            Form = FormOf(page.Context.APIRequest, ("key", "console-nocsrf-0001"), ("amount", "1.00"), ("reason", "csrf")),
            MaxRedirects = 0,
        });
        Assert.Equal(400, response.Status);
        Assert.Equal(0, await RefundsAsync(paymentId));
    }

    [Fact]
    public async Task A_locked_or_removed_users_open_session_is_refused_at_once()
    {
        var (_, merchantId, paymentId) = await PaidAsync();
        var owner = await UserAsync(merchantId, ConsoleRole.Owner);
        var support = await UserAsync(merchantId, ConsoleRole.Support);
        var finance = await UserAsync(merchantId, ConsoleRole.Finance);
        var supportPage = await SignInAsync(support!.Email);
        var financePage = await SignInAsync(finance!.Email);
        Assert.Equal(200, (await supportPage.Context.APIRequest.GetAsync($"{Url}/console/payments/{paymentId}", new() { MaxRedirects = 0 })).Status);

        var ownerPage = await SignInAsync(owner!.Email);
        await GoAsync(ownerPage, $"{Url}/console/users");
        await ownerPage.Locator($"[id='lock-{support.Email}']").ClickAsync();
        await ownerPage.Locator("#done").WaitForAsync();
        await ownerPage.Locator($"[id='remove-{finance.Email}']").ClickAsync();
        await ownerPage.Locator("#done").WaitForAsync();

        foreach (var p in new[] { supportPage, financePage })
        {
            var r = await p.Context.APIRequest.GetAsync($"{Url}/console/payments/{paymentId}", new() { MaxRedirects = 0 });
            Assert.Equal(302, r.Status);
            Assert.StartsWith("/console/sign-in", r.Headers["location"], StringComparison.Ordinal);
        }

        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM console_sessions WHERE user_id IN (@a, @b)", new { a = support.Id, b = finance.Id }));
        // Nor can they sign in again.
        var again = await SignInAsync(support.Email);
        Assert.Contains("/console/sign-in", again.Url, StringComparison.Ordinal);
        Assert.Equal(1, await again.Locator("#problem").CountAsync());
    }

    [Fact]
    public async Task Totp_sign_in_needs_the_code_and_a_code_works_once()
    {
        var (_, merchantId, _) = await PaidAsync();
        var user = await UserAsync(merchantId, ConsoleRole.Owner);
        var secret = ConsoleCrypto.NewTotpSecret();
        var accounts = hub.Service<ConsoleAccounts>();
        var enrol = new OtpNet.Totp(OtpNet.Base32Encoding.ToBytes(secret));
        Assert.True(await accounts.EnableTotpAsync(new ConsoleAuditEntry(user!.Id, user.Email, merchantId, "totp.enabled", null, null, null), secret,
            enrol.ComputeTotp(DateTime.UtcNow.AddSeconds(-30)), default));

        var page = await SignInAsync(user.Email);
        Assert.Contains("/console/code", page.Url, StringComparison.Ordinal);
        // Half signed in: nothing but the code page.
        Assert.Equal(302, (await page.Context.APIRequest.GetAsync($"{Url}/console/payments", new() { MaxRedirects = 0 })).Status);
        await page.Locator("#code").FillAsync("000000" == enrol.ComputeTotp() ? "111111" : "000000");
        await page.Locator("#verify").ClickAsync();
        await page.Locator("#problem").WaitForAsync();

        var code = enrol.ComputeTotp();
        await page.Locator("#code").FillAsync(code);
        await page.Locator("#verify").ClickAsync();
        await BrowserFixture.ArrivedAsync(page, new Regex("/console/payments$"));

        // The same code again (replayed) is refused.
        var second = await SignInAsync(user.Email);
        await second.Locator("#code").FillAsync(code);
        await second.Locator("#verify").ClickAsync();
        await second.Locator("#problem").WaitForAsync();
        Assert.Contains("/console/code", second.Url, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_sign_in_page_renders_without_a_session()
    {
        var r = await hub.Http.GetAsync("/console/sign-in");
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.IsSuccessStatusCode, $"{(int)r.StatusCode}: {body[..Math.Min(body.Length, 3000)]} {hub.RecentProblems()}");
        Assert.Contains("name=\"__csrf\"", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Repeated_wrong_passwords_throttle_the_account()
    {
        var (_, merchantId, _) = await PaidAsync();
        var user = await UserAsync(merchantId, ConsoleRole.Support);
        var accounts = hub.Service<ConsoleAccounts>();
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(SignInStep.Refused, (await accounts.SignInAsync(user!.Email, "wrong password " + i, null, default)).Step);
        }

        // Now even the right password is not checked until the wait is over.
        Assert.Equal(SignInStep.Throttled, (await accounts.SignInAsync(user!.Email, Password, null, default)).Step);
    }

    protected static IFormData FormOf(IAPIRequestContext request, params (string Name, string Value)[] fields)
    {
        var form = request.CreateFormData();
        foreach (var (name, value) in fields)
        {
            form.Set(name, value);
        }

        return form;
    }
}

/// <summary>
/// Every console page in Chinese and English passes axe-core's WCAG 2 A/AA rules. Its screenshots go to docs/screenshots
/// only when HUTONG_UPDATE_SCREENSHOTS=1 (refreshing the documentation's pictures is a choice, not a side effect of every
/// run); otherwise the pages are still rendered and checked, and the pictures go to a temporary directory.
/// </summary>
[Collection("sqlite")]
public sealed class ConsolePagesBrowserTests(SqliteHub hub, BrowserFixture browser) : ConsoleBrowserTests(hub, browser), IClassFixture<BrowserFixture>
{
    public const string UpdateScreenshotsVariable = "HUTONG_UPDATE_SCREENSHOTS";

    /// <summary>docs/screenshots when <see cref="UpdateScreenshotsVariable"/> is 1, else a new temporary directory.</summary>
    public static string ScreenshotDir() => Environment.GetEnvironmentVariable(UpdateScreenshotsVariable) == "1"
        ? Path.Combine(BrowserFixture.RepoRoot, "docs", "screenshots")
        : Path.Combine(Path.GetTempPath(), "hutong-console-screenshots-" + Guid.NewGuid().ToString("N")[..8]);

    private readonly SqliteHub _hub = hub;
    private readonly BrowserFixture _browser = browser;

    [Theory]
    [InlineData("zh")]
    [InlineData("en")]
    public async Task Every_console_page_passes_axe_in_both_languages(string lang)
    {
        var (_, merchantId, paymentId) = await PaidAsync(12_800);
        var owner = await UserAsync(merchantId, ConsoleRole.Owner, $"owner-{lang}-{Guid.NewGuid():N}@example.com");
        await using var context = await _browser.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            Locale = lang == "zh" ? "zh-CN" : "en-US",
            ViewportSize = new ViewportSize { Width = 1280, Height = 800 },
        });
        var anonymous = await context.NewPageAsync();
        var problems = new List<string>();
        var shots = ScreenshotDir();
        Directory.CreateDirectory(shots);

        async Task CheckAsync(IPage page, string name)
        {
            await BrowserFixture.LoadedAsync(page);
            Assert.Equal(lang == "zh" ? "zh-CN" : "en", await page.Locator("html").GetAttributeAsync("lang"));
            await BrowserFixture.AddLibraryAsync(page, Path.Combine(BrowserFixture.RepoRoot, "tests", "e2e", "node_modules", "axe-core", "axe.min.js"));
            problems.AddRange((await page.EvaluateAsync<string[]>("""
                async () => (await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] } }))
                  .violations.map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))
                """)).Select(v => $"{name}: {v}"));
            await BrowserFixture.ScreenshotAsync(page, Path.Combine(shots, $"console-{name}-{lang}.png"));
        }

        await anonymous.GotoAsync($"{Url}/console/sign-in?lang={lang}");
        await CheckAsync(anonymous, "sign-in");

        var page = await SignInAsync(owner!.Email, lang, context);
        await CheckAsync(page, "payments");
        await page.GotoAsync($"{Url}/console/payments/{paymentId}");
        await CheckAsync(page, "payment");
        await page.GotoAsync($"{Url}/console/payments/{paymentId}/refund");
        await CheckAsync(page, "refund");
        await page.Locator("#review").ClickAsync();
        await page.Locator("#confirm-refund").WaitForAsync();
        await CheckAsync(page, "refund-confirm");
        await page.GotoAsync($"{Url}/console/users");
        await page.Locator("#invite-email").FillAsync($"new-{lang}-{Guid.NewGuid():N}@example.com");
        await page.Locator("#invite").ClickAsync();
        var link = (await page.Locator("#invite-link").InnerTextAsync()).Trim();
        await CheckAsync(page, "users");
        await page.GotoAsync($"{Url}/console/audit");
        await CheckAsync(page, "audit");
        await page.GotoAsync($"{Url}/console/account");
        await CheckAsync(page, "account");

        var invitee = await (await _browser.Browser.NewContextAsync(new BrowserNewContextOptions { Locale = lang == "zh" ? "zh-CN" : "en-US" })).NewPageAsync();
        await invitee.GotoAsync(link);
        await CheckAsync(invitee, "invite");
        await invitee.Context.CloseAsync();

        // The code step of a TOTP sign-in.
        var totpUser = await UserAsync(merchantId, ConsoleRole.Support);
        var secret = ConsoleCrypto.NewTotpSecret();
        await _hub.Service<ConsoleAccounts>().EnableTotpAsync(new ConsoleAuditEntry(totpUser!.Id, totpUser.Email, merchantId, "totp.enabled", null, null, null), secret,
            new OtpNet.Totp(OtpNet.Base32Encoding.ToBytes(secret)).ComputeTotp(DateTime.UtcNow.AddSeconds(-30)), default);
        var codePage = await SignInAsync(totpUser.Email, lang);
        await CheckAsync(codePage, "code");
        await codePage.Context.CloseAsync();

        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }
}

[Collection("sqlite")]
public sealed class ConsoleBrowserTests_Sqlite(SqliteHub hub, BrowserFixture browser) : ConsoleBrowserTests(hub, browser), IClassFixture<BrowserFixture>;

[Collection("postgres")]
public sealed class ConsoleBrowserTests_Postgres(PostgresHub hub, BrowserFixture browser) : ConsoleBrowserTests(hub, browser), IClassFixture<BrowserFixture>;
