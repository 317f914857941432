using System.Collections.Concurrent;
using Dapper;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.Workers;

/// <summary>One row a job may work on, and whose work it is (for fair shares).</summary>
public sealed class WorkItem
{
    public string Id { get; set; } = string.Empty;

    public string MerchantId { get; set; } = string.Empty;

    public string Channel { get; set; } = string.Empty;

    public int WorkFailures { get; set; }
}

/// <summary>Where a job's rows live and when one is due. The leased table is aliased <c>x</c> in <see cref="From"/>.</summary>
/// <param name="Table">The table holding work_after / work_failures.</param>
/// <param name="From">FROM clause, the leased table aliased x (joins allowed).</param>
/// <param name="DueWhere">When a row is due by its own state, parameters from <see cref="Args"/>.</param>
/// <param name="DueAt">When it became due (oldest first within one merchant and channel).</param>
/// <param name="Merchant">The row's merchant.</param>
/// <param name="Channel">The wallet channel its wallet calls go to.</param>
public sealed record WorkSource(string Table, string From, string DueWhere, string DueAt, string Merchant, string Channel, Func<long, DynamicParameters> Args);

/// <summary>
/// One job of the payment worker. It keeps taking due rows while earlier ones are still in flight, so a wallet that hangs
/// delays only its own rows: at most <see cref="WorkerOptions.Parallelism"/> rows at once, half of them for one channel
/// and a quarter for one merchant at one channel, picked round-robin across merchants and channels. Each row is claimed
/// with a lease (a conditional update of work_after, so several hubs on one database never work on it together), bounded
/// by <see cref="WorkerOptions.ItemTimeout"/>, and a row that a pass left still due (wallet unreachable, amount
/// mismatch, timeout) waits an exponential back-off instead of being retried on every pass.
/// </summary>
public sealed partial class WorkQueue(
    string name, WorkSource source, Func<WorkItem, CancellationToken, Task> handle, Db db, WorkerOptions options, TimeProvider time, ILogger log, JobMeter meter)
{
    /// <summary>Bounds one drain (tests, the simulation): rounds of dispatch-then-wait.</summary>
    private const int MaxDrainRounds = 1000;

    private readonly ConcurrentDictionary<string, (WorkItem Item, Task Task)> _inFlight = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _dispatch = new(1, 1);

    public string Name => name;

    /// <summary>The job's own loop: dispatch what is due, every poll interval, until the hub stops.</summary>
    public async Task RunAsync(TimeSpan poll, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var started = time.GetTimestamp();
            try
            {
                await DispatchAsync(stop);
                meter.Pass(time.GetElapsedTime(started), "ok");
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                meter.Pass(time.GetElapsedTime(started), "failed");
                if (!StoreLog.WhenUnavailable(log, e, "Worker job " + name))
                {
                    LogDispatchFailed(log, e, name);
                }
            }

            try
            {
                await Task.Delay(poll, time, stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        await WaitInFlightAsync();
    }

    /// <summary>Works until nothing due is left (every row either settled or backed off); for tests and the simulation.</summary>
    public async Task DrainAsync(CancellationToken ct)
    {
        for (var round = 0; round < MaxDrainRounds; round++)
        {
            var busy = !_inFlight.IsEmpty;
            var started = await DispatchAsync(ct);
            await WaitInFlightAsync();
            if (started == 0 && !busy)
            {
                return;
            }
        }
    }

    private Task WaitInFlightAsync() => Task.WhenAll(_inFlight.Values.Select(v => v.Task));

    /// <summary>Claims due rows within the free shares and starts them; returns how many started.</summary>
    private async Task<int> DispatchAsync(CancellationToken stop)
    {
        await _dispatch.WaitAsync(stop);
        try
        {
            var free = options.Parallelism - _inFlight.Count;
            if (free <= 0)
            {
                return 0;
            }

            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            var args = source.Args(now);
            args.Add("now", now);
            args.Add("limit", options.Parallelism * 4);
            // Round-robin: every merchant's and channel's oldest due row first, then each one's second, and so on.
            var candidates = (await db.ReadAsync(c => c.QueryAsync<WorkItem>(
                $"""
                SELECT id, merchant_id, channel, work_failures FROM (
                    SELECT x.id AS id, {source.Merchant} AS merchant_id, {source.Channel} AS channel, x.work_failures AS work_failures, {source.DueAt} AS due_at,
                           ROW_NUMBER() OVER (PARTITION BY {source.Merchant}, {source.Channel} ORDER BY {source.DueAt}, x.id) AS rn
                    FROM {source.From}
                    WHERE ({source.DueWhere}) AND (x.work_after IS NULL OR x.work_after <= @now)
                ) d
                ORDER BY rn, due_at, id LIMIT @limit
                """, args), stop)).ToList();

            var channels = _inFlight.Values.GroupBy(v => v.Item.Channel).ToDictionary(g => g.Key, g => g.Count());
            var merchants = _inFlight.Values.GroupBy(v => (v.Item.MerchantId, v.Item.Channel)).ToDictionary(g => g.Key, g => g.Count());
            var chosen = new List<WorkItem>();
            foreach (var item in candidates)
            {
                if (chosen.Count == free)
                {
                    break;
                }

                if (_inFlight.ContainsKey(item.Id)
                    || channels.GetValueOrDefault(item.Channel) >= options.PerChannel
                    || merchants.GetValueOrDefault((item.MerchantId, item.Channel)) >= options.PerMerchantChannel)
                {
                    continue;
                }

                chosen.Add(item);
                channels[item.Channel] = channels.GetValueOrDefault(item.Channel) + 1;
                merchants[(item.MerchantId, item.Channel)] = merchants.GetValueOrDefault((item.MerchantId, item.Channel)) + 1;
            }

            if (chosen.Count == 0)
            {
                return 0;
            }

            var lease = now + (long)(options.ItemTimeout + options.LeaseMargin).TotalMilliseconds;
            var claimed = await db.WriteAsync(async (c, t) =>
            {
                var mine = new List<WorkItem>();
                foreach (var item in chosen)
                {
                    if (await c.ExecuteAsync(
                            $"UPDATE {source.Table} SET work_after = @lease WHERE id = @Id AND (work_after IS NULL OR work_after <= @now)",
                            new { lease, item.Id, now }, t) == 1)
                    {
                        mine.Add(item);
                    }
                }

                return mine;
            }, stop);

            foreach (var item in claimed)
            {
                var run = new Task<Task>(() => RunItemAsync(item, lease, stop));
                _inFlight[item.Id] = (item, run.Unwrap());
                run.Start(TaskScheduler.Default);
            }

            return claimed.Count;
        }
        finally
        {
            _dispatch.Release();
        }
    }

    private async Task RunItemAsync(WorkItem item, long lease, CancellationToken stop)
    {
        try
        {
            using var timeout = new CancellationTokenSource(options.ItemTimeout, time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(stop, timeout.Token);
            try
            {
                await handle(item, linked.Token);
                meter.Processed();
            }
            catch (Exception e) when (!stop.IsCancellationRequested)
            {
                // One bad row must not stall the others; it is backed off below like any row a pass left due.
                meter.Failed();
                LogItemFailed(log, e, name, item.Id, timeout.IsCancellationRequested);
            }

            if (!stop.IsCancellationRequested)
            {
                await ReleaseAsync(item, lease);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogItemFailed(log, e, name, item.Id, false); // the lease lapses and the row is taken again
        }
        finally
        {
            _inFlight.TryRemove(item.Id, out _);
        }
    }

    /// <summary>
    /// Ends the lease: a row the pass settled is due again whenever its own state says so; one it left due (nothing
    /// changed) waits its back-off. Conditional on still holding the lease, so a lapsed lease changes nothing.
    /// </summary>
    private async Task ReleaseAsync(WorkItem item, long lease)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var delay = options.Backoff(item.WorkFailures);
        var args = source.Args(now);
        args.AddDynamicParams(new { now, id = item.Id, lease, until = now + (long)delay.TotalMilliseconds });
        var backedOff = await db.WriteAsync(async (c, t) =>
        {
            var stillDue = await c.ExecuteAsync(
                $"""
                UPDATE {source.Table} SET work_after = @until, work_failures = work_failures + 1
                WHERE id = @id AND work_after = @lease AND EXISTS (SELECT 1 FROM {source.From} WHERE x.id = @id AND ({source.DueWhere}))
                """, args, t) == 1;
            if (!stillDue)
            {
                await c.ExecuteAsync($"UPDATE {source.Table} SET work_after = NULL, work_failures = 0 WHERE id = @id AND work_after = @lease", args, t);
            }

            return stillDue;
        }, CancellationToken.None);

        if (!backedOff)
        {
            return;
        }

        var failures = item.WorkFailures + 1;
        if (failures == options.AlertAfterFailures)
        {
            LogAlert(log, name, item.Id, item.Channel, failures, delay);
        }
        else if (failures == 1)
        {
            LogBackoff(log, name, item.Id, item.Channel, delay);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Worker job {Job} could not take due rows; retrying next poll")]
    private static partial void LogDispatchFailed(ILogger logger, Exception e, string job);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Worker job {Job} failed on {Id} (timed out: {TimedOut}); backing it off")]
    private static partial void LogItemFailed(ILogger logger, Exception e, string job, string id, bool timedOut);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Worker job {Job}: {Id} (channel {Channel}) is still due after a pass; next try in {Delay}")]
    private static partial void LogBackoff(ILogger logger, string job, string id, string channel, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Error, Message = "ALERT: worker job {Job}: {Id} (channel {Channel}) made no progress in {Failures} passes; next try in {Delay}")]
    private static partial void LogAlert(ILogger logger, string job, string id, string channel, int failures, TimeSpan delay);
}
