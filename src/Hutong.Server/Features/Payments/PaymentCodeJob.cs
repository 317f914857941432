using Dapper;
using Hutong.Connectors.Abstractions;
using Hutong.Domain.Payments;
using Hutong.Server.Features.Workers;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Payments;

/// <summary>
/// Polls payment-code orders whose buyer is confirming (open, at their next_check_at) until they are paid, failed, or
/// reversed when the till's wait is over. Unanswered ones (unknown) are the unknown job's, which hands them to the same
/// <see cref="PaymentCodeOrders.FollowAsync"/>.
/// </summary>
public sealed class PaymentCodeJob(PaymentStore store, PaymentCodeOrders codes, Db db, IOptions<HubOptions> options, HubMetrics metrics, TimeProvider time, ILogger<PaymentCodeJob> log)
    : QueueJob("payment_code", Source, (item, ct) => HandleAsync(item, store, codes, db, ct), db, options.Value, metrics, time, log)
{
    private static readonly WorkSource Source = new("payment_attempts", PaymentJobSql.Attempts,
        "x.status = @open AND x.flow = @flow AND x.next_check_at <= @now",
        "x.next_check_at", "p.merchant_id", PaymentJobSql.AttemptChannel,
        _ => new DynamicParameters(new { open = AttemptStatus.Open.ToWire(), flow = PaymentStore.StoredFlow(PayFlow.PaymentCode) }));

    private static async Task HandleAsync(WorkItem item, PaymentStore store, PaymentCodeOrders codes, Db db, CancellationToken ct)
    {
        if (await db.ReadAsync(c => store.GetAttemptAsync(c, null, item.Id), ct) is { State: AttemptStatus.Open, Flow: PayFlow.PaymentCode } attempt)
        {
            await codes.FollowAsync(attempt, ct);
        }
    }
}
