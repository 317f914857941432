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
    /// <summary>vfl-train: the hyperparameters (defaults of <see cref="VflTerms.Default"/> when absent).</summary>
    public VflTerms? Vfl { get; init; }
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

    public async Task<CollabOutcome<CollabJob>> ProposeAsync(ProposeJobRequest r, string actor, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(r);
        if (string.IsNullOrWhiteSpace(r.Peer) || await store.GetPeerAsync(r.Peer, ct) is not { } peer)
        {
            return CollabOutcome<CollabJob>.Problem(404, "not_found", $"no peer {r.Peer} (add it with `hutong collab peer add`)", "peer");
        }

        var terms = new CollabTerms(
            r.Protocol ?? string.Empty, ownFingerprint, peer.Fingerprint, r.OwnDataSet ?? string.Empty, r.PeerDataSet ?? string.Empty,
            r.OutputTo ?? r.Protocol switch { CollabTerms.Attribution => r.AdSide ?? "proposer", CollabTerms.VflTrain => "both", _ => "proposer" },
            r.Protocol == CollabTerms.Attribution ? r.AdSide ?? "proposer" : r.AdSide,
            r.MinimumCount ?? 10, r.Epsilon, r.Buckets ?? DefaultBuckets, r.SpendFen)
        {
            Vfl = r.Protocol == CollabTerms.VflTrain ? r.Vfl ?? VflTerms.Default : r.Vfl,
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
        var id = "cj_" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(10));
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

        if (job.State != CollabJobState.Proposed)
        {
            return CollabOutcome<CollabJob>.Problem(409, "invalid_state", $"job {jobId} is {job.State.Wire()}, not proposed");
        }

        if (job.ApprovedHere)
        {
            return CollabOutcome<CollabJob>.Success(job);
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

    private async Task<(string Code, string Message)?> CheckOwnDataSetAsync(CollabTerms terms, CollabSide side, CancellationToken ct)
    {
        var id = terms.DataSetOf(side);
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
