using System.Net;
using System.Text.RegularExpressions;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server.Features.Console;

namespace Hutong.Integration.Tests;

/// <summary>
/// What a black-box probe of the running hub found in the console and the buyer's friend-pay form, pinned over real HTTP
/// on both stores: a NUL (U+0000) sent in a multipart form (the framework refuses one only in a url-encoded form) was a
/// 500 on PostgreSQL — unauthenticated on the sign-in page — and is now a 400 with nothing stored; a returnUrl with a
/// control character made the sign-in a 500 after the session was made; an audit line kept whatever a form sent
/// (a megabyte from one replay form).
/// </summary>
public abstract partial class ConsoleProbeTests(HubFixture hub)
{
    /// <summary>A cookie-keeping client that does not follow redirects, as a browser's form post would be seen.</summary>
    private sealed partial class Client : IDisposable
    {
        private readonly HttpClient _http;

        public CookieContainer Cookies { get; } = new();

        public Client(string baseUrl)
        {
            _http = new HttpClient(new HttpClientHandler { CookieContainer = Cookies, AllowAutoRedirect = false })
            {
                BaseAddress = new Uri(baseUrl),
                Timeout = TimeSpan.FromSeconds(60),
            };
        }

        public async Task<string> CsrfAsync(string path)
        {
            var html = await _http.GetStringAsync(path);
            return CsrfField().Match(html) is { Success: true } m ? WebUtility.HtmlDecode(m.Groups[1].Value) : throw new InvalidOperationException($"no antiforgery token on {path}");
        }

        public Task<HttpResponseMessage> GetAsync(string path) => _http.GetAsync(path);

        public async Task<HttpResponseMessage> PostFormAsync(string path, params (string Name, string Value)[] fields) =>
            await _http.PostAsync(path, new FormUrlEncodedContent(fields.Select(f => KeyValuePair.Create(f.Name, f.Value))));

        public async Task<HttpResponseMessage> PostMultipartAsync(string path, params (string Name, string Value)[] fields)
        {
            var form = new MultipartFormDataContent();
            foreach (var (name, value) in fields)
            {
                form.Add(new StringContent(value), name);
            }

            return await _http.PostAsync(path, form);
        }

        public async Task SignInAsync(string email)
        {
            var r = await PostFormAsync("/console/sign-in", ("__csrf", await CsrfAsync("/console/sign-in")), ("email", email), ("password", ConsoleBrowser.Password));
            Assert.True(r.StatusCode == HttpStatusCode.Redirect, $"sign-in answered {(int)r.StatusCode}");
        }

        public void Dispose() => _http.Dispose();

        [GeneratedRegex("name=\"__csrf\"[^>]*value=\"([^\"]*)\"")]
        private static partial Regex CsrfField();
    }

    private Client NewClient() => new(hub.Hub.BaseUrl);

    private static string Key() => "console-" + Guid.NewGuid().ToString("N");

    /// <summary>
    /// Cookie tossing: a page on a sibling subdomain (same site, so SameSite=Strict does not stop it) can plant its own
    /// antiforgery cookie in the owner's browser and post the token it got with it. A black-box probe cancelled a payment
    /// that way: the tokens were not bound to anyone. Now they are bound to the console session that was shown the form.
    /// </summary>
    [Fact]
    public async Task An_antiforgery_pair_from_another_visitor_or_session_does_not_pass_for_a_signed_in_owner()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var owner = await ConsoleBrowser.UserAsync(hub, merchantId, ConsoleRole.Owner);
        var payment = await m.CreatePaymentAsync();
        using var victim = NewClient();
        await victim.SignInAsync(owner.Email);
        using var attacker = NewClient();
        var anonymousToken = await attacker.CsrfAsync("/console/sign-in");
        using var otherSession = NewClient();
        await otherSession.SignInAsync(owner.Email); // the same user, another session
        var otherToken = await otherSession.CsrfAsync($"/console/payments/{payment}");

        var baseUri = new Uri(hub.Hub.BaseUrl);
        string Cookie(Client c, string name) => c.Cookies.GetCookies(new Uri(baseUri, "/console/x")).First(k => k.Name == name).Value;
        var session = Cookie(victim, ConsoleFeature.CookieName);
        using var raw = new HttpClient(new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = baseUri };
        foreach (var (from, token) in new[] { (attacker, anonymousToken), (otherSession, otherToken) })
        {
            using var post = new HttpRequestMessage(HttpMethod.Post, $"/console/payments/{payment}?handler=Cancel")
            {
                Content = new FormUrlEncodedContent([KeyValuePair.Create("__csrf", token), KeyValuePair.Create("key", Key())]),
            };
            post.Headers.Add("Cookie", $"{ConsoleFeature.CookieName}={session}; hutong_console_csrf={Cookie(from, "hutong_console_csrf")}");
            using var r = await raw.SendAsync(post);
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        }

        Assert.Equal("created", (await m.GetAsync($"/v1/payments/{payment}")).Str("status"));

        // The owner's own form still works.
        using var own = await victim.PostFormAsync($"/console/payments/{payment}?handler=Cancel",
            ("__csrf", await victim.CsrfAsync($"/console/payments/{payment}")), ("key", Key()));
        Assert.Equal(HttpStatusCode.Redirect, own.StatusCode);
        Assert.Equal("canceled", (await m.GetAsync($"/v1/payments/{payment}")).Str("status"));
    }

    [Fact]
    public async Task Console_pages_forbid_forms_to_other_origins_and_buyer_pages_do_not()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var owner = await ConsoleBrowser.UserAsync(hub, merchantId, ConsoleRole.Owner);
        using var client = NewClient();
        static string Csp(HttpResponseMessage r) => string.Join(";", r.Headers.GetValues("Content-Security-Policy"));

        using (var signIn = await client.GetAsync("/console/sign-in"))
        {
            Assert.Contains("form-action 'self'", Csp(signIn), StringComparison.Ordinal);
            Assert.Contains("frame-ancestors 'none'", Csp(signIn), StringComparison.Ordinal);
        }

        await client.SignInAsync(owner.Email);
        using var operatorClient = NewClient();
        await operatorClient.SignInAsync((await ConsoleBrowser.UserAsync(hub, null, ConsoleRole.Operator)).Email);
        foreach (var (who, path) in new[] { (client, "/console/payments"), (operatorClient, "/console/money/reconciliation") }) // the second sets its own policy (a hashed style)
        {
            using var r = await who.GetAsync(path);
            Assert.True(r.StatusCode == HttpStatusCode.OK, $"{path}: {(int)r.StatusCode}");
            var csp = Csp(r);
            Assert.Contains("form-action 'self'", csp, StringComparison.Ordinal);
            Assert.Single(System.Text.RegularExpressions.Regex.Matches(csp, "form-action"));
        }

        // The cashier's wallet buttons post, then redirect to the wallet's page: no form-action there.
        var created = await m.PostAsync("/v1/payments", new { amount = 1_000, currency = "CNY", description = "茶", merchant_order_id = "csp-" + Guid.NewGuid().ToString("N")[..8] });
        using var cashier = await client.GetAsync(new Uri(created.Str("checkout_url")).PathAndQuery);
        Assert.Equal(HttpStatusCode.OK, cashier.StatusCode);
        Assert.DoesNotContain("form-action", Csp(cashier), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_NUL_in_a_multipart_form_is_a_400_that_stores_nothing_on_the_sign_in_console_pages_and_the_friend_pay_form()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var developer = await ConsoleBrowser.UserAsync(hub, merchantId, ConsoleRole.Developer);

        // Anonymous: the sign-in page with a NUL in the email. Before the fix: 500 on PostgreSQL (22021) from the user lookup.
        using (var anonymous = NewClient())
        {
            var audit = await hub.CountAsync("SELECT COUNT(*) FROM console_audit");
            var throttle = await hub.CountAsync("SELECT COUNT(*) FROM console_sign_in_throttle");
            var r = await anonymous.PostMultipartAsync("/console/sign-in",
                ("__csrf", await anonymous.CsrfAsync("/console/sign-in")), ("email", "a\0b@example.com"), ("password", "x"));
            Assert.True(r.StatusCode == HttpStatusCode.BadRequest, $"{(int)r.StatusCode}\n{hub.RecentProblems()}");
            Assert.Contains("data-field=\"email\"", await r.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.Equal(audit, await hub.CountAsync("SELECT COUNT(*) FROM console_audit"));
            Assert.Equal(throttle, await hub.CountAsync("SELECT COUNT(*) FROM console_sign_in_throttle"));

            // The same form without the NUL is an ordinary refusal (the check is not a blanket refusal of multipart).
            r = await anonymous.PostMultipartAsync("/console/sign-in",
                ("__csrf", await anonymous.CsrfAsync("/console/sign-in")), ("email", "ab@example.com"), ("password", "x"));
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Contains("sign_in_refused", await r.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Signed in: the replay form (its type was written to the audit log) and the webhook endpoint form.
        using (var dev = NewClient())
        {
            await dev.SignInAsync(developer.Email);
            var audit = await hub.CountAsync("SELECT COUNT(*) FROM console_audit WHERE merchant_id = @merchantId", new { merchantId });
            var r = await dev.PostMultipartAsync("/console/developers/events/replay", ("__csrf", await dev.CsrfAsync("/console/developers/events/replay")),
                ("key", Key()), ("from", "2026-12-01T00:00"), ("to", "2026-12-02T00:00"), ("type", "payment.\0succeeded"));
            Assert.True(r.StatusCode == HttpStatusCode.BadRequest, $"{(int)r.StatusCode}\n{hub.RecentProblems()}");
            r = await dev.PostMultipartAsync("/console/developers/webhooks?handler=create", ("__csrf", await dev.CsrfAsync("/console/developers/webhooks")),
                ("key", Key()), ("url", "https://hooks.example.com/\0"), ("events", ""));
            Assert.True(r.StatusCode == HttpStatusCode.BadRequest, $"{(int)r.StatusCode}\n{hub.RecentProblems()}");
            Assert.Equal(audit, await hub.CountAsync("SELECT COUNT(*) FROM console_audit WHERE merchant_id = @merchantId", new { merchantId }));
            Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM webhook_endpoints WHERE merchant_id = @merchantId", new { merchantId }));
        }

        // The buyer's "ask a friend to pay" form on the cashier (no JSON rule in front of the service): a 400 problem naming the field.
        var created = await m.PostAsync("/v1/payments", new { amount = 1_000, currency = "CNY", description = "茶", merchant_order_id = "nul-" + Guid.NewGuid().ToString("N")[..8] });
        var checkout = new Uri(created.Str("checkout_url")).PathAndQuery;
        using (var buyer = NewClient())
        {
            foreach (var (field, fields) in new[]
            {
                ("requester_name", new[] { ("requester_name", "小\0红") }),
                ("note", new[] { ("requester_name", "小红"), ("note", "帮\0我") }),
            })
            {
                var r = await buyer.PostMultipartAsync(checkout + "/friend", fields);
                var body = await r.Content.ReadAsStringAsync();
                Assert.True(r.StatusCode == HttpStatusCode.BadRequest, $"{field}: {(int)r.StatusCode} {body}\n{hub.RecentProblems()}");
                Assert.Contains($"\"{field}\"", body, StringComparison.Ordinal);
                Assert.Contains("NUL", body, StringComparison.Ordinal);
            }
        }

        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM friend_pay_links WHERE merchant_id = @merchantId", new { merchantId }));
    }

    [Fact]
    public async Task A_return_url_with_a_control_character_signs_in_to_the_payments_page_not_a_500()
    {
        var (_, merchantId, _) = await hub.NewMerchantAsync();
        var owner = await ConsoleBrowser.UserAsync(hub, merchantId, ConsoleRole.Owner);
        foreach (var returnUrl in new[] { "/console/payments\t", "/console\r\nSet-Cookie: x=1", "/console/money\u0007" })
        {
            using var c = NewClient();
            var r = await c.PostFormAsync("/console/sign-in",
                ("__csrf", await c.CsrfAsync("/console/sign-in")), ("email", owner.Email), ("password", ConsoleBrowser.Password), ("returnUrl", returnUrl));
            Assert.True(r.StatusCode == HttpStatusCode.Redirect, $"{returnUrl.ReplaceLineEndings("⏎")}: {(int)r.StatusCode}\n{hub.RecentProblems()}");
            Assert.Equal("/console/payments", r.Headers.Location?.OriginalString);
            Assert.Contains(r.Headers.GetValues("Set-Cookie"), v => v.StartsWith(ConsoleFeature.CookieName + "=", StringComparison.Ordinal));
        }

        // A return path inside the console still works, and another site is still refused.
        Assert.Equal("/console/money?merchant=x", Server.Features.Console.Pages.SignInModel.SafeReturn("/console/money?merchant=x"));
        Assert.Equal("/console/payments", Server.Features.Console.Pages.SignInModel.SafeReturn("//evil.example/console"));
    }

    [Fact]
    public async Task An_audit_line_keeps_at_most_500_characters_of_what_a_form_sent()
    {
        var (_, merchantId, _) = await hub.NewMerchantAsync();
        var developer = await ConsoleBrowser.UserAsync(hub, merchantId, ConsoleRole.Developer);
        using var dev = NewClient();
        await dev.SignInAsync(developer.Email);

        // A 200,000-character type and endpoint (a console POST may be 1 MiB): refused as the API refuses them, and audited —
        // before the fix the refusal's line held both whole.
        var huge = new string('a', 200_000);
        var r = await dev.PostFormAsync("/console/developers/events/replay", ("__csrf", await dev.CsrfAsync("/console/developers/events/replay")),
            ("key", Key()), ("from", "2026-12-01T00:00"), ("to", "2026-12-02T00:00"), ("type", "payment." + huge), ("endpoint", "we_" + huge));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Contains("data-status=\"", await r.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var lines = (await hub.Db.ReadAsync(c => Dapper.SqlMapper.QueryAsync<(string Action, string? Target, string? Detail)>(c,
            "SELECT action, target, detail FROM console_audit WHERE merchant_id = @merchantId AND action = 'events.replay_refused'", new { merchantId }), default)).ToList();
        var line = Assert.Single(lines);
        Assert.Equal(ConsoleStore.MaxAuditText, line.Target!.Length);
        Assert.Equal(ConsoleStore.MaxAuditText, line.Detail!.Length);
        Assert.EndsWith("…", line.Detail, StringComparison.Ordinal);
        Assert.StartsWith("we_aaa", line.Target, StringComparison.Ordinal);

        // The cut never splits a surrogate pair (PostgreSQL's UTF-8 cannot store half of one).
        var emoji = ConsoleStore.Clip(new string('a', ConsoleStore.MaxAuditText - 2) + "😀😀");
        Assert.Equal(new string('a', ConsoleStore.MaxAuditText - 2) + "…", emoji);
        Assert.Equal("short", ConsoleStore.Clip("short"));
    }
}

[Collection("sqlite")]
public sealed class ConsoleProbeTests_Sqlite(SqliteHub hub) : ConsoleProbeTests(hub);

[Collection("postgres")]
public sealed class ConsoleProbeTests_Postgres(PostgresHub hub) : ConsoleProbeTests(hub);
