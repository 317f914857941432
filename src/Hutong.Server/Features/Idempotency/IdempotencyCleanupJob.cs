using Hutong.Server.Features.Workers;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.Idempotency;

/// <summary>
/// Forgets idempotency keys older than their retention (a retry after that is a new request). A singleton: one hub's
/// delete does it for all, and several hubs deleting the same rows at once would only contend.
/// </summary>
public sealed class IdempotencyCleanupJob(Db db, HubMetrics metrics, TimeProvider time, ILogger<IdempotencyCleanupJob> log)
    : HubJob("idempotency-cleanup", db, metrics, time, log)
{
    public static readonly TimeSpan Retention = TimeSpan.FromHours(24);

    public override bool Singleton => true;

    protected override TimeSpan Interval => TimeSpan.FromMinutes(10);

    protected override async Task PassAsync(CancellationToken ct)
    {
        var cutoff = (Time.GetUtcNow() - Retention).ToUnixTimeMilliseconds();
        var deleted = await IdempotencyStore.ForgetOlderThanAsync(Db, cutoff, ct);
        Meter.Processed(deleted);
    }
}
