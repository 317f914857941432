using Hutong.Server.Features.Workers;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Payouts;

/// <summary>Follows payouts to their outcome: sends the ones not yet sent and queries the ones due a check (shared across hubs by lease).</summary>
public sealed class PayoutJob(PayoutService payouts, Db db, IOptions<HubOptions> options, HubMetrics metrics, TimeProvider time, ILogger<PayoutJob> log)
    : HubJob("payouts", db, metrics, time, log)
{
    protected override TimeSpan Interval => options.Value.WorkerPollInterval;

    protected override Task PassAsync(CancellationToken ct) => payouts.RunDueAsync(ct);
}
