using System.Diagnostics;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server;
using Hutong.Server.Features.Console;
using Hutong.Server.Features.Console.Pages;
using Hutong.Server.Features.Webhooks;
using Microsoft.Extensions.Options;
using Microsoft.Playwright;

namespace Hutong.Integration.Tests;

/// <summary>
/// The console's webhook endpoints page and range replay in Chromium, on both stores: an endpoint added with its signing
/// secret shown once, disabled and enabled after a confirmation, each change audited and idempotent per form; support
/// reads and cannot change, finance sees nothing, on the server (forged POSTs 403, nothing changed); a replay re-delivers
/// to a real receiver exactly the events created in its range, once per form, and refuses a range over its bound;
/// sign-in answers an unknown email exactly as a known one (same answer, same throttling, a password hash checked).
/// The new pages pass axe-core's WCAG 2 A/AA rules in Chinese and English.
/// </summary>
public abstract class ConsoleDevBrowserTests(HubFixture hub, BrowserFixture browser)
{
    private const string Password = ConsoleBrowser.Password;

    private string Url => hub.Hub.BaseUrl;

    private Task<ConsoleUserRow> UserAsync(string? merchantId, ConsoleRole role, string? email = null) => ConsoleBrowser.UserAsync(hub, merchantId, role, email);

    private Task<IPage> SignInAsync(ConsoleUserRow user, string lang = "en") => ConsoleBrowser.SignInAsync(hub, browser, user, lang);

    private Task GoAsync(IPage page, string url) => ConsoleBrowser.GoAsync(hub, page, url);

    private static Task<string[]> AccessibilityViolationsAsync(IPage page) => ConsoleBrowser.AccessibilityViolationsAsync(page);

    private static Task<string> CsrfAsync(IPage page) => ConsoleBrowser.CsrfAsync(page);

    private static IFormData Form(IAPIRequestContext request, params (string Name, string Value)[] fields) => ConsoleBrowser.Form(request, fields);

    private Task<long> EndpointsAsync(string merchantId, bool? enabled = null) => hub.CountAsync(
        "SELECT COUNT(*) FROM webhook_endpoints WHERE merchant_id = @merchantId AND (@enabled IS NULL OR enabled = @enabled)",
        new { merchantId, enabled = enabled is null ? (int?)null : enabled.Value ? 1 : 0 });

    private Task<long> AuditsAsync(string merchantId, string action) =>
        hub.CountAsync("SELECT COUNT(*) FROM console_audit WHERE merchant_id = @merchantId AND action = @action", new { merchantId, action });

    [Fact]
    public async Task A_developer_adds_an_endpoint_with_its_secret_shown_once_and_disables_and_enables_it_while_support_reads_and_finance_sees_nothing()
    {
        var (_, merchantId, _) = await hub.NewMerchantAsync();
        var (_, otherMerchant, _) = await hub.NewMerchantAsync();
        var dev = await SignInAsync(await UserAsync(merchantId, ConsoleRole.Developer));
        await GoAsync(dev, $"{Url}/console/developers/webhooks");
        Assert.Equal(1, await dev.Locator("#nav-webhooks").CountAsync());
        Assert.Equal(1, await dev.Locator("#empty").CountAsync());

        // Bad input: a problem naming the field, nothing stored.
        await dev.Locator("#url").FillAsync("ftp://shop.example.com/hooks");
        await dev.Locator("#add-endpoint").ClickAsync();
        await dev.Locator("#problem").WaitForAsync();
        Assert.Equal("400", await dev.Locator("#problem").GetAttributeAsync("data-status"));
        Assert.Equal(0, await EndpointsAsync(merchantId));

        var receiverUrl = hub.Receiver.Url("/console-dev-" + Guid.NewGuid().ToString("N"));
        await dev.Locator("#url").FillAsync(receiverUrl);
        await dev.Locator("#events").FillAsync("payment.succeeded, refund.succeeded");
        await dev.Locator("#add-endpoint").ClickAsync();
        await dev.Locator("#new-secret").WaitForAsync();
        var secret = (await dev.Locator("#new-secret").InnerTextAsync()).Trim();
        var endpointId = (await dev.Locator("#new-endpoint").InnerTextAsync()).Trim();
        Assert.StartsWith(WebhookSigner.SecretPrefix, secret, StringComparison.Ordinal);
        Assert.Equal(1, await EndpointsAsync(merchantId, enabled: true));
        var stored = (await hub.Service<WebhookEndpointService>().GetAsync(merchantId, endpointId, default))!;
        Assert.Equal(receiverUrl, stored.Url);
        Assert.Equal(["payment.succeeded", "refund.succeeded"], stored.EnabledEvents);
        // The secret is nowhere but the signing column (sealed under the master key): not the idempotent answer, not the audit log.
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM webhook_endpoints WHERE secret = @secret", new { secret }));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM idempotency_keys WHERE response_body LIKE @p", new { p = "%" + secret + "%" }));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM console_audit WHERE detail LIKE @p OR target LIKE @p", new { p = "%" + secret + "%" }));
        Assert.Equal(1, await hub.CountAsync(
            "SELECT COUNT(*) FROM console_audit WHERE merchant_id = @merchantId AND action = 'webhook_endpoint.created' AND target = @endpointId", new { merchantId, endpointId }));

        // Shown once: the page again shows no secret; the same form sent twice (back, resubmit) adds one endpoint.
        await GoAsync(dev, $"{Url}/console/developers/webhooks");
        Assert.Equal(0, await dev.Locator("#new-secret").CountAsync());
        Assert.DoesNotContain(secret, await dev.ContentAsync(), StringComparison.Ordinal);
        var token = await CsrfAsync(dev);
        var formKey = "console-" + Guid.NewGuid().ToString("N");
        var answers = new List<int>();
        for (var i = 0; i < 2; i++)
        {
            var again = await dev.Context.APIRequest.PostAsync($"{Url}/console/developers/webhooks?handler=create", new()
            {
                Form = Form(dev.Context.APIRequest, ("__csrf", token), ("key", formKey), ("url", hub.Receiver.Url("/console-dev-twice"))),
                MaxRedirects = 0,
            });
            answers.Add(again.Status);
        }

        Assert.Equal([200, 302], answers); // the second: redirected to "already submitted"
        Assert.Equal(2, await EndpointsAsync(merchantId));

        // Disable: a confirmation first, nothing changes before it; then audited, and the same form again changes nothing.
        await GoAsync(dev, $"{Url}/console/developers/webhooks");
        await dev.Locator($"[id='disable-{endpointId}']").ClickAsync();
        await dev.Locator("#confirm-change").WaitForAsync();
        Assert.Equal(2, await EndpointsAsync(merchantId, enabled: true));
        var disableForm = Form(dev.Context.APIRequest, ("__csrf", (await dev.Locator("form input[name=__csrf]").Last.GetAttributeAsync("value"))!),
            ("key", (await dev.Locator("input[name=key]").GetAttributeAsync("value"))!));
        await dev.Locator("#confirm-change").ClickAsync();
        await dev.Locator("#done").WaitForAsync();
        Assert.Equal(1, await EndpointsAsync(merchantId, enabled: false));
        Assert.Equal("0", await dev.Locator($"tr[data-endpoint='{endpointId}']").GetAttributeAsync("data-enabled"));
        Assert.Equal(1, await AuditsAsync(merchantId, "webhook_endpoint.disabled"));
        var repeat = await dev.Context.APIRequest.PostAsync($"{Url}/console/developers/webhooks/{endpointId}/disable", new() { Form = disableForm, MaxRedirects = 0 });
        Assert.Equal(302, repeat.Status);
        Assert.Contains("done=repeat", repeat.Headers["location"], StringComparison.Ordinal);
        Assert.Equal(1, await AuditsAsync(merchantId, "webhook_endpoint.disabled"));

        // Disabling it again with a new form is a 409 problem, not a silent success.
        var twice = await dev.Context.APIRequest.PostAsync($"{Url}/console/developers/webhooks/{endpointId}/disable", new()
        {
            Form = Form(dev.Context.APIRequest, ("__csrf", token), ("key", "console-" + Guid.NewGuid().ToString("N"))),
            MaxRedirects = 0,
        });
        Assert.Equal(200, twice.Status);
        Assert.Contains("webhook_endpoint_disabled", await twice.TextAsync(), StringComparison.Ordinal);

        // Enable after a confirmation.
        await GoAsync(dev, $"{Url}/console/developers/webhooks");
        await dev.Locator($"[id='enable-{endpointId}']").ClickAsync();
        await dev.Locator("#confirm-change").ClickAsync();
        await dev.Locator("#done").WaitForAsync();
        Assert.Equal(2, await EndpointsAsync(merchantId, enabled: true));
        Assert.Equal(1, await AuditsAsync(merchantId, "webhook_endpoint.enabled"));

        // Another merchant's endpoint is not found, to look at or to change.
        var other = await hub.Service<WebhookEndpointService>().CreateAsync(otherMerchant, new CreateWebhookEndpointRequest(hub.Receiver.Url("/other")), null, default);
        var otherId = other.Value!.Id;
        Assert.Equal(404, (await dev.Context.APIRequest.GetAsync($"{Url}/console/developers/webhooks/{otherId}/disable")).Status);
        var forgedOther = await dev.Context.APIRequest.PostAsync($"{Url}/console/developers/webhooks/{otherId}/disable", new()
        {
            Form = Form(dev.Context.APIRequest, ("__csrf", token), ("key", "console-" + Guid.NewGuid().ToString("N"))),
            MaxRedirects = 0,
        });
        Assert.Equal(404, forgedOther.Status);
        Assert.Equal(1, await EndpointsAsync(otherMerchant, enabled: true));

        // Support reads the list (no add form, no disable links) and is refused on the server; finance sees nothing.
        var support = await SignInAsync(await UserAsync(merchantId, ConsoleRole.Support));
        await GoAsync(support, $"{Url}/console/developers/webhooks");
        Assert.Equal(2, await support.Locator("#endpoints tbody tr").CountAsync());
        Assert.Equal(0, await support.Locator("#add-endpoint").CountAsync());
        Assert.Equal(0, await support.Locator("[id^='disable-']").CountAsync());
        var supportToken = await CsrfAsync(support);
        var forgedCreate = await support.Context.APIRequest.PostAsync($"{Url}/console/developers/webhooks?handler=create", new()
        {
            Form = Form(support.Context.APIRequest, ("__csrf", supportToken), ("key", "console-" + Guid.NewGuid().ToString("N")), ("url", hub.Receiver.Url("/forged"))),
            MaxRedirects = 0,
        });
        Assert.Equal(403, forgedCreate.Status);
        Assert.Equal(403, (await support.Context.APIRequest.GetAsync($"{Url}/console/developers/webhooks/{endpointId}/disable", new() { MaxRedirects = 0 })).Status);
        var forgedDisable = await support.Context.APIRequest.PostAsync($"{Url}/console/developers/webhooks/{endpointId}/disable", new()
        {
            Form = Form(support.Context.APIRequest, ("__csrf", supportToken), ("key", "console-" + Guid.NewGuid().ToString("N"))),
            MaxRedirects = 0,
        });
        Assert.Equal(403, forgedDisable.Status);
        Assert.Equal(2, await EndpointsAsync(merchantId, enabled: true));

        var finance = await SignInAsync(await UserAsync(merchantId, ConsoleRole.Finance));
        Assert.Equal(0, await finance.Locator("#nav-webhooks").CountAsync());
        Assert.Equal(403, (await finance.Context.APIRequest.GetAsync($"{Url}/console/developers/webhooks", new() { MaxRedirects = 0 })).Status);

        // Without the antiforgery token even the developer's POST is refused.
        var noCsrf = await dev.Context.APIRequest.PostAsync($"{Url}/console/developers/webhooks?handler=create", new()
        {
            Form = Form(dev.Context.APIRequest, ("key", "console-" + Guid.NewGuid().ToString("N")), ("url", hub.Receiver.Url("/no-csrf"))),
            MaxRedirects = 0,
        });
        Assert.Equal(400, noCsrf.Status);
        Assert.Equal(2, await EndpointsAsync(merchantId));
    }

    /// <summary>The first whole second after <paramref name="at"/> (the replay form's resolution).</summary>
    private static DateTimeOffset NextSecond(DateTimeOffset at) => DateTimeOffset.FromUnixTimeSeconds(at.ToUnixTimeSeconds() + 1);

    private async Task<DateTimeOffset> PastAsync(DateTimeOffset boundary)
    {
        while (DateTimeOffset.UtcNow <= boundary.AddMilliseconds(20))
        {
            await Task.Delay(50);
        }

        return boundary;
    }

    /// <summary>Pays one payment and waits until each of the merchant's events so far reached the receiver at least once.</summary>
    private async Task PaidAndDeliveredAsync(ApiClient m, string merchantId, string path)
    {
        var id = await m.CreatePaymentAsync(1_200);
        var code = (await m.ConfirmAsync(id)).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        await hub.BuyerPaysAsync(code);
        await m.WaitForStatusAsync(id, "succeeded");
        await hub.EventuallyAsync(async () =>
        {
            var events = await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE merchant_id = @merchantId", new { merchantId });
            return (events, received: hub.Receiver.Deliveries.Where(d => d.Path == path).Select(d => d.Id).Distinct().Count());
        }, r => r.events > 0 && r.received == r.events, TimeSpan.FromSeconds(60), "every event delivered once");
    }

    private Dictionary<string, int> Received(string path) =>
        hub.Receiver.Deliveries.Where(d => d.Path == path && d.AnsweredWith / 100 == 2).GroupBy(d => d.Id).ToDictionary(g => g.Key, g => g.Count());

    [Theory]
    [InlineData("2026-12-03T00:15:00Z", "2026-12-03T08:15")] // on the minute: the browser drops ":00", so must we
    [InlineData("2026-12-03T00:15:07Z", "2026-12-03T08:15:07")]
    [InlineData("2026-12-31T16:00:00Z", "2027-01-01T00:00")] // the date turns over in China Standard Time
    public async Task A_moment_written_into_the_replay_form_reads_back_unchanged_in_the_browser_and_parses_to_the_same_instant(string utc, string expected)
    {
        var (_, merchantId, _) = await hub.NewMerchantAsync();
        var at = DateTimeOffset.Parse(utc, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(expected, ReplayModel.ChinaValue(at));
        Assert.Equal(at, ReplayModel.ChinaTime(ReplayModel.ChinaValue(at)));

        var dev = await SignInAsync(await UserAsync(merchantId, ConsoleRole.Developer));
        await GoAsync(dev, $"{Url}/console/developers/events/replay");
        await dev.Locator("#from").FillAsync(ReplayModel.ChinaValue(at));
        Assert.Equal(expected, await dev.Locator("#from").InputValueAsync());
    }

    [Fact]
    public async Task A_range_replay_re_delivers_exactly_the_events_in_its_range_once_per_form_and_refuses_a_range_over_its_bound()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var path = "/console-replay-" + Guid.NewGuid().ToString("N");
        Assert.True((await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url(path) })).Status == System.Net.HttpStatusCode.Created);

        // Three groups of events a whole second apart: the range [from, to) is the middle one's.
        var start = NextSecond(DateTimeOffset.UtcNow.AddSeconds(-2));
        await PaidAndDeliveredAsync(m, merchantId, path);
        var from = await PastAsync(NextSecond(DateTimeOffset.UtcNow));
        await PaidAndDeliveredAsync(m, merchantId, path);
        var to = await PastAsync(NextSecond(DateTimeOffset.UtcNow));
        await PaidAndDeliveredAsync(m, merchantId, path);
        var end = NextSecond(DateTimeOffset.UtcNow);
        await Task.Delay(300); // any retry of the first deliveries would show up now, not after the replay
        var inRange = (await hub.Db.ReadAsync(c => Dapper.SqlMapper.QueryAsync<string>(c,
            "SELECT id FROM outbox WHERE merchant_id = @merchantId AND created_at >= @from AND created_at < @to",
            new { merchantId, from = from.ToUnixTimeMilliseconds(), to = to.ToUnixTimeMilliseconds() }), default)).ToHashSet();
        var before = Received(path);
        Assert.NotEmpty(inRange);
        Assert.True(before.Count > inRange.Count, "events outside the range too");
        Assert.All(before.Values, n => Assert.Equal(1, n));

        var dev = await SignInAsync(await UserAsync(merchantId, ConsoleRole.Developer));
        await GoAsync(dev, $"{Url}/console/developers/events");
        await dev.Locator("#replay-range").ClickAsync();
        await dev.Locator("#replay").WaitForAsync();
        await dev.Locator("#from").FillAsync(ReplayModel.ChinaValue(from));
        await dev.Locator("#to").FillAsync(ReplayModel.ChinaValue(to));
        var form = Form(dev.Context.APIRequest, ("__csrf", await CsrfAsync(dev)), ("key", (await dev.Locator("input[name=key]").GetAttributeAsync("value"))!),
            ("from", ReplayModel.ChinaValue(from)), ("to", ReplayModel.ChinaValue(to)), ("type", string.Empty), ("endpoint", string.Empty));
        await dev.Locator("#replay").ClickAsync();
        await dev.Locator("#replay-result").WaitForAsync();
        Assert.Equal(inRange.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), await dev.Locator("#replay-result").GetAttributeAsync("data-events"));
        Assert.Equal(inRange.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), await dev.Locator("#replay-result").GetAttributeAsync("data-queued"));

        // Exactly the events in the range arrive a second time, with their own ids; none outside it.
        await hub.EventuallyAsync(() => Task.FromResult(Received(path)), r => inRange.All(id => r.GetValueOrDefault(id) == 2), TimeSpan.FromSeconds(60), "the range re-delivered");
        await Task.Delay(500);
        var after = Received(path);
        Assert.All(after, kv => Assert.Equal(inRange.Contains(kv.Key) ? 2 : 1, kv.Value));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM console_audit WHERE merchant_id = @merchantId AND action = 'events.replayed'", new { merchantId }));

        // The same form sent again (a double click) replays nothing more.
        var again = await dev.Context.APIRequest.PostAsync($"{Url}/console/developers/events/replay", new() { Form = form, MaxRedirects = 0 });
        Assert.Equal(200, again.Status);
        Assert.Contains("id=\"done\"", await again.TextAsync(), StringComparison.Ordinal);
        await Task.Delay(500);
        Assert.Equal(after, Received(path));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM console_audit WHERE merchant_id = @merchantId AND action = 'events.replayed'", new { merchantId }));

        // Over the bound: the whole span holds more events than allowed; refused with the bound stated, nothing sent.
        var webhooks = hub.Service<IOptions<HubOptions>>().Value.Webhooks;
        var max = webhooks.ReplayMaxEvents;
        webhooks.ReplayMaxEvents = inRange.Count;
        try
        {
            await GoAsync(dev, $"{Url}/console/developers/events/replay");
            Assert.Contains($"At most {inRange.Count} events", await dev.Locator("#replay-bounds").InnerTextAsync(), StringComparison.Ordinal);
            await dev.Locator("#from").FillAsync(ReplayModel.ChinaValue(start));
            await dev.Locator("#to").FillAsync(ReplayModel.ChinaValue(end));
            await dev.Locator("#replay").ClickAsync();
            await dev.Locator("#problem").WaitForAsync();
            Assert.Equal("400", await dev.Locator("#problem").GetAttributeAsync("data-status"));
            Assert.Contains($"more than {inRange.Count} events", await dev.Locator("#problem").InnerTextAsync(), StringComparison.Ordinal);
        }
        finally
        {
            webhooks.ReplayMaxEvents = max;
        }

        await Task.Delay(500);
        Assert.Equal(after, Received(path));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM console_audit WHERE merchant_id = @merchantId AND action = 'events.replay_refused'", new { merchantId }));

        // Support reads events but may not replay: no link, and a forged POST is 403.
        var support = await SignInAsync(await UserAsync(merchantId, ConsoleRole.Support));
        await GoAsync(support, $"{Url}/console/developers/events");
        Assert.Equal(0, await support.Locator("#replay-range").CountAsync());
        var forged = await support.Context.APIRequest.PostAsync($"{Url}/console/developers/events/replay", new()
        {
            Form = Form(support.Context.APIRequest, ("__csrf", await CsrfAsync(support)), ("key", "console-" + Guid.NewGuid().ToString("N")),
                ("from", ReplayModel.ChinaValue(from)), ("to", ReplayModel.ChinaValue(to))),
            MaxRedirects = 0,
        });
        Assert.Equal(403, forged.Status);
        await Task.Delay(300);
        Assert.Equal(after, Received(path));
    }

    [Fact]
    public async Task Sign_in_answers_an_unknown_email_as_a_known_one_with_the_same_throttling_and_a_password_hash_checked()
    {
        var (_, merchantId, _) = await hub.NewMerchantAsync();
        var known = await UserAsync(merchantId, ConsoleRole.Support);
        var unknown = $"nobody-{Guid.NewGuid():N}@example.com";
        var accounts = hub.Service<ConsoleAccounts>();

        // The answer shown for a wrong password and for an email that is no account: the same page, word for word.
        await using var context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions { Locale = "en-US" });
        var page = await context.NewPageAsync();

        async Task<(int Status, string Problem)> SubmitAsync(string email)
        {
            await page.GotoAsync($"{Url}/console/sign-in?lang=en", new() { Timeout = 90_000 });
            await page.Locator("#email").FillAsync(email);
            await page.Locator("#password").FillAsync("wrong password");
            var response = await page.RunAndWaitForResponseAsync(() => page.Locator("#sign-in").ClickAsync(),
                r => r.Request.Method == "POST" && r.Url.Contains("/console/sign-in", StringComparison.Ordinal), new() { Timeout = 90_000 });
            await page.Locator("#problem").WaitForAsync(new() { Timeout = 90_000 });
            var problem = await page.Locator("#problem").InnerTextAsync();
            // The retry time may differ by a second between two submissions; everything else must be equal.
            return (response!.Status, System.Text.RegularExpressions.Regex.Replace(problem, "[0-9]", "#"));
        }

        var first = (Known: await SubmitAsync(known.Email), Unknown: await SubmitAsync(unknown));
        Assert.Equal(first.Known, first.Unknown);
        Assert.Contains("sign_in_refused", first.Known.Problem, StringComparison.Ordinal);

        // Four more each (the counts are per submitted email, normalised: case and spaces do not make a new count).
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(SignInStep.Refused, (await accounts.SignInAsync("  " + known.Email.ToUpperInvariant(), "wrong " + i, null, default)).Step);
            Assert.Equal(SignInStep.Refused, (await accounts.SignInAsync(unknown.ToUpperInvariant() + " ", "wrong " + i, null, default)).Step);
        }

        var throttled = (Known: await SubmitAsync(known.Email), Unknown: await SubmitAsync(unknown));
        Assert.Equal(throttled.Known, throttled.Unknown);
        Assert.Contains("sign_in_throttled", throttled.Known.Problem, StringComparison.Ordinal);
        var retry = (Known: (await accounts.SignInAsync(known.Email, Password, null, default)).RetryAt!.Value,
            Unknown: (await accounts.SignInAsync(unknown, Password, null, default)).RetryAt!.Value);
        Assert.True((retry.Known - retry.Unknown).Duration() < TimeSpan.FromSeconds(5), $"{retry.Known} vs {retry.Unknown}");
        // Both counted in the same table under the email's hash: the unknown email itself is not stored there.
        foreach (var email in new[] { known.Email, unknown })
        {
            Assert.Equal(5, await hub.CountAsync("SELECT failures FROM console_sign_in_throttle WHERE email_key = @key",
                new { key = ConsoleAccounts.EmailKey(ConsoleAccounts.NormalizeEmail(email)) }));
        }

        // Time: an unknown email costs a password hash too (PBKDF2, tens of ms), not a quick "no such row".
        // Minima compare, not medians: a loaded machine only adds time, so the fastest of several runs is each path's cost.
        var (knownMs, unknownMs) = (new List<double>(), new List<double>());
        for (var i = 0; i < 6; i++)
        {
            var fresh = $"timing-{Guid.NewGuid():N}@example.com";
            var user = await UserAsync(merchantId, ConsoleRole.Support, fresh);
            var sw = Stopwatch.StartNew();
            await accounts.SignInAsync(user.Email, "wrong password", null, default);
            knownMs.Add(sw.Elapsed.TotalMilliseconds);
            sw.Restart();
            await accounts.SignInAsync($"timing-{Guid.NewGuid():N}@example.com", "wrong password", null, default);
            unknownMs.Add(sw.Elapsed.TotalMilliseconds);
        }

        var oneHash = double.MaxValue;
        for (var i = 0; i < 3; i++)
        {
            var hashMs = Stopwatch.StartNew();
            ConsoleCrypto.VerifyPassword(known.PasswordHash, "wrong password", out _);
            oneHash = Math.Min(oneHash, hashMs.Elapsed.TotalMilliseconds);
        }

        var (k, u) = (knownMs.Min(), unknownMs.Min());
        Assert.True(u >= 0.5 * oneHash && u >= 0.4 * k, $"unknown {string.Join(",", unknownMs)} ms, known {string.Join(",", knownMs)} ms, one hash {oneHash} ms");

        // The right password after the wait starts the count again (the known user signs in; nothing else changed).
        await hub.ExecAsync("UPDATE console_sign_in_throttle SET throttled_until = 0");
        Assert.Equal(SignInStep.SignedIn, (await accounts.SignInAsync(known.Email, Password, null, default)).Step);
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM console_sign_in_throttle WHERE email_key = @key",
            new { key = ConsoleAccounts.EmailKey(known.Email) }));
    }

    [Theory]
    [InlineData("en")]
    [InlineData("zh")]
    public async Task The_webhook_and_replay_pages_pass_axe(string lang)
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url("/console-axe-" + lang) });
        var owner = await SignInAsync(await UserAsync(merchantId, ConsoleRole.Owner), lang);
        var endpointId = (await hub.Service<WebhookEndpointService>().ListAsync(merchantId, default))[0].Id;
        var problems = new List<string>();
        var shots = Path.Combine(BrowserFixture.ArtifactsDir, "console");
        Directory.CreateDirectory(shots);

        async Task CheckAsync(string name)
        {
            await BrowserFixture.ScreenshotAsync(owner, Path.Combine(shots, $"console-{name}-{lang}.png"));
            problems.AddRange((await AccessibilityViolationsAsync(owner)).Select(v => $"{name}: {v}"));
            Assert.Equal(lang == "zh" ? "zh-CN" : "en", await owner.Locator("html").GetAttributeAsync("lang"));
        }

        await GoAsync(owner, $"{Url}/console/developers/webhooks");
        await CheckAsync("webhooks");
        await owner.Locator("#url").FillAsync(hub.Receiver.Url("/console-axe-second-" + lang));
        await owner.Locator("#add-endpoint").ClickAsync();
        await owner.Locator("#new-secret").WaitForAsync();
        await CheckAsync("webhooks-added");
        await GoAsync(owner, $"{Url}/console/developers/webhooks/{endpointId}/disable");
        await CheckAsync("webhook-disable");
        await GoAsync(owner, $"{Url}/console/developers/events/replay");
        await CheckAsync("replay");
        await owner.Locator("#from").FillAsync(ReplayModel.ChinaValue(DateTimeOffset.UtcNow.AddHours(-1)));
        await owner.Locator("#to").FillAsync(ReplayModel.ChinaValue(DateTimeOffset.UtcNow.AddMinutes(1)));
        await owner.Locator("#replay").ClickAsync();
        await owner.Locator("#replay-result").WaitForAsync();
        await CheckAsync("replay-result");
        await GoAsync(owner, $"{Url}/console/developers/events");
        await CheckAsync("events-with-replay");
        Assert.Empty(problems);
    }
}

[Collection("sqlite")]
public sealed class ConsoleDevBrowserTests_Sqlite(SqliteHub hub, BrowserFixture browser) : ConsoleDevBrowserTests(hub, browser), IClassFixture<BrowserFixture>;

[Collection("postgres")]
public sealed class ConsoleDevBrowserTests_Postgres(PostgresHub hub, BrowserFixture browser) : ConsoleDevBrowserTests(hub, browser), IClassFixture<BrowserFixture>;
