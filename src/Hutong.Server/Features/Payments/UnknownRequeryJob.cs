using Dapper;
using Hutong.Domain.Payments;
using Hutong.Server.Features.Workers;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Payments;

/// <summary>
/// Re-queries wallet orders whose outcome the hub does not know: attempts left UNKNOWN, on their schedule, and attempts
/// still 'requested' long after any wallet call must have ended (the hub stopped mid-call, so nobody recorded the answer).
/// </summary>
public sealed class UnknownRequeryJob(PaymentStore store, PaymentService payments, Db db, IOptions<HubOptions> options, HubMetrics metrics, TimeProvider time, ILogger<UnknownRequeryJob> log)
    : QueueJob("unknown", Source(options.Value.Workers.LeaseFor), (item, ct) => HandleAsync(item, store, payments, db, ct), db, options.Value, metrics, time, log)
{
    /// <summary>
    /// The attempts to re-query. A 'requested' attempt older than <paramref name="orphanAfter"/> (the lease bound,
    /// Hutong:Workers:ItemTimeout + LeaseMargin) outlived any wallet call: its hub died mid-call.
    /// </summary>
    private static WorkSource Source(TimeSpan orphanAfter) => new("payment_attempts", PaymentJobSql.Attempts,
        "(x.status = 'unknown' AND x.next_check_at <= @now) OR (x.status = 'requested' AND x.updated_at <= @orphanedBefore)",
        "CASE WHEN x.status = 'unknown' THEN x.next_check_at ELSE x.updated_at END", "p.merchant_id", PaymentJobSql.AttemptChannel,
        now => new DynamicParameters(new { orphanedBefore = now - (long)orphanAfter.TotalMilliseconds }));

    private static async Task HandleAsync(WorkItem item, PaymentStore store, PaymentService payments, Db db, CancellationToken ct)
    {
        if (await db.ReadAsync(c => store.GetAttemptAsync(c, null, item.Id), ct) is { State: AttemptStatus.Unknown or AttemptStatus.Requested } attempt)
        {
            await payments.ResolveUnknownAsync(attempt, ct);
        }
    }
}

/// <summary>The rows the attempt jobs lease: attempts (aliased x) with their payment (p).</summary>
internal static class PaymentJobSql
{
    public const string Attempts = "payment_attempts x JOIN payments p ON p.id = x.payment_id";

    public const string AttemptChannel = "COALESCE(x.channel, x.wallet)";
}
