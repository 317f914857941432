using Dapper;
using Hutong.Server.Features.Workers;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Payments;

/// <summary>Expires unpaid payments past their expires_at, closing the wallet order first.</summary>
public sealed class ExpiryJob(PaymentStore store, PaymentService payments, Db db, IOptions<HubOptions> options, HubMetrics metrics, TimeProvider time, ILogger<ExpiryJob> log)
    : QueueJob("expiry", Source, (item, ct) => HandleAsync(item, store, payments, ct), db, options.Value, metrics, time, log)
{
    private static readonly WorkSource Source = new("payments",
        "payments x LEFT JOIN payment_attempts c ON c.id = x.current_attempt_id",
        "x.status IN ('created', 'pending', 'failed') AND x.expires_at <= @now",
        "x.expires_at", "x.merchant_id", "COALESCE(c.channel, c.wallet, x.wallet, '')", _ => new DynamicParameters());

    private static async Task HandleAsync(WorkItem item, PaymentStore store, PaymentService payments, CancellationToken ct)
    {
        if (await store.GetByIdAsync(item.Id, ct) is { } payment)
        {
            await payments.ExpireAsync(payment, ct);
        }
    }
}
