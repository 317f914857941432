using System.Net.Http.Json;
using System.Security.Cryptography;
using Dapper;
using Hutong.Connectors.Abstractions;
using Hutong.Connectors.WeChatPay;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Server.Features.Console;
using Hutong.Server.Features.Disputes;
using Microsoft.Playwright;

namespace Hutong.Integration.Tests;

/// <summary>
/// The console's dispute, share-code, host-contract and channel pages in Chromium, on both stores: the allowed role's
/// action reaches the wallet / the database (checked there, not on the page), with a confirmation first and an audit
/// line; a role without the permission gets no button and a forged POST is 403 with nothing changed; another
/// merchant's object is 404; a POST without the antiforgery token is refused; every new page passes axe-core's WCAG 2
/// A/AA rules in Chinese and English.
/// </summary>
public abstract class ConsoleMoneyBrowserTests(HubFixture hub, BrowserFixture browser)
{
    private const string Password = ConsoleBrowser.Password;

    private string Url => hub.Hub.BaseUrl;

    private Task<ConsoleUserRow> UserAsync(string? merchantId, ConsoleRole role) => ConsoleBrowser.UserAsync(hub, merchantId, role);

    private Task<IPage> SignInAsync(ConsoleUserRow user, string lang = "en") => ConsoleBrowser.SignInAsync(hub, browser, user, lang);

    private Task GoAsync(IPage page, string url) => ConsoleBrowser.GoAsync(hub, page, url);

    private static Task<string[]> AccessibilityViolationsAsync(IPage page) => ConsoleBrowser.AccessibilityViolationsAsync(page);

    private static Task<string> CsrfAsync(IPage page) => ConsoleBrowser.CsrfAsync(page);

    private static IFormData Form(IAPIRequestContext request, params (string Name, string Value)[] fields) => ConsoleBrowser.Form(request, fields);

    private static string NewKey() => "console-" + Guid.NewGuid().ToString("N");

    private Task<long> AuditAsync(string merchantId, string action) =>
        hub.CountAsync("SELECT COUNT(*) FROM console_audit WHERE merchant_id = @merchantId AND action = @action", new { merchantId, action });

    // ---- disputes ----

    /// <summary>A merchant with a paid WeChat Pay payment the buyer complained about at the sandbox, and the dispute the hub made of it.</summary>
    private async Task<(ApiClient M, string MerchantId, string DisputeId, string ComplaintId)> DisputedAsync()
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
        var complaintId = (await r.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("complaint_id").GetString()!;
        var list = await hub.EventuallyAsync(() => m.GetAsync($"/v1/disputes?payment={paymentId}"), x => x.Json.GetProperty("data").GetArrayLength() == 1, what: "the dispute arrives");
        return (m, merchantId, list.Json.GetProperty("data")[0].GetProperty("id").GetString()!, complaintId);
    }

    private int WalletHistory(string complaintId, string type)
    {
        var c = hub.Sandbox.WeChat.Complaints.Complaints[complaintId];
        lock (c)
        {
            return c.History.Count(h => h.OperateType == type);
        }
    }

    private async Task<string> DisputeStatusAsync(string merchantId, string id) => (await hub.Service<DisputeService>().GetAsync(merchantId, id, default)).Value!.Status;

    [Fact]
    public async Task Finance_answers_a_dispute_with_an_evidence_image_then_closes_it_after_confirming_and_other_roles_and_merchants_are_refused()
    {
        var (_, merchantId, disputeId, complaintId) = await DisputedAsync();
        var finance = await SignInAsync(await UserAsync(merchantId, ConsoleRole.Finance));

        // From the money page's list to the dispute, whose timeline starts with the buyer's complaint.
        await GoAsync(finance, $"{Url}/console/money");
        await finance.Locator($"[id='dispute-{disputeId}']").ClickAsync();
        await finance.Locator("#timeline").WaitForAsync();
        Assert.Equal("needs_response", await finance.Locator("#dispute-status").GetAttributeAsync("data-status"));
        Assert.Equal("buyer", await finance.Locator("#timeline tbody tr").First.GetAttributeAsync("data-actor"));

        // Not ticking the confirmation sends nothing anywhere.
        var png = RandomNumberGenerator.GetBytes(2_000);
        new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }.CopyTo(png, 0);
        await finance.Locator("#text").FillAsync("已为您补发，请查收");
        await finance.Locator("#evidence").SetInputFilesAsync(new FilePayload { Name = "receipt.png", MimeType = "image/png", Buffer = png });
        await finance.Locator("#respond").ClickAsync();
        await finance.Locator("#problem").WaitForAsync();
        Assert.Equal(0, WalletHistory(complaintId, "MERCHANT_RESPONSE"));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM files WHERE merchant_id = @merchantId", new { merchantId }));

        // Ticked: the image is stored as POST /v1/files stores it, sent to the wallet with the answer, and the answer audited.
        await finance.Locator("#text").FillAsync("已为您补发，请查收");
        await finance.Locator("#evidence").SetInputFilesAsync(new FilePayload { Name = "receipt.png", MimeType = "image/png", Buffer = png });
        await finance.Locator("#understood").CheckAsync();
        await finance.Locator("#respond").ClickAsync();
        await finance.Locator("#done").WaitForAsync();
        Assert.Equal(1, WalletHistory(complaintId, "MERCHANT_RESPONSE"));
        Assert.Equal(1, await hub.CountAsync(
            "SELECT COUNT(*) FROM files WHERE merchant_id = @merchantId AND purpose = 'dispute_evidence' AND size = 2000", new { merchantId }));
        Assert.Equal(1, await hub.CountAsync(
            "SELECT COUNT(*) FROM file_wallet_images w JOIN files f ON f.id = w.file_id WHERE f.merchant_id = @merchantId", new { merchantId }));
        Assert.Equal("under_review", await DisputeStatusAsync(merchantId, disputeId));
        Assert.Equal(1, await AuditAsync(merchantId, "dispute.responded"));
        Assert.Contains("已为您补发，请查收", await finance.Locator("#timeline").InnerTextAsync(), StringComparison.Ordinal);

        // Close: a confirmation first (nothing changes before it), then the wallet marks it handled.
        await finance.Locator("#close").ClickAsync();
        await finance.Locator("#confirm-close").WaitForAsync();
        Assert.Equal("under_review", await DisputeStatusAsync(merchantId, disputeId));
        await finance.Locator("#confirm-close").ClickAsync();
        await finance.Locator("#done").WaitForAsync();
        Assert.Equal("closed", await DisputeStatusAsync(merchantId, disputeId));
        Assert.Equal("PROCESSED", hub.Sandbox.WeChat.Complaints.Complaints[complaintId].State);
        Assert.Equal(1, await AuditAsync(merchantId, "dispute.closed"));
        Assert.Equal(0, await finance.Locator("#respond").CountAsync());

        // A closed dispute takes no answer: the forged POST is the API's 409 problem and reaches no wallet.
        var token = await CsrfAsync(finance);
        var late = await finance.Context.APIRequest.PostAsync($"{Url}/console/money/disputes/{disputeId}?handler=Respond", new()
        {
            Form = Form(finance.Context.APIRequest, ("__csrf", token), ("key", NewKey()), ("text", "再次回复"), ("understood", "true")),
            MaxRedirects = 0,
        });
        Assert.Contains("dispute_closed", await late.TextAsync(), StringComparison.Ordinal);
        Assert.Equal(1, WalletHistory(complaintId, "MERCHANT_RESPONSE"));

        // Without the antiforgery token the POST is refused.
        var noCsrf = await finance.Context.APIRequest.PostAsync($"{Url}/console/money/disputes/{disputeId}?handler=Close", new()
        {
            Form = Form(finance.Context.APIRequest, ("key", NewKey())),
            MaxRedirects = 0,
        });
        Assert.Equal(400, noCsrf.Status);
    }

    [Fact]
    public async Task A_dispute_is_not_found_for_another_merchant_and_forbidden_to_roles_without_money()
    {
        var (_, merchantId, disputeId, complaintId) = await DisputedAsync();
        var (_, otherMerchant, _) = await hub.NewMerchantAsync();

        var otherOwner = await SignInAsync(await UserAsync(otherMerchant, ConsoleRole.Owner));
        Assert.Equal(404, (await otherOwner.Context.APIRequest.GetAsync($"{Url}/console/money/disputes/{disputeId}")).Status);
        var forged = await otherOwner.Context.APIRequest.PostAsync($"{Url}/console/money/disputes/{disputeId}?handler=Close", new()
        {
            Form = Form(otherOwner.Context.APIRequest, ("__csrf", await CsrfAsync(otherOwner)), ("key", NewKey())),
            MaxRedirects = 0,
        });
        Assert.Equal(404, forged.Status);

        foreach (var role in new[] { ConsoleRole.Support, ConsoleRole.Developer })
        {
            var page = await SignInAsync(await UserAsync(merchantId, role));
            Assert.Equal(403, (await page.Context.APIRequest.GetAsync($"{Url}/console/money/disputes/{disputeId}", new() { MaxRedirects = 0 })).Status);
            var refused = await page.Context.APIRequest.PostAsync($"{Url}/console/money/disputes/{disputeId}?handler=Respond", new()
            {
                Form = Form(page.Context.APIRequest, ("__csrf", await CsrfAsync(page)), ("key", NewKey()), ("text", "forged"), ("understood", "true")),
                MaxRedirects = 0,
            });
            Assert.Equal(403, refused.Status);
        }

        Assert.Equal(0, WalletHistory(complaintId, "MERCHANT_RESPONSE"));
        Assert.Equal("needs_response", await DisputeStatusAsync(merchantId, disputeId));

        // An operator opens it for any merchant and may answer (the permission table: operator, owner, finance).
        var op = await SignInAsync(await UserAsync(null, ConsoleRole.Operator));
        await GoAsync(op, $"{Url}/console/money/disputes/{disputeId}");
        Assert.Equal(1, await op.Locator("#respond").CountAsync());
        var owner = await SignInAsync(await UserAsync(merchantId, ConsoleRole.Owner));
        await GoAsync(owner, $"{Url}/console/money/disputes/{disputeId}");
        Assert.Equal(1, await owner.Locator("#respond").CountAsync());
    }

    // ---- share codes ----

    private Task<long> ShareCodesAsync(string merchantId, string status = "active") =>
        hub.CountAsync("SELECT COUNT(*) FROM share_codes WHERE merchant_id = @merchantId AND status = @status", new { merchantId, status });

    [Fact]
    public async Task A_developer_creates_a_share_code_sees_its_resolves_and_revokes_it_after_confirming_while_other_roles_and_merchants_are_refused()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var link = await m.PostAsync("/v1/links", new { url = "https://shop.example.com/p/9", title = "白茶 tea" });
        Assert.Equal(System.Net.HttpStatusCode.Created, link.Status);
        var linkId = link.Str("id");
        var dev = await SignInAsync(await UserAsync(merchantId, ConsoleRole.Developer));

        await GoAsync(dev, $"{Url}/console/operations/links");
        await dev.Locator($"[id='days-{linkId}']").FillAsync("7");
        await dev.Locator($"[id='create-code-{linkId}']").ClickAsync();
        await dev.Locator("#done").WaitForAsync();
        Assert.Equal(1, await ShareCodesAsync(merchantId));
        var (codeId, code, lifetime) = await hub.Db.ReadAsync(c => c.QuerySingleAsync<(string, string, long)>(
            "SELECT id, code, expires_at - created_at FROM share_codes WHERE merchant_id = @merchantId", new { merchantId }), default);
        Assert.Equal(7 * 86_400_000L, lifetime);
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM console_audit WHERE merchant_id = @merchantId AND action = 'share_code.created' AND target = @codeId", new { merchantId, codeId }));

        // Someone pastes it twice: the page shows the resolves the hub counted.
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, (await m.GetAsync("/v1/share_codes/resolve?text=" + Uri.EscapeDataString($"复制这段话 ￥{code}￥ 打开"))).Status);
        }

        await GoAsync(dev, $"{Url}/console/operations/links");
        var row = dev.Locator($"#share-codes tr[data-share-code='{codeId}']");
        Assert.Equal("2", await row.GetAttributeAsync("data-resolves"));
        Assert.Equal("active", await row.GetAttributeAsync("data-status"));

        // Revoke: a confirmation first, nothing changes before it.
        await dev.Locator($"[id='revoke-{codeId}']").ClickAsync();
        await dev.Locator("#confirm-revoke").WaitForAsync();
        Assert.Equal(1, await ShareCodesAsync(merchantId));
        await dev.Locator("#confirm-revoke").ClickAsync();
        await dev.Locator("#done").WaitForAsync();
        Assert.Equal(1, await ShareCodesAsync(merchantId, "revoked"));
        Assert.Equal(System.Net.HttpStatusCode.Gone, (await m.GetAsync("/v1/share_codes/resolve?text=" + Uri.EscapeDataString($"￥{code}￥"))).Status);
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM console_audit WHERE merchant_id = @merchantId AND action = 'share_code.revoked' AND target = @codeId", new { merchantId, codeId }));

        // Revoking it again is a 409 problem, not a silent success.
        var token = await CsrfAsync(dev);
        var again = await dev.Context.APIRequest.PostAsync($"{Url}/console/operations/links?handler=Revoke", new()
        {
            Form = Form(dev.Context.APIRequest, ("__csrf", token), ("key", NewKey()), ("code", codeId)),
            MaxRedirects = 0,
        });
        Assert.Contains("share_code_not_active", await again.TextAsync(), StringComparison.Ordinal);

        // Another merchant's link is not found: nothing is made for it.
        var (m2, otherMerchant, _) = await hub.NewMerchantAsync();
        var otherLink = (await m2.PostAsync("/v1/links", new { url = "https://shop.example.com/p/10", title = "other" })).Str("id");
        var forged = await dev.Context.APIRequest.PostAsync($"{Url}/console/operations/links?handler=Create", new()
        {
            Form = Form(dev.Context.APIRequest, ("__csrf", token), ("key", NewKey()), ("link", otherLink), ("days", "7")),
            MaxRedirects = 0,
        });
        Assert.Equal(404, forged.Status);
        Assert.Equal(0, await ShareCodesAsync(otherMerchant));

        // Support and finance: no links page, and a forged create is 403 with nothing made.
        foreach (var role in new[] { ConsoleRole.Support, ConsoleRole.Finance })
        {
            var page = await SignInAsync(await UserAsync(merchantId, role));
            Assert.Equal(0, await page.Locator("#nav-links").CountAsync());
            var refused = await page.Context.APIRequest.PostAsync($"{Url}/console/operations/links?handler=Create", new()
            {
                Form = Form(page.Context.APIRequest, ("__csrf", await CsrfAsync(page)), ("key", NewKey()), ("link", linkId), ("days", "7")),
                MaxRedirects = 0,
            });
            Assert.Equal(403, refused.Status);
        }

        Assert.Equal(0, await ShareCodesAsync(merchantId));

        // Without the antiforgery token even a developer's POST is refused.
        var noCsrf = await dev.Context.APIRequest.PostAsync($"{Url}/console/operations/links?handler=Create", new()
        {
            Form = Form(dev.Context.APIRequest, ("key", NewKey()), ("link", linkId), ("days", "7")),
            MaxRedirects = 0,
        });
        Assert.Equal(400, noCsrf.Status);
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM share_codes WHERE merchant_id = @merchantId", new { merchantId }));
    }

    // ---- host contracts and statements ----

    /// <summary>A merchant with a host, a contract from 2026-09-15 whose October has one sale of ¥10,000 and its statement.</summary>
    private async Task<(ApiClient M, string MerchantId, string HostId, string ContractId)> HostWithStatementAsync()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var room = "room-" + Guid.NewGuid().ToString("N")[..6];
        var host = (await m.PostAsync("/v1/hosts", new { name = "小李", live_room = room })).Str("id");
        var contract = (await m.PostAsync("/v1/host_contracts", new
        {
            host, start_date = "2026-09-15", model = "greater_of", monthly_guarantee = 500_000, share_basis_points = 1_000,
        })).Str("id");
        var created = await m.PostAsync("/v1/payments", new
        {
            amount = 1_000_000, currency = "CNY", description = "直播间商品", merchant_order_id = "live-" + Guid.NewGuid().ToString("N")[..10],
            metadata = new Dictionary<string, string> { ["live_room"] = room },
        });
        var id = created.Str("id");
        var code = (await m.ConfirmAsync(id)).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        await hub.BuyerPaysAsync(code);
        await m.WaitForStatusAsync(id, "succeeded");
        // As if sold in October 2026 (China time): a month over for any run of this suite, as HostSettlementTests does.
        await hub.ExecAsync("UPDATE payments SET succeeded_at = @at WHERE id = @id", new { at = new DateTimeOffset(2026, 10, 10, 12, 0, 0, TimeSpan.FromHours(8)).ToUnixTimeMilliseconds(), id });
        Assert.Equal(System.Net.HttpStatusCode.Created, (await m.PostAsync($"/v1/host_contracts/{contract}/statements", new { month = "2026-10" })).Status);
        return (m, merchantId, host, contract);
    }

    [Fact]
    public async Task Finance_reads_a_contracts_statements_and_an_owner_signs_and_ends_a_contract_after_confirming()
    {
        var (_, merchantId, hostId, contractId) = await HostWithStatementAsync();

        // Finance: the contract and its statement's lines, read-only (no form, a forged POST 403 with nothing made).
        var finance = await SignInAsync(await UserAsync(merchantId, ConsoleRole.Finance));
        await GoAsync(finance, $"{Url}/console/money/hosts");
        await finance.Locator($"[id='contract-{contractId}']").ClickAsync();
        var line = finance.Locator("#statements tr[data-month='2026-10']");
        await line.WaitForAsync();
        Assert.Equal("1000000", await line.GetAttributeAsync("data-gross"));
        Assert.Equal("100000", await line.GetAttributeAsync("data-share")); // 10 %
        Assert.Equal("80000", await line.GetAttributeAsync("data-tax")); // (5,000 × 80 %) × 20 %: the guarantee is greater
        Assert.Equal("420000", await line.GetAttributeAsync("data-net"));
        var stored = await hub.Db.ReadAsync(c => c.QuerySingleAsync<(long Tax, long Net)>(
            "SELECT tax, net FROM host_statements WHERE contract_id = @contractId AND month = '2026-10'", new { contractId }), default);
        Assert.Equal((80_000L, 420_000L), stored);
        Assert.Equal(0, await finance.Locator("#end-contract").CountAsync());
        await GoAsync(finance, $"{Url}/console/money/hosts");
        Assert.Equal(0, await finance.Locator("#create-contract").CountAsync());
        var refused = await finance.Context.APIRequest.PostAsync($"{Url}/console/money/hosts/{contractId}", new()
        {
            Form = Form(finance.Context.APIRequest, ("__csrf", await CsrfAsync(finance)), ("key", NewKey()), ("date", "2026-12-01")),
            MaxRedirects = 0,
        });
        Assert.Equal(403, refused.Status);
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM host_contracts WHERE id = @contractId AND exited_on IS NOT NULL", new { contractId }));

        // The owner signs a contract that starts in 2999 (so no run of this suite sees it start), then ends it after confirming.
        var owner = await SignInAsync(await UserAsync(merchantId, ConsoleRole.Owner));
        await GoAsync(owner, $"{Url}/console/money/hosts");
        await owner.Locator("#host").SelectOptionAsync(hostId);
        await owner.Locator("#start-date").FillAsync("2999-01-01");
        await owner.Locator("#model").SelectOptionAsync("greater_of");
        await owner.Locator("#guarantee").FillAsync("5000");
        await owner.Locator("#share").FillAsync("12.5");
        await owner.Locator("#create-contract").ClickAsync();
        await owner.Locator("#done").WaitForAsync();
        var signed = await hub.Db.ReadAsync(c => c.QuerySingleAsync<(string Id, long Guarantee, long Bp)>(
            "SELECT id, monthly_guarantee, share_basis_points FROM host_contracts WHERE merchant_id = @merchantId AND start_date = '2999-01-01'", new { merchantId }), default);
        Assert.Equal((500_000L, 1_250L), (signed.Guarantee, signed.Bp));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM console_audit WHERE action = 'host_contract.created' AND target = @id", new { id = signed.Id }));
        Assert.Equal("scheduled", await owner.Locator("#contract-status").GetAttributeAsync("data-status"));

        await owner.Locator("#end-contract").ClickAsync();
        await owner.Locator("#confirm-end").WaitForAsync();
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM host_contracts WHERE id = @id AND exited_on IS NOT NULL", new { id = signed.Id }));
        await owner.Locator("#date").FillAsync("2999-02-01");
        await owner.Locator("#confirm-end").ClickAsync();
        await owner.Locator("#done").WaitForAsync();
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM host_contracts WHERE id = @id AND exited_on = '2999-02-01'", new { id = signed.Id }));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM console_audit WHERE action = 'host_contract.ended' AND target = @id", new { id = signed.Id }));

        // A bad share is the API's validation problem; nothing is signed.
        await GoAsync(owner, $"{Url}/console/money/hosts");
        await owner.Locator("#start-date").FillAsync("2999-06-01");
        await owner.Locator("#model").SelectOptionAsync("revenue_share");
        await owner.Locator("#share").FillAsync("150");
        await owner.Locator("#create-contract").ClickAsync();
        await owner.Locator("#problem").WaitForAsync();
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM host_contracts WHERE merchant_id = @merchantId AND start_date = '2999-06-01'", new { merchantId }));

        // Another merchant's owner: the contract is not found, to read or to end.
        var (_, otherMerchant, _) = await hub.NewMerchantAsync();
        var other = await SignInAsync(await UserAsync(otherMerchant, ConsoleRole.Owner));
        Assert.Equal(404, (await other.Context.APIRequest.GetAsync($"{Url}/console/money/hosts/{contractId}")).Status);
        var forged = await other.Context.APIRequest.PostAsync($"{Url}/console/money/hosts/{contractId}", new()
        {
            Form = Form(other.Context.APIRequest, ("__csrf", await CsrfAsync(other)), ("key", NewKey()), ("date", "2026-12-01")),
            MaxRedirects = 0,
        });
        Assert.Equal(404, forged.Status);
        var noCsrf = await owner.Context.APIRequest.PostAsync($"{Url}/console/money/hosts/{contractId}", new()
        {
            Form = Form(owner.Context.APIRequest, ("key", NewKey()), ("date", "2026-12-01")),
            MaxRedirects = 0,
        });
        Assert.Equal(400, noCsrf.Status);
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM host_contracts WHERE id = @contractId AND exited_on IS NOT NULL", new { contractId }));
    }

    // ---- channels and routes ----

    private Task<string?> RoutesJsonAsync(string merchantId) => hub.Db.ReadAsync(c => c.QuerySingleOrDefaultAsync<string?>(
        "SELECT rules FROM routes WHERE merchant_id = @merchantId AND wallet = 'wechatpay'", new { merchantId }), default);

    [Fact]
    public async Task An_operator_sees_the_channels_and_adds_then_removes_a_route_after_confirming_while_an_owner_is_refused()
    {
        var (_, merchantId, _) = await hub.NewMerchantAsync();
        var op = await SignInAsync(await UserAsync(null, ConsoleRole.Operator));
        await GoAsync(op, $"{Url}/console/operations/channels");
        Assert.Equal(1, await op.Locator("#channels tr[data-channel='wechatpay']").CountAsync());

        await GoAsync(op, $"{Url}/console/operations/channels?merchant={merchantId}");
        Assert.Equal("0", await op.Locator("#rules-wechatpay").GetAttributeAsync("data-rules"));
        // min > max: the admin API's check refuses it; nothing is stored.
        await op.Locator("#channel-wechatpay").SelectOptionAsync("wechatpay");
        await op.Locator("#min-wechatpay").FillAsync("100");
        await op.Locator("#max-wechatpay").FillAsync("1");
        await op.Locator("#add-wechatpay").ClickAsync();
        await op.Locator("#problem").WaitForAsync();
        Assert.Null(await RoutesJsonAsync(merchantId));

        await GoAsync(op, $"{Url}/console/operations/channels?merchant={merchantId}");
        await op.Locator("#channel-wechatpay").SelectOptionAsync("wechatpay");
        await op.Locator("#min-wechatpay").FillAsync("1");
        await op.Locator("#max-wechatpay").FillAsync("100");
        await op.Locator("#add-wechatpay").ClickAsync();
        await op.Locator("#done").WaitForAsync();
        var rules = await hub.Service<Hutong.Server.Features.Channels.RoutingService>().RulesAsync(merchantId, "wechatpay", default);
        Assert.Equal(("wechatpay", 100L, 10_000L), (rules.Single().Channel!, rules.Single().MinAmount!.Value, rules.Single().MaxAmount!.Value));
        Assert.Contains("10000", await RoutesJsonAsync(merchantId), StringComparison.Ordinal);
        Assert.Equal(1, await AuditAsync(merchantId, "routes.saved"));

        // Remove: a confirmation first, nothing changes before it.
        await op.Locator("[id='remove-wechatpay-0']").ClickAsync();
        await op.Locator("#confirm-remove").WaitForAsync();
        Assert.Contains("wechatpay", await RoutesJsonAsync(merchantId), StringComparison.Ordinal);
        await op.Locator("#confirm-remove").ClickAsync();
        await op.Locator("#done").WaitForAsync();
        Assert.Equal("[]", await RoutesJsonAsync(merchantId));
        Assert.Equal(2, await AuditAsync(merchantId, "routes.saved"));

        // An owner: no page, no navigation line, and a forged POST is 403 with nothing stored.
        var owner = await SignInAsync(await UserAsync(merchantId, ConsoleRole.Owner));
        Assert.Equal(0, await owner.Locator("#nav-channels").CountAsync());
        Assert.Equal(403, (await owner.Context.APIRequest.GetAsync($"{Url}/console/operations/channels", new() { MaxRedirects = 0 })).Status);
        var forged = await owner.Context.APIRequest.PostAsync($"{Url}/console/operations/channels?handler=Add", new()
        {
            Form = Form(owner.Context.APIRequest, ("__csrf", await CsrfAsync(owner)), ("merchant", merchantId), ("wallet", "wechatpay"), ("channel", "wechatpay")),
            MaxRedirects = 0,
        });
        Assert.Equal(403, forged.Status);
        Assert.Equal("[]", await RoutesJsonAsync(merchantId));

        // An unknown merchant is 404; a POST without the antiforgery token is refused.
        Assert.Equal(404, (await op.Context.APIRequest.GetAsync($"{Url}/console/operations/channels?merchant=mch_nobody")).Status);
        var noCsrf = await op.Context.APIRequest.PostAsync($"{Url}/console/operations/channels?handler=Add", new()
        {
            Form = Form(op.Context.APIRequest, ("merchant", merchantId), ("wallet", "wechatpay"), ("channel", "wechatpay")),
            MaxRedirects = 0,
        });
        Assert.Equal(400, noCsrf.Status);
        Assert.Equal("[]", await RoutesJsonAsync(merchantId));
    }

    // ---- the funnel's "cashier opened" ----

    [Fact]
    public async Task Opening_the_hosted_checkout_is_recorded_once_per_payment_and_the_funnel_shows_it()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var opened = await m.CreatePaymentAsync(1_200);
        var openedAndPaid = await m.CreatePaymentAsync(3_400);
        await m.CreatePaymentAsync(5_600); // never opened

        var buyer = await (await browser.Browser.NewContextAsync()).NewPageAsync();
        foreach (var id in new[] { opened, openedAndPaid })
        {
            await GoAsync(buyer, (await m.GetAsync($"/v1/payments/{id}")).Str("checkout_url"));
        }

        var first = await hub.Db.ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT cashier_opened_at FROM payments WHERE id = @opened", new { opened }), default);
        Assert.True(first > 0);
        await Task.Delay(20);
        await GoAsync(buyer, (await m.GetAsync($"/v1/payments/{opened}")).Str("checkout_url")); // opened again: still the first time
        Assert.Equal(first, await hub.Db.ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT cashier_opened_at FROM payments WHERE id = @opened", new { opened }), default));

        var code = (await m.ConfirmAsync(openedAndPaid)).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        await hub.BuyerPaysAsync(code);
        await m.WaitForStatusAsync(openedAndPaid, "succeeded");
        Assert.Equal(2, await hub.CountAsync("SELECT COUNT(*) FROM payments WHERE merchant_id = @merchantId AND cashier_opened_at IS NOT NULL", new { merchantId }));

        var finance = await SignInAsync(await UserAsync(merchantId, ConsoleRole.Finance));
        await GoAsync(finance, $"{Url}/console/charts");
        var funnel = await finance.Locator("#funnel-table tbody tr").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.value)");
        Assert.Equal(new[] { "3", "2", "1", "1" }, funnel); // made, cashier opened, wallet chosen, paid
        Assert.Empty(await AccessibilityViolationsAsync(finance));
    }

    // ---- every new page, zh and en ----

    [Theory]
    [InlineData("en")]
    [InlineData("zh")]
    public async Task Every_new_page_renders_and_passes_axe(string lang)
    {
        var (m, merchantId, disputeId, _) = await DisputedAsync();
        var link = (await m.PostAsync("/v1/links", new { url = "https://shop.example.com/p/11", title = "茶具 teaware" })).Str("id");
        var code = (await m.PostAsync("/v1/share_codes", new { link_id = link })).Str("id");
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

        await CheckAsync(owner, "dispute", $"/console/money/disputes/{disputeId}");
        await CheckAsync(owner, "dispute-close", $"/console/money/disputes/{disputeId}?confirm=close");
        await CheckAsync(owner, "links-share-codes", "/console/operations/links");
        await CheckAsync(owner, "revoke-share-code", $"/console/operations/links?revoke={code}");
        await CheckAsync(op, "operator-dispute", $"/console/money/disputes/{disputeId}");
        var (_, hostMerchant, _, contractId) = await HostWithStatementAsync();
        var hostOwner = await SignInAsync(await UserAsync(hostMerchant, ConsoleRole.Owner), lang);
        await CheckAsync(hostOwner, "host-contracts", "/console/money/hosts");
        await CheckAsync(hostOwner, "host-contract", $"/console/money/hosts/{contractId}");
        await CheckAsync(hostOwner, "host-contract-end", $"/console/money/hosts/{contractId}?confirm=end");
        await CheckAsync(op, "channels", $"/console/operations/channels?merchant={hostMerchant}");
        Assert.Empty(problems);
    }
}

[Collection("sqlite")]
public sealed class ConsoleMoneyBrowserTests_Sqlite(SqliteHub hub, BrowserFixture browser) : ConsoleMoneyBrowserTests(hub, browser), IClassFixture<BrowserFixture>;

[Collection("postgres")]
public sealed class ConsoleMoneyBrowserTests_Postgres(PostgresHub hub, BrowserFixture browser) : ConsoleMoneyBrowserTests(hub, browser), IClassFixture<BrowserFixture>;
