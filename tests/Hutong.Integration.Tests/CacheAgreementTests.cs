using System.Net;
using Dapper;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Server;
using Hutong.Demo;
using Hutong.Server.Storage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Hutong.Integration.Tests;

/// <summary>
/// Two hubs on one PostgreSQL: a change made through one (a key revoked, a link revoked, a rollout or route saved, a
/// channel added) reaches the other's in-process caches by LISTEN/NOTIFY in well under the TTL; with the notice lost the TTL
/// still bounds staleness, and a listener whose connection was killed reconnects.
/// </summary>
[Collection("postgres")]
public sealed class CacheAgreementTests(PostgresHub hub)
{
    /// <summary>What "at once" means here: far below the TTLs below, so only a notice explains it.</summary>
    private static readonly TimeSpan NoticeBound = TimeSpan.FromSeconds(3);

    private static async Task WaitListeningAsync(HubHandle h)
    {
        var bus = h.App.Services.GetRequiredService<CacheBus>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (bus.ListenerProcessId == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.NotEqual(0, bus.ListenerProcessId);
    }

    private async Task<ApiResponse> WithinAsync(TimeSpan bound, Func<Task<ApiResponse>> probe, Func<ApiResponse, bool> done, string what)
    {
        var started = DateTime.UtcNow;
        var last = await hub.EventuallyAsync(probe, done, bound, what);
        Assert.True(DateTime.UtcNow - started <= bound + TimeSpan.FromMilliseconds(200), $"{what} took {DateTime.UtcNow - started}");
        return last;
    }

    [Fact]
    public async Task Revocations_and_rollout_route_and_channel_changes_on_one_hub_reach_the_other_hubs_caches_within_the_notice_bound()
    {
        // Hub B caches for five minutes: only a notice can make it see a change within seconds.
        await using var b = await hub.StartAnotherHubAsync(new Dictionary<string, string?> { ["Hutong:CacheTtl"] = "00:05:00" });
        await WaitListeningAsync(b);
        await WaitListeningAsync(hub.Hub);
        using var httpB = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(b.BaseUrl) };
        var (a, merchantId, keyId) = await hub.NewMerchantAsync();
        var onB = new ApiClient(httpB, a.Key);
        var adminB = new ApiClient(httpB, HubFixture.AdminToken);

        // API key: warm B's cache, revoke on A.
        Assert.Equal(HttpStatusCode.OK, (await onB.GetAsync("/v1/capabilities")).Status);
        Assert.Equal(HttpStatusCode.OK, (await hub.Admin().PostAsync($"/admin/api_keys/{keyId}/revoke")).Status);
        await WithinAsync(NoticeBound, () => onB.GetAsync("/v1/capabilities"), r => r.Status == HttpStatusCode.Unauthorized, "hub B refusing the key revoked on hub A");

        // A fresh key for the rest (issued on A, used on both).
        var issued = await hub.Admin().PostAsync($"/admin/merchants/{merchantId}/api_keys", new { });
        Assert.Equal(HttpStatusCode.Created, issued.Status);
        var secret = issued.Json.GetProperty("secret").GetString()!;
        var m = new ApiClient(hub.Http, secret);
        onB = new ApiClient(httpB, secret);

        // Link: open it on B (cached), revoke on A.
        var link = await m.PostAsync("/v1/links", new { url = "https://shop.example.com/p/9", title = "茶" });
        Assert.Equal(HttpStatusCode.Created, link.Status);
        var code = link.Str("code");
        Assert.NotEqual(HttpStatusCode.Gone, (await httpB.GetAsync($"/l/{code}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await m.PostAsync($"/v1/links/{link.Str("id")}/revoke")).Status);
        var started = DateTime.UtcNow;
        while ((await httpB.GetAsync($"/l/{code}")).StatusCode != HttpStatusCode.Gone)
        {
            Assert.True(DateTime.UtcNow - started < NoticeBound, "hub B still redirects a link revoked on hub A");
            await Task.Delay(50);
        }

        // Rollout: B explains "offered", A switches the wallet off.
        Assert.True((await onB.GetAsync("/v1/rollouts/alipay/explain?user_id=u1")).Json.GetProperty("offered").GetBoolean());
        Assert.Equal(HttpStatusCode.OK, (await m.PostAsync("/v1/rollouts/alipay", new { kill_switch = true })).Status);
        await WithinAsync(NoticeBound, () => onB.GetAsync("/v1/rollouts/alipay/explain?user_id=u1"),
            r => r.Status == HttpStatusCode.OK && !r.Json.GetProperty("offered").GetBoolean(), "hub B seeing the kill switch set on hub A");

        // Channel and route: B has the merchant's (empty) routes cached; A adds a channel and routes through it.
        Assert.Equal(0, (await adminB.GetAsync($"/admin/merchants/{merchantId}/routes/wechatpay")).Json.GetProperty("rules").GetArrayLength());
        var channel = "wx-cache-" + Guid.NewGuid().ToString("N")[..8];
        var sp = await SandboxWiring.RegisterWeChatMerchantAsync(hub.Sandbox.BaseUrl, "19" + Random.Shared.Next(10_000_000, 99_999_999), subMchId: "1900000401");
        Assert.Equal(HttpStatusCode.Created, (await hub.Admin().PostAsync("/admin/channels", new { id = channel, wallet = "wechatpay", mode = "acquirer", config = sp })).Status);
        Assert.Equal(HttpStatusCode.OK, (await hub.Admin().PostAsync($"/admin/merchants/{merchantId}/routes/wechatpay", new { rules = new[] { new { channel } } })).Status);
        await WithinAsync(NoticeBound, () => adminB.GetAsync($"/admin/merchants/{merchantId}/routes/wechatpay"),
            r => r.Json.GetProperty("rules").GetArrayLength() == 1, "hub B seeing the route saved on hub A");
    }

    [Fact]
    public async Task A_lost_notice_is_bounded_by_the_ttl_and_a_killed_listener_reconnects_and_hears_again()
    {
        var ttl = TimeSpan.FromSeconds(2);
        await using var b = await hub.StartAnotherHubAsync(new Dictionary<string, string?> { ["Hutong:CacheTtl"] = "00:00:02" });
        await WaitListeningAsync(b);
        using var httpB = new HttpClient { BaseAddress = new Uri(b.BaseUrl) };
        var (a, _, keyId) = await hub.NewMerchantAsync();
        var onB = new ApiClient(httpB, a.Key);

        // A revocation that sends no notice (written straight to the table): B goes on serving its cached key, but only
        // until the TTL.
        Assert.Equal(HttpStatusCode.OK, (await onB.GetAsync("/v1/capabilities")).Status);
        var revokedAt = DateTime.UtcNow;
        await hub.ExecAsync("UPDATE api_keys SET revoked_at = 1 WHERE id = @keyId", new { keyId });
        Assert.Equal(HttpStatusCode.OK, (await onB.GetAsync("/v1/capabilities")).Status);
        await hub.EventuallyAsync(() => onB.GetAsync("/v1/capabilities"), r => r.Status == HttpStatusCode.Unauthorized, ttl + TimeSpan.FromSeconds(2), "the TTL ending a lost notice");
        Assert.True(DateTime.UtcNow - revokedAt <= ttl + TimeSpan.FromSeconds(1), $"stale for {DateTime.UtcNow - revokedAt}");

        // The listener's connection is killed: it reconnects by itself and hears the next revocation.
        var bus = b.App.Services.GetRequiredService<CacheBus>();
        var (pid, connects) = (bus.ListenerProcessId, bus.Connects);
        await using (var admin = new NpgsqlConnection(PostgresHub.ServerConnectionString))
        {
            await admin.OpenAsync();
            Assert.True(await admin.ExecuteScalarAsync<bool>("SELECT pg_terminate_backend(@pid)", new { pid }));
        }

        await hub.EventuallyAsync(() => Task.FromResult((bus.Connects, bus.ListenerProcessId)), s => s.Connects > connects && s.ListenerProcessId is not 0 && s.ListenerProcessId != pid,
            TimeSpan.FromSeconds(10), "the listener reconnecting");
        Assert.Contains(hub.Logs.Lines, l => l.Category.EndsWith("CacheBus", StringComparison.Ordinal) && l.Message.Contains("lost its connection", StringComparison.Ordinal));

        var (second, _, secondKey) = await hub.NewMerchantAsync();
        var secondOnB = new ApiClient(httpB, second.Key);
        Assert.Equal(HttpStatusCode.OK, (await secondOnB.GetAsync("/v1/capabilities")).Status);
        Assert.Equal(HttpStatusCode.OK, (await hub.Admin().PostAsync($"/admin/api_keys/{secondKey}/revoke")).Status);
        var started = DateTime.UtcNow;
        await hub.EventuallyAsync(() => secondOnB.GetAsync("/v1/capabilities"), r => r.Status == HttpStatusCode.Unauthorized, NoticeBound, "hub B hearing a revocation after reconnecting");
        Assert.True(DateTime.UtcNow - started < ttl, "the revocation came by the TTL, not by a notice");
    }
}
