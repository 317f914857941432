using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Hutong.Connectors.Abstractions;
using Hutong.Connectors.WeChatPay;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Server.Features.Channels;
using Hutong.Server.Features.Console;
using Microsoft.Playwright;

namespace Hutong.Integration.Tests;

/// <summary>
/// Console forms that replace a whole list or rule, and the dispute page's refund, in Chromium on both stores. Two users
/// who open the same routing or rollout form and both submit: exactly one change is stored, the other user gets the 409
/// problem page and nothing of theirs is written (no lost update, no removal of the wrong rule). The admin routes API
/// holds the same check. The dispute page refunds through the refund service once per form, for the roles the payment
/// page lets refund, and passes axe-core's WCAG 2 A/AA rules.
/// </summary>
public abstract class ConsoleLostUpdateBrowserTests(HubFixture hub, BrowserFixture browser)
{
    private string Url => hub.Hub.BaseUrl;

    private Task<ConsoleUserRow> UserAsync(string? merchantId, ConsoleRole role) => ConsoleBrowser.UserAsync(hub, merchantId, role);

    private Task<IPage> SignInAsync(ConsoleUserRow user, string lang = "en") => ConsoleBrowser.SignInAsync(hub, browser, user, lang);

    private Task GoAsync(IPage page, string url) => ConsoleBrowser.GoAsync(hub, page, url);

    private static IFormData Form(IAPIRequestContext request, params (string Name, string Value)[] fields) => ConsoleBrowser.Form(request, fields);

    private Task<long> AuditAsync(string merchantId, string action) =>
        hub.CountAsync("SELECT COUNT(*) FROM console_audit WHERE merchant_id = @merchantId AND action = @action", new { merchantId, action });

    /// <summary>
    /// Clicks <paramref name="button"/> and, once the page that answers the form has loaded, tells "done" (saved,
    /// redirected) or the problem's status ("409"). The old page is marked first, so its own #done or #problem is not read.
    /// </summary>
    private static async Task<string> SubmitAsync(IPage page, string button)
    {
        await page.EvaluateAsync("() => { window.__sent = true; }");
        await page.Locator(button).ClickAsync();
        return await OutcomeAsync(page);
    }

    private static async Task<string> OutcomeAsync(IPage page)
    {
        await page.WaitForFunctionAsync("() => !window.__sent && document.readyState === 'complete'", null, new() { Timeout = 30_000 });
        await page.Locator("#done, #problem").First.WaitForAsync(new() { Timeout = 30_000 });
        return await page.Locator("#done").CountAsync() == 1 ? "done" : (await page.Locator("#problem").GetAttributeAsync("data-status"))!;
    }

    /// <summary>The min_amount of each stored WeChat Pay rule of the merchant, in order (read from the table, not the cache).</summary>
    private async Task<long[]> StoredRoutesAsync(string merchantId)
    {
        var json = await hub.Db.ReadAsync(c => c.QuerySingleOrDefaultAsync<string?>(
            "SELECT rules FROM routes WHERE merchant_id = @merchantId AND wallet = 'wechatpay'", new { merchantId }), default);
        return json is null ? [] : [.. JsonDocument.Parse(json).RootElement.EnumerateArray().Select(r => r.GetProperty("min_amount").GetInt64())];
    }

    /// <summary>The stored WeChat Pay rollout rule's percentage and kill switch.</summary>
    private async Task<(int Percentage, bool KillSwitch)> StoredRolloutAsync(string merchantId)
    {
        var json = await hub.Db.ReadAsync(c => c.QuerySingleAsync<string>(
            "SELECT rule FROM rollout_rules WHERE merchant_id = @merchantId AND wallet = 'wechatpay'", new { merchantId }), default);
        var rule = JsonDocument.Parse(json).RootElement;
        return (rule.GetProperty("percentage").GetInt32(), rule.TryGetProperty("kill_switch", out var k) && k.ValueKind == JsonValueKind.True);
    }

    // ---- routing rules ----

    [Fact]
    public async Task Two_operators_who_edit_one_merchants_routes_at_once_keep_exactly_one_change_and_the_other_sees_the_conflict()
    {
        var (_, merchantId, _) = await hub.NewMerchantAsync();
        var a = await SignInAsync(await UserAsync(null, ConsoleRole.Operator));
        var b = await SignInAsync(await UserAsync(null, ConsoleRole.Operator), "zh");
        var page = $"{Url}/console/operations/channels?merchant={merchantId}";

        // Both open the page on the empty list and add a different rule; both forms are sent at once.
        await GoAsync(a, page);
        await GoAsync(b, page);
        foreach (var (p, min, max) in new[] { (a, "1", "100"), (b, "200", "300") })
        {
            await p.Locator("#channel-wechatpay").SelectOptionAsync("wechatpay");
            await p.Locator("#min-wechatpay").FillAsync(min);
            await p.Locator("#max-wechatpay").FillAsync(max);
        }

        var outcomes = await Task.WhenAll(SubmitAsync(a, "#add-wechatpay"), SubmitAsync(b, "#add-wechatpay"));
        Assert.Equal(["409", "done"], outcomes.Order(StringComparer.Ordinal));
        var (winner, loser, winnerMin) = outcomes[0] == "done" ? (a, b, 100L) : (b, a, 20_000L);
        Assert.Contains("routes_changed", await loser.Locator("#problem").InnerTextAsync(), StringComparison.Ordinal);
        var stored = await StoredRoutesAsync(merchantId);
        Assert.Equal(winnerMin, Assert.Single(stored));
        Assert.Equal(1, await AuditAsync(merchantId, "routes.saved"));
        Assert.Equal(1, await AuditAsync(merchantId, "routes.refused"));
        // The conflict page shows the list as it is now, so the loser's next try builds on it.
        Assert.Equal("1", await loser.Locator("#rules-wechatpay").GetAttributeAsync("data-rules"));

        // The loser adds again on the list it now sees: two rules, the winner's first.
        await loser.Locator("#channel-wechatpay").SelectOptionAsync("wechatpay");
        await loser.Locator("#min-wechatpay").FillAsync("500");
        Assert.Equal("done", await SubmitAsync(loser, "#add-wechatpay"));
        Assert.Equal([winnerMin, 50_000L], await StoredRoutesAsync(merchantId));

        // Both open "remove rule #1" (the winner's rule); the first confirmation removes it, the second is refused and
        // does not remove what is now rule #1 (the other rule).
        await GoAsync(a, page);
        await GoAsync(b, page);
        await a.Locator("[id='remove-wechatpay-0']").ClickAsync();
        await b.Locator("[id='remove-wechatpay-0']").ClickAsync();
        await a.Locator("#confirm-remove").WaitForAsync();
        await b.Locator("#confirm-remove").WaitForAsync();
        Assert.Equal("done", await SubmitAsync(a, "#confirm-remove"));
        Assert.Equal("409", await SubmitAsync(b, "#confirm-remove"));
        Assert.Equal(50_000L, Assert.Single(await StoredRoutesAsync(merchantId)));

        // A remove link built on an older list asks no confirmation: it says the list changed.
        var stale = await b.Context.APIRequest.GetAsync($"{page}&remove=wechatpay:0&version=0123456789abcdef");
        Assert.Equal(409, stale.Status);
        Assert.DoesNotContain("confirm-remove", await stale.TextAsync(), StringComparison.Ordinal);
        Assert.Empty(await ConsoleBrowser.AccessibilityViolationsAsync(loser));
    }

    [Fact]
    public async Task The_admin_routes_api_refuses_a_list_built_on_an_older_version_and_a_same_list_save_changes_nothing()
    {
        var (_, merchantId, _) = await hub.NewMerchantAsync();
        var admin = hub.Admin();
        var path = $"/admin/merchants/{merchantId}/routes/wechatpay";
        var read = await admin.GetAsync(path);
        Assert.Equal("0", read.Str("version"));

        var first = await admin.PostAsync(path, new { rules = new[] { new { channel = "wechatpay", min_amount = 100 } }, version = "0" });
        Assert.Equal(HttpStatusCode.OK, first.Status);
        var v1 = first.Str("version");
        Assert.NotEqual("0", v1);
        Assert.Equal(v1, (await admin.GetAsync(path)).Str("version"));

        // Built on the empty list that is gone: 409 routes_changed, the stored list untouched.
        var stale = await admin.PostAsync(path, new { rules = new[] { new { channel = "wechatpay", min_amount = 999 } }, version = "0" });
        Assert.Equal(HttpStatusCode.Conflict, stale.Status);
        Assert.Equal("routes_changed", stale.Str("code"));
        Assert.Equal(100L, Assert.Single(await StoredRoutesAsync(merchantId)));

        // On the current version it saves; the same list again writes nothing and announces nothing.
        var second = await admin.PostAsync(path, new { rules = new[] { new { channel = "wechatpay", min_amount = 200 } }, version = v1 });
        Assert.Equal(HttpStatusCode.OK, second.Status);
        var routing = hub.Service<RoutingService>();
        var (rules, version) = await routing.CurrentAsync(merchantId, "wechatpay", default);
        Assert.Equal(second.Str("version"), version);
        Assert.Equal(RouteSave.Unchanged, await routing.SaveAsync(merchantId, "wechatpay", rules, default, expectedVersion: version));
        Assert.Equal(RouteSave.Stale, await routing.SaveAsync(merchantId, "wechatpay", [], default, expectedVersion: v1));
        Assert.Equal(200L, Assert.Single(await StoredRoutesAsync(merchantId)));
    }

    // ---- rollout ----

    [Fact]
    public async Task A_rollout_form_built_on_an_older_rule_is_refused_and_keeps_the_kill_switch_set_meanwhile()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var a = await SignInAsync(await UserAsync(merchantId, ConsoleRole.Owner));
        var b = await SignInAsync(await UserAsync(merchantId, ConsoleRole.Owner));
        await GoAsync(a, $"{Url}/console/operations/rollout");
        await GoAsync(b, $"{Url}/console/operations/rollout");

        // Two owners on the same rule: the first save wins, the second is 409 and not written.
        await a.Locator("#pct-wechatpay").FillAsync("30");
        Assert.Equal("done", await SubmitAsync(a, "#save-wechatpay"));
        await b.Locator("#pct-wechatpay").FillAsync("60");
        Assert.Equal("409", await SubmitAsync(b, "#save-wechatpay"));
        Assert.Equal((30, false), await StoredRolloutAsync(merchantId));

        // A opens the form again; the API switches the wallet off meanwhile. A's save, built on the rule without the kill
        // switch, is refused rather than stored over it.
        await GoAsync(a, $"{Url}/console/operations/rollout");
        Assert.Equal(HttpStatusCode.OK, (await m.PostAsync("/v1/rollouts/wechatpay", new { percentage = 30, kill_switch = true })).Status);
        await a.Locator("#pct-wechatpay").FillAsync("100");
        Assert.Equal("409", await SubmitAsync(a, "#save-wechatpay"));
        Assert.Equal((30, true), await StoredRolloutAsync(merchantId));
        Assert.Equal(2, await AuditAsync(merchantId, "rollout.refused"));
    }

    // ---- refund from a dispute ----

    /// <summary>A merchant with a paid ¥20.00 WeChat Pay payment the buyer complained about at the sandbox, and the hub's dispute.</summary>
    private async Task<(string MerchantId, string DisputeId, string PaymentId)> DisputedAsync()
    {
        var set = await hub.Service<WeChatPayConnector>().SetComplaintNotifyUrlAsync(hub.Hub.BaseUrl + "/notify/wechatpay", default);
        Assert.Equal(WalletCallOutcome.Ok, set.Outcome);
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var paymentId = await m.CreatePaymentAsync(2_000);
        var code = (await m.ConfirmAsync(paymentId)).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        (await hub.BuyerPaysAsync(code)).EnsureSuccessStatusCode();
        await m.WaitForStatusAsync(paymentId, "succeeded");
        var outTradeNo = await hub.Db.ReadAsync(c => c.ExecuteScalarAsync<string>(
            "SELECT out_trade_no FROM payment_attempts WHERE payment_id = @paymentId AND status = 'succeeded'", new { paymentId }), default);
        using var http = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
        var r = await http.PostAsJsonAsync("/sandbox/wechatpay/buyer/complain",
            new { out_trade_no = outTradeNo, detail = "商品未收到", problem_type = "OTHERS", drop_notification = false }, SandboxJson.Options);
        r.EnsureSuccessStatusCode();
        var list = await hub.EventuallyAsync(() => m.GetAsync($"/v1/disputes?payment={paymentId}"), x => x.Json.GetProperty("data").GetArrayLength() == 1, what: "the dispute arrives");
        return (merchantId, list.Json.GetProperty("data")[0].GetProperty("id").GetString()!, paymentId);
    }

    private Task<long> RefundsAsync(string paymentId) => hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE payment_id = @paymentId", new { paymentId });

    [Fact]
    public async Task Finance_refunds_a_disputed_payment_from_the_dispute_page_once_even_when_the_form_is_sent_twice_and_others_are_refused()
    {
        var (merchantId, disputeId, paymentId) = await DisputedAsync();
        var disputeUrl = $"{Url}/console/money/disputes/{disputeId}";
        var finance = await SignInAsync(await UserAsync(merchantId, ConsoleRole.Finance));
        await GoAsync(finance, disputeUrl);
        Assert.Equal("2000", await finance.Locator("#refundable").GetAttributeAsync("data-fen"));
        Assert.Empty(await ConsoleBrowser.AccessibilityViolationsAsync(finance));

        // Yuan that is not a whole number of fen, or more than is left, gets a problem and no confirmation.
        foreach (var bad in new[] { "12.345", "20.01", "0" })
        {
            await finance.Locator("#amount").FillAsync(bad);
            Assert.Equal("400", await SubmitAsync(finance, "#review-refund"));
            Assert.Equal(0, await finance.Locator("#confirm-refund").CountAsync());
        }

        // 12.34 yuan is exactly 1234 fen; nothing is refunded before the confirmation.
        await finance.Locator("#amount").FillAsync("12.34");
        await finance.Locator("#reason").FillAsync("投诉退款");
        await finance.Locator("#review-refund").ClickAsync();
        await finance.Locator("#confirm-refund").WaitForAsync();
        Assert.Equal("1234", await finance.Locator("#confirm-amount").GetAttributeAsync("data-fen"));
        Assert.Equal(0, await RefundsAsync(paymentId));
        Assert.Empty(await ConsoleBrowser.AccessibilityViolationsAsync(finance));

        // The confirmation form sent twice at once (a double click) and then clicked: one refund of 1234 fen.
        var sent = Form(finance.Context.APIRequest,
            ("__csrf", await ConsoleBrowser.CsrfAsync(finance)),
            ("key", (await finance.Locator("form[action*='handler=Refund'] input[name=key]").GetAttributeAsync("value"))!),
            ("amount", "12.34"), ("reason", "投诉退款"));
        var both = await Task.WhenAll(
            finance.Context.APIRequest.PostAsync($"{disputeUrl}?handler=Refund", new() { Form = sent, MaxRedirects = 0 }),
            finance.Context.APIRequest.PostAsync($"{disputeUrl}?handler=Refund", new() { Form = sent, MaxRedirects = 0 }));
        Assert.Equal(
            ["dispute-refunded", "repeat"],
            both.Select(r => r.Headers["location"].Split("done=")[1]).Order(StringComparer.Ordinal));
        Assert.Equal("done", await SubmitAsync(finance, "#confirm-refund"));
        Assert.Contains("done=repeat", finance.Url, StringComparison.Ordinal);
        Assert.Equal(1, await RefundsAsync(paymentId));
        Assert.Equal(1_234, await hub.CountAsync("SELECT amount FROM refunds WHERE payment_id = @paymentId", new { paymentId }));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM disputes WHERE id = @disputeId AND refund_id IS NOT NULL", new { disputeId }));
        Assert.Equal(1, await AuditAsync(merchantId, "refund.created"));
        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE payment_id = @paymentId AND status = 'succeeded'", new { paymentId }),
            n => n == 1, what: "the refund succeeds at the wallet");
        await hub.LedgerVerifiesAsync();
        await GoAsync(finance, disputeUrl);
        Assert.Equal("766", await finance.Locator("#refundable").GetAttributeAsync("data-fen"));

        // The owner may refund here too; support and developers get 403 for the POST, another merchant 404: nothing refunded.
        var owner = await SignInAsync(await UserAsync(merchantId, ConsoleRole.Owner), "zh");
        await GoAsync(owner, disputeUrl);
        Assert.Equal(1, await owner.Locator("#review-refund").CountAsync());
        Assert.Empty(await ConsoleBrowser.AccessibilityViolationsAsync(owner));
        foreach (var role in new[] { ConsoleRole.Support, ConsoleRole.Developer })
        {
            var p = await SignInAsync(await UserAsync(merchantId, role));
            var refused = await p.Context.APIRequest.PostAsync($"{disputeUrl}?handler=Refund", new()
            {
                Form = Form(p.Context.APIRequest, ("__csrf", await ConsoleBrowser.CsrfAsync(p)), ("key", "console-" + Guid.NewGuid().ToString("N")), ("amount", "1.00")),
                MaxRedirects = 0,
            });
            Assert.Equal(403, refused.Status);
        }

        var (_, otherMerchant, _) = await hub.NewMerchantAsync();
        var other = await SignInAsync(await UserAsync(otherMerchant, ConsoleRole.Finance));
        var foreign = await other.Context.APIRequest.PostAsync($"{disputeUrl}?handler=Refund", new()
        {
            Form = Form(other.Context.APIRequest, ("__csrf", await ConsoleBrowser.CsrfAsync(other)), ("key", "console-" + Guid.NewGuid().ToString("N")), ("amount", "1.00")),
            MaxRedirects = 0,
        });
        Assert.Equal(404, foreign.Status);
        Assert.Equal(1, await RefundsAsync(paymentId));
    }
}

[Collection("sqlite")]
public sealed class ConsoleLostUpdateBrowserTests_Sqlite(SqliteHub hub, BrowserFixture browser) : ConsoleLostUpdateBrowserTests(hub, browser), IClassFixture<BrowserFixture>;

[Collection("postgres")]
public sealed class ConsoleLostUpdateBrowserTests_Postgres(PostgresHub hub, BrowserFixture browser) : ConsoleLostUpdateBrowserTests(hub, browser), IClassFixture<BrowserFixture>;
