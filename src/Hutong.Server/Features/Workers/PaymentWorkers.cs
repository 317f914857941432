using Dapper;
using Hutong.Server.Features.Payments;
using Hutong.Server.Features.ProfitSharing;
using Hutong.Server.Features.Refunds;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Workers;

/// <summary>
/// The janitor and the clock: re-queries payments left UNKNOWN on their schedule, expires unpaid
/// payments (closing the wallet order first), follows refunds, and forgets idempotency keys older than 24 hours.
/// </summary>
public sealed partial class PaymentWorkers(
    PaymentStore store, PaymentService payments, RefundService refunds, ProfitSharingService profitSharing, Db db, IOptions<HubOptions> options, TimeProvider time, ILogger<PaymentWorkers> log)
    : BackgroundService
{
    private static readonly TimeSpan IdempotencyRetention = TimeSpan.FromHours(24);

    /// <summary>A 'requested' attempt older than this outlived any wallet call: the hub died mid-call.</summary>
    private static readonly TimeSpan OrphanAfter = TimeSpan.FromMinutes(2);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var lastHousekeeping = DateTimeOffset.MinValue;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RunOnceAsync(stoppingToken);
                if (time.GetUtcNow() - lastHousekeeping > TimeSpan.FromMinutes(10))
                {
                    lastHousekeeping = time.GetUtcNow();
                    var cutoff = (lastHousekeeping - IdempotencyRetention).ToUnixTimeMilliseconds();
                    await db.WriteAsync((c, t) => c.ExecuteAsync("DELETE FROM idempotency_keys WHERE created_at < @cutoff", new { cutoff }, t), stoppingToken);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogLoopError(log, e);
            }

            try
            {
                await Task.Delay(options.Value.WorkerPollInterval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One pass of both jobs; also called directly by tests and the deterministic simulation.</summary>
    public async Task RunOnceAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var orphanedBefore = now - (long)OrphanAfter.TotalMilliseconds;
        foreach (var attempt in await store.DueUnknownAttemptsAsync(now, orphanedBefore, 100, ct))
        {
            await payments.ResolveUnknownAsync(attempt, ct);
        }

        foreach (var attempt in await store.StrayOpenAttemptsAsync(now, 100, ct))
        {
            await payments.CloseStrayAttemptAsync(attempt, ct);
        }

        foreach (var payment in await store.DueExpiriesAsync(now, 100, ct))
        {
            await payments.ExpireAsync(payment, ct);
        }

        await refunds.RunDueAsync(ct);
        await profitSharing.RunDueAsync(ct);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Payment worker pass failed; continuing")]
    private static partial void LogLoopError(ILogger logger, Exception e);
}
