using Hutong.Collab.Data;

namespace Hutong.Collab.Node;

/// <summary>The outcome of an operator's request: a value, or a problem (HTTP status, stable code, message).</summary>
public sealed record CollabOutcome<T>(T? Value, int Status, string? Code, string? Message, string? Field = null)
{
    public bool Ok => Code is null;

    public static CollabOutcome<T> Success(T value, int status = 200) => new(value, status, null, null);

    public static CollabOutcome<T> Problem(int status, string code, string message, string? field = null) => new(default, status, code, message, field);
}

/// <summary>What an operator asks for when proposing a job (CLI `hutong collab job start`, POST /admin/collab/jobs).</summary>
public sealed record ProposeJobRequest(
    string? Peer,
    string? Protocol,
    string? OwnDataSet,
    string? PeerDataSet,
    string? OutputTo,
    string? AdSide,
    long? MinimumCount,
    double? Epsilon,
    int? Buckets,
    long? SpendFen)
{
    /// <summary>vfl-train: the hyperparameters (defaults of <see cref="VflTerms.Default"/> when absent; a partial object takes the defaults for the rest).</summary>
    public VflTerms? Vfl { get; init; }

    /// <summary>vfl-score: the finished vfl-train job whose model scores.</summary>
    public string? TrainJob { get; init; }
}

/// <summary>
/// The operator's side of jobs and peers, on this node's store only: the runner tells the peer (proposal, approval,
/// cancellation) on its next pass, so the CLI works without the hub running and a peer that is down hears it later.
/// </summary>
public sealed class CollabJobService(ICollabStore store, ICollabDataSets dataSets, TimeProvider time, string ownFingerprint, Vfl.IVflStore? vfl = null)
{
    public const int DefaultBuckets = 16;

    public async Task<CollabOutcome<CollabPeer>> AddPeerAsync(string? name, string? url, string? fingerprint, string actor, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            return CollabOutcome<CollabPeer>.Problem(400, "invalid_request", "name: 1–64 letters, digits, '-', '_' or '.'", "name");
        }

        // One address, or a comma-separated list of the instances of one party (sharing its store and certificate).
        var uris = new List<string>();
        foreach (var one in url is null ? [] : CollabPeerClients.Urls(url))
        {
            if (!Uri.TryCreate(one, UriKind.Absolute, out var u) || u.Scheme != Uri.UriSchemeHttps)
            {
                uris.Clear();
                break;
            }

            uris.Add(u.ToString().TrimEnd('/'));
        }

        if (uris.Count is 0 or > 16)
        {
            return CollabOutcome<CollabPeer>.Problem(400, "invalid_request",
                "url: the peer node's https:// address (its Hutong:Collab:Port), or up to 16 of them separated by commas (the instances of one party)", "url");
        }

        if (NodeIdentity.NormalizeFingerprint(fingerprint) is not { } fp)
        {
            return CollabOutcome<CollabPeer>.Problem(400, "invalid_request", "fingerprint: the SHA-256 of the peer's certificate, 64 hex digits (`hutong collab cert show` on the peer)", "fingerprint");
        }

        if (fp == ownFingerprint)
        {
            return CollabOutcome<CollabPeer>.Problem(400, "invalid_request", "fingerprint: that is this node's own certificate", "fingerprint");
        }

        var peer = new CollabPeer(name, string.Join(", ", uris), fp, time.GetUtcNow().ToUnixTimeMilliseconds());
        return await store.AddPeerAsync(peer, actor, ct)
            ? CollabOutcome<CollabPeer>.Success(peer, 201)
            : CollabOutcome<CollabPeer>.Problem(409, "conflict", $"a peer named {name}, or with that fingerprint, exists already");
    }

    /// <param name="idempotencyKey">
    /// A caller's key (the CLI's --idempotency-key): the job's id is derived from it and this node's fingerprint, so a
    /// retried proposal with the same key and the same terms returns the job proposed first (200), and the same key with
    /// other terms is refused (409); without it every call proposes a new job.
    /// </param>
    public async Task<CollabOutcome<CollabJob>> ProposeAsync(ProposeJobRequest r, string actor, CancellationToken ct, string? idempotencyKey = null)
    {
        ArgumentNullException.ThrowIfNull(r);
        if (idempotencyKey is { } k && (k.Length is 0 or > 255 || k.Any(char.IsControl)))
        {
            return CollabOutcome<CollabJob>.Problem(400, "invalid_request", "idempotency key: 1–255 characters, no control characters", "idempotency_key");
        }

        if (string.IsNullOrWhiteSpace(r.Peer) || await store.GetPeerAsync(r.Peer, ct) is not { } peer)
        {
            return CollabOutcome<CollabJob>.Problem(404, "not_found", $"no peer {r.Peer} (add it with `hutong collab peer add`)", "peer");
        }

        var terms = new CollabTerms(
            r.Protocol ?? string.Empty, ownFingerprint, peer.Fingerprint, r.OwnDataSet ?? string.Empty, r.PeerDataSet ?? string.Empty,
            r.OutputTo ?? r.Protocol switch
            {
                CollabTerms.Attribution => r.AdSide ?? "proposer",
                CollabTerms.VflTrain => "both",
                CollabTerms.VflScore => r.AdSide == "proposer" ? "peer" : "proposer", // the label side
                _ => "proposer",
            },
            r.Protocol == CollabTerms.Attribution ? r.AdSide ?? "proposer" : r.AdSide,
            r.MinimumCount ?? 10, r.Epsilon, r.Buckets ?? DefaultBuckets, r.SpendFen)
        {
            Vfl = r.Protocol == CollabTerms.VflTrain ? r.Vfl ?? VflTerms.Default : r.Vfl,
            TrainJob = r.TrainJob,
        };
        if (terms.Problems() is { Count: > 0 } problems)
        {
            return CollabOutcome<CollabJob>.Problem(400, "invalid_request", string.Join("; ", problems.Select(p => $"{p.Field}: {p.Message}")), problems[0].Field);
        }

        if (await CheckOwnDataSetAsync(terms, CollabSide.Proposer, ct) is { } bad)
        {
            return CollabOutcome<CollabJob>.Problem(422, bad.Code, bad.Message, "own_data_set");
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var id = "cj_" + (idempotencyKey is null
            ? Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(10))
            : Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"collab-job\n{ownFingerprint}\n{idempotencyKey}")))[..20]);
        if (idempotencyKey is not null && await store.GetJobAsync(id, ct) is { } earlier)
        {
            return earlier.TermsSha256 == terms.Sha256() && earlier.PeerName == peer.Name
                ? CollabOutcome<CollabJob>.Success(earlier, 200)
                : CollabOutcome<CollabJob>.Problem(409, "idempotency_key_reused", $"idempotency key already proposed job {id} with other terms");
        }

        var job = new CollabJob(id, peer.Name, CollabSide.Proposer, terms, terms.Sha256(), CollabJobState.Proposed,
            ApprovedHere: false, ApprovedThere: false, ProposalSent: false, DecisionSent: true, FinishSent: false, CancelledHere: false,
            LastSeq: 0, PeerItems: 0, SealedKeys: null, DecryptRequestSha256: null, ResultJson: null, Error: null, now, now);
        await store.InsertJobAsync(job, actor, "proposed", $"{terms.Protocol} with {peer.Name}: ours {terms.ProposerDataSet}, theirs {terms.PeerDataSet}, output to {terms.OutputTo}", ct);
        return CollabOutcome<CollabJob>.Success(job, 201);
    }

    /// <summary>This party approves the job's terms (its own data set must exist and fit its role).</summary>
    public async Task<CollabOutcome<CollabJob>> ApproveAsync(string jobId, string actor, CancellationToken ct)
    {
        if (await store.GetJobAsync(jobId, ct) is not { } job)
        {
            return CollabOutcome<CollabJob>.Problem(404, "not_found", $"no job {jobId}");
        }

        if (job.ApprovedHere)
        {
            // A second approval changes nothing; the caller sees the job as it is now (approved by both, running, …).
            return CollabOutcome<CollabJob>.Success(job);
        }

        if (job.State != CollabJobState.Proposed)
        {
            return CollabOutcome<CollabJob>.Problem(409, "invalid_state", $"job {jobId} is {job.State.Wire()}, not proposed");
        }

        if (await CheckOwnDataSetAsync(job.Terms, job.Side, ct) is { } bad)
        {
            return CollabOutcome<CollabJob>.Problem(422, bad.Code, bad.Message);
        }

        if (!await store.UpdateAsync(jobId, CollabJobState.Proposed, new CollabJobChange { ApprovedHere = true, DecisionSent = false }, actor, "approved",
                $"terms sha256 {job.TermsSha256}", ct))
        {
            return CollabOutcome<CollabJob>.Problem(409, "invalid_state", $"job {jobId} changed meanwhile; try again");
        }

        if (job.ApprovedThere)
        {
            await store.MoveAsync(jobId, CollabJobState.Proposed, CollabJobState.Approved, CollabJobChange.None, "node", "both_approved", null, ct);
        }

        return CollabOutcome<CollabJob>.Success((await store.GetJobAsync(jobId, ct))!);
    }

    public async Task<CollabOutcome<CollabJob>> CancelAsync(string jobId, string actor, CancellationToken ct)
    {
        if (await store.GetJobAsync(jobId, ct) is not { } job)
        {
            return CollabOutcome<CollabJob>.Problem(404, "not_found", $"no job {jobId}");
        }

        if (!CollabJobStates.CanMove(job.State, CollabJobState.Cancelled)
            || !await store.MoveAsync(jobId, job.State, CollabJobState.Cancelled, new CollabJobChange { CancelledHere = true, DecisionSent = false }, actor, "cancelled", null, ct))
        {
            return CollabOutcome<CollabJob>.Problem(409, "invalid_state", $"job {jobId} is {job.State.Wire()} and cannot be cancelled");
        }

        return CollabOutcome<CollabJob>.Success((await store.GetJobAsync(jobId, ct))!);
    }

    /// <summary>The answer, to the party entitled to it only.</summary>
    public async Task<CollabOutcome<string>> ResultAsync(string jobId, CancellationToken ct)
    {
        if (await store.GetJobAsync(jobId, ct) is not { } job)
        {
            return CollabOutcome<string>.Problem(404, "not_found", $"no job {jobId}");
        }

        if (!job.Entitled)
        {
            return CollabOutcome<string>.Problem(403, "not_entitled", $"job {jobId}'s answer goes to the {job.Terms.OutputTo}, not to this node");
        }

        return job.State == CollabJobState.Finished && job.ResultJson is { } result
            ? CollabOutcome<string>.Success(result)
            : CollabOutcome<string>.Problem(409, "invalid_state", $"job {jobId} is {job.State.Wire()}{(job.Error is null ? string.Empty : ": " + job.Error)}; no answer yet");
    }

    /// <summary>
    /// vfl-score: this node's feature table exists and fits its role (the ad side's has no labels; the label side's may
    /// have them or not), the train job is a finished vfl-train job on this node between the same two parties with this
    /// node in the same role, and the table has the features that job's model was trained on, in the same order.
    /// </summary>
    private async Task<(string Code, string Message)?> CheckScoreTermsAsync(CollabTerms terms, CollabSide side, CancellationToken ct)
    {
        var id = terms.DataSetOf(side);
        var table = vfl is null ? null : await vfl.GetTableAsync(id, ct);
        var adSide = terms.AdSide == "peer" ? CollabSide.Peer : CollabSide.Proposer;
        if (table is null)
        {
            return ("unknown_data_set", $"this node has no feature table {id} (upload one: POST /admin/collab/vfl/tables)");
        }

        if (adSide == side && table.HasLabels)
        {
            return ("wrong_data_set_kind", $"feature table {id} has labels; the ad side never holds labels");
        }

        if (terms.TrainJob is not { } trainId || await store.GetJobAsync(trainId, ct) is not { } train || train.Terms.Protocol != CollabTerms.VflTrain)
        {
            return ("unknown_train_job", $"this node has no vfl-train job {terms.TrainJob}");
        }

        var sameParties = new[] { train.Terms.ProposerFingerprint, train.Terms.PeerFingerprint }.Order(StringComparer.Ordinal)
            .SequenceEqual(new[] { terms.ProposerFingerprint, terms.PeerFingerprint }.Order(StringComparer.Ordinal));
        var ownFp = side == CollabSide.Proposer ? terms.ProposerFingerprint : terms.PeerFingerprint;
        var wasAdSide = (train.Terms.AdSide == "peer" ? train.Terms.PeerFingerprint : train.Terms.ProposerFingerprint) == ownFp;
        if (!sameParties || wasAdSide != (adSide == side))
        {
            return ("train_job_mismatch", $"vfl-train job {trainId} was not trained between these two parties with this node on the same side");
        }

        if (train.State != CollabJobState.Finished)
        {
            return ("train_job_not_finished", $"vfl-train job {trainId} is {train.State.Wire()}: no model to score with");
        }

        var trained = vfl is null ? null : await vfl.GetTableAsync(train.OwnDataSet, ct);
        if (trained is null || !trained.FeatureNames.SequenceEqual(table.FeatureNames, StringComparer.Ordinal))
        {
            return ("feature_mismatch", $"feature table {id} does not have the features job {trainId} was trained on ({string.Join(", ", trained?.FeatureNames ?? [])})");
        }

        return null;
    }

    /// <summary>Largest page of a vfl-score job's scores.</summary>
    public const int MaxScorePage = 1000;

    /// <summary>
    /// A page of a finished vfl-score job's per-row scores, on the label side only (the ad side: 403; the scores never
    /// leave the label side), after row <paramref name="afterRow"/>, at most <paramref name="limit"/> (1–1,000) and one more row when there is a next page.
    /// </summary>
    public async Task<CollabOutcome<IReadOnlyList<Vfl.VflScoreRow>>> ScoresAsync(string jobId, int afterRow, int limit, CancellationToken ct)
    {
        if (limit is < 1 or > MaxScorePage)
        {
            return CollabOutcome<IReadOnlyList<Vfl.VflScoreRow>>.Problem(400, "invalid_request", $"limit: 1–{MaxScorePage}", "limit");
        }

        if (afterRow < -1)
        {
            return CollabOutcome<IReadOnlyList<Vfl.VflScoreRow>>.Problem(400, "invalid_request", "after: a row number (−1 or more)", "after");
        }

        if (await store.GetJobAsync(jobId, ct) is not { } job)
        {
            return CollabOutcome<IReadOnlyList<Vfl.VflScoreRow>>.Problem(404, "not_found", $"no job {jobId}");
        }

        if (job.Terms.Protocol != CollabTerms.VflScore)
        {
            return CollabOutcome<IReadOnlyList<Vfl.VflScoreRow>>.Problem(409, "wrong_protocol", $"job {jobId} is {job.Terms.Protocol}; scores belong to vfl-score jobs");
        }

        if (!job.IsDriver)
        {
            return CollabOutcome<IReadOnlyList<Vfl.VflScoreRow>>.Problem(403, "not_entitled", $"job {jobId}'s per-row scores stay with the label side; this node (the ad side) holds the counts only");
        }

        if (job.State != CollabJobState.Finished || vfl is null)
        {
            return CollabOutcome<IReadOnlyList<Vfl.VflScoreRow>>.Problem(409, "invalid_state", $"job {jobId} is {job.State.Wire()}{(job.Error is null ? string.Empty : ": " + job.Error)}; no scores yet");
        }

        return CollabOutcome<IReadOnlyList<Vfl.VflScoreRow>>.Success(await vfl.ScoresAsync(jobId, afterRow, limit + 1, ct)); // one more: is there a next page
    }

    private async Task<(string Code, string Message)?> CheckOwnDataSetAsync(CollabTerms terms, CollabSide side, CancellationToken ct)
    {
        var id = terms.DataSetOf(side);
        if (terms.Protocol == CollabTerms.VflScore)
        {
            return await CheckScoreTermsAsync(terms, side, ct);
        }

        if (terms.Protocol == CollabTerms.VflTrain)
        {
            var table = vfl is null ? null : await vfl.GetTableAsync(id, ct);
            var adSide = terms.AdSide == "peer" ? CollabSide.Peer : CollabSide.Proposer;
            return table is null
                ? ("unknown_data_set", $"this node has no feature table {id} (upload one: POST /admin/collab/vfl/tables)")
                : (adSide == side) == table.HasLabels
                    ? ("wrong_data_set_kind", adSide == side
                        ? $"feature table {id} has labels; the ad side of vfl-train never holds labels"
                        : $"feature table {id} has no labels; the label side of vfl-train needs them")
                    : null;
        }

        if (await dataSets.GetAsync(id, ct) is not { } info)
        {
            return ("unknown_data_set", $"this node has no data set {id}");
        }

        if (terms.Protocol == CollabTerms.Attribution)
        {
            var adSide = terms.AdSide == "peer" ? CollabSide.Peer : CollabSide.Proposer;
            var want = adSide == side ? CollabDataSetKind.Exposures : CollabDataSetKind.Conversions;
            if (info.Kind != want)
            {
                return ("wrong_data_set_kind", $"data set {id} holds {info.Kind.ToString().ToLowerInvariant()}; this side of the attribution needs {want.ToString().ToLowerInvariant()}");
            }
        }

        return null;
    }
}
