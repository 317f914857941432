using Hutong.Server.Features.Workers;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Refunds;

/// <summary>Follows refunds to their outcome: sends the ones not yet sent and re-queries the ones due a check.</summary>
public sealed class RefundJob(RefundService refunds, Db db, IOptions<HubOptions> options, HubMetrics metrics, TimeProvider time, ILogger<RefundJob> log)
    : HubJob("refunds", db, metrics, time, log)
{
    protected override TimeSpan Interval => options.Value.WorkerPollInterval;

    // RunDueAsync works and logs each refund itself and reports no count: this job's metrics are its passes.
    protected override Task PassAsync(CancellationToken ct) => refunds.RunDueAsync(ct);
}
