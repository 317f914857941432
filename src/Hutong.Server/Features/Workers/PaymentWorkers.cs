using Dapper;
using Hutong.Server.Features.Payments;
using Hutong.Server.Features.ProfitSharing;
using Hutong.Server.Features.Refunds;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Workers;

/// <summary>
/// The janitor and the clock: re-queries payments left UNKNOWN on their schedule, closes stray wallet orders, expires
/// unpaid payments (closing the wallet order first), follows refunds and splits, and forgets idempotency keys older than
/// 24 hours. Each job runs on its own loop, so one that waits on a hanging wallet never holds up the others; the
/// payment jobs work through <see cref="WorkQueue"/> (fair shares, per-row timeout, leases, back-off).
/// </summary>
public sealed partial class PaymentWorkers : BackgroundService
{
    private static readonly TimeSpan IdempotencyRetention = TimeSpan.FromHours(24);

    /// <summary>A 'requested' attempt older than this outlived any wallet call: the hub died mid-call.</summary>
    private static readonly TimeSpan OrphanAfter = TimeSpan.FromMinutes(2);

    private readonly RefundService _refunds;
    private readonly ProfitSharingService _profitSharing;
    private readonly Db _db;
    private readonly IOptions<HubOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<PaymentWorkers> _log;
    private readonly WorkQueue[] _queues;

    public PaymentWorkers(
        PaymentStore store, PaymentService payments, RefundService refunds, ProfitSharingService profitSharing, Db db, IOptions<HubOptions> options, TimeProvider time, ILogger<PaymentWorkers> log)
    {
        (_refunds, _profitSharing, _db, _options, _time, _log) = (refunds, profitSharing, db, options, time, log);
        var workers = options.Value.Workers;
        const string Attempts = "payment_attempts x JOIN payments p ON p.id = x.payment_id";
        const string AttemptChannel = "COALESCE(x.channel, x.wallet)";
        _queues =
        [
            // Attempts whose outcome must be re-queried: UNKNOWN ones that are due, and ones still 'requested' long after
            // the call must have ended (the hub stopped mid-call, so nobody recorded the wallet's answer).
            new WorkQueue("unknown", new WorkSource("payment_attempts", Attempts,
                    "(x.status = 'unknown' AND x.next_check_at <= @now) OR (x.status = 'requested' AND x.updated_at <= @orphanedBefore)",
                    "CASE WHEN x.status = 'unknown' THEN x.next_check_at ELSE x.updated_at END", "p.merchant_id", AttemptChannel,
                    now => new DynamicParameters(new { orphanedBefore = now - (long)OrphanAfter.TotalMilliseconds })),
                async (item, ct) =>
                {
                    if (await db.ReadAsync(c => store.GetAttemptAsync(c, null, item.Id), ct) is { Status: "unknown" or "requested" } attempt)
                    {
                        await payments.ResolveUnknownAsync(attempt, ct);
                    }
                }, db, workers, time, log),
            // Wallet orders that can no longer be the payment's: superseded by a failover, or left open after the payment was
            // settled or closed. An order a wallet cannot close is watched until it lapses (its next_check_at).
            new WorkQueue("stray", new WorkSource("payment_attempts", Attempts,
                    """
                    x.status IN ('open', 'requested')
                    AND (p.current_attempt_id IS NULL OR x.id <> p.current_attempt_id OR p.status IN ('succeeded', 'canceled', 'expired'))
                    AND (x.next_check_at IS NULL OR x.next_check_at <= @now)
                    """,
                    "COALESCE(x.next_check_at, x.updated_at)", "p.merchant_id", AttemptChannel, _ => new DynamicParameters()),
                async (item, ct) =>
                {
                    if (await db.ReadAsync(c => store.GetAttemptAsync(c, null, item.Id), ct) is { Status: "open" or "requested" } attempt)
                    {
                        await payments.CloseStrayAttemptAsync(attempt, ct);
                    }
                }, db, workers, time, log),
            new WorkQueue("expiry", new WorkSource("payments",
                    "payments x LEFT JOIN payment_attempts c ON c.id = x.current_attempt_id",
                    "x.status IN ('created', 'pending', 'failed') AND x.expires_at <= @now",
                    "x.expires_at", "x.merchant_id", "COALESCE(c.channel, c.wallet, x.wallet, '')", _ => new DynamicParameters()),
                async (item, ct) =>
                {
                    if (await store.GetByIdAsync(item.Id, ct) is { } payment)
                    {
                        await payments.ExpireAsync(payment, ct);
                    }
                }, db, workers, time, log),
        ];
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var poll = _options.Value.WorkerPollInterval;
        return Task.WhenAll(
        [
            .. _queues.Select(q => Task.Run(() => q.RunAsync(poll, stoppingToken), CancellationToken.None)),
            Task.Run(() => LoopAsync("refunds", _refunds.RunDueAsync, stoppingToken), CancellationToken.None),
            Task.Run(() => LoopAsync("splits", _profitSharing.RunDueAsync, stoppingToken), CancellationToken.None),
            Task.Run(() => LoopAsync("housekeeping", HousekeepingAsync, stoppingToken), CancellationToken.None),
        ]);
    }

    /// <summary>
    /// One pass of every job, each until nothing due is left; called directly by tests and the deterministic simulation
    /// (which sets <see cref="WorkerOptions.Parallelism"/> to 1 so its wallet sees one call at a time, in order).
    /// </summary>
    public async Task RunOnceAsync(CancellationToken ct)
    {
        foreach (var queue in _queues)
        {
            await queue.DrainAsync(ct);
        }

        await _refunds.RunDueAsync(ct);
        await _profitSharing.RunDueAsync(ct);
    }

    private async Task LoopAsync(string job, Func<CancellationToken, Task> pass, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await pass(stop);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogLoopError(_log, e, job);
            }

            try
            {
                await Task.Delay(_options.Value.WorkerPollInterval, _time, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private DateTimeOffset _lastHousekeeping = DateTimeOffset.MinValue;

    private async Task HousekeepingAsync(CancellationToken ct)
    {
        if (_time.GetUtcNow() - _lastHousekeeping <= TimeSpan.FromMinutes(10))
        {
            return;
        }

        _lastHousekeeping = _time.GetUtcNow();
        var cutoff = (_lastHousekeeping - IdempotencyRetention).ToUnixTimeMilliseconds();
        await _db.WriteAsync((c, t) => c.ExecuteAsync("DELETE FROM idempotency_keys WHERE created_at < @cutoff", new { cutoff }, t), ct);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Payment worker job {Job} failed; continuing")]
    private static partial void LogLoopError(ILogger logger, Exception e, string job);
}
