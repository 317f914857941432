using System.Net;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server.Features.Webhooks;

namespace Hutong.Integration.Tests;

/// <summary>
/// Input that was accepted (201) but could never work is refused when sent, with a 400 naming the field, and nothing
/// is stored: a link's Android target the click would refuse, a host payout wallet that sends no payouts, a webhook
/// subscription to an event type the hub never sends. Found by a black-box probe of /v1.
/// </summary>
public abstract class InputShapeTests(HubFixture hub)
{
    private const string AndroidUa = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36";

    private static async Task AssertRefusedAsync(ApiClient m, string path, object body, string param, string? mentions = null)
    {
        var r = await m.PostAsync(path, body);
        Assert.True(r.Status == HttpStatusCode.BadRequest, $"{path} {param}: {r}");
        Assert.Equal("application/problem+json", r.ContentHeaders?.ContentType?.MediaType);
        Assert.Equal(param, r.Str("param"));
        if (mentions is not null)
        {
            Assert.Contains(mentions, r.Body, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_link_is_created_only_with_an_Android_target_its_click_can_follow()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        const string app = "exampleshop://product/42";
        foreach (var package in (string[])["com.example.shop\n", "com.example." + new string('a', 5_000), "com.example.shop\u202e", "com.example.shop "])
        {
            await AssertRefusedAsync(m, "/v1/links", new { url = "https://shop.example.com/p/42", title = "茶壶", android_package = package, android_url = app }, "android_package");
            await AssertRefusedAsync(m, "/v1/links", new { url = "https://shop.example.com/p/42", title = "茶壶", android_package = package }, "android_package");
        }

        // Each part fits on its own, but the intent the click builds (the fallback url percent-encoded) would not fit a Location header.
        var longUrl = "https://shop.example.com/p/42?q=" + string.Concat(Enumerable.Repeat("%E8%8C%B6", 220));
        Assert.True(longUrl.Length < 2048);
        await AssertRefusedAsync(m, "/v1/links", new { url = longUrl, title = "茶壶", android_package = "com.example.shop", android_url = app }, "android_url");
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM links WHERE merchant_id = @merchantId", new { merchantId }));

        // What is accepted works on the page: Android gets the intent with the package as sent.
        var ok = await m.PostAsync("/v1/links", new { url = "https://shop.example.com/p/42", title = "茶壶", android_package = "com.example.shop", android_url = app });
        Assert.Equal(HttpStatusCode.Created, ok.Status);
        using var android = new BrowserLikeClient(hub.Hub.BaseUrl, AndroidUa);
        var click = await android.Http.GetAsync(new Uri(ok.Str("short_url")).AbsolutePath);
        Assert.Equal(HttpStatusCode.Redirect, click.StatusCode);
        Assert.StartsWith("intent://product/42#Intent;scheme=exampleshop;package=com.example.shop;", click.Headers.Location!.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_host_payout_account_takes_only_a_wallet_that_sends_payouts()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var host = (await m.PostAsync("/v1/hosts", new { name = "小李", live_room = "room-" + Guid.NewGuid().ToString("N")[..8] })).Str("id");
        foreach (var wallet in (string[])["bogus", "   ", "ALIPAY", "alipay\n", new string('a', 5_000), "unionpay"])
        {
            var account = new { wallet, type = "ALIPAY_USER_ID", identity = "2088102146225135", name = "李四" };
            await AssertRefusedAsync(m, "/v1/hosts", new { name = "小王", live_room = "room-" + Guid.NewGuid().ToString("N")[..8], payout_account = account }, "payout_account.wallet");
            await AssertRefusedAsync(m, $"/v1/hosts/{host}/payout_account", account, "payout_account.wallet");
        }

        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM hosts WHERE merchant_id = @merchantId", new { merchantId }));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM hosts WHERE id = @host AND payout_wallet IS NOT NULL", new { host }));

        var good = await m.PostAsync($"/v1/hosts/{host}/payout_account", new { wallet = "alipay", type = "ALIPAY_USER_ID", identity = "2088102146225135", name = "李四" });
        Assert.Equal(HttpStatusCode.OK, good.Status);
        Assert.Equal("alipay", good.Json.GetProperty("payout_account").GetProperty("wallet").GetString());
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM hosts WHERE id = @host AND payout_wallet = 'alipay'", new { host }));
    }

    [Fact]
    public async Task A_webhook_endpoint_subscribes_only_to_event_types_the_hub_sends()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        const string url = "https://hooks.example.com/hutong";
        await AssertRefusedAsync(m, "/v1/webhook_endpoints", new { url, enabled_events = new[] { "payment.nonexistent" } }, "enabled_events", "payment.nonexistent");
        await AssertRefusedAsync(m, "/v1/webhook_endpoints", new { url, enabled_events = new[] { "payment.succeeded", "refund.bogus" } }, "enabled_events", "refund.bogus");
        await AssertRefusedAsync(m, "/v1/webhook_endpoints", new { url, enabled_events = new[] { "payment." + new string('a', 5_000) } }, "enabled_events");
        await AssertRefusedAsync(m, "/v1/webhook_endpoints", new { url, enabled_events = new[] { "payment.succeeded\n" } }, "enabled_events");
        await AssertRefusedAsync(m, "/v1/webhook_endpoints", new { url, enabled_events = new[] { "" } }, "enabled_events");
        // States a refund, payout or split passes through but is never announced in: a subscription that would never fire.
        await AssertRefusedAsync(m, "/v1/webhook_endpoints", new { url, enabled_events = new[] { "refund.pending" } }, "enabled_events", "refund.pending");
        await AssertRefusedAsync(m, "/v1/webhook_endpoints", new { url, enabled_events = new[] { "payout.processing" } }, "enabled_events", "payout.processing");
        await AssertRefusedAsync(m, "/v1/webhook_endpoints", new { url, enabled_events = new[] { "split.scheduled" } }, "enabled_events", "split.scheduled");
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM webhook_endpoints WHERE merchant_id = @merchantId", new { merchantId }));

        Assert.Equal(HttpStatusCode.Created, (await m.PostAsync("/v1/webhook_endpoints", new { url, enabled_events = new[] { "payment.succeeded", "refund.succeeded", "refund.failed", "payout.awaiting_confirmation", "payout.canceled", "split.failed", "dispute.created" } })).Status);
        Assert.Equal(HttpStatusCode.Created, (await m.PostAsync("/v1/webhook_endpoints", new { url, enabled_events = new[] { EventCatalog.Wildcard } })).Status);
        Assert.Equal(2, await hub.CountAsync("SELECT COUNT(*) FROM webhook_endpoints WHERE merchant_id = @merchantId", new { merchantId }));
    }

    /// <summary>The catalogue covers what a real payment, its refund, a friend-pay link and a host's account change put in the outbox.</summary>
    [Fact]
    public async Task Every_event_a_payment_and_refund_flow_emits_is_in_the_catalogue()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var unpaid = await m.CreatePaymentAsync();
        var link = await m.PostAsync($"/v1/payments/{unpaid}/friend_pay_links", new { requester_name = "小红" });
        Assert.Equal(HttpStatusCode.Created, link.Status);
        Assert.Equal(HttpStatusCode.OK, (await m.PostAsync($"/v1/payments/{unpaid}/cancel")).Status);

        var id = await m.CreatePaymentAsync(amount: 10_000);
        var code = (await m.ConfirmAsync(id)).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        await hub.BuyerPaysAsync(code);
        await m.WaitForStatusAsync(id, "succeeded");
        var refund = await m.PostAsync($"/v1/payments/{id}/refunds", new { amount = 4_000, reason = "尺码不合适" });
        Assert.Equal(HttpStatusCode.Created, refund.Status);
        await hub.EventuallyAsync(() => m.GetAsync($"/v1/refunds/{refund.Str("id")}"), r => r.Str("status") == "succeeded", what: "the refund succeeds");
        var host = (await m.PostAsync("/v1/hosts", new { name = "小李", live_room = "room-" + Guid.NewGuid().ToString("N")[..8] })).Str("id");
        Assert.Equal(HttpStatusCode.OK, (await m.PostAsync($"/v1/hosts/{host}/payout_account", new { wallet = "alipay", type = "ALIPAY_USER_ID", identity = "2088102146225135", name = "李四" })).Status);

        var types = (await hub.Db.ReadAsync(c => Dapper.SqlMapper.QueryAsync<string>(c, "SELECT DISTINCT type FROM outbox WHERE merchant_id = @merchantId", new { merchantId }), default)).ToList();
        foreach (var expected in (string[])["payment.created", "payment.succeeded", "payment.canceled", "refund.created", "refund.succeeded", "friend_pay_link.created", "host.payout_account_updated"])
        {
            Assert.Contains(expected, types);
        }

        Assert.All(types, t => Assert.True(EventCatalog.Types.Contains(t), $"{t} is emitted but not in EventCatalog.Types"));
        await hub.LedgerVerifiesAsync();
    }
}

[Collection("sqlite")]
public sealed class InputShapeTests_Sqlite(SqliteHub hub) : InputShapeTests(hub);

[Collection("postgres")]
public sealed class InputShapeTests_Postgres(PostgresHub hub) : InputShapeTests(hub);
