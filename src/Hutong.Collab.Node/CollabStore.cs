namespace Hutong.Collab.Node;

/// <summary>A party this node cooperates with: where its node listens and the SHA-256 of its certificate (pinned).</summary>
public sealed record CollabPeer(string Name, string Url, string Fingerprint, long CreatedAt);

/// <summary>
/// A job as one node stores it. <see cref="Side"/> says which side of the terms this node is. Flags record what was
/// told to the peer, so a node that was down tells it later (the runner's sync pass).
/// </summary>
public sealed record CollabJob(
    string Id,
    string PeerName,
    CollabSide Side,
    CollabTerms Terms,
    string TermsSha256,
    CollabJobState State,
    bool ApprovedHere,
    bool ApprovedThere,
    bool ProposalSent,
    bool DecisionSent,
    bool FinishSent,
    bool CancelledHere,
    long LastSeq,
    long PeerItems,
    string? SealedKeys,
    string? DecryptRequestSha256,
    string? ResultJson,
    string? Error,
    long CreatedAt,
    long UpdatedAt)
{
    public bool IsDriver => Terms.Driver == Side;

    public string OwnDataSet => Terms.DataSetOf(Side);

    /// <summary>Whether this node is entitled to the answer (vfl-score: the ad side's answer is the counts only; the scores are the label side's).</summary>
    public bool Entitled => IsDriver || Terms.DeliverToOther || Terms.Protocol == CollabTerms.VflScore;

    /// <summary>False while a failed job's reason ("abort") is still to be told to the peer.</summary>
    public bool AbortSent { get; init; } = true;
}

/// <summary>
/// One "enc" batch of the driver, as the answering party keeps it: already masked with this party's key and truncated
/// (<see cref="Values"/> packed as on the wire), in the round of the bucket begun by the message numbered
/// <see cref="BegunSeq"/>. Any instance of the answering party answers a later message of the bucket from these.
/// </summary>
public sealed record CollabPeerBatch(string JobId, int Bucket, string Segment, int BatchIndex, bool IsLast, int Count, long BegunSeq, byte[] Values);

/// <summary>What storing a driver's batch came to.</summary>
public enum CollabBatchAppend
{
    Stored,

    /// <summary>The bucket was not begun, or begun again since (another round).</summary>
    NoSession,

    /// <summary>That batch, or the stream's last one, was stored already.</summary>
    Replayed,

    /// <summary>A batch before it is missing.</summary>
    OutOfOrder,

    /// <summary>The job would hold more of the peer's items than it announced, or than this node allows.</summary>
    TooManyItems,
}

public sealed record CollabAuditEntry(long Id, string JobId, long At, string Actor, string Action, string? Detail);

public sealed record CollabBucketProgress(int Total, int Done);

/// <summary>What one finished bucket stored on the driver's node (protocol-specific JSON).</summary>
public sealed record CollabBucketResult(int Bucket, string ResultJson);

/// <summary>
/// The node's storage (SQLite and PostgreSQL implementations in Hutong.Server/Collab). Every state change is a
/// conditional update on the state read, and writes its audit entry in the same transaction.
/// </summary>
public interface ICollabStore
{
    Task<bool> AddPeerAsync(CollabPeer peer, string actor, CancellationToken ct);

    Task<CollabPeer?> GetPeerAsync(string name, CancellationToken ct);

    Task<CollabPeer?> FindPeerByFingerprintAsync(string fingerprint, CancellationToken ct);

    Task<IReadOnlyList<CollabPeer>> ListPeersAsync(CancellationToken ct);

    /// <summary>Inserts a job (proposed here, or received from the peer); false when the id exists.</summary>
    Task<bool> InsertJobAsync(CollabJob job, string actor, string action, string? detail, CancellationToken ct);

    Task<CollabJob?> GetJobAsync(string id, CancellationToken ct);

    Task<IReadOnlyList<CollabJob>> ListJobsAsync(int limit, CancellationToken ct);

    /// <summary>Jobs the runner has something to do for: not final, or final with the peer not yet told.</summary>
    Task<IReadOnlyList<CollabJob>> ListActiveJobsAsync(CancellationToken ct);

    /// <summary>
    /// Moves a job from <paramref name="from"/> to <paramref name="to"/> if it is still there (false otherwise), setting
    /// the given columns, and writes the audit entry in the same transaction.
    /// </summary>
    Task<bool> MoveAsync(string id, CollabJobState from, CollabJobState to, CollabJobChange change, string actor, string action, string? detail, CancellationToken ct);

    /// <summary>Sets flags and columns without a state change (approvals, what was sent); audit entry when action is given.</summary>
    Task<bool> UpdateAsync(string id, CollabJobState expected, CollabJobChange change, string actor, string? action, string? detail, CancellationToken ct);

    /// <summary>Stores the job's sealed secret keys once; returns what is stored afterwards (ours, or an earlier instance's).</summary>
    Task<string> SaveKeysOnceAsync(string id, string sealedKeys, CancellationToken ct);

    /// <summary>Accepts a message's sequence number if it is above every earlier one (atomically); false for a replay.</summary>
    Task<bool> AcceptSeqAsync(string id, long seq, CancellationToken ct);

    /// <summary>The driver's side: reserves <paramref name="count"/> sequence numbers, returns the first.</summary>
    Task<long> ReserveSeqAsync(string id, int count, CancellationToken ct);

    /// <summary>Records the first decryption request's hash (false if another is recorded: only that one may be decrypted).</summary>
    Task<bool> RecordDecryptRequestAsync(string id, string sha256, CancellationToken ct);

    Task CreateBucketsAsync(string jobId, int count, CancellationToken ct);

    /// <summary>
    /// Claims a pending bucket whose lease is free or expired (on PostgreSQL with FOR UPDATE SKIP LOCKED, so several
    /// instances share a job); null when none is claimable now.
    /// </summary>
    Task<int?> ClaimBucketAsync(string jobId, string owner, TimeSpan lease, CancellationToken ct);

    /// <summary>Stores a bucket's result if <paramref name="owner"/> still holds its lease; false otherwise.</summary>
    Task<bool> CompleteBucketAsync(string jobId, int bucket, string owner, string resultJson, CancellationToken ct);

    Task ReleaseBucketAsync(string jobId, int bucket, string owner, CancellationToken ct);

    Task<CollabBucketProgress> ProgressAsync(string jobId, CancellationToken ct);

    Task<IReadOnlyList<CollabBucketResult>> BucketResultsAsync(string jobId, CancellationToken ct);

    Task AuditAsync(string jobId, string actor, string action, string? detail, CancellationToken ct);

    /// <summary>The answering side: the driver began (again) a bucket; its earlier batches go.</summary>
    Task BeginPeerBucketAsync(string jobId, int bucket, long seq, CancellationToken ct);

    /// <summary>The sequence number of the bucket's current "begin", or null when it was not begun.</summary>
    Task<long?> PeerBucketBegunAsync(string jobId, int bucket, CancellationToken ct);

    /// <summary>
    /// Stores the next batch of a stream (job, bucket, segment) of the round <see cref="CollabPeerBatch.BegunSeq"/>, if it
    /// is the next one and the job then holds at most <paramref name="maxJobItems"/> of the peer's items (atomically).
    /// </summary>
    Task<CollabBatchAppend> AppendPeerBatchAsync(CollabPeerBatch batch, long maxJobItems, CancellationToken ct);

    /// <summary>A stream's stored batches of one round, in order.</summary>
    Task<IReadOnlyList<CollabPeerBatch>> PeerBatchesAsync(string jobId, int bucket, string segment, long begunSeq, CancellationToken ct);

    /// <summary>Forgets the answering side's state of a job (it ended).</summary>
    Task DropPeerStateAsync(string jobId, CancellationToken ct);

    Task<IReadOnlyList<CollabAuditEntry>> AuditTrailAsync(string jobId, CancellationToken ct);
}

/// <summary>Columns a state change or update sets (null: unchanged).</summary>
public sealed record CollabJobChange
{
    public bool? ApprovedHere { get; init; }

    public bool? ApprovedThere { get; init; }

    public bool? ProposalSent { get; init; }

    public bool? DecisionSent { get; init; }

    public bool? FinishSent { get; init; }

    public bool? CancelledHere { get; init; }

    public long? PeerItems { get; init; }

    public string? ResultJson { get; init; }

    public string? Error { get; init; }

    public bool? AbortSent { get; init; }

    public static CollabJobChange None { get; } = new();
}

/// <summary>Seals a job's secret keys at rest (the hub: AES-GCM under Hutong:MasterKey).</summary>
public interface ICollabKeySealer
{
    string Seal(byte[] keys, string jobId);

    byte[] Open(string sealedKeys, string jobId);
}
