using Hutong.Server.Features.Workers;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.ProfitSharing;

/// <summary>Follows profit-sharing splits and returns to their outcome: sends the due ones, re-queries the ones in flight.</summary>
public sealed class SplitJob(SplitFollowUpService followUp, Db db, IOptions<HubOptions> options, HubMetrics metrics, TimeProvider time, ILogger<SplitJob> log)
    : HubJob("splits", db, metrics, time, log)
{
    protected override TimeSpan Interval => options.Value.WorkerPollInterval;

    // RunDueAsync works and logs each split itself and reports no count: this job's metrics are its passes.
    protected override Task PassAsync(CancellationToken ct) => followUp.RunDueAsync(ct);
}
