using System.Net;
using Hutong.Integration.Tests.Infrastructure;

namespace Hutong.Integration.Tests;

/// <summary>Staged rollout through the API: rules gate confirm and the checkout page, and every decision explains itself.</summary>
public abstract class RolloutApiTests(HubFixture hub)
{
    private static async Task<string> PaymentForAsync(ApiClient m, string buyer, string? category = null)
    {
        var r = await m.PostAsync("/v1/payments", new
        {
            amount = 990, currency = "CNY", description = "rollout", merchant_order_id = "ro-" + Guid.NewGuid().ToString("N")[..10],
            buyer_id = buyer, product_category = category,
        });
        Assert.Equal(HttpStatusCode.Created, r.Status);
        Assert.Equal(buyer, r.Str("buyer_id"));
        return r.Str("id");
    }

    [Fact]
    public async Task A_wallet_offered_to_nobody_but_an_allow_list_is_refused_to_others_with_a_reason()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var (other, _, _) = await hub.NewMerchantAsync();
        Assert.Equal(HttpStatusCode.OK, (await m.PostAsync("/v1/rollouts/alipay", new { percentage = 0, allow_users = new[] { "vip-1" } })).Status);

        var someone = await PaymentForAsync(m, "buyer-42");
        var refused = await m.ConfirmAsync(someone, wallet: "alipay");
        Assert.Equal(HttpStatusCode.Forbidden, refused.Status);
        Assert.Equal("wallet_not_offered", refused.Str("code"));
        Assert.Contains("outside the 0%", refused.Str("detail"), StringComparison.Ordinal);
        Assert.Equal("created", (await m.GetAsync($"/v1/payments/{someone}")).Str("status"));
        Assert.Equal("pending", (await m.ConfirmAsync(someone, wallet: "wechatpay")).Str("status"));

        var vip = await PaymentForAsync(m, "vip-1");
        Assert.Equal("pending", (await m.ConfirmAsync(vip, wallet: "alipay")).Str("status"));

        // Rules belong to the merchant that set them.
        Assert.Equal("pending", (await other.ConfirmAsync(await PaymentForAsync(other, "buyer-42"), wallet: "alipay")).Str("status"));
    }

    [Fact]
    public async Task Explain_says_why_for_each_rule_step()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        await m.PostAsync("/v1/rollouts/alipay", new { percentage = 73, deny_users = new[] { "banned" }, categories = new[] { "tea", "books" } });

        var inside = await m.GetAsync("/v1/rollouts/alipay/explain?user_id=123&product_category=tea");
        Assert.Equal(HttpStatusCode.OK, inside.Status);
        var bucket = inside.Json.GetProperty("bucket").GetInt32();
        Assert.Equal(bucket <= 73, inside.Json.GetProperty("offered").GetBoolean());
        Assert.Contains($"bucket {bucket} of 100", inside.Str("explanation"), StringComparison.Ordinal);

        Assert.Equal("deny_listed", (await m.GetAsync("/v1/rollouts/alipay/explain?user_id=banned&product_category=tea")).Str("reason"));
        var shoes = await m.GetAsync("/v1/rollouts/alipay/explain?user_id=123&product_category=shoes");
        Assert.Equal("category_not_included", shoes.Str("reason"));
        Assert.False(shoes.Json.GetProperty("offered").GetBoolean());
        Assert.Equal("no_rule", (await m.GetAsync("/v1/rollouts/wechatpay/explain?user_id=123")).Str("reason"));
        Assert.Equal(HttpStatusCode.NotFound, (await m.GetAsync("/v1/rollouts/paypal/explain?user_id=123")).Status);

        var offered = await m.GetAsync("/v1/wallets/offered?user_id=banned&product_category=tea");
        var byWallet = offered.Json.GetProperty("data").EnumerateArray().ToDictionary(e => e.GetProperty("wallet").GetString()!, e => e.GetProperty("offered").GetBoolean());
        Assert.False(byWallet["alipay"]);
        Assert.True(byWallet["wechatpay"]);
    }

    [Fact]
    public async Task The_kill_switch_stops_a_wallet_for_everyone_at_once()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await PaymentForAsync(m, "vip-9");
        await m.PostAsync("/v1/rollouts/wechatpay", new { percentage = 100, kill_switch = true, allow_users = new[] { "vip-9" } });
        var refused = await m.ConfirmAsync(id);
        Assert.Equal(HttpStatusCode.Forbidden, refused.Status);
        Assert.Contains("kill switch", refused.Str("detail"), StringComparison.Ordinal);
        Assert.Equal("kill_switch", (await m.GetAsync("/v1/rollouts/wechatpay/explain?user_id=vip-9")).Str("reason"));

        Assert.Equal(HttpStatusCode.NoContent, (await m.DeleteAsync("/v1/rollouts/wechatpay")).Status);
        Assert.Equal("pending", (await m.ConfirmAsync(id)).Str("status"));
    }

    [Fact]
    public async Task The_checkout_page_offers_only_the_wallets_the_rollout_offers_this_buyer()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        await m.PostAsync("/v1/rollouts/alipay", new { percentage = 100, categories = new[] { "tea" } });
        var tea = await m.GetAsync($"/v1/payments/{await PaymentForAsync(m, "b1", "tea")}");
        var shoes = await m.GetAsync($"/v1/payments/{await PaymentForAsync(m, "b1", "shoes")}");

        var teaPage = await hub.Http.GetStringAsync(tea.Str("checkout_url"));
        var shoesPage = await hub.Http.GetStringAsync(shoes.Str("checkout_url"));
        Assert.Contains("id=\"pay-alipay\"", teaPage, StringComparison.Ordinal);
        Assert.Contains("id=\"pay-wechatpay\"", teaPage, StringComparison.Ordinal);
        Assert.DoesNotContain("id=\"pay-alipay\"", shoesPage, StringComparison.Ordinal);
        Assert.Contains("id=\"pay-wechatpay\"", shoesPage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_rules_are_refused()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        Assert.Equal(HttpStatusCode.BadRequest, (await m.PostAsync("/v1/rollouts/alipay", new { percentage = 150 })).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await m.PostAsync("/v1/rollouts/paypal", new { percentage = 10 })).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await m.PostAsync("/v1/rollouts/alipay", new { percentage = 10, allow_users = new[] { " " } })).Status);
        Assert.Empty((await m.GetAsync("/v1/rollouts")).Json.GetProperty("data").EnumerateArray());
    }
}

[Collection("sqlite")]
public sealed class RolloutApiTests_Sqlite(SqliteHub hub) : RolloutApiTests(hub);

[Collection("postgres")]
public sealed class RolloutApiTests_Postgres(PostgresHub hub) : RolloutApiTests(hub);
