using System.Net;
using Hutong.Integration.Tests.Infrastructure;

namespace Hutong.Integration.Tests;

/// <summary>
/// A confirm cut off by a hub that died between committing its attempt and the wallet's answer, retried on another hub
/// (two hubs on one PostgreSQL, as behind a load balancer): the retry is told to come back (409 attempt_in_progress with
/// Retry-After, not stored under its Idempotency-Key) instead of a 200 without the QR that would be replayed for good,
/// and the dead hub's attempt is re-queried within the lease bound (Hutong:Workers:ItemTimeout + LeaseMargin), after
/// which the same request answers with the QR.
/// </summary>
[Collection("postgres")]
public sealed class ConfirmCutOffTests(PostgresHub hub)
{
    [Fact]
    public async Task A_confirm_cut_off_by_a_dead_hub_is_retryable_on_another_and_answers_with_the_QR_within_the_lease_bound()
    {
        // The other hub's claims last 6 s, so a dead hub's 'requested' attempt is re-queried by it after 6 s; the
        // fixture's hub (30 s + 30 s) would leave it for a minute. (With 2 s, a loaded CI box sometimes took longer than
        // that between marking the attempt and the retry, and the retry already got the QR.)
        await using var other = await hub.StartAnotherHubAsync(new Dictionary<string, string?>
        {
            ["Hutong:Workers:ItemTimeout"] = "00:00:03",
            ["Hutong:Workers:LeaseMargin"] = "00:00:03",
            // Behind one load balancer, as in production: a re-sent order carries the same notify_url, so the wallet
            // takes it as the same order (another URL would make it another order, refused under the same out_trade_no).
            ["Hutong:PublicBaseUrl"] = hub.Hub.BaseUrl,
        });
        using var otherHttp = new HttpClient { BaseAddress = new Uri(other.BaseUrl), Timeout = TimeSpan.FromSeconds(30) };
        var (m, _, _) = await hub.NewMerchantAsync();
        var onOther = new ApiClient(otherHttp, m.Key);
        var id = await m.CreatePaymentAsync();
        var opened = await m.ConfirmAsync(id);
        Assert.Equal(HttpStatusCode.OK, opened.Status);
        var codeUrl = opened.Json.GetProperty("next_action").GetProperty("code_url").GetString();

        // What a hub SIGKILLed mid-call leaves (its answer never recorded, nor stored under the key): the attempt
        // 'requested' as of just now, without a code.
        var now = hub.Service<TimeProvider>().GetUtcNow().ToUnixTimeMilliseconds();
        await hub.ExecAsync("UPDATE payment_attempts SET status = 'requested', code_url = NULL, updated_at = @now WHERE payment_id = @id", new { now, id });
        var key = "cut-off-" + id;

        var retried = await onOther.ConfirmAsync(id, key);
        Assert.True(retried.Status == HttpStatusCode.Conflict, retried.ToString());
        Assert.Equal("attempt_in_progress", retried.Str("code"));
        Assert.True(retried.Headers.RetryAfter?.Delta is { TotalSeconds: >= 1 }, $"Retry-After: {retried.Headers.RetryAfter}");
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM idempotency_keys WHERE idem_key = @key", new { key }));

        // The client retries as told, with the same key: once the other hub re-queried the dead hub's attempt (the wallet
        // order re-sent under its out_trade_no), the answer carries the very QR the wallet made: no second order.
        var answered = await hub.EventuallyAsync(() => onOther.ConfirmAsync(id, key), r => r.Status != HttpStatusCode.Conflict,
            TimeSpan.FromSeconds(20), "the retried confirm answers with the QR");
        Assert.True(answered.Status == HttpStatusCode.OK, answered.ToString());
        Assert.Equal(codeUrl, answered.Json.GetProperty("next_action").GetProperty("code_url").GetString());
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM payment_attempts WHERE payment_id = @id", new { id }));
    }
}
