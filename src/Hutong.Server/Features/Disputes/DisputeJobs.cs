using Hutong.Server.Features.Workers;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Disputes;

/// <summary>Alerts on disputes whose response window is closing (dispute.deadline_approaching) or closed (logs, metric); one hub at a time.</summary>
public sealed class DisputeDeadlineJob(DisputeService disputes, Db db, IOptions<HubOptions> options, HubMetrics metrics, TimeProvider time, ILogger<DisputeDeadlineJob> log)
    : HubJob("dispute-deadlines", db, metrics, time, log)
{
    public override bool Singleton => true;

    protected override TimeSpan Interval => options.Value.Disputes.DeadlineInterval;

    protected override async Task PassAsync(CancellationToken ct) => Meter.Processed(await disputes.AlertDeadlinesAsync(ct));
}

/// <summary>Lists the wallets' recent complaints (bounded pages) for those whose notification was lost; one hub at a time.</summary>
public sealed class DisputeSyncJob(DisputeService disputes, Db db, IOptions<HubOptions> options, HubMetrics metrics, TimeProvider time, ILogger<DisputeSyncJob> log)
    : HubJob("dispute-sync", db, metrics, time, log)
{
    public override bool Singleton => true;

    protected override TimeSpan Interval => options.Value.Disputes.SyncInterval;

    protected override async Task PassAsync(CancellationToken ct) => Meter.Processed(await disputes.SyncRecentAsync(ct));
}
