using Dapper;
using Hutong.Domain.Payments;
using Hutong.Server.Features.Workers;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Payments;

/// <summary>
/// Closes wallet orders that can no longer be their payment's: superseded by a failover, or left open after the payment
/// was settled or closed. An order a wallet cannot close is watched until it lapses (its next_check_at).
/// </summary>
public sealed class StrayAttemptJob(PaymentStore store, PaymentService payments, Db db, IOptions<HubOptions> options, HubMetrics metrics, TimeProvider time, ILogger<StrayAttemptJob> log)
    : QueueJob("stray", Source, (item, ct) => HandleAsync(item, store, payments, db, ct), db, options.Value, metrics, time, log)
{
    private static readonly WorkSource Source = new("payment_attempts", PaymentJobSql.Attempts,
        """
        x.status IN ('open', 'requested')
        AND (p.current_attempt_id IS NULL OR x.id <> p.current_attempt_id OR p.status IN ('succeeded', 'canceled', 'expired'))
        AND (x.next_check_at IS NULL OR x.next_check_at <= @now)
        """,
        "COALESCE(x.next_check_at, x.updated_at)", "p.merchant_id", PaymentJobSql.AttemptChannel, _ => new DynamicParameters());

    private static async Task HandleAsync(WorkItem item, PaymentStore store, PaymentService payments, Db db, CancellationToken ct)
    {
        if (await db.ReadAsync(c => store.GetAttemptAsync(c, null, item.Id), ct) is { State: AttemptStatus.Open or AttemptStatus.Requested } attempt)
        {
            await payments.CloseStrayAttemptAsync(attempt, ct);
        }
    }
}
