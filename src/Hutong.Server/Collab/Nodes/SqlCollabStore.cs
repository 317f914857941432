using System.Data.Common;
using Dapper;
using Hutong.Collab.Node;
using Hutong.Server.Storage;

namespace Hutong.Server.Collab.Nodes;

/// <summary>
/// The cooperation node's tables (migrations 0034, 0039) on SQLite or PostgreSQL. Every state change is a conditional update on
/// the state read and writes its audit row in the same transaction; buckets are claimed with a lease, on PostgreSQL with
/// FOR UPDATE SKIP LOCKED so several hub instances of one party take different buckets without waiting on each other.
/// </summary>
public sealed class SqlCollabStore(Db db, TimeProvider time) : ICollabStore
{
    private long Now => time.GetUtcNow().ToUnixTimeMilliseconds();

    public Task<bool> AddPeerAsync(CollabPeer peer, string actor, CancellationToken ct) =>
        db.WriteAsync(async (c, t) =>
        {
            var inserted = await c.ExecuteAsync(
                "INSERT INTO collab_peers (name, url, fingerprint, created_at) VALUES (@Name, @Url, @Fingerprint, @CreatedAt) ON CONFLICT DO NOTHING", peer, t);
            if (inserted == 1)
            {
                await AuditAsync(c, t, "-", actor, "peer_added", $"{peer.Name} {peer.Url} sha256 {peer.Fingerprint}");
            }

            return inserted == 1;
        }, ct);

    public Task<CollabPeer?> GetPeerAsync(string name, CancellationToken ct) =>
        db.ReadAsync(async c => (await c.QuerySingleOrDefaultAsync<PeerRow?>("SELECT name, url, fingerprint, created_at FROM collab_peers WHERE name = @name", new { name }))?.ToPeer(), ct);

    public Task<CollabPeer?> FindPeerByFingerprintAsync(string fingerprint, CancellationToken ct) =>
        db.ReadAsync(async c => (await c.QuerySingleOrDefaultAsync<PeerRow?>("SELECT name, url, fingerprint, created_at FROM collab_peers WHERE fingerprint = @fingerprint", new { fingerprint }))?.ToPeer(), ct);

    public async Task<IReadOnlyList<CollabPeer>> ListPeersAsync(CancellationToken ct) =>
        [.. (await db.ReadAsync(c => c.QueryAsync<PeerRow>("SELECT name, url, fingerprint, created_at FROM collab_peers ORDER BY name"), ct)).Select(p => p.ToPeer())];

    public Task<bool> InsertJobAsync(CollabJob job, string actor, string action, string? detail, CancellationToken ct) =>
        db.WriteAsync(async (c, t) =>
        {
            var inserted = await c.ExecuteAsync("""
                INSERT INTO collab_jobs (id, peer_name, side, terms_json, terms_sha256, state, approved_here, approved_there, proposal_sent,
                    decision_sent, finish_sent, cancelled_here, last_seq, next_seq, peer_items, created_at, updated_at)
                VALUES (@Id, @PeerName, @Side, @TermsJson, @TermsSha256, @State, @ApprovedHere, @ApprovedThere, @ProposalSent,
                    @DecisionSent, @FinishSent, @CancelledHere, 0, 1, 0, @CreatedAt, @UpdatedAt)
                ON CONFLICT DO NOTHING
                """, new
            {
                job.Id, job.PeerName, Side = SideWire(job.Side), TermsJson = job.Terms.ToJson(), job.TermsSha256, State = job.State.Wire(),
                job.ApprovedHere, job.ApprovedThere, job.ProposalSent, job.DecisionSent, job.FinishSent, job.CancelledHere, job.CreatedAt, job.UpdatedAt,
            }, t);
            if (inserted == 1)
            {
                await AuditAsync(c, t, job.Id, actor, action, detail);
            }

            return inserted == 1;
        }, ct);

    private const string JobColumns = """
        id, peer_name, side, terms_json, terms_sha256, state, approved_here, approved_there, proposal_sent, decision_sent, finish_sent,
        cancelled_here, last_seq, peer_items, sealed_keys, decrypt_request_sha256, result_json, error, created_at, updated_at, abort_sent
        """;

    public async Task<CollabJob?> GetJobAsync(string id, CancellationToken ct) =>
        (await db.ReadAsync(c => c.QuerySingleOrDefaultAsync<JobRow?>($"SELECT {JobColumns} FROM collab_jobs WHERE id = @id", new { id }), ct))?.ToJob();

    public async Task<IReadOnlyList<CollabJob>> ListJobsAsync(int limit, CancellationToken ct) =>
        [.. (await db.ReadAsync(c => c.QueryAsync<JobRow>($"SELECT {JobColumns} FROM collab_jobs ORDER BY created_at DESC, id LIMIT @limit", new { limit }), ct)).Select(r => r.ToJob())];

    public async Task<IReadOnlyList<CollabJob>> ListActiveJobsAsync(CancellationToken ct) =>
        [.. (await db.ReadAsync(c => c.QueryAsync<JobRow>($"""
            SELECT {JobColumns} FROM collab_jobs
            WHERE state IN ('proposed', 'approved', 'running') OR proposal_sent = FALSE OR decision_sent = FALSE
               OR (state = 'finished' AND finish_sent = FALSE) OR abort_sent = FALSE
            ORDER BY created_at, id LIMIT 500
            """), ct)).Select(r => r.ToJob())];

    public Task<bool> MoveAsync(string id, CollabJobState from, CollabJobState to, CollabJobChange change, string actor, string action, string? detail, CancellationToken ct)
    {
        if (!CollabJobStates.CanMove(from, to))
        {
            throw new InvalidOperationException($"collab job {id}: {from.Wire()} → {to.Wire()} is not a transition");
        }

        return Change(id, from, to, change, actor, action, detail, ct);
    }

    public Task<bool> UpdateAsync(string id, CollabJobState expected, CollabJobChange change, string actor, string? action, string? detail, CancellationToken ct) =>
        Change(id, expected, expected, change, actor, action, detail, ct);

    private Task<bool> Change(string id, CollabJobState from, CollabJobState to, CollabJobChange change, string actor, string? action, string? detail, CancellationToken ct) =>
        db.WriteAsync(async (c, t) =>
        {
            var updated = await c.ExecuteAsync("""
                UPDATE collab_jobs SET state = @to,
                    approved_here = COALESCE(@ApprovedHere, approved_here), approved_there = COALESCE(@ApprovedThere, approved_there),
                    proposal_sent = COALESCE(@ProposalSent, proposal_sent), decision_sent = COALESCE(@DecisionSent, decision_sent),
                    finish_sent = COALESCE(@FinishSent, finish_sent), cancelled_here = COALESCE(@CancelledHere, cancelled_here),
                    peer_items = COALESCE(@PeerItems, peer_items), result_json = COALESCE(@ResultJson, result_json),
                    error = COALESCE(@Error, error), abort_sent = COALESCE(@AbortSent, abort_sent), updated_at = @now
                WHERE id = @id AND state = @from
                """, new
            {
                id, from = from.Wire(), to = to.Wire(), now = Now,
                change.ApprovedHere, change.ApprovedThere, change.ProposalSent, change.DecisionSent, change.FinishSent, change.CancelledHere,
                change.PeerItems, change.ResultJson, change.Error, change.AbortSent,
            }, t);
            if (updated == 1 && action is not null)
            {
                await AuditAsync(c, t, id, actor, action, from == to ? detail : $"{from.Wire()} → {to.Wire()}{(detail is null ? string.Empty : "; " + detail)}");
            }

            return updated == 1;
        }, ct);

    public Task<string> SaveKeysOnceAsync(string id, string sealedKeys, CancellationToken ct) =>
        db.WriteAsync(async (c, t) =>
        {
            await c.ExecuteAsync("UPDATE collab_jobs SET sealed_keys = @sealedKeys WHERE id = @id AND sealed_keys IS NULL", new { id, sealedKeys }, t);
            return await c.ExecuteScalarAsync<string>("SELECT sealed_keys FROM collab_jobs WHERE id = @id", new { id }, t)
                ?? throw new InvalidOperationException($"collab job {id} is gone");
        }, ct);

    public Task<bool> AcceptSeqAsync(string id, long seq, CancellationToken ct) =>
        db.WriteAsync(async (c, t) => await c.ExecuteAsync("UPDATE collab_jobs SET last_seq = @seq WHERE id = @id AND last_seq < @seq", new { id, seq }, t) == 1, ct);

    public Task<long> ReserveSeqAsync(string id, int count, CancellationToken ct) =>
        db.WriteAsync(async (c, t) =>
        {
            var first = await c.ExecuteScalarAsync<long>("SELECT next_seq FROM collab_jobs WHERE id = @id", new { id }, t);
            if (await c.ExecuteAsync("UPDATE collab_jobs SET next_seq = @next WHERE id = @id AND next_seq = @first", new { id, first, next = first + count }, t) != 1)
            {
                throw new InvalidOperationException($"collab job {id}: sequence numbers reserved concurrently; try again");
            }

            return first;
        }, ct);

    public Task<bool> RecordDecryptRequestAsync(string id, string sha256, CancellationToken ct) =>
        db.WriteAsync(async (c, t) =>
        {
            await c.ExecuteAsync("UPDATE collab_jobs SET decrypt_request_sha256 = @sha256 WHERE id = @id AND decrypt_request_sha256 IS NULL", new { id, sha256 }, t);
            return await c.ExecuteScalarAsync<string>("SELECT decrypt_request_sha256 FROM collab_jobs WHERE id = @id", new { id }, t) == sha256;
        }, ct);

    public Task CreateBucketsAsync(string jobId, int count, CancellationToken ct) =>
        db.WriteAsync(async (c, t) =>
        {
            for (var b = 0; b < count; b++)
            {
                await c.ExecuteAsync("INSERT INTO collab_job_buckets (job_id, bucket, state) VALUES (@jobId, @b, 'pending') ON CONFLICT DO NOTHING", new { jobId, b }, t);
            }

            return 0;
        }, ct);

    public Task<int?> ClaimBucketAsync(string jobId, string owner, TimeSpan lease, CancellationToken ct) =>
        db.WriteAsync(async (c, t) =>
        {
            var now = Now;
            // SQLite has one writer: the select and the update cannot interleave with another claim. PostgreSQL: rows
            // another instance is claiming are skipped, not waited for.
            var bucket = await c.ExecuteScalarAsync<int?>(db.IsPostgres
                ? "SELECT bucket FROM collab_job_buckets WHERE job_id = @jobId AND state = 'pending' AND lease_until < @now ORDER BY bucket LIMIT 1 FOR UPDATE SKIP LOCKED"
                : "SELECT bucket FROM collab_job_buckets WHERE job_id = @jobId AND state = 'pending' AND lease_until < @now ORDER BY bucket LIMIT 1",
                new { jobId, now }, t);
            if (bucket is { } b)
            {
                await c.ExecuteAsync("UPDATE collab_job_buckets SET leased_by = @owner, lease_until = @until WHERE job_id = @jobId AND bucket = @b",
                    new { jobId, b, owner, until = now + (long)lease.TotalMilliseconds }, t);
            }

            return bucket;
        }, ct);

    public Task<bool> CompleteBucketAsync(string jobId, int bucket, string owner, string resultJson, CancellationToken ct) =>
        db.WriteAsync(async (c, t) => await c.ExecuteAsync("""
            UPDATE collab_job_buckets SET state = 'done', result_json = @resultJson, completed_at = @now, lease_until = 0
            WHERE job_id = @jobId AND bucket = @bucket AND state = 'pending' AND leased_by = @owner
            """, new { jobId, bucket, owner, resultJson, now = Now }, t) == 1, ct);

    public Task ReleaseBucketAsync(string jobId, int bucket, string owner, CancellationToken ct) =>
        db.WriteAsync((c, t) => c.ExecuteAsync(
            "UPDATE collab_job_buckets SET lease_until = 0 WHERE job_id = @jobId AND bucket = @bucket AND state = 'pending' AND leased_by = @owner",
            new { jobId, bucket, owner }, t), ct);

    public Task<CollabBucketProgress> ProgressAsync(string jobId, CancellationToken ct) =>
        db.ReadAsync(async c =>
        {
            var row = await c.QuerySingleAsync<(long Total, long Done)>(
                "SELECT COUNT(*), COALESCE(SUM(CASE WHEN state = 'done' THEN 1 ELSE 0 END), 0) FROM collab_job_buckets WHERE job_id = @jobId", new { jobId });
            return new CollabBucketProgress((int)row.Total, (int)row.Done);
        }, ct);

    public async Task<IReadOnlyList<CollabBucketResult>> BucketResultsAsync(string jobId, CancellationToken ct) =>
        [.. (await db.ReadAsync(c => c.QueryAsync<BucketRow>(
            "SELECT bucket, result_json FROM collab_job_buckets WHERE job_id = @jobId AND state = 'done' ORDER BY bucket", new { jobId }), ct))
            .Select(b => new CollabBucketResult(b.Bucket, b.ResultJson ?? "{}"))];

    public Task BeginPeerBucketAsync(string jobId, int bucket, long seq, CancellationToken ct) =>
        db.WriteAsync(async (c, t) =>
        {
            await c.ExecuteAsync("DELETE FROM collab_peer_batches WHERE job_id = @jobId AND bucket = @bucket", new { jobId, bucket }, t);
            await c.ExecuteAsync("""
                INSERT INTO collab_peer_buckets (job_id, bucket, begun_seq) VALUES (@jobId, @bucket, @seq)
                ON CONFLICT (job_id, bucket) DO UPDATE SET begun_seq = excluded.begun_seq
                """, new { jobId, bucket, seq }, t);
            return 0;
        }, ct);

    public Task<long?> PeerBucketBegunAsync(string jobId, int bucket, CancellationToken ct) =>
        db.ReadAsync(c => c.ExecuteScalarAsync<long?>("SELECT begun_seq FROM collab_peer_buckets WHERE job_id = @jobId AND bucket = @bucket", new { jobId, bucket }), ct);

    public Task<CollabBatchAppend> AppendPeerBatchAsync(CollabPeerBatch batch, long maxJobItems, CancellationToken ct) =>
        db.WriteAsync(async (c, t) =>
        {
            var begun = await c.ExecuteScalarAsync<long?>(
                "SELECT begun_seq FROM collab_peer_buckets WHERE job_id = @JobId AND bucket = @Bucket", new { batch.JobId, batch.Bucket }, t);
            if (begun != batch.BegunSeq)
            {
                return CollabBatchAppend.NoSession;
            }

            var last = await c.QueryFirstOrDefaultAsync<PeerBatchRow?>("""
                SELECT batch_index, is_last, item_count, vals FROM collab_peer_batches WHERE job_id = @JobId AND bucket = @Bucket AND segment = @Segment
                ORDER BY batch_index DESC LIMIT 1
                """, new { batch.JobId, batch.Bucket, batch.Segment }, t);
            var next = last is null ? 0 : last.BatchIndex + 1;
            if (last is { IsLast: true } || batch.BatchIndex < next)
            {
                return CollabBatchAppend.Replayed;
            }

            if (batch.BatchIndex > next)
            {
                return CollabBatchAppend.OutOfOrder;
            }

            var held = await c.ExecuteScalarAsync<long>("SELECT COALESCE(SUM(item_count), 0) FROM collab_peer_batches WHERE job_id = @JobId", new { batch.JobId }, t);
            if (held + batch.Count > maxJobItems)
            {
                return CollabBatchAppend.TooManyItems;
            }

            var inserted = await c.ExecuteAsync("""
                INSERT INTO collab_peer_batches (job_id, bucket, segment, batch_index, is_last, item_count, begun_seq, vals)
                VALUES (@JobId, @Bucket, @Segment, @BatchIndex, @IsLast, @Count, @BegunSeq, @Vals)
                ON CONFLICT DO NOTHING
                """, new { batch.JobId, batch.Bucket, batch.Segment, batch.BatchIndex, batch.IsLast, batch.Count, batch.BegunSeq, Vals = Convert.ToBase64String(batch.Values) }, t);
            return inserted == 1 ? CollabBatchAppend.Stored : CollabBatchAppend.Replayed;
        }, ct);

    public async Task<IReadOnlyList<CollabPeerBatch>> PeerBatchesAsync(string jobId, int bucket, string segment, long begunSeq, CancellationToken ct) =>
        [.. (await db.ReadAsync(c => c.QueryAsync<PeerBatchRow>("""
            SELECT batch_index, is_last, item_count, vals FROM collab_peer_batches
            WHERE job_id = @jobId AND bucket = @bucket AND segment = @segment AND begun_seq = @begunSeq ORDER BY batch_index
            """, new { jobId, bucket, segment, begunSeq }), ct))
            .Select(r => new CollabPeerBatch(jobId, bucket, segment, r.BatchIndex, r.IsLast, r.ItemCount, begunSeq, Convert.FromBase64String(r.Vals)))];

    public Task DropPeerStateAsync(string jobId, CancellationToken ct) =>
        db.WriteAsync(async (c, t) =>
        {
            await c.ExecuteAsync("DELETE FROM collab_peer_batches WHERE job_id = @jobId", new { jobId }, t);
            await c.ExecuteAsync("DELETE FROM collab_peer_buckets WHERE job_id = @jobId", new { jobId }, t);
            return 0;
        }, ct);

    public Task AuditAsync(string jobId, string actor, string action, string? detail, CancellationToken ct) =>
        db.WriteAsync(async (c, t) =>
        {
            await AuditAsync(c, t, jobId, actor, action, detail);
            return 0;
        }, ct);

    public async Task<IReadOnlyList<CollabAuditEntry>> AuditTrailAsync(string jobId, CancellationToken ct) =>
        [.. (await db.ReadAsync(c => c.QueryAsync<AuditRow>(
            "SELECT id, job_id, at, actor, action, detail FROM collab_audit WHERE job_id = @jobId ORDER BY id", new { jobId }), ct))
            .Select(a => new CollabAuditEntry(a.Id, a.JobId, a.At, a.Actor, a.Action, a.Detail))];

    private Task AuditAsync(DbConnection c, DbTransaction t, string jobId, string actor, string action, string? detail) =>
        c.ExecuteAsync("INSERT INTO collab_audit (job_id, at, actor, action, detail) VALUES (@jobId, @at, @actor, @action, @detail)",
            new { jobId, at = Now, actor, action, detail }, t);

    private static string SideWire(CollabSide side) => side == CollabSide.Proposer ? "proposer" : "peer";

    private sealed class PeerRow
    {
        public string Name { get; set; } = string.Empty;

        public string Url { get; set; } = string.Empty;

        public string Fingerprint { get; set; } = string.Empty;

        public long CreatedAt { get; set; }

        public CollabPeer ToPeer() => new(Name, Url, Fingerprint, CreatedAt);
    }

    private sealed class BucketRow
    {
        public int Bucket { get; set; }

        public string? ResultJson { get; set; }
    }

    private sealed class AuditRow
    {
        public long Id { get; set; }

        public string JobId { get; set; } = string.Empty;

        public long At { get; set; }

        public string Actor { get; set; } = string.Empty;

        public string Action { get; set; } = string.Empty;

        public string? Detail { get; set; }
    }

    private sealed class PeerBatchRow
    {
        public int BatchIndex { get; set; }

        public bool IsLast { get; set; }

        public int ItemCount { get; set; }

        public string Vals { get; set; } = string.Empty;
    }

    private sealed class JobRow
    {
        public string Id { get; set; } = string.Empty;

        public string PeerName { get; set; } = string.Empty;

        public string Side { get; set; } = string.Empty;

        public string TermsJson { get; set; } = string.Empty;

        public string TermsSha256 { get; set; } = string.Empty;

        public string State { get; set; } = string.Empty;

        public bool ApprovedHere { get; set; }

        public bool ApprovedThere { get; set; }

        public bool ProposalSent { get; set; }

        public bool DecisionSent { get; set; }

        public bool FinishSent { get; set; }

        public bool CancelledHere { get; set; }

        public long LastSeq { get; set; }

        public long PeerItems { get; set; }

        public string? SealedKeys { get; set; }

        public string? DecryptRequestSha256 { get; set; }

        public string? ResultJson { get; set; }

        public string? Error { get; set; }

        public long CreatedAt { get; set; }

        public long UpdatedAt { get; set; }

        public bool AbortSent { get; set; } = true;

        public CollabJob ToJob() => new(Id, PeerName, Side == "proposer" ? CollabSide.Proposer : CollabSide.Peer, CollabTerms.FromJson(TermsJson),
            TermsSha256, CollabJobStates.Parse(State), ApprovedHere, ApprovedThere, ProposalSent, DecisionSent, FinishSent, CancelledHere,
            LastSeq, PeerItems, SealedKeys, DecryptRequestSha256, ResultJson, Error, CreatedAt, UpdatedAt) { AbortSent = AbortSent };
    }
}

/// <summary>Seals a job's secret scalars with the hub's <see cref="SecretBox"/> (Hutong:MasterKey), bound to the job id.</summary>
public sealed class SecretBoxKeySealer(SecretBox box) : ICollabKeySealer
{
    public string Seal(byte[] keys, string jobId) => box.SealIfEnabled(Convert.ToBase64String(keys), "collab-job-keys:" + jobId);

    public byte[] Open(string sealedKeys, string jobId) => Convert.FromBase64String(box.OpenIfSealed(sealedKeys, "collab-job-keys:" + jobId));
}
