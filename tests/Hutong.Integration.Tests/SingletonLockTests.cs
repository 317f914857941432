using Dapper;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server;
using Hutong.Server.Features.Workers;
using Hutong.Server.Storage;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Hutong.Integration.Tests;

/// <summary>
/// A singleton job's advisory lock lives with the session that took it. When that session ends mid-pass (PostgreSQL restarted,
/// the session terminated), another hub may take the lock: the pass must notice and stop, and the next pass takes the lock
/// afresh.
/// </summary>
[Collection("postgres")]
public sealed class SingletonLockTests(PostgresHub hub)
{
    [Fact]
    public async Task A_pass_whose_lock_session_ends_stops_and_the_next_pass_takes_the_lock_again()
    {
        var job = new HoldingJob("lock-test-" + Guid.NewGuid().ToString("N")[..8], hub.Db, hub.Service<HubMetrics>(),
            hub.Service<ILoggerFactory>().CreateLogger("Tests.HoldingJob"));
        var pass = job.RunOnceAsync(CancellationToken.None);
        await job.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // The session holding the lock ends (as in a PostgreSQL restart, for this one session only).
        var (hi, lo) = ((long)(uint)(job.LockKey >> 32), (long)(uint)job.LockKey);
        await using (var admin = new NpgsqlConnection(PostgresHub.ServerConnectionString))
        {
            await admin.OpenAsync();
            var pid = await admin.ExecuteScalarAsync<int>(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid::bigint = @hi AND objid::bigint = @lo", new { hi, lo });
            Assert.NotEqual(0, pid);
            Assert.True(await admin.ExecuteScalarAsync<bool>("SELECT pg_terminate_backend(@pid)", new { pid }));
        }

        // The pass stops within a few seconds (it would otherwise run on for HoldingJob.Hold without the lock).
        var e = await Record.ExceptionAsync(() => pass.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.IsType<InvalidOperationException>(e);
        Assert.Contains("singleton lock", e.Message, StringComparison.Ordinal);
        Assert.False(job.Finished, "the pass ran to its end without its lock");

        // The next pass takes the lock again (a fresh session) and runs to its end.
        job.Hold = TimeSpan.Zero;
        Assert.True(await job.RunOnceAsync(CancellationToken.None));
        Assert.True(job.Finished);
    }

    /// <summary>A singleton whose pass holds its lock for <see cref="Hold"/>.</summary>
    private sealed class HoldingJob(string name, Db db, HubMetrics metrics, ILogger log) : HubJob(name, db, metrics, TimeProvider.System, log)
    {
        public TimeSpan Hold { get; set; } = TimeSpan.FromSeconds(30);

        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Finished { get; private set; }

        public override bool Singleton => true;

        public override bool Enabled => false; // never run by a hosted service: the test runs its passes

        protected override TimeSpan Interval => TimeSpan.FromHours(1);

        protected override async Task PassAsync(CancellationToken ct)
        {
            Started.TrySetResult();
            await Task.Delay(Hold, ct);
            Finished = true;
        }
    }
}
