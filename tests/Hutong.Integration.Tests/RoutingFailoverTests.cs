using System.Net;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Demo;
using Hutong.Server.Features.Workers;

namespace Hutong.Integration.Tests;

/// <summary>Channels (direct or through an acquirer), per-merchant routes, and failover that never charges twice.</summary>
public abstract class RoutingFailoverTests(HubFixture hub)
{
    private async Task<string> AcquirerChannelAsync() => (await AcquirerChannelWithConfigAsync()).Id;

    private async Task<(string Id, Hutong.Connectors.WeChatPay.WeChatPayOptions Config)> AcquirerChannelWithConfigAsync()
    {
        var id = "wx-acq-" + Guid.NewGuid().ToString("N")[..8];
        var sp = await SandboxWiring.RegisterWeChatMerchantAsync(hub.Sandbox.BaseUrl, "19" + Random.Shared.Next(10_000_000, 99_999_999), subMchId: "1900000401");
        var r = await hub.Admin().PostAsync("/admin/channels", new { id, wallet = "wechatpay", mode = "acquirer", config = sp });
        Assert.True(r.Status == HttpStatusCode.Created, r.ToString());

        // Credentials are sealed at rest: neither the private key nor the APIv3 key is in the row.
        var row = await hub.Db.ReadAsync(c => Dapper.SqlMapper.ExecuteScalarAsync<string>(c, "SELECT config_ciphertext FROM channels WHERE id = @id", new { id }), default);
        Assert.DoesNotContain("PRIVATE KEY", row, StringComparison.Ordinal);
        Assert.DoesNotContain(sp.ApiV3Key, row, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY", (await hub.Admin().GetAsync("/admin/channels")).Body, StringComparison.Ordinal);
        return (id, sp);
    }

    private async Task RouteAsync(string merchantId, params string[] channels)
    {
        var r = await hub.Admin().PostAsync($"/admin/merchants/{merchantId}/routes/wechatpay", new { rules = channels.Select(c => new { channel = c }) });
        Assert.True(r.Status == HttpStatusCode.OK, r.ToString());
    }

    [Fact]
    public async Task When_the_primary_channel_fails_mid_checkout_the_buyer_pays_exactly_once_through_the_fallback()
    {
        var acquirer = await AcquirerChannelAsync();
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        await RouteAsync(merchantId, "wechatpay", acquirer);
        var id = await m.CreatePaymentAsync(4200);
        hub.Sandbox.WeChat.Faults.Inject("native", SandboxFault.TimeoutAfter, 1, match: id); // the direct order is made, its answer lost (a POST is not retried)

        var confirm = await m.ConfirmAsync(id);
        Assert.Equal("pending", confirm.Str("status"));
        var code = confirm.Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        var orders = hub.Sandbox.WeChat.Orders.Values.Where(o => o.Attach == id).ToList();
        Assert.Equal(2, orders.Count);
        var fallback = Assert.Single(orders, o => o.SpMchId is not null);
        var primary = Assert.Single(orders, o => o.SpMchId is null);
        Assert.Equal(fallback.CodeUrl, code);

        // The superseded direct order is closed, so it can never be paid as well.
        await hub.Service<Jobs>().RunOnceAsync(default);
        Assert.Equal("CLOSED", primary.TradeState);
        Assert.Equal(HttpStatusCode.BadRequest, (await hub.BuyerPaysAsync(primary.CodeUrl)).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await hub.BuyerPaysAsync(code)).StatusCode);
        await m.WaitForStatusAsync(id, "succeeded"); // notified on /notify/{acquirer}, verified with the acquirer's keys
        Assert.Single(hub.Sandbox.WeChat.Orders.Values, o => o.Attach == id && o.TradeState == "SUCCESS");
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE type = 'payment.succeeded' AND payload LIKE @p", new { p = $"%{id}%" }));
    }

    [Fact]
    public async Task A_merchant_moves_from_the_acquirer_to_direct_access_without_changing_its_integration()
    {
        var acquirer = await AcquirerChannelAsync();
        var (m, merchantId, _) = await hub.NewMerchantAsync();

        await RouteAsync(merchantId, acquirer);
        var before = await m.CreatePaymentAsync();
        await m.ConfirmAsync(before);
        Assert.NotNull(hub.Sandbox.WeChat.Orders.Values.Single(o => o.Attach == before).SpMchId);

        await RouteAsync(merchantId, "wechatpay");
        var after = await m.CreatePaymentAsync();
        await m.ConfirmAsync(after); // the very same calls
        Assert.Null(hub.Sandbox.WeChat.Orders.Values.Single(o => o.Attach == after).SpMchId);
    }

    [Fact]
    public async Task Rules_route_by_amount_and_bad_channels_or_routes_are_refused()
    {
        var (acquirer, config) = await AcquirerChannelWithConfigAsync();
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var r = await hub.Admin().PostAsync($"/admin/merchants/{merchantId}/routes/wechatpay", new
        {
            rules = new object[] { new { channel = acquirer, max_amount = 10_000 }, new { channel = "wechatpay" } },
        });
        Assert.Equal(HttpStatusCode.OK, r.Status);

        var small = await m.CreatePaymentAsync(9_999);
        var large = await m.CreatePaymentAsync(10_001);
        await m.ConfirmAsync(small);
        await m.ConfirmAsync(large);
        Assert.NotNull(hub.Sandbox.WeChat.Orders.Values.Single(o => o.Attach == small).SpMchId);
        Assert.Null(hub.Sandbox.WeChat.Orders.Values.Single(o => o.Attach == large).SpMchId);

        // By product category and by buyer.
        await hub.Admin().PostAsync($"/admin/merchants/{merchantId}/routes/wechatpay", new
        {
            rules = new object[] { new { channel = acquirer, categories = new[] { "tea" } }, new { channel = acquirer, users = new[] { "vip-7" } }, new { channel = "wechatpay" } },
        });
        async Task<bool> ViaAcquirerAsync(string? category, string? buyer)
        {
            var created = await m.PostAsync("/v1/payments", new { amount = 500, currency = "CNY", description = "route", merchant_order_id = "rt-" + Guid.NewGuid().ToString("N")[..10], product_category = category, buyer_id = buyer });
            var pid = created.Str("id");
            await m.ConfirmAsync(pid);
            return hub.Sandbox.WeChat.Orders.Values.Single(o => o.Attach == pid).SpMchId is not null;
        }

        Assert.True(await ViaAcquirerAsync("tea", null));
        Assert.False(await ViaAcquirerAsync("shoes", null));
        Assert.True(await ViaAcquirerAsync("shoes", "vip-7"));
        Assert.False(await ViaAcquirerAsync(null, "someone"));

        Assert.Equal(HttpStatusCode.BadRequest, (await hub.Admin().PostAsync($"/admin/merchants/{merchantId}/routes/alipay", new { rules = new[] { new { channel = acquirer } } })).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await hub.Admin().PostAsync("/admin/channels", new { id = "bad-config", wallet = "wechatpay", mode = "direct", config = new { mchId = "1", merchantPrivateKeyPem = "not a key" } })).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await hub.Admin().PostAsync("/admin/channels", new { id = "wechatpay", wallet = "wechatpay", mode = "direct", config = new { } })).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await hub.Admin().PostAsync("/admin/channels", new { id = acquirer, wallet = "wechatpay", mode = "acquirer", config })).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await hub.Admin().PostAsync("/admin/channels", new { id = "wx-x", wallet = "paypal", mode = "direct", config })).Status);
    }

    [Fact]
    public async Task Routes_for_a_merchant_or_wallet_that_does_not_exist_are_refused_and_nothing_is_stored()
    {
        var (_, merchantId, _) = await hub.NewMerchantAsync();
        var rules = new { rules = new[] { new { channel = "wechatpay" } } };
        var ghost = "mch_" + Guid.NewGuid().ToString("N");

        foreach (var (path, what) in new[] { ($"/admin/merchants/{ghost}/routes/wechatpay", "merchant"), ($"/admin/merchants/{merchantId}/routes/paypal", "wallet") })
        {
            var saved = await hub.Admin().PostAsync(path, rules);
            Assert.Equal(HttpStatusCode.NotFound, saved.Status);
            Assert.Equal($"No such {what}.", saved.Str("title"));
            Assert.Equal(HttpStatusCode.NotFound, (await hub.Admin().GetAsync(path)).Status);
        }

        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM routes WHERE merchant_id = @ghost", new { ghost }));

        // A bounded list: every rule is checked against the channels on each save.
        var tooMany = new { rules = Enumerable.Repeat(new { channel = "wechatpay" }, Hutong.Server.Features.Channels.ChannelAdminEndpoints.MaxRules + 1) };
        var refused = await hub.Admin().PostAsync($"/admin/merchants/{merchantId}/routes/wechatpay", tooMany);
        Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
        Assert.Equal("rules", refused.Str("param"));
        Assert.Equal(HttpStatusCode.OK, (await hub.Admin().PostAsync($"/admin/merchants/{merchantId}/routes/wechatpay", rules)).Status);
    }
}

[Collection("sqlite")]
public sealed class RoutingFailoverTests_Sqlite(SqliteHub hub) : RoutingFailoverTests(hub);

[Collection("postgres")]
public sealed class RoutingFailoverTests_Postgres(PostgresHub hub) : RoutingFailoverTests(hub);
