using System.Net;
using Dapper;
using Hutong.Integration.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace Hutong.Integration.Tests;

/// <summary>
/// Two hubs on one PostgreSQL run two webhook dispatchers over the same outbox and deliveries: every event reaches each
/// endpoint exactly once, and neither dispatcher deadlocks with the other (issue 21: 40 events twice, 40P01 in the claim).
/// </summary>
[Collection("postgres")]
public sealed class TwoDispatcherTests(PostgresHub hub)
{
    [Fact]
    public async Task Two_dispatchers_deliver_each_event_once_to_each_endpoint_without_deadlocks()
    {
        const int Endpoints = 6;
        const int Events = 400;
        await using var b = await hub.StartAnotherHubAsync();
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var run = Guid.NewGuid().ToString("N")[..8];
        var paths = Enumerable.Range(0, Endpoints).Select(i => $"/two-dispatchers/{run}/{i}").ToArray();
        foreach (var path in paths)
        {
            Assert.Equal(HttpStatusCode.Created, (await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url(path) })).Status);
        }

        // Events arrive in many small commits while both hubs fan out and claim, as payments would make them.
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await Parallel.ForEachAsync(Enumerable.Range(0, Events / 10), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (batch, _) =>
        {
            var rows = Enumerable.Range(0, 10).Select(i => new
            {
                Id = $"evt_{run}_{(batch * 10) + i:D4}",
                MerchantId = merchantId,
                Type = "payment.created",
                Payload = "{\"id\":\"evt_" + run + "_" + ((batch * 10) + i).ToString("D4", System.Globalization.CultureInfo.InvariantCulture) + "\",\"type\":\"payment.created\"}",
                CreatedAt = now,
            }).ToArray();
            await hub.ExecAsync("INSERT INTO outbox (id, merchant_id, type, payload, created_at) VALUES (@Id, @MerchantId, @Type, @Payload, @CreatedAt)", rows);
        });

        var total = Endpoints * Events;
        var delivered = 0L;
        for (var until = DateTime.UtcNow + TimeSpan.FromSeconds(90); DateTime.UtcNow < until && delivered < total; await Task.Delay(100))
        {
            delivered = await hub.CountAsync(
                "SELECT COUNT(*) FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE e.merchant_id = @merchantId AND d.status = 'delivered'",
                new { merchantId });
        }

        var received = hub.Receiver.Deliveries.Where(d => d.Path.StartsWith($"/two-dispatchers/{run}/", StringComparison.Ordinal)).ToList();
        var twice = received.GroupBy(d => (d.Path, d.Id)).Where(g => g.Count() > 1).Select(g => $"{g.Key.Path} {g.Key.Id} ×{g.Count()}").ToList();
        var deadlocks = hub.Logs.Lines.Where(l => l.Level >= LogLevel.Warning
            && (l.Message.Contains("40P01", StringComparison.Ordinal) || l.Message.Contains("deadlock", StringComparison.OrdinalIgnoreCase))).ToList();
        var undelivered = await hub.Db.ReadAsync(c => c.QueryAsync<string>(
            "SELECT o.id FROM outbox o WHERE o.merchant_id = @merchantId AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = o.id AND d.status = 'delivered') ORDER BY o.seq",
            new { merchantId }), default);
        Assert.True(
            twice.Count == 0 && deadlocks.Count == 0 && delivered == total && received.Count == total,
            $"delivered {delivered} of {total} (received {received.Count}); events not delivered to every endpoint: {undelivered.Count()} (e.g. {string.Join(", ", undelivered.Take(3))}); "
            + $"{twice.Count} deliveries sent more than once (e.g. {string.Join(", ", twice.Take(3))}); {deadlocks.Count} deadlock errors\n"
            + string.Join('\n', deadlocks.Take(2).Select(l => l.Message[..Math.Min(400, l.Message.Length)])));
    }
}
