using System.Data;
using System.Data.Common;
using System.Threading.Channels;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Hutong.Server.Storage;

/// <summary>
/// The storage engine (this folder): one schema (<see cref="Migrator"/>) on SQLite (WAL, synchronous=FULL) or PostgreSQL.
/// Its contract: <see cref="ReadAsync{T}"/> sees committed data only. <see cref="WriteAsync{T}"/> runs the work in one
/// transaction of its own — on SQLite on the one writer thread, in a savepoint, committed in a group with other writes
/// (one fsync for many) — so a state change and its outbox row commit together and a failing write fails alone; the work
/// touches only the store (no wallet or HTTP call: on SQLite every other write waits for it) and goes through the owning
/// table's store, never its own SQL. <see cref="WriteAsync(WriteBatch, CancellationToken)"/> is the hot path for writes
/// made only of statements known up front: prepared statements on SQLite, one round trip and one commit for a whole group
/// on PostgreSQL; its checks may run more than once, so they must be pure. Once queued a write is not cancellable, and its
/// task says whether it committed; a failed commit fails every write of its group.
/// </summary>
public sealed class Db : IAsyncDisposable
{
    private readonly StoreOptions _options;
    private readonly NpgsqlDataSource? _pg; // the primary: writes, and every read that must see them
    private readonly NpgsqlDataSource? _pgReplica; // a standby if one answers, else the primary (see ReadReplicaAsync)
    private readonly NpgsqlDataSource? _pgOwner; // the data source owning the connections (the multi-host one, if several hosts)
    private readonly string? _sqlite;

    // SQLite has one writer. Writes queue here and one writer loop commits them in groups (group commit): one durable
    // commit (an fsync) carries many requests' changes. Every write still runs in its own savepoint, so one failing
    // write never takes the others down with it.
    private readonly Channel<PendingWrite> _writes = Channel.CreateUnbounded<PendingWrite>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Lazy<Task> _writer;
    private const int MaxBatch = 256;

    static Db() => DefaultTypeMap.MatchNamesWithUnderscores = true; // snake_case columns → PascalCase properties

    public Db(StoreOptions options)
    {
        _options = options;
        if (options.Provider == StoreProvider.Postgres)
        {
            var b = new NpgsqlConnectionStringBuilder(options.ConnectionString);
            if (!options.ConnectionString.Contains("Maximum Pool Size", StringComparison.OrdinalIgnoreCase))
            {
                b.MaxPoolSize = options.MaxPoolSize;
            }

            // Statements the hub runs again and again are prepared on each connection after their second use, so the
            // server parses and plans them once per connection rather than on every request (Npgsql auto-prepare).
            if (!options.ConnectionString.Contains("Max Auto Prepare", StringComparison.OrdinalIgnoreCase))
            {
                b.MaxAutoPrepare = 100;
                b.AutoPrepareMinUsages = 2;
            }

            var builder = new NpgsqlDataSourceBuilder(b.ConnectionString);
            if (b.Host?.Contains(',', StringComparison.Ordinal) == true)
            {
                // Several hosts (Host=primary,standby1,…): writes and read-your-writes go to whichever is the primary,
                // reads that may lag (lists, reports) to a standby when one answers (Npgsql multi-host data source).
                var multi = builder.BuildMultiHost();
                _pgOwner = multi;
                _pg = multi.WithTargetSession(TargetSessionAttributes.Primary);
                _pgReplica = multi.WithTargetSession(TargetSessionAttributes.PreferStandby);
            }
            else
            {
                _pg = _pgReplica = _pgOwner = builder.Build();
            }
        }
        else
        {
            var b = new SqliteConnectionStringBuilder(options.ConnectionString) { Pooling = true, DefaultTimeout = 30 };
            var dir = Path.GetDirectoryName(Path.GetFullPath(b.DataSource));
            if (!string.IsNullOrEmpty(dir))
            {
                Directory.CreateDirectory(dir);
            }

            _sqlite = b.ConnectionString;
        }

        // The writers start on the first write, and would keep that request's execution context (its trace span, so every
        // later group commit would be traced as part of that one request): they start with none.
        _writer = new Lazy<Task>(() => WithoutCallerContext(StartWriter));
        _pgWriters = new Lazy<Task[]>(() => WithoutCallerContext(() => Enumerable.Range(0, Math.Max(1, options.PostgresWriters)).Select(_ => Task.Run(PgWriterLoopAsync)).ToArray()));
    }

    private static T WithoutCallerContext<T>(Func<T> start)
    {
        using (ExecutionContext.SuppressFlow())
        {
            return start();
        }
    }

    // PostgreSQL: writes made only of known statements are committed in groups as well (see WriteAsync(WriteBatch)).
    private readonly Channel<StatementWrite> _pgWrites = Channel.CreateUnbounded<StatementWrite>();
    private readonly Lazy<Task[]> _pgWriters;
    private const int MaxPgBatch = 64;

    public StoreProvider Provider => _options.Provider;

    /// <summary>
    /// Raised after a write that added webhook deliveries (with their events, Outbox.InsertAsync) committed, on the
    /// committing thread (handlers only take note), so the webhook dispatcher sends them without waiting for its poll.
    /// Deliveries another hub commits are not seen here; the dispatcher's poll finds them.
    /// </summary>
    public event Action? DeliveriesCommitted;

    private void Committed(bool deliveries)
    {
        if (deliveries)
        {
            DeliveriesCommitted?.Invoke();
        }
    }

    /// <summary>The PostgreSQL data source (null on SQLite), for the health check and tracing.</summary>
    internal NpgsqlDataSource? PgDataSource => _pg;

    /// <summary>
    /// False once the writer (SQLite's one writer thread, or PostgreSQL's group-commit loops) has ended or the store is
    /// disposed: writes would then fail, so the hub is not ready.
    /// </summary>
    public bool WritersAlive => _pg is not null
        ? !_pgWrites.Reader.Completion.IsCompleted && !(_pgWriters.IsValueCreated && _pgWriters.Value.Any(t => t.IsCompleted))
        : !_writes.Reader.Completion.IsCompleted && !(_writer.IsValueCreated && _writer.Value.IsCompleted);

    public bool IsPostgres => _options.Provider == StoreProvider.Postgres;

    /// <summary>
    /// Dialect spelling of an auto-increment primary key. On SQLite a plain rowid key: these tables are append-only (the
    /// ledger's triggers forbid deletes; outbox, deliveries and notifications are never deleted), so max(rowid)+1 never
    /// reuses an id, and AUTOINCREMENT's extra sqlite_sequence write on every insert is saved.
    /// </summary>
    public string IdentityColumn => IsPostgres ? "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY" : "INTEGER PRIMARY KEY";

    public async Task<DbConnection> OpenAsync(CancellationToken ct)
    {
        if (_pg is not null)
        {
            return await _pg.OpenConnectionAsync(ct);
        }

        var c = new SqliteConnection(_sqlite);
        await c.OpenAsync(ct);
        // Durable commits for money (FULL), WAL for concurrent readers. Savepoint journals in memory: in a temporary file
        // they took a third of the writer's time per write.
        await c.ExecuteAsync("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000; PRAGMA temp_store=MEMORY;");
        return c;
    }

    public async Task<T> ReadAsync<T>(Func<DbConnection, Task<T>> work, CancellationToken ct)
    {
        await using var c = await OpenReaderAsync(ct);
        return await work(c);
    }

    /// <summary>
    /// A read that may be served by a standby (when Store:ConnectionString lists several hosts): lists and reports, which
    /// may lag the primary by the replication delay. Never for a read that must see the caller's own write (a resource read
    /// back after its POST, anything a write decides on): those use <see cref="ReadAsync{T}"/>, which reads the primary.
    /// A standby that fails mid-read (down, restarting) costs nothing but time: the read runs again on the primary.
    /// </summary>
    public async Task<T> ReadReplicaAsync<T>(Func<DbConnection, Task<T>> work, CancellationToken ct)
    {
        if (_pgReplica is null || ReferenceEquals(_pgReplica, _pg))
        {
            return await ReadAsync(work, ct);
        }

        try
        {
            await using var c = await _pgReplica.OpenConnectionAsync(ct);
            return await work(c);
        }
        catch (Exception e) when ((IsUnavailable(e) || e is PostgresException { SqlState: PostgresErrorCodes.SerializationFailure }) && !ct.IsCancellationRequested)
        {
            // 40001 on a standby: the query was cancelled by a conflict with recovery (replay needed its rows).
            return await ReadAsync(work, ct);
        }
    }

    /// <summary>
    /// A connection for reading. On SQLite it skips the writer's pragmas (three statements per open): readers commit
    /// nothing, and Microsoft.Data.Sqlite retries a busy database by itself for DefaultTimeout.
    /// </summary>
    private async Task<DbConnection> OpenReaderAsync(CancellationToken ct)
    {
        if (_pg is not null)
        {
            return await _pg.OpenConnectionAsync(ct);
        }

        var c = new SqliteConnection(_sqlite);
        await c.OpenAsync(ct);
        return c;
    }

    public Task<T> WriteAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken ct) => WriteAsync(work, statementsOnly: false, ct);

    private async Task<T> WriteAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, bool statementsOnly, CancellationToken ct)
    {
        if (_pg is not null)
        {
            // PostgreSQL already groups concurrent commits server-side; measured, one client-side writer was slower.
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    return await WritePgOnceAsync(work, ct);
                }
                catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.DeadlockDetected && attempt < MaxDeadlockAttempts && !ct.IsCancellationRequested)
                {
                    // 40P01: the server rolled this whole transaction back to break a lock cycle with another writer (for
                    // instance a payout and a netting give-back taking the ledger and a receiver row in opposite orders,
                    // possibly on another hub). Nothing of it committed and the work function only talks to the database,
                    // so running it again is what the caller would do; a short random pause lets the other writer finish.
                    Interlocked.Increment(ref _deadlockRetries);
                    await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(5, 25 * attempt)), ct);
                }
            }
        }

        var pending = new PendingWrite<T>(work) { StatementsOnly = statementsOnly };
        _ = _writer.Value;
        if (!_writes.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(nameof(Db));
        }

        // Not cancellable once queued: the caller must learn whether its write committed.
        return await pending.Task;
    }

    /// <summary>Attempts of one PostgreSQL write before a deadlock (40P01) reaches its caller.</summary>
    internal const int MaxDeadlockAttempts = 4;

    private long _deadlockRetries;

    /// <summary>PostgreSQL writes run again because the server broke a deadlock by rolling them back.</summary>
    public long DeadlockRetries => Interlocked.Read(ref _deadlockRetries);

    private async Task<T> WritePgOnceAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(IsolationLevel.ReadCommitted, ct);
        var committing = new CommitScope();
        Deferred.AddOrUpdate(tx, committing);
        try
        {
            var result = await work(c, tx);
            await committing.RunAsync(c, tx);
            await tx.CommitAsync(ct);
            Committed(Outbox.TakeDeliveries(tx));
            return result;
        }
        finally
        {
            Deferred.Remove(tx);
            Outbox.TakeDeliveries(tx); // a rolled-back attempt's mark must not carry over to the next transaction object
        }
    }

    // PostgreSQL write transactions (WriteAsync with a work function) and what is to run in each just before its commit.
    // Keyed by the transaction object, which Npgsql reuses for the connection's next transaction: so each entry lives
    // exactly as long as its WriteAsync (added at the start, removed in its finally), never longer.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<DbTransaction, CommitScope> Deferred = new();

    /// <summary>
    /// The scope of <paramref name="t"/> when it is a PostgreSQL write transaction of this store, through which work is
    /// deferred to just before its commit; false otherwise (SQLite, or a transaction this store does not commit), and then
    /// the caller must do the work at once. For work that must hold a lock every writer shares until the commit (the
    /// ledger's chain): taken last, it is held for the commit only, not for the rest of the transaction.
    /// </summary>
    internal static bool TryGetCommitScope(DbTransaction t, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out CommitScope? scope) =>
        Deferred.TryGetValue(t, out scope);

    /// <summary>Work a PostgreSQL write transaction runs after the rest of its work, just before it commits.</summary>
    internal interface IBeforeCommit
    {
        Task RunAsync(DbConnection c, DbTransaction t);
    }

    /// <summary>One transaction's deferred work: one instance of each kind, run in the order first asked for.</summary>
    internal sealed class CommitScope
    {
        private List<IBeforeCommit>? _steps;

        public T GetOrAdd<T>(Func<T> create) where T : class, IBeforeCommit
        {
            if (_steps?.OfType<T>().FirstOrDefault() is { } existing)
            {
                return existing;
            }

            var step = create();
            (_steps ??= []).Add(step);
            return step;
        }

        public async Task RunAsync(DbConnection c, DbTransaction t)
        {
            // A step that throws rolls the transaction back.
            for (var i = 0; _steps is not null && i < _steps.Count; i++)
            {
                await _steps[i].RunAsync(c, t);
            }
        }
    }

    /// <summary>
    /// A write made only of statements known up front (<see cref="WriteBatch"/>), with the checks of the rows each affected
    /// run before the commit (throwing rolls this write back). On SQLite it is an ordinary write on the group-committing
    /// writer. On PostgreSQL concurrent writes of this kind are committed in groups too: one transaction, one round trip
    /// for all their statements (an NpgsqlBatch) and one commit, instead of a transaction, two round trips and a commit
    /// each. If a statement or a check fails, the group rolls back and each of its writes runs again in a transaction of
    /// its own, so a failing write fails alone and the others still commit. Once it completes, the batch's handles give
    /// the rows each statement affected.
    /// </summary>
    public Task WriteAsync(WriteBatch write, CancellationToken ct)
    {
        write.Submit();
        if (_pg is null)
        {
            return WriteAsync(RunBatch(write), statementsOnly: true, ct);
        }

        var pending = new StatementWrite(write);
        _ = _pgWriters.Value;
        if (!_pgWrites.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(nameof(Db));
        }

        return pending.Done.Task; // not cancellable once queued, as on SQLite
    }

    private static Func<DbConnection, DbTransaction, Task<bool>> RunBatch(WriteBatch write) => async (c, t) =>
    {
        await HotStatements.ExecuteAsync(c, t, write);
        write.Check();
        if (write.AddedDeliveries)
        {
            Outbox.NoteDeliveries(t);
        }

        return true;
    };

    private async Task PgWriterLoopAsync()
    {
        var group = new List<StatementWrite>(MaxPgBatch);
        var batches = new List<WriteBatch>(MaxPgBatch);
        while (await _pgWrites.Reader.WaitToReadAsync())
        {
            group.Clear();
            batches.Clear();
            while (group.Count < MaxPgBatch && _pgWrites.Reader.TryRead(out var next))
            {
                group.Add(next);
                batches.Add(next.Batch);
            }

            if (group.Count == 0)
            {
                continue;
            }

            var committing = false;
            try
            {
                var t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                await using var c = await _pg!.OpenConnectionAsync();
                await using var tx = await c.BeginTransactionAsync(IsolationLevel.ReadCommitted);
                await HotStatements.ExecuteAsync(c, tx, batches);
                foreach (var write in batches)
                {
                    write.Check();
                }

                committing = true;
                var t1 = System.Diagnostics.Stopwatch.GetTimestamp();
                await tx.CommitAsync();
                Interlocked.Add(ref _workTicks, t1 - t0);
                Interlocked.Add(ref _commitTicks, System.Diagnostics.Stopwatch.GetTimestamp() - t1);
                Interlocked.Increment(ref _commits);
                Interlocked.Add(ref _batchedWrites, group.Count);
                Committed(batches.Exists(b => b.AddedDeliveries));
                for (var i = 0; i < group.Count; i++)
                {
                    group[i].Done.TrySetResult();
                }
            }
            catch (Exception e) when (committing || group.Count == 1)
            {
                // A write alone failed by itself; and a failed commit may still have committed, so its writes are not
                // run again: their callers learn of it.
                foreach (var w in group)
                {
                    w.Done.TrySetException(e);
                }
            }
            catch (Exception)
            {
                // Rolled back before the commit: each write again on its own, so only a failing one fails.
                await Task.WhenAll(group.Select(async w =>
                {
                    try
                    {
                        await WriteAsync(RunBatch(w.Batch), CancellationToken.None);
                        w.Done.TrySetResult();
                    }
                    catch (Exception alone)
                    {
                        w.Done.TrySetException(alone);
                    }
                }));
            }
        }
    }

    private sealed class StatementWrite(WriteBatch batch)
    {
        public WriteBatch Batch { get; } = batch;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Number of write transactions committed and writes they carried (for the benchmark's group-commit figure).</summary>
    public (long Commits, long Writes) GroupCommitStats => (Interlocked.Read(ref _commits), Interlocked.Read(ref _batchedWrites));

    /// <summary>
    /// Time the writers spent running writes and committing them (for the benchmark's breakdown): SQLite's writer, and
    /// PostgreSQL's group-commit loops (the statements' round trip; the commit's).
    /// </summary>
    public (TimeSpan Work, TimeSpan Commit) WriterTime =>
        (System.Diagnostics.Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _workTicks)), System.Diagnostics.Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _commitTicks)));

    private long _workTicks;
    private long _commitTicks;
    private long _commits;
    private long _batchedWrites;

    /// <summary>
    /// The writer is a thread of its own that blocks in SQLite (statements and the commit's fsync) instead of holding a
    /// thread-pool thread for a millisecond per commit; writes complete synchronously on SQLite, and callers resume on
    /// the pool (their completions run continuations asynchronously).
    /// </summary>
    private Task StartWriter()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                WriterLoop();
                done.SetResult();
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        })
        {
            IsBackground = true,
            Name = "hutong-sqlite-writer",
        };
        thread.Start();
        return done.Task;
    }

    private void WriterLoop()
    {
        DbConnection? connection = null;
        StatementCache? statements = null; // what the writes run on: the connection, with each SQL compiled once
        Savepoints? savepoints = null;
        var batch = new List<PendingWrite>(MaxBatch);
        while (_writes.Reader.TryPeek(out _) || _writes.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            batch.Clear();
            while (batch.Count < MaxBatch && _writes.Reader.TryRead(out var next))
            {
                batch.Add(next);
            }

            try
            {
                if (connection is null)
                {
                    connection = OpenAsync(CancellationToken.None).GetAwaiter().GetResult();
                    statements = new StatementCache((SqliteConnection)connection);
                }

                // Microsoft.Data.Sqlite begins IMMEDIATE unless asked for deferred: the write lock is taken up front.
                var t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                using var tx = connection.BeginTransaction();
                savepoints ??= new Savepoints((SqliteConnection)connection);
                savepoints.Bind((SqliteTransaction)tx);
                for (var i = 0; i < batch.Count;)
                {
                    // A run of statement-only writes (creates) shares one savepoint: a savepoint per write cost about as
                    // much as the write's own inserts. If any of the run fails, the run is rolled back and its writes run
                    // again one savepoint each, so only the failing one fails.
                    var run = 1;
                    while (batch[i].StatementsOnly && i + run < batch.Count && batch[i + run].StatementsOnly)
                    {
                        run++;
                    }

                    if (run == 1 || !TryRunTogether(batch, i, run, statements!, tx, savepoints))
                    {
                        for (var k = i; k < i + run; k++)
                        {
                            RunAlone(batch[k], statements!, tx, savepoints);
                        }
                    }

                    i += run;
                }

                var t1 = System.Diagnostics.Stopwatch.GetTimestamp();
                tx.Commit();
                var t2 = System.Diagnostics.Stopwatch.GetTimestamp();
                Committed(Outbox.TakeDeliveries(tx));
                Interlocked.Add(ref _workTicks, t1 - t0);
                Interlocked.Add(ref _commitTicks, t2 - t1);
                Interlocked.Increment(ref _commits);
                Interlocked.Add(ref _batchedWrites, batch.Count);
                foreach (var write in batch)
                {
                    write.Finish();
                }
            }
            catch (Exception e)
            {
                // The commit (or the connection) failed: nothing in this batch is durable.
                foreach (var write in batch)
                {
                    write.Failed ??= e;
                    write.Finish();
                }

                if (connection is not null)
                {
                    savepoints?.Dispose();
                    savepoints = null;
                    statements?.Dispose();
                    statements = null;
                    connection.Dispose();
                    connection = null;
                }
            }
        }

        if (connection is not null)
        {
            savepoints?.Dispose();
            statements?.Dispose();
            connection.Dispose();
        }
    }

    private static void RunAlone(PendingWrite write, DbConnection connection, DbTransaction tx, Savepoints savepoints)
    {
        savepoints.Save.ExecuteNonQuery();
        try
        {
            write.RunAsync(connection, tx).GetAwaiter().GetResult(); // synchronous on SQLite
            savepoints.Release.ExecuteNonQuery();
        }
        catch (Exception e)
        {
            savepoints.Rollback.ExecuteNonQuery();
            savepoints.Release.ExecuteNonQuery();
            write.Failed = e;
        }
    }

    private static bool TryRunTogether(List<PendingWrite> batch, int from, int count, DbConnection connection, DbTransaction tx, Savepoints savepoints)
    {
        savepoints.Save.ExecuteNonQuery();
        try
        {
            for (var k = from; k < from + count; k++)
            {
                batch[k].RunAsync(connection, tx).GetAwaiter().GetResult();
            }

            savepoints.Release.ExecuteNonQuery();
            return true;
        }
        catch (Exception)
        {
            savepoints.Rollback.ExecuteNonQuery();
            savepoints.Release.ExecuteNonQuery();
            return false;
        }
    }

    /// <summary>
    /// The three savepoint statements, prepared once on the writer's connection: each write runs inside one, and
    /// SqliteTransaction.Save/Release would compile them again for every write.
    /// </summary>
    private sealed class Savepoints(SqliteConnection c) : IDisposable
    {
        public SqliteCommand Save { get; } = Prepared(c, "SAVEPOINT w");

        public SqliteCommand Release { get; } = Prepared(c, "RELEASE w");

        public SqliteCommand Rollback { get; } = Prepared(c, "ROLLBACK TO w");

        public void Bind(SqliteTransaction tx) => (Save.Transaction, Release.Transaction, Rollback.Transaction) = (tx, tx, tx);

        public void Dispose()
        {
            Save.Dispose();
            Release.Dispose();
            Rollback.Dispose();
        }

        private static SqliteCommand Prepared(SqliteConnection c, string sql)
        {
            var cmd = c.CreateCommand();
            cmd.CommandText = sql;
            return cmd;
        }
    }

    private abstract class PendingWrite
    {
        public Exception? Failed { get; set; }

        /// <summary>Only statements and pure checks (a <see cref="WriteBatch"/>): safe to run again after a rollback.</summary>
        public bool StatementsOnly { get; init; }

        public abstract Task RunAsync(DbConnection c, DbTransaction t);

        public abstract void Finish();
    }

    private sealed class PendingWrite<T>(Func<DbConnection, DbTransaction, Task<T>> work) : PendingWrite
    {
        private readonly TaskCompletionSource<T> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T? _result;

        public Task<T> Task => _done.Task;

        public override async Task RunAsync(DbConnection c, DbTransaction t) => _result = await work(c, t);

        public override void Finish()
        {
            if (Failed is not null)
            {
                _done.TrySetException(Failed);
            }
            else
            {
                _done.TrySetResult(_result!);
            }
        }
    }

    public Task WriteAsync(Func<DbConnection, DbTransaction, Task> work, CancellationToken ct) =>
        WriteAsync<bool>(async (c, t) =>
        {
            await work(c, t);
            return true;
        }, ct);

    /// <summary>True when the exception is a unique-constraint violation in either store.</summary>
    public static bool IsUniqueViolation(Exception e) => e switch
    {
        PostgresException pg => pg.SqlState == PostgresErrorCodes.UniqueViolation,
        SqliteException s => s.SqliteErrorCode == 19 && s.SqliteExtendedErrorCode is 2067 or 1555,
        _ => false,
    };

    /// <summary>
    /// True when the exception says the store could not be reached or is not serving (down, restarting, out of
    /// connections), not that a statement was wrong: the request may be retried (with its Idempotency-Key) once it is back,
    /// so it is answered 503, not 500.
    /// </summary>
    public static bool IsUnavailable(Exception e)
    {
        for (var x = (Exception?)e; x is not null; x = x.InnerException)
        {
            switch (x)
            {
                // 08: connection exceptions; 57P: shutting down, crashed, starting up; 53: out of connections or resources.
                case PostgresException pg:
                    return pg.SqlState.StartsWith("08", StringComparison.Ordinal) || pg.SqlState.StartsWith("57P", StringComparison.Ordinal)
                        || pg.SqlState.StartsWith("53", StringComparison.Ordinal);
                case NpgsqlOperationInProgressException:
                    return false; // a programming error, not an outage
                case NpgsqlException:
                    return true; // the server never answered: refused, reset, timed out, or no pooled connection came free
            }
        }

        return false;
    }

    public async ValueTask DisposeAsync()
    {
        if (_pg is not null)
        {
            _pgWrites.Writer.TryComplete();
            if (_pgWriters.IsValueCreated)
            {
                await Task.WhenAll(_pgWriters.Value);
            }

            await _pgOwner!.DisposeAsync();
        }
        else
        {
            _writes.Writer.TryComplete();
            if (_writer.IsValueCreated)
            {
                await _writer.Value;
            }

            SqliteConnection.ClearAllPools();
        }
    }
}
