using Dapper;
using Hutong.Domain.Payments;
using Hutong.Server.Features.Workers;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Payments;

/// <summary>
/// Queries the open wallet order of each pending payment on its poll schedule (<see cref="OpenOrderPoll"/>), so a
/// payment whose notifications were lost is found paid before it expires. Only the payment's current attempt: a
/// superseded one is the stray job's.
/// </summary>
public sealed class OpenOrderPollJob(PaymentStore store, PaymentService payments, Db db, IOptions<HubOptions> options, HubMetrics metrics, TimeProvider time, ILogger<OpenOrderPollJob> log)
    : QueueJob("poll", Source, (item, ct) => HandleAsync(item, store, payments, db, ct), db, options.Value, metrics, time, log)
{
    private static readonly WorkSource Source = new("payment_attempts", PaymentJobSql.Attempts,
        "x.status = 'open' AND x.poll_at <= @now AND p.status = 'pending' AND x.id = p.current_attempt_id",
        "x.poll_at", "p.merchant_id", PaymentJobSql.AttemptChannel, _ => new DynamicParameters());

    private static async Task HandleAsync(WorkItem item, PaymentStore store, PaymentService payments, Db db, CancellationToken ct)
    {
        if (await db.ReadAsync(c => store.GetAttemptAsync(c, null, item.Id), ct) is { State: AttemptStatus.Open, PollAt: not null } attempt)
        {
            await payments.PollOpenAsync(attempt, ct);
        }
    }
}
