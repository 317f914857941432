using Hutong.Server.Features.Workers;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Webhooks;

/// <summary>
/// Deletes events older than Hutong:Webhooks:EventRetention (30 days) with their deliveries and attempts, in bounded
/// batches (one transaction each, so the SQLite writer is never held long) and a bounded number per pass. A singleton:
/// one hub's delete does it for all, and deleting is idempotent should two ever overlap. An event with a delivery still
/// pending (a late resend) stays until that delivery ends.
/// </summary>
public sealed class EventRetentionJob(Db db, IOptions<HubOptions> options, HubMetrics metrics, TimeProvider time, ILogger<EventRetentionJob> log)
    : HubJob("event-retention", db, metrics, time, log)
{
    private readonly WebhookStore _store = new(db);

    public override bool Singleton => true;

    protected override TimeSpan Interval => TimeSpan.FromMinutes(10);

    protected override async Task PassAsync(CancellationToken ct)
    {
        var o = options.Value.Webhooks;
        var cutoff = (Time.GetUtcNow() - o.EventRetention).ToUnixTimeMilliseconds();
        var batch = Math.Max(1, o.RetentionBatchSize);
        for (var i = 0; i < Math.Max(1, o.RetentionMaxBatchesPerPass); i++)
        {
            var deleted = await Db.WriteAsync(async (c, t) =>
            {
                var ids = await Outbox.ExpiredAsync(c, t, cutoff, batch);
                if (ids.Length == 0)
                {
                    return 0;
                }

                await _store.DeleteForEventsAsync(c, t, ids);
                return await Outbox.DeleteAsync(c, t, ids, Db.IsPostgres);
            }, ct);
            Meter.Processed(deleted);
            if (deleted < batch)
            {
                return;
            }
        }
    }
}
