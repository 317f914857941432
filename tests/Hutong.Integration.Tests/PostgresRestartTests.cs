using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Dapper;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server;
using Hutong.Server.Storage;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Hutong.Integration.Tests;

/// <summary>
/// PostgreSQL restarted (fast shutdown, then start) while two hubs take payments: neither hub needs a restart of its own.
/// Requests during the outage get a prompt 503 problem; every payment a hub acknowledged is there with its event; both
/// hubs turn ready again, commit creates in groups again, and hear each other's cache notices again.
/// </summary>
public sealed class PostgresRestartTests(PrivatePostgresHub hub, ITestOutputHelper output) : IClassFixture<PrivatePostgresHub>
{
    /// <summary>No request may take longer than this, outage or not (a hung request is a failure too).</summary>
    private static readonly TimeSpan RequestBound = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan NoticeBound = TimeSpan.FromSeconds(3);

    private sealed record Outcome(string Hub, string What, HttpStatusCode Status, string? ContentType, TimeSpan Took, string Body, DateTime At);

    [Fact]
    public async Task A_fast_restart_under_load_loses_no_acknowledged_payment_and_both_hubs_recover_by_themselves()
    {
        await using var b = await hub.StartAnotherHubAsync(new Dictionary<string, string?> { ["Hutong:CacheTtl"] = "00:05:00" });
        await WaitListeningAsync(hub.Hub);
        await WaitListeningAsync(b);
        using var httpB = new HttpClient { BaseAddress = new Uri(b.BaseUrl), Timeout = TimeSpan.FromSeconds(30) };
        var (onA, _, _) = await hub.NewMerchantAsync();
        var clients = new[] { ("A", onA), ("B", new ApiClient(httpB, onA.Key)) };
        var connectsBefore = (Bus(hub.Hub).Connects, Bus(b).Connects);

        var outcomes = new ConcurrentQueue<Outcome>();
        var acknowledged = new ConcurrentDictionary<string, DateTime>();
        var paid = new ConcurrentBag<string>();
        using var stop = new CancellationTokenSource();
        async Task<ApiResponse> TimedAsync(string hubName, string what, Func<Task<ApiResponse>> call)
        {
            var started = Stopwatch.GetTimestamp();
            ApiResponse r;
            try
            {
                r = await call();
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                r = new ApiResponse(0, e.GetType().Name + ": " + e.Message, new HttpResponseMessage().Headers, null);
            }

            outcomes.Enqueue(new Outcome(hubName, what, r.Status, r.ContentHeaders?.ContentType?.MediaType, Stopwatch.GetElapsedTime(started), r.Body, DateTime.UtcNow));
            return r;
        }

        var load = Enumerable.Range(0, 6).Select(worker => Task.Run(async () =>
        {
            for (var n = 0; !stop.IsCancellationRequested && n < 10_000; n++)
            {
                var (name, client) = clients[(worker + n) % clients.Length];
                var created = await TimedAsync(name, "create", () => client.PostAsync("/v1/payments", new
                {
                    amount = 100 + n, currency = "CNY", description = "重启测试", merchant_order_id = $"rs-{worker}-{n}-{Guid.NewGuid():N}"[..32],
                }));
                if (created.Status != HttpStatusCode.Created)
                {
                    await Task.Delay(20); // the outage: do not spin
                    continue;
                }

                var id = created.Str("id");
                acknowledged[id] = DateTime.UtcNow;
                if (n % 4 != 0)
                {
                    continue;
                }

                // Some are confirmed and paid too: the wallet's notification comes back to hub A, during the outage or not.
                var confirmed = await TimedAsync(name, "confirm", () => client.ConfirmAsync(id));
                if (confirmed.Status == HttpStatusCode.OK
                    && (await hub.BuyerPaysAsync(confirmed.Json.GetProperty("next_action").GetProperty("code_url").GetString()!)).IsSuccessStatusCode)
                {
                    paid.Add(id);
                }
            }
        })).ToArray();

        await Task.Delay(TimeSpan.FromSeconds(2));
        var beforeRestart = acknowledged.Count;
        var downAt = DateTime.UtcNow;
        await hub.Primary.StopAsync("fast");
        await Task.Delay(TimeSpan.FromSeconds(1.5)); // an outage long enough for every worker to meet it
        await hub.Primary.StartAgainAsync();
        var upAt = DateTime.UtcNow;
        await Task.Delay(TimeSpan.FromSeconds(3));
        await stop.CancelAsync();
        await Task.WhenAll(load);

        var all = outcomes.ToArray();
        var summary = string.Join(", ", all.GroupBy(o => (o.What, o.Status)).Select(g => $"{g.Key.What} {(int)g.Key.Status}: {g.Count()}"));
        output.WriteLine($"{acknowledged.Count} payments acknowledged ({beforeRestart} before the restart), {paid.Count} paid; {summary}; slowest {all.Max(o => o.Took)}");
        Assert.True(beforeRestart > 0, "no payment was created before the restart: " + summary);
        Assert.True(all.Any(o => o.At > downAt && o.Status != HttpStatusCode.Created && o.Status != HttpStatusCode.OK), "no request met the outage: " + summary);

        // During the outage: a clean 503 problem, promptly; never a 500 or a hang.
        var bad = all.Where(o => o.Status is not (HttpStatusCode.Created or HttpStatusCode.OK) && (o.Status != HttpStatusCode.ServiceUnavailable || o.ContentType != "application/problem+json")).ToList();
        Assert.True(bad.Count == 0, $"{bad.Count} responses were not 2xx or a 503 problem ({summary}); first: {bad.FirstOrDefault()}\n{hub.RecentProblems()}");
        var slow = all.Where(o => o.Took > RequestBound).ToList();
        Assert.True(slow.Count == 0, $"{slow.Count} requests took longer than {RequestBound}; slowest {slow.MaxBy(o => o.Took)}");

        // The outage is logged a line at a time, without stack traces: not an error per request or per job pass.
        var traced = hub.Logs.Lines.Where(l => l.Level >= Microsoft.Extensions.Logging.LogLevel.Error && l.Message.Contains("   at ", StringComparison.Ordinal)).ToList();
        output.WriteLine($"{hub.Logs.Lines.Count(l => l.Category == "Hutong.Store")} store-unavailable warnings; {traced.Count} errors with a stack trace: "
            + string.Join(", ", traced.GroupBy(l => l.Category + " " + l.Message.Split('\n')[0][..Math.Min(80, l.Message.Split('\n')[0].Length)]).Select(g => $"{g.Key} ×{g.Count()}")));
        Assert.True(traced.Count == 0, $"{traced.Count} errors with a stack trace during the outage; first: {traced.FirstOrDefault()}");
        Assert.Contains(hub.Logs.Lines, l => l.Category == "Hutong.Store" && l.Level == Microsoft.Extensions.Logging.LogLevel.Warning);

        // Both hubs took payments again after the restart (creates go through the group-committing writers).
        foreach (var name in new[] { "A", "B" })
        {
            Assert.True(all.Any(o => o.Hub == name && o.What == "create" && o.Status == HttpStatusCode.Created && o.At > upAt + TimeSpan.FromSeconds(1)),
                $"hub {name} created nothing after the restart: {summary}\n{hub.RecentProblems()}");
        }

        // Every acknowledged payment is there, with its payment.created event.
        var ids = acknowledged.Keys.ToArray();
        var stored = (await hub.Db.ReadAsync(c => c.QueryAsync<string>(
            "SELECT p.id FROM payments p WHERE p.id = ANY(@ids) AND EXISTS (SELECT 1 FROM outbox o WHERE o.type = 'payment.created' AND strpos(o.payload, p.id) > 0)",
            new { ids }), CancellationToken.None)).ToHashSet();
        var missing = ids.Where(id => !stored.Contains(id)).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} of {ids.Length} acknowledged payments (or their events) are missing, e.g. {missing.FirstOrDefault()}");

        // Both ready again without a restart of their own.
        foreach (var h in new[] { hub.Hub, b })
        {
            using var http = new HttpClient { BaseAddress = new Uri(h.BaseUrl) };
            await hub.EventuallyAsync(async () => (await http.GetAsync("/healthz/ready")).StatusCode, s => s == HttpStatusCode.OK, TimeSpan.FromSeconds(15), $"{h.BaseUrl} ready again");
            Assert.True(h.App.Services.GetRequiredService<Db>().WritersAlive);
        }

        // Every payment the buyer paid ends succeeded: the notifications (or re-queries) got through after the outage.
        foreach (var id in paid)
        {
            await onA.WaitForStatusAsync(id, "succeeded", TimeSpan.FromSeconds(20));
        }

        // The cache listeners reconnected by themselves, and a revocation on A reaches B by its notice (B caches for 5 minutes).
        await hub.EventuallyAsync(() => Task.FromResult((Bus(hub.Hub).Connects, Bus(b).Connects, Bus(hub.Hub).ListenerProcessId, Bus(b).ListenerProcessId)),
            s => s.Item1 > connectsBefore.Item1 && s.Item2 > connectsBefore.Item2 && s.Item3 != 0 && s.Item4 != 0, TimeSpan.FromSeconds(15), "both listeners reconnecting");
        var (other, _, keyId) = await hub.NewMerchantAsync();
        var otherOnB = new ApiClient(httpB, other.Key);
        Assert.Equal(HttpStatusCode.OK, (await otherOnB.GetAsync("/v1/capabilities")).Status);
        Assert.Equal(HttpStatusCode.OK, (await hub.Admin().PostAsync($"/admin/api_keys/{keyId}/revoke")).Status);
        var revokedAt = DateTime.UtcNow;
        await hub.EventuallyAsync(() => otherOnB.GetAsync("/v1/capabilities"), r => r.Status == HttpStatusCode.Unauthorized, NoticeBound, "hub B hearing a revocation after the restart");
        Assert.True(DateTime.UtcNow - revokedAt < NoticeBound + TimeSpan.FromMilliseconds(500));
    }

    private static CacheBus Bus(HubHandle h) => h.App.Services.GetRequiredService<CacheBus>();

    private static async Task WaitListeningAsync(HubHandle h)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (Bus(h).ListenerProcessId == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.NotEqual(0, Bus(h).ListenerProcessId);
    }
}
