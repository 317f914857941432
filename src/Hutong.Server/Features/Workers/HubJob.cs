using Hutong.Server.Storage;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Hutong.Server.Features.Workers;

/// <summary>
/// One background job, run by a hosted service of its own: a pass every <see cref="Interval"/>, its own logs (the
/// subclass's category) and metrics (<see cref="HubMetrics.Job"/>). A pass that throws is logged and counted; the job
/// keeps its schedule and no other job notices. A <see cref="Singleton"/> job runs on one hub at a time: each pass first
/// takes an advisory lock, and a hub that cannot take it skips its turn; a pass whose lock's session ends stops.
/// </summary>
public abstract partial class HubJob : BackgroundService
{
    private readonly Db _db;
    private readonly TimeProvider _time;
    private readonly ILogger _log;

    protected HubJob(string name, Db db, HubMetrics metrics, TimeProvider time, ILogger log)
    {
        (Name, _db, _time, _log) = (name, db, time, log);
        Meter = metrics.Job(name);
        LockKey = AdvisoryLock.KeyOf("job:" + name);
    }

    /// <summary>The job's name: its metrics' "job" tag, its logs' {Job}.</summary>
    public string Name { get; }

    /// <summary>One hub at a time (an advisory lock per pass), rather than several hubs sharing the work through leases.</summary>
    public virtual bool Singleton => false;

    /// <summary>The advisory lock a <see cref="Singleton"/> pass holds.</summary>
    public long LockKey { get; }

    /// <summary>False leaves the job off: its hosted service returns at once, and <see cref="Jobs"/> skips it.</summary>
    public virtual bool Enabled => true;

    protected JobMeter Meter { get; }

    protected TimeProvider Time => _time;

    protected Db Db => _db;

    /// <summary>The wait between two passes.</summary>
    protected abstract TimeSpan Interval { get; }

    /// <summary>The work due now; counts its items on <see cref="Meter"/>.</summary>
    protected abstract Task PassAsync(CancellationToken ct);

    /// <summary>
    /// One pass as the hosted service runs it (under the singleton lock, timed): what tests and the simulation call.
    /// False when another hub holds the lock and the pass was skipped. Exceptions reach the caller.
    /// </summary>
    public async Task<bool> RunOnceAsync(CancellationToken ct)
    {
        var started = _time.GetTimestamp();
        await using var held = Singleton ? await AdvisoryLock.TryTakeAsync(_db, LockKey, ct) : null;
        if (Singleton && held is null)
        {
            Meter.Pass(_time.GetElapsedTime(started), "skipped");
            LogSkipped(_log, Name);
            return false;
        }

        // A pass stops once its lock's session is gone (another hub may hold the lock by then); the next pass takes it afresh.
        using var whileHeld = held is null ? null : CancellationTokenSource.CreateLinkedTokenSource(ct, held.Lost);
        try
        {
            await PassAsync(whileHeld?.Token ?? ct);
        }
        catch (OperationCanceledException) when (held?.Lost.IsCancellationRequested == true && !ct.IsCancellationRequested)
        {
            Meter.Pass(_time.GetElapsedTime(started), "failed");
            throw new InvalidOperationException($"Job {Name}: the session holding its singleton lock ended mid-pass (the store restarted, or the session was ended); the pass stopped, and the next one takes the lock again.");
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            Meter.Pass(_time.GetElapsedTime(started), "failed");
            throw;
        }

        Meter.Pass(_time.GetElapsedTime(started), "ok");
        return true;
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Enabled ? RunAsync(stoppingToken) : Task.CompletedTask;

    /// <summary>The job's life in the background: by default a pass, a wait, and again, until the hub stops.</summary>
    protected virtual async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await RunOnceAsync(stop);
            }
            catch (Exception e) when (!stop.IsCancellationRequested)
            {
                if (!StoreLog.WhenUnavailable(_log, e, "Job " + Name))
                {
                    LogPassFailed(_log, e, Name, Interval);
                }
            }

            try
            {
                await Task.Delay(Interval, _time, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {Job}: the pass failed; next pass in {Interval}")]
    private static partial void LogPassFailed(ILogger logger, Exception e, string job, TimeSpan interval);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {Job}: another hub holds its lock; skipped this pass")]
    private static partial void LogSkipped(ILogger logger, string job);
}

/// <summary>
/// A job whose rows several hubs share through <see cref="WorkQueue"/> (fair shares, leases, back-off). In the
/// background it dispatches continuously; <see cref="HubJob.RunOnceAsync"/> drains what is due.
/// </summary>
public abstract class QueueJob : HubJob
{
    private readonly WorkQueue _queue;
    private readonly TimeSpan _poll;

    protected QueueJob(
        string name, WorkSource source, Func<WorkItem, CancellationToken, Task> handle, Db db, HubOptions options, HubMetrics metrics, TimeProvider time, ILogger log)
        : base(name, db, metrics, time, log)
    {
        _poll = options.WorkerPollInterval;
        _queue = new WorkQueue(name, source, handle, db, options.Workers, time, log, Meter);
    }

    /// <summary>Several hubs share a queue's rows through leases: never a singleton.</summary>
    public sealed override bool Singleton => false;

    protected override TimeSpan Interval => _poll;

    protected override Task PassAsync(CancellationToken ct) => _queue.DrainAsync(ct);

    protected override Task RunAsync(CancellationToken stop) => _queue.RunAsync(_poll, stop);
}

/// <summary>
/// Every job in a fixed order (their registration order), for tests and the deterministic simulation: one pass of each.
/// In the hub each job runs on its own hosted service instead.
/// </summary>
public sealed class Jobs(IEnumerable<HubJob> jobs)
{
    private readonly HubJob[] _jobs = [.. jobs];

    public IReadOnlyList<HubJob> All => _jobs;

    /// <summary>One pass of every enabled job, in order. A job that fails does not keep the later ones from their pass; its exception is thrown after them.</summary>
    public async Task RunOnceAsync(CancellationToken ct)
    {
        List<Exception>? failed = null;
        foreach (var job in _jobs.Where(j => j.Enabled))
        {
            try
            {
                await job.RunOnceAsync(ct);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                (failed ??= []).Add(e);
            }
        }

        if (failed is not null)
        {
            throw new AggregateException("Background job passes failed: " + string.Join(", ", failed.Select(e => e.Message)), failed);
        }
    }
}

/// <summary>Registers a job as a singleton, as its own hosted service, and in <see cref="Jobs"/> (in registration order).</summary>
public static class JobRegistration
{
    public static IServiceCollection AddJob<T>(this IServiceCollection services)
        where T : HubJob
    {
        services.AddSingleton<T>();
        services.AddSingleton<HubJob>(sp => sp.GetRequiredService<T>());
        services.AddHostedService(sp => sp.GetRequiredService<T>());
        services.TryAddSingleton<Jobs>();
        return services;
    }
}
