using System.Net;
using Dapper;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server.Features.Webhooks;
using Hutong.Server.Storage;

namespace Hutong.Integration.Tests;

/// <summary>
/// PostgreSQL: a webhook fan-out and a DELETE of one of its endpoints, in either order of commit, never leave a delivery
/// `pending` on the deleted endpoint. Before the fan-out read endpoints FOR SHARE, a fan-out that had read the endpoint
/// just before the DELETE added its deliveries after the DELETE had cancelled the queue: never sent (deliveries go to
/// enabled endpoints only) but `pending` for good. Each case holds one side's transaction open to force the interleaving,
/// and runs the production statement (<see cref="WebhookStore.FanOutPostgres"/>).
/// </summary>
[Collection("postgres")]
public sealed class WebhookFanOutRaceTests(PostgresHub hub)
{
    [Fact]
    public async Task A_delete_while_a_fan_out_is_uncommitted_waits_for_it_and_cancels_what_it_added()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var endpointId = await EndpointAsync(m);
        var (seq, eventId) = await DispatchedEventAsync(merchantId);

        await using var fanOut = await hub.Db.OpenAsync(default);
        await using var tx = await fanOut.BeginTransactionAsync();
        var added = await fanOut.ExecuteAsync(WebhookStore.FanOutPostgres, new { now = Now(), seqs = new[] { seq } }, tx);
        Assert.Equal(1, added);

        var delete = m.DeleteAsync($"/v1/webhook_endpoints/{endpointId}");
        await Task.Delay(500); // the DELETE reaches the endpoint's row while the fan-out holds it
        await tx.CommitAsync();
        var deleted = await delete;

        Assert.True(deleted.Status == HttpStatusCode.NoContent, deleted.Body);
        Assert.Equal("canceled", await StatusAsync(eventId, endpointId));
    }

    [Fact]
    public async Task A_fan_out_while_a_delete_is_uncommitted_waits_for_it_and_leaves_the_endpoint_out()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var endpointId = await EndpointAsync(m);
        var (seq, eventId) = await DispatchedEventAsync(merchantId);

        // The DELETE's own first statement, held uncommitted; the fan-out starts meanwhile, so its snapshot still sees the
        // endpoint enabled.
        await using var deleting = await hub.Db.OpenAsync(default);
        await using var tx = await deleting.BeginTransactionAsync();
        Assert.Equal(1, await deleting.ExecuteAsync(
            "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = 'deleted' WHERE id = @endpointId", new { endpointId }, tx));

        var fanOut = hub.Db.WriteAsync((c, t) => c.ExecuteAsync(WebhookStore.FanOutPostgres, new { now = Now(), seqs = new[] { seq } }, t), default);
        await Task.Delay(500);
        await tx.CommitAsync();

        Assert.Equal(0, await fanOut);
        Assert.Null(await StatusAsync(eventId, endpointId));
    }

    // The same two orders for an event fanned out as it is inserted (a payment's creation: Outbox.AddHandedOver).
    [Fact]
    public async Task A_delete_while_a_handed_over_event_is_uncommitted_waits_for_it_and_cancels_its_delivery()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var endpointId = await EndpointAsync(m);
        var e = HandedOverEvent(merchantId);

        await using var creating = await hub.Db.OpenAsync(default);
        await using var tx = await creating.BeginTransactionAsync();
        Assert.Equal(1, await creating.ExecuteAsync(Outbox.InsertHandedOverSql, e, tx));
        Assert.Equal(1, await creating.ExecuteAsync(Outbox.DeliveriesPostgres, e, tx));

        var delete = m.DeleteAsync($"/v1/webhook_endpoints/{endpointId}");
        await Task.Delay(500);
        await tx.CommitAsync();
        var deleted = await delete;

        Assert.True(deleted.Status == HttpStatusCode.NoContent, deleted.Body);
        Assert.Equal("canceled", await StatusAsync(e.Id, endpointId));
    }

    [Fact]
    public async Task A_handed_over_event_while_a_delete_is_uncommitted_waits_for_it_and_leaves_the_endpoint_out()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var endpointId = await EndpointAsync(m);
        var e = HandedOverEvent(merchantId);

        await using var deleting = await hub.Db.OpenAsync(default);
        await using var tx = await deleting.BeginTransactionAsync();
        Assert.Equal(1, await deleting.ExecuteAsync(
            "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = 'deleted' WHERE id = @endpointId", new { endpointId }, tx));

        var write = new WriteBatch();
        Outbox.AddHandedOver(write, e, postgres: true);
        var created = hub.Db.WriteAsync(write, default);
        await Task.Delay(500);
        Assert.False(created.IsCompleted); // waiting for the endpoint's row
        await tx.CommitAsync();
        await created;

        Assert.Null(await StatusAsync(e.Id, endpointId));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE id = @Id AND dispatched_at IS NOT NULL", new { e.Id }));
    }

    private static PreparedEvent HandedOverEvent(string merchantId) =>
        new("evt_race_" + Guid.NewGuid().ToString("N")[..12], merchantId, "payment.created", "{}", Now());

    private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    private async Task<string> EndpointAsync(ApiClient m)
    {
        var created = await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url("/fan-out-race/" + Guid.NewGuid().ToString("N")) });
        Assert.True(created.Status == HttpStatusCode.Created, created.Body);
        return created.Json.GetProperty("id").GetString()!;
    }

    /// <summary>An event already marked dispatched, so the hub's own dispatcher leaves it to the test.</summary>
    private async Task<(long Seq, string Id)> DispatchedEventAsync(string merchantId)
    {
        var id = "evt_race_" + Guid.NewGuid().ToString("N")[..12];
        var seq = await hub.Db.WriteAsync((c, t) => c.ExecuteScalarAsync<long>(
            """
            INSERT INTO outbox (id, merchant_id, type, payload, created_at, dispatched_at)
            VALUES (@id, @merchantId, 'payment.created', '{}', @now, @now) RETURNING seq
            """, new { id, merchantId, now = Now() }, t), default);
        return (seq, id);
    }

    private Task<string?> StatusAsync(string eventId, string endpointId) =>
        hub.Db.ReadAsync(c => c.QuerySingleOrDefaultAsync<string?>(
            "SELECT status FROM webhook_deliveries WHERE event_id = @eventId AND endpoint_id = @endpointId", new { eventId, endpointId }), default);
}
