using System.Net;
using Dapper;
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

    // ---- conditional saves: the version of the rule as stored (TextVersion) ----

    /// <summary>The wallet's rule as stored (the table, not the cache), or null.</summary>
    private async Task<string?> StoredRuleAsync(string merchantId, string wallet) =>
        await hub.Db.ReadAsync(c => c.QuerySingleOrDefaultAsync<string?>(
            "SELECT rule FROM rollout_rules WHERE merchant_id = @merchantId AND wallet = @wallet", new { merchantId, wallet }), default);

    /// <summary>What a refused save must not have left: events for the merchant, console audit lines, stored answers.</summary>
    private async Task<(long Events, long Audit)> TracesAsync(string merchantId) => (
        await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE merchant_id = @merchantId", new { merchantId }),
        await hub.CountAsync("SELECT COUNT(*) FROM console_audit WHERE merchant_id = @merchantId", new { merchantId }));

    [Fact]
    public async Task A_save_built_on_an_older_version_is_refused_with_the_rule_as_it_is_now_and_changes_nothing()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        Assert.Equal("0", (await m.GetAsync("/v1/rollouts/wechatpay")).Str("version"));
        var first = await m.PostAsync("/v1/rollouts/wechatpay", new { percentage = 30, allow_users = new[] { "vip-1" }, version = "0" });
        Assert.Equal(HttpStatusCode.OK, first.Status);
        var v1 = first.Str("version");
        Assert.Matches("^[0-9a-f]{16}$", v1);

        // Someone switches the wallet off meanwhile; a save built on the rule read before is refused, not stored over it.
        var killed = await m.PostAsync("/v1/rollouts/wechatpay", new { percentage = 30, kill_switch = true, allow_users = new[] { "vip-1" }, version = v1 });
        Assert.Equal(HttpStatusCode.OK, killed.Status);
        var v2 = killed.Str("version");
        Assert.NotEqual(v1, v2);
        var stored = await StoredRuleAsync(merchantId, "wechatpay");
        var traces = await TracesAsync(merchantId);

        var stale = await m.PostAsync("/v1/rollouts/wechatpay", new { percentage = 100, version = v1 });
        Assert.Equal(HttpStatusCode.Conflict, stale.Status);
        Assert.StartsWith("application/problem+json", stale.ContentHeaders!.ContentType!.ToString(), StringComparison.Ordinal);
        Assert.Equal("rollout_changed", stale.Str("code"));
        Assert.Equal("urn:hutong:problem:rollout_changed", stale.Str("type"));
        Assert.Equal(409, stale.Json.GetProperty("status").GetInt32());
        Assert.Equal(v2, stale.Str("version"));
        Assert.True(stale.Json.GetProperty("rule").GetProperty("kill_switch").GetBoolean());
        Assert.Equal(stored, await StoredRuleAsync(merchantId, "wechatpay"));
        Assert.Equal(traces, await TracesAsync(merchantId));
        Assert.Equal("kill_switch", (await m.GetAsync("/v1/rollouts/wechatpay/explain?user_id=vip-1")).Str("reason"));

        // A rule that was deleted meanwhile is a change too: a save built on it is refused and creates nothing.
        Assert.Equal(HttpStatusCode.NoContent, (await m.DeleteAsync("/v1/rollouts/wechatpay")).Status);
        Assert.Equal("rollout_changed", (await m.PostAsync("/v1/rollouts/wechatpay", new { percentage = 5, version = v2 })).Str("code"));
        Assert.Null(await StoredRuleAsync(merchantId, "wechatpay"));
        var none = await m.PostAsync("/v1/rollouts/wechatpay", new { percentage = 5, version = "0" + v2 });
        Assert.Equal(HttpStatusCode.BadRequest, none.Status);
        Assert.Equal("version", none.Str("param"));
    }

    [Fact]
    public async Task A_delete_with_a_version_removes_only_that_rule_and_a_stale_one_keeps_the_rule_as_it_is_now()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var v1 = (await m.PostAsync("/v1/rollouts/wechatpay", new { percentage = 30, version = "0" })).Str("version");
        var v2 = (await m.PostAsync("/v1/rollouts/wechatpay", new { percentage = 30, kill_switch = true, version = v1 })).Str("version");
        var stored = await StoredRuleAsync(merchantId, "wechatpay");
        var traces = await TracesAsync(merchantId);

        // Built on the rule before the kill switch: refused, and the switched-off rule stays.
        var stale = await m.DeleteAsync($"/v1/rollouts/wechatpay?version={v1}");
        Assert.Equal(HttpStatusCode.Conflict, stale.Status);
        Assert.Equal("rollout_changed", stale.Str("code"));
        Assert.Equal(v2, stale.Str("version"));
        Assert.True(stale.Json.GetProperty("rule").GetProperty("kill_switch").GetBoolean());
        Assert.Equal(stored, await StoredRuleAsync(merchantId, "wechatpay"));
        Assert.Equal(traces, await TracesAsync(merchantId));
        Assert.Equal("kill_switch", (await m.GetAsync("/v1/rollouts/wechatpay/explain?user_id=u-1")).Str("reason"));

        // "0" says "there is no rule": a rule is there, so that is refused too; a malformed version changes nothing.
        Assert.Equal(HttpStatusCode.Conflict, (await m.DeleteAsync("/v1/rollouts/wechatpay?version=0")).Status);
        var bad = await m.DeleteAsync("/v1/rollouts/wechatpay?version=nope");
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
        Assert.Equal("version", bad.Str("param"));
        Assert.Equal(stored, await StoredRuleAsync(merchantId, "wechatpay"));

        // On the current version: removed, offered to everyone again; then there is nothing to remove.
        Assert.Equal(HttpStatusCode.NoContent, (await m.DeleteAsync($"/v1/rollouts/wechatpay?version={v2}")).Status);
        Assert.Null(await StoredRuleAsync(merchantId, "wechatpay"));
        Assert.Equal("no_rule", (await m.GetAsync("/v1/rollouts/wechatpay/explain?user_id=u-1")).Str("reason"));
        Assert.Equal(HttpStatusCode.NotFound, (await m.DeleteAsync($"/v1/rollouts/wechatpay?version={v2}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await m.DeleteAsync("/v1/rollouts/wechatpay")).Status);
    }

    [Fact]
    public async Task A_save_on_the_current_version_is_stored_and_answers_the_new_version_which_moves_only_when_the_rule_does()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var created = await m.PostAsync("/v1/rollouts/alipay", new { percentage = 40, categories = new[] { "tea" }, version = "0" });
        Assert.Equal(HttpStatusCode.OK, created.Status);
        var v1 = created.Str("version");
        var read = await m.GetAsync("/v1/rollouts/alipay");
        Assert.Equal(HttpStatusCode.OK, read.Status);
        Assert.Equal(v1, read.Str("version"));
        Assert.Equal(40, read.Json.GetProperty("rule").GetProperty("percentage").GetInt32());
        var listed = Assert.Single((await m.GetAsync("/v1/rollouts")).Json.GetProperty("data").EnumerateArray());
        Assert.Equal(v1, listed.GetProperty("version").GetString());

        // Stable: reading again, and writing the same rule again, keeps the version.
        Assert.Equal(v1, (await m.GetAsync("/v1/rollouts/alipay")).Str("version"));
        var same = await m.PostAsync("/v1/rollouts/alipay", new { percentage = 40, categories = new[] { "tea" }, version = v1 });
        Assert.Equal(HttpStatusCode.OK, same.Status);
        Assert.Equal(v1, same.Str("version"));

        // Moves with the rule: the answer's version is the stored rule's, and the old one no longer saves.
        var changed = await m.PostAsync("/v1/rollouts/alipay", new { percentage = 41, categories = new[] { "tea" }, version = v1 });
        Assert.Equal(HttpStatusCode.OK, changed.Status);
        var v2 = changed.Str("version");
        Assert.NotEqual(v1, v2);
        Assert.Equal(v2, (await m.GetAsync("/v1/rollouts/alipay")).Str("version"));
        Assert.Equal(41, changed.Json.GetProperty("rule").GetProperty("percentage").GetInt32());
        Assert.Contains("\"percentage\":41", await StoredRuleAsync(merchantId, "alipay"), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Conflict, (await m.PostAsync("/v1/rollouts/alipay", new { percentage = 99, version = v1 })).Status);

        // A wallet without a rule has version "0"; an unknown wallet has none.
        Assert.Equal("0", (await m.GetAsync("/v1/rollouts/wechatpay")).Str("version"));
        Assert.Equal(HttpStatusCode.NotFound, (await m.GetAsync("/v1/rollouts/paypal")).Status);
    }

    [Fact]
    public async Task A_save_without_a_version_replaces_the_rule_as_before_and_a_replay_answers_the_stored_answer()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var v1 = (await m.PostAsync("/v1/rollouts/alipay", new { percentage = 10, kill_switch = true })).Str("version");
        var replaced = await m.PostAsync("/v1/rollouts/alipay", new { percentage = 20 });
        Assert.Equal(HttpStatusCode.OK, replaced.Status);
        Assert.NotEqual(v1, replaced.Str("version"));
        Assert.Equal("rollout_rule", replaced.Str("object"));
        Assert.Equal("alipay", replaced.Str("wallet"));
        Assert.Equal("{\"percentage\":20}", await StoredRuleAsync(merchantId, "alipay"));

        // With a version and an Idempotency-Key: the retry of a save that was stored answers that save's answer (not a
        // 409 for the version the save itself moved on), and writes nothing again.
        var key = "ro-" + Guid.NewGuid().ToString("N");
        var body = new { percentage = 60, version = replaced.Str("version") };
        var saved = await m.PostAsync("/v1/rollouts/alipay", body, key);
        Assert.Equal(HttpStatusCode.OK, saved.Status);
        var retried = await m.PostAsync("/v1/rollouts/alipay", body, key);
        Assert.Equal(HttpStatusCode.OK, retried.Status);
        Assert.Equal(saved.Body, retried.Body);
        Assert.True(retried.Headers.TryGetValues("Idempotent-Replayed", out _));
        Assert.Equal(saved.Str("version"), (await m.GetAsync("/v1/rollouts/alipay")).Str("version"));
    }

    [Fact]
    public async Task Two_saves_built_on_one_version_at_once_store_exactly_one()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var v1 = (await m.PostAsync("/v1/rollouts/wechatpay", new { percentage = 50 })).Str("version");
        var answers = await Task.WhenAll(
            m.PostAsync("/v1/rollouts/wechatpay", new { percentage = 10, version = v1 }),
            m.PostAsync("/v1/rollouts/wechatpay", new { percentage = 90, version = v1 }));
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.Conflict], answers.Select(a => a.Status).Order());
        var winner = answers.Single(a => a.Status == HttpStatusCode.OK);
        Assert.Equal(winner.Str("version"), answers.Single(a => a.Status == HttpStatusCode.Conflict).Str("version"));
        Assert.Equal(winner.Str("version"), (await m.GetAsync("/v1/rollouts/wechatpay")).Str("version"));
        Assert.Contains($"\"percentage\":{winner.Json.GetProperty("rule").GetProperty("percentage").GetInt32()}", await StoredRuleAsync(merchantId, "wechatpay"), StringComparison.Ordinal);
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
