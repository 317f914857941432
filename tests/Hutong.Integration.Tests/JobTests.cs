using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server;
using Hutong.Server.Features.Payments;
using Hutong.Server.Features.Webhooks;
using Hutong.Server.Features.Workers;
using Hutong.Server.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Hutong.Integration.Tests;

/// <summary>The background jobs: each on its own hosted service with its own metrics; singletons run on one hub at a time.</summary>
public abstract class JobTests(HubFixture hub)
{
    [Fact]
    public void Every_job_runs_on_a_hosted_service_of_its_own()
    {
        var hosted = hub.Hub.App.Services.GetServices<IHostedService>().ToList();
        var jobs = hub.Service<Jobs>().All;

        Assert.Equal(["ledger-seal", "unknown", "payment_code", "stray", "poll", "expiry", "refunds", "splits", "payouts", "dispute-sync", "dispute-deadlines", "idempotency-cleanup", "wallet-payer-cleanup", "reconciliation", "event-retention"], jobs.Select(j => j.Name));
        Assert.All(jobs, j => Assert.Single(hosted, h => ReferenceEquals(h, j)));
        Assert.Single(hosted.OfType<WebhookDispatcher>());
        Assert.Equal(["ledger-seal", "dispute-sync", "dispute-deadlines", "idempotency-cleanup", "wallet-payer-cleanup", "reconciliation", "event-retention"], jobs.Where(j => j.Singleton).Select(j => j.Name));
    }

    [Fact]
    public async Task A_failing_job_stops_neither_the_others_nor_its_own_schedule()
    {
        using var capture = new JobMetricsCapture(hub.Service<HubMetrics>().Meter);
        var suffix = Guid.NewGuid().ToString("N")[..6];
        var failing = NewTestJob("failing-" + suffix, fail: true);
        var healthy = NewTestJob("healthy-" + suffix, fail: false);
        var last = NewTestJob("last-" + suffix, fail: false);

        // One pass of everything, in order: the job after the failing one still has its pass; the failure is reported after.
        var error = await Assert.ThrowsAsync<AggregateException>(() => new Jobs([healthy, failing, last]).RunOnceAsync(default));
        Assert.IsType<InvalidOperationException>(Assert.Single(error.InnerExceptions));
        Assert.Equal((1, 1, 1), (healthy.Passes, failing.Passes, last.Passes));

        // In the background each keeps its own schedule.
        await failing.StartAsync(default);
        await healthy.StartAsync(default);
        try
        {
            await hub.EventuallyAsync(() => Task.FromResult((failing.Passes, healthy.Passes)), p => p.Item1 >= 4 && p.Item2 >= 4, what: "both jobs to keep passing");
        }
        finally
        {
            await failing.StopAsync(default);
            await healthy.StopAsync(default);
        }

        Assert.True(capture.Passes(failing.Name, "failed") >= 4);
        Assert.Equal(0, capture.Passes(failing.Name, "ok"));
        Assert.True(capture.Passes(healthy.Name, "ok") >= 4);
        Assert.Equal(0, capture.Passes(healthy.Name, "failed"));
        Assert.Equal(healthy.Passes, capture.Items(healthy.Name, "processed"));
        Assert.Equal(failing.Passes, capture.Items(failing.Name, "failed"));
        Assert.Contains(hub.Logs.Lines, l => l.Level == LogLevel.Error && l.Message.StartsWith($"Job {failing.Name}: the pass failed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_expiry_job_counts_its_items_and_times_its_passes()
    {
        using var capture = new JobMetricsCapture(hub.Service<HubMetrics>().Meter);
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(900);
        await hub.ExecAsync("UPDATE payments SET expires_at = 0 WHERE id = @id", new { id });

        Assert.True(await hub.Service<ExpiryJob>().RunOnceAsync(default));

        // This pass or the background one expired it; either way under the expiry job's name.
        await hub.EventuallyAsync(async () => (await m.GetAsync($"/v1/payments/{id}")).Str("status"), s => s == "expired", what: "the payment to expire");
        await hub.EventuallyAsync(() => Task.FromResult(capture.Items("expiry", "processed")), n => n >= 1, what: "an expiry item counted");
        Assert.True(capture.Passes("expiry", "ok") >= 1);
        Assert.All(capture.Durations("expiry"), d => Assert.True(d >= 0));
    }

    [Fact]
    public async Task The_idempotency_cleanup_is_a_singleton_that_skips_its_pass_while_another_hub_holds_its_lock()
    {
        using var capture = new JobMetricsCapture(hub.Service<HubMetrics>().Meter);
        var cleanup = hub.Service<Hutong.Server.Features.Idempotency.IdempotencyCleanupJob>();
        var key = "old-" + Guid.NewGuid().ToString("N");
        bool ran;

        // Another hub's pass, as far as the lock goes (another session); the background pass may hold it a moment too.
        var other = await hub.EventuallyAsync(() => AdvisoryLock.TryTakeAsync(hub.Db, cleanup.LockKey, default), l => l is not null, what: "the cleanup's lock");
        await using (other)
        {
            await hub.ExecAsync(
                "INSERT INTO idempotency_keys (merchant_id, idem_key, request_hash, state, created_at) VALUES ('m_test', @key, 'h', 'completed', 1)", new { key });
            ran = await cleanup.RunOnceAsync(default);
        }

        var left = await hub.CountAsync("SELECT COUNT(*) FROM idempotency_keys WHERE idem_key = @key", new { key });
        if (hub.Provider == StoreProvider.Postgres)
        {
            Assert.False(ran);
            Assert.Equal(1, left);
            Assert.True(capture.Passes(cleanup.Name, "skipped") >= 1);

            await hub.EventuallyAsync(() => cleanup.RunOnceAsync(default), r => r, what: "a cleanup pass once the lock is free");
            left = await hub.CountAsync("SELECT COUNT(*) FROM idempotency_keys WHERE idem_key = @key", new { key });
        }
        else
        {
            Assert.True(ran); // one process owns a SQLite store: the lock is a no-op
        }

        Assert.Equal(0, left);
        Assert.True(capture.Items(cleanup.Name, "processed") >= 1);
    }

    private TestJob NewTestJob(string name, bool fail) =>
        new(name, fail, hub.Db, hub.Service<HubMetrics>(), hub.Service<ILoggerFactory>().CreateLogger("Tests.TestJob." + name));

    /// <summary>A job of the tests' own: counts its passes, each one item; throws on every pass when told to.</summary>
    private sealed class TestJob(string name, bool fail, Db db, HubMetrics metrics, ILogger log) : HubJob(name, db, metrics, TimeProvider.System, log)
    {
        private int _passes;

        public int Passes => Volatile.Read(ref _passes);

        protected override TimeSpan Interval => TimeSpan.FromMilliseconds(20);

        protected override Task PassAsync(CancellationToken ct)
        {
            Interlocked.Increment(ref _passes);
            if (fail)
            {
                Meter.Failed();
                throw new InvalidOperationException($"{Name} fails on purpose");
            }

            Meter.Processed();
            return Task.CompletedTask;
        }
    }

    /// <summary>The hub's job metrics with their tags (the fixture's capture sums by instrument only).</summary>
    private sealed class JobMetricsCapture : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<(string Instrument, string? Job, string? Outcome, double Value)> _seen = new();

        public JobMetricsCapture(Meter meter)
        {
            _listener.InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter, meter) && instrument.Name.StartsWith("hutong.jobs.", StringComparison.Ordinal))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
            _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
            _listener.Start();
        }

        public long Items(string job, string outcome) =>
            (long)_seen.Where(s => s.Instrument == "hutong.jobs.items" && s.Job == job && s.Outcome == outcome).Sum(s => s.Value);

        public int Passes(string job, string outcome) => _seen.Count(s => s.Instrument == "hutong.jobs.pass.duration" && s.Job == job && s.Outcome == outcome);

        public IEnumerable<double> Durations(string job) => _seen.Where(s => s.Instrument == "hutong.jobs.pass.duration" && s.Job == job).Select(s => s.Value).ToList();

        public void Dispose() => _listener.Dispose();

        private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string? job = null, outcome = null;
            foreach (var t in tags)
            {
                switch (t.Key)
                {
                    case "job":
                        job = t.Value as string;
                        break;
                    case "outcome":
                        outcome = t.Value as string;
                        break;
                }
            }

            _seen.Enqueue((instrument.Name, job, outcome, value));
        }
    }
}

[Collection("sqlite")]
public sealed class JobTests_Sqlite(SqliteHub hub) : JobTests(hub);

[Collection("postgres")]
public sealed class JobTests_Postgres(PostgresHub hub) : JobTests(hub);
