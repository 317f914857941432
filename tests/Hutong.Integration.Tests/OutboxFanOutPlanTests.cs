using Dapper;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server.Features.Webhooks;
using Hutong.Server.Storage;

namespace Hutong.Integration.Tests;

/// <summary>
/// PostgreSQL's webhook fan-out reads the oldest pending events. Measured under the create benchmark before migration
/// 0043, PostgreSQL planned that read as a walk of the whole primary key filtered on dispatched_at while the growing
/// table had not been analysed yet (145–181 ms and 30,000–60,000 buffers per fan-out at 37,000 events). The partial index
/// ix_outbox_pending holds the pending events alone.
/// </summary>
public sealed class OutboxFanOutPlanTests
{
    [Fact]
    public async Task The_fan_out_read_uses_the_pending_index_on_an_unanalysed_outbox_full_of_dispatched_events()
    {
        var name = "hutong_fanout_" + Guid.NewGuid().ToString("N")[..10];
        var cs = await PostgresHub.CreateDatabaseAsync(name);
        try
        {
            await using var db = new Db(new StoreOptions { Provider = StoreProvider.Postgres, ConnectionString = cs });
            await Migrator.MigrateAsync(db, default);

            // 20,000 events fanned out (each update leaves a dead version behind, as the dispatcher's do), then 10 pending,
            // and no ANALYZE: the state of a hub's first hours, before autovacuum has looked at the table.
            await db.WriteAsync((c, t) => c.ExecuteAsync(
                """
                INSERT INTO outbox (id, merchant_id, type, payload, created_at)
                SELECT 'evt_' || g, 'mch_plan', 'payment.created', '{}', g FROM generate_series(1, 20010) g
                """, transaction: t), default);
            await db.WriteAsync((c, t) => c.ExecuteAsync("UPDATE outbox SET dispatched_at = 1 WHERE seq <= (SELECT MIN(seq) + 19999 FROM outbox)", transaction: t), default);
            var pending = await db.ReadAsync(c => c.QueryAsync<long>("SELECT seq FROM outbox WHERE dispatched_at IS NULL ORDER BY seq"), default);
            Assert.Equal(10, pending.Count());

            var (plan, read) = await db.WriteAsync(async (c, t) =>
            {
                var json = await c.ExecuteScalarAsync<string>("EXPLAIN (FORMAT JSON) " + WebhookStore.PendingEventsPostgres, new { batch = 64 }, t);
                var seqs = (await c.QueryAsync<long>(WebhookStore.PendingEventsPostgres, new { batch = 64 }, t)).ToList();
                return (json!, seqs);
            }, default);

            Assert.Contains("\"Index Name\": \"ix_outbox_pending\"", plan, StringComparison.Ordinal);
            Assert.DoesNotContain("outbox_pkey", plan, StringComparison.Ordinal);
            Assert.Equal(pending, read); // exactly the pending events, oldest first
        }
        finally
        {
            await PostgresHub.DropDatabaseAsync(name);
        }
    }
}
