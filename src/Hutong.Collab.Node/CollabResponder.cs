using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using Google.Protobuf;
using Grpc.Core;
using Hutong.Collab.Crypto;
using Hutong.Collab.Data;
using Hutong.Collab.Ids;
using Hutong.Collab.Psi;
using Hutong.Collab.Sum;
using Hutong.Collab.Node.Wire;
using Microsoft.Extensions.Logging;

namespace Hutong.Collab.Node;

/// <summary>
/// The answering side of the gRPC service: records proposals and decisions from peers, and answers the protocol steps
/// of a running job whose computing party is the peer. A message is checked in this order, and refused with nothing
/// changed at the first failure: the caller is a known peer (its pinned certificate), the job is this peer's, the step
/// is known, the payload is well-formed (lengths, canonical group elements), the sequence number is above every earlier
/// one, the job is approved by both sides and running. Only then is the sequence number recorded and the step run.
/// What a later message of a bucket needs is in the store, not in this process: the bucket's round (the sequence number
/// of its "begin") and the driver's "enc" batches already masked with this party's key. Everything else is recomputed
/// from the job's key and this party's data set (own items masked again give the same points; conversions are encrypted
/// afresh, which changes nothing they decrypt to). So on PostgreSQL any instance of the answering party answers any
/// message of any bucket; a small per-instance cache only saves recomputing. The peer's items a job holds are capped by
/// what its hello announced and by <see cref="CollabNodeOptions.MaxPeerItems"/>.
/// </summary>
public sealed partial class CollabResponder(
    ICollabStore store, ICollabDataSets dataSets, ICollabKeySealer sealer, CollabNodeOptions options, string ownFingerprint, ILogger<CollabResponder> log,
    Vfl.IVflStore? vfl = null)
{
    public static readonly string[] Steps = ["hello", "begin", "enc", "fetch_enc", "fetch_dual", "fetch_conv", "decrypt", "finish", "vfl_align", "vfl_begin", "vfl", "vfl_score", "vfl_score_align", "vfl_score_rows"];

    public static readonly string[] AllSteps = [.. Steps, "abort"];

    /// <summary>Refusals after which the job cannot go on: this side fails it too (the driver hears the reason in the reply).</summary>
    private static readonly string[] Fatal = ["too_many_items", "suite_mismatch", "unknown_data_set", "duplicate_item"];

    private const int CacheEntries = 16;
    private readonly ConcurrentDictionary<(string Job, int Bucket), OwnRows> _own = new();
    private readonly ConcurrentDictionary<(string Job, int Bucket, string Segment, long Round), List<EcdhPsiCipherBatch>> _dual = new();
    private readonly LimbEncoding _encoding = new();

    public async Task<Ack> ProposeAsync(string callerFingerprint, JobProposal p, CancellationToken ct)
    {
        var peer = await PeerAsync(callerFingerprint, ct);
        CollabTerms terms;
        try
        {
            terms = CollabTerms.FromJson(p.TermsJson);
        }
        catch (System.Text.Json.JsonException e)
        {
            throw CollabWireErrors.Refuse("bad_terms", "the terms are not valid JSON: " + e.Message);
        }

        if (terms.Sha256() != p.TermsSha256 || terms.ProposerFingerprint != callerFingerprint || terms.PeerFingerprint != ownFingerprint
            || terms.Problems().Count > 0 || string.IsNullOrWhiteSpace(p.JobId) || p.JobId.Length > 64)
        {
            throw CollabWireErrors.Refuse("bad_terms", "the terms do not name the caller as proposer and this node as peer, or are invalid, or their hash differs");
        }

        if (await store.GetJobAsync(p.JobId, ct) is { } existing)
        {
            return existing.TermsSha256 == p.TermsSha256 && existing.PeerName == peer.Name
                ? new Ack { Ok = true }
                : throw CollabWireErrors.Refuse("conflict", "a different job with that id exists", StatusCode.AlreadyExists);
        }

        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var job = new CollabJob(p.JobId, peer.Name, CollabSide.Peer, terms, p.TermsSha256, CollabJobState.Proposed,
            ApprovedHere: false, ApprovedThere: false, ProposalSent: true, DecisionSent: true, FinishSent: false, CancelledHere: false,
            LastSeq: 0, PeerItems: 0, SealedKeys: null, DecryptRequestSha256: null, ResultJson: null, Error: null, now, now);
        await store.InsertJobAsync(job, "peer:" + peer.Name, "proposal_received",
            $"{terms.Protocol}: theirs {terms.ProposerDataSet}, ours {terms.PeerDataSet}, output to {terms.OutputTo}", ct);
        return new Ack { Ok = true };
    }

    public async Task<Ack> DecideAsync(string callerFingerprint, JobDecision d, CancellationToken ct)
    {
        var peer = await PeerAsync(callerFingerprint, ct);
        var job = await JobAsync(peer, d.JobId, ct);
        if (job.TermsSha256 != d.TermsSha256)
        {
            throw CollabWireErrors.Refuse("terms_mismatch", "the decision names other terms than this node holds");
        }

        var actor = "peer:" + peer.Name;
        switch (d.Decision)
        {
            case "approve":
                if (job.ApprovedThere)
                {
                    return new Ack { Ok = true };
                }

                if (job.State != CollabJobState.Proposed)
                {
                    throw CollabWireErrors.Refuse("invalid_state", $"the job is {job.State.Wire()}", StatusCode.FailedPrecondition);
                }

                await store.UpdateAsync(job.Id, CollabJobState.Proposed, new CollabJobChange { ApprovedThere = true }, actor, "peer_approved", null, ct);
                if (job.ApprovedHere)
                {
                    await store.MoveAsync(job.Id, CollabJobState.Proposed, CollabJobState.Approved, CollabJobChange.None, "node", "both_approved", null, ct);
                }

                return new Ack { Ok = true };
            case "cancel":
                if (CollabJobStates.CanMove(job.State, CollabJobState.Cancelled))
                {
                    await store.MoveAsync(job.Id, job.State, CollabJobState.Cancelled, CollabJobChange.None, actor, "peer_cancelled", null, ct);
                    await DropAsync(job.Id, ct);
                }

                return new Ack { Ok = true };
            default:
                throw CollabWireErrors.Refuse("bad_message", "decision must be approve or cancel");
        }
    }

    public async Task<Envelope> ExchangeAsync(string callerFingerprint, Envelope e, CancellationToken ct)
    {
        var peer = await PeerAsync(callerFingerprint, ct);
        var job = await JobAsync(peer, e.JobId, ct);
        if (e.Step == "vfl_score")
        {
            return await VflScoreAsync(job, e, ct);
        }

        if (job.IsDriver)
        {
            throw CollabWireErrors.Refuse("wrong_role", "this node computes this job; it does not answer its steps");
        }

        if (!AllSteps.Contains(e.Step))
        {
            throw CollabWireErrors.Refuse("bad_step", $"unknown step '{e.Step}'");
        }

        CheckPayload(job, e);
        if (e.Seq <= job.LastSeq)
        {
            throw CollabWireErrors.Refuse("replayed", $"sequence number {e.Seq} was already seen (last {job.LastSeq}): a replayed message");
        }

        if (e.Step == "abort")
        {
            return await AbortAsync(job, peer, e, ct);
        }

        if (!job.ApprovedHere || !job.ApprovedThere)
        {
            throw CollabWireErrors.Refuse("not_approved", "both parties must approve the job before it runs", StatusCode.FailedPrecondition);
        }

        if (job.State == CollabJobState.Approved && e.Step is "hello" or "vfl_align" or "vfl_score_align")
        {
            await store.MoveAsync(job.Id, CollabJobState.Approved, CollabJobState.Running, CollabJobChange.None, "peer:" + peer.Name, "started", null, ct);
            job = (await store.GetJobAsync(job.Id, ct))!;
        }

        if (job.State != CollabJobState.Running)
        {
            throw CollabWireErrors.Refuse("not_running", $"the job is {job.State.Wire()}", StatusCode.FailedPrecondition);
        }

        if (!await store.AcceptSeqAsync(job.Id, e.Seq, ct))
        {
            throw CollabWireErrors.Refuse("replayed", $"sequence number {e.Seq} was already seen: a replayed message");
        }

        try
        {
            var reply = await StepAsync(job, peer, e, ct);
            log.LogDebug("collab: answered '{Step}' #{Seq} of job {Job}, bucket {Bucket}", e.Step, e.Seq, job.Id, e.Bucket);
            return reply;
        }
        catch (CollabProtocolException x)
        {
            if (Fatal.Contains(x.Code))
            {
                // The job cannot go on: failed here too, with the reason (the driver hears it in this reply).
                await store.MoveAsync(job.Id, CollabJobState.Running, CollabJobState.Failed, new CollabJobChange { Error = $"{x.Code}: {x.Message}" },
                    "node", "failed", $"{x.Code}: {x.Message}", CancellationToken.None);
                await DropAsync(job.Id, CancellationToken.None);
            }

            throw CollabWireErrors.Refuse(x.Code, x.Message);
        }
    }

    /// <summary>
    /// The driver failed the job (an error, a cap exceeded, cancelled): it fails here too, with the driver's reason, at
    /// once — not after a lease or a timeout. A job already ended is left as it is (the abort may come again).
    /// </summary>
    private async Task<Envelope> AbortAsync(CollabJob job, CollabPeer peer, Envelope e, CancellationToken ct)
    {
        var reply = new Envelope { JobId = job.Id, Step = e.Step, Bucket = e.Bucket, Seq = e.Seq };
        if (CollabJobStates.IsFinal(job.State))
        {
            return reply;
        }

        if (!await store.AcceptSeqAsync(job.Id, e.Seq, ct))
        {
            throw CollabWireErrors.Refuse("replayed", $"sequence number {e.Seq} was already seen: a replayed message");
        }

        var code = e.Abort is { Code.Length: > 0 } a ? a.Code : "peer_failed";
        var reason = e.Abort?.Reason ?? string.Empty;
        reason = reason.Length > 500 ? reason[..500] : reason;
        if (CollabJobStates.CanMove(job.State, CollabJobState.Failed))
        {
            await store.MoveAsync(job.Id, job.State, CollabJobState.Failed, new CollabJobChange { Error = $"peer_failed: {code}: {reason}" },
                "peer:" + peer.Name, "peer_failed", $"{code}: {reason}", ct);
        }

        await DropAsync(job.Id, ct);
        return reply;
    }

    /// <summary>Checks framing and group elements before anything is recorded.</summary>
    private void CheckPayload(CollabJob job, Envelope e)
    {
        if (e.Bucket < 0 || e.Bucket >= job.Terms.Buckets)
        {
            throw CollabWireErrors.Refuse("bad_message", $"bucket {e.Bucket} does not exist (the job has {job.Terms.Buckets})");
        }

        if (e.Index < 0 || e.Segment.Length > 200)
        {
            throw CollabWireErrors.Refuse("bad_message", "negative index or overlong segment");
        }

        switch (e.Step)
        {
            case "hello" when e.Hello is null:
            case "decrypt" when e.Sums is null:
            case "enc" when e.Batch is null:
            case "vfl_align" or "vfl_begin" or "vfl" or "vfl_score_align" or "vfl_score_rows" when e.Vfl is null:
                throw CollabWireErrors.Refuse("bad_message", $"step '{e.Step}' needs its payload");
        }

        if (e.Step == "enc")
        {
            var b = e.Batch;
            if (b.Type != CipherType.Enc || b.BucketIndex != 0 || b.BatchIndex < 0 || b.Count < 0 || (long)b.Count * Ristretto255.PointBytes != b.Ciphertext.Length)
            {
                throw CollabWireErrors.Refuse("bad_message", $"'{b.Type}' batch {b.BatchIndex}: {b.Ciphertext.Length} bytes for {b.Count} points of {Ristretto255.PointBytes} bytes");
            }

            var span = b.Ciphertext.Span;
            for (var i = 0; i < b.Count; i++)
            {
                var point = span.Slice(i * Ristretto255.PointBytes, Ristretto255.PointBytes);
                if (!point.ContainsAnyExcept((byte)0) || !Ristretto255.IsValidPoint(point))
                {
                    throw CollabWireErrors.Refuse("bad_point", $"batch {b.BatchIndex}, item {i}: not a canonical ristretto255 encoding of a non-identity element");
                }
            }
        }

        if (e.Step == "decrypt")
        {
            // Semi-honest model: the ad side sums the ciphertexts it was sent and asks for the sums of its segments.
            // A deviating ad side could instead send single ciphertexts as "segments"; at most MaxDecryptSegments
            // distinct segments are decrypted per job, so that costs it a bounded number of values, never all of them.
            if (e.Sums.Sums.Count > options.MaxDecryptSegments)
            {
                throw CollabWireErrors.Refuse("decrypt_refused", $"{e.Sums.Sums.Count} segments asked for; at most {options.MaxDecryptSegments} are decrypted per job (Hutong:Collab:MaxDecryptSegments)");
            }

            if (e.Sums.Sums.Select(s => s.Segment).Distinct(StringComparer.Ordinal).Count() != e.Sums.Sums.Count)
            {
                throw CollabWireErrors.Refuse("bad_message", "a segment is named twice");
            }

            var width = new LimbEncoding().Limbs * ExpElGamal.CiphertextBytes;
            foreach (var s in e.Sums.Sums)
            {
                if (s.Ciphertexts.Length != width)
                {
                    throw CollabWireErrors.Refuse("bad_message", $"segment '{s.Segment}': {s.Ciphertexts.Length} bytes of sums, expected {width}");
                }
            }
        }
    }

    private async Task<Envelope> StepAsync(CollabJob job, CollabPeer peer, Envelope e, CancellationToken ct)
    {
        var reply = new Envelope { JobId = job.Id, Step = e.Step, Bucket = e.Bucket, Seq = e.Seq, Index = e.Index, Segment = e.Segment };
        var attribution = job.Terms.Protocol == CollabTerms.Attribution;
        switch (e.Step)
        {
            case "hello":
            {
                var info = await OwnInfoAsync(job, ct);
                if (e.Hello.IdRule != info.Rule.Name() || e.Hello.BucketCount != job.Terms.Buckets || e.Hello.ItemNum < 0)
                {
                    throw new CollabProtocolException("suite_mismatch", $"the peer's id rule {e.Hello.IdRule} or bucket count differs from ours ({info.Rule.Name()}, {job.Terms.Buckets})");
                }

                if (e.Hello.ItemNum > options.MaxPeerItems)
                {
                    throw new CollabProtocolException("too_many_items", $"the peer announces {e.Hello.ItemNum} items; this node takes at most {options.MaxPeerItems} (Hutong:Collab:MaxPeerItems)");
                }

                await store.UpdateAsync(job.Id, CollabJobState.Running, new CollabJobChange { PeerItems = e.Hello.ItemNum }, "peer:" + peer.Name, null, null, ct);
                using var keys = await JobKeys.LoadOrCreateAsync(job, store, sealer, ct);
                reply.Hello = new Hello
                {
                    Version = PsiSuite.Version, ItemNum = info.Rows, Curve = "ristretto255", Hash = "SHA-512", HashToCurve = "ristretto255_from_hash",
                    IdRule = info.Rule.Name(), BucketCount = job.Terms.Buckets,
                    BitLengthAfterTruncated = PsiSuite.TruncatedBytesFor(info.Rows, e.Hello.ItemNum) * 8,
                    ElgamalPublicKey = attribution ? ByteString.CopyFrom(ExpElGamal.PublicKey(keys.ElGamal)) : ByteString.Empty,
                };
                return reply;
            }

            case "begin":
            {
                await store.BeginPeerBucketAsync(job.Id, e.Bucket, e.Seq, ct);
                Forget(job.Id, e.Bucket);
                return reply;
            }

            case "enc":
            {
                var round = await RoundAsync(job, e.Bucket, ct);
                var info = await OwnInfoAsync(job, ct);
                using var keys = await JobKeys.LoadOrCreateAsync(job, store, sealer, ct);
                var suite = Suite(job, info);
                var batch = Wire(e.Batch);
                var values = new EcdhPsiParty(suite, keys.Psi).RemaskPeerEnc(batch);
                var stored = new CollabPeerBatch(job.Id, e.Bucket, batch.Segment, batch.BatchIndex, batch.IsLastBatch, batch.Count, round, EcdhPsi.Pack(suite, values));
                var cap = Math.Min(job.PeerItems, options.MaxPeerItems);
                switch (await store.AppendPeerBatchAsync(stored, cap, ct))
                {
                    case CollabBatchAppend.Stored:
                        return reply;
                    case CollabBatchAppend.NoSession:
                        throw new CollabProtocolException("no_session", $"bucket {e.Bucket} was begun again or not at all: begin it again");
                    case CollabBatchAppend.Replayed:
                        throw new CollabProtocolException("replayed_batch", $"'enc' batch {batch.BatchIndex} of segment '{batch.Segment}' (bucket {e.Bucket}) was already received");
                    case CollabBatchAppend.OutOfOrder:
                        throw new CollabProtocolException("batch_out_of_order", $"'enc' batch {batch.BatchIndex} of segment '{batch.Segment}' (bucket {e.Bucket}) arrived before the one before it");
                    default:
                        throw new CollabProtocolException("too_many_items",
                            $"batch {batch.BatchIndex} of bucket {e.Bucket} takes the job past {cap} items of the peer (its hello announced {job.PeerItems}; Hutong:Collab:MaxPeerItems {options.MaxPeerItems}); nothing of it is kept");
                }
            }

            case "fetch_enc":
            {
                if (attribution)
                {
                    throw new CollabProtocolException("bad_step", "fetch_enc belongs to overlap jobs");
                }

                await RoundAsync(job, e.Bucket, ct);
                var own = await OwnRowsAsync(job, e.Bucket, ct);
                var info = await OwnInfoAsync(job, ct);
                using var keys = await JobKeys.LoadOrCreateAsync(job, store, sealer, ct);
                var (slice, last) = Slice(own.Ids, e.Index);
                reply.Batch = Wire(new EcdhPsiParty(Suite(job, info), keys.Psi).MaskBatch(string.Empty, slice, e.Index, last));
                return reply;
            }

            case "fetch_dual":
            {
                var round = await RoundAsync(job, e.Bucket, ct);
                var key = (job.Id, e.Bucket, e.Segment, round);
                if (!_dual.TryGetValue(key, out var dual))
                {
                    var info = await OwnInfoAsync(job, ct);
                    using var keys = await JobKeys.LoadOrCreateAsync(job, store, sealer, ct);
                    var suite = Suite(job, info);
                    var party = new EcdhPsiParty(suite, keys.Psi);
                    foreach (var b in await store.PeerBatchesAsync(job.Id, e.Bucket, e.Segment, round, ct))
                    {
                        var header = new EcdhPsiCipherBatch(CipherType.DualEnc, b.Segment, 0, b.BatchIndex, b.IsLast, b.Count, b.Values);
                        party.RestorePeerEnc(header with { Type = CipherType.Enc, Ciphertext = ReadOnlyMemory<byte>.Empty }, EcdhPsi.Unpack(suite, header));
                    }

                    dual = [.. party.PeerDualBatches(e.Segment, options.BatchSize)];
                    Remember(_dual, key, dual);
                }

                reply.Batch = Wire(Pick(dual, e.Index));
                return reply;
            }

            case "fetch_conv":
            {
                if (!attribution)
                {
                    throw new CollabProtocolException("bad_step", "fetch_conv belongs to attribution jobs");
                }

                await RoundAsync(job, e.Bucket, ct);
                var own = await OwnRowsAsync(job, e.Bucket, ct);
                var info = await OwnInfoAsync(job, ct);
                using var keys = await JobKeys.LoadOrCreateAsync(job, store, sealer, ct);
                var (slice, last) = Slice(own.Values, e.Index);
                var c = new AttributionValueHolder(Suite(job, info), keys.Psi, keys.ElGamal, _encoding).MaskBatch(slice, e.Index, last);
                reply.Conversions = new ConversionBatch
                {
                    BatchIndex = c.BatchIndex, IsLastBatch = c.IsLastBatch, Count = c.Count,
                    Points = ByteString.CopyFrom(c.Points.Span), Ciphertexts = ByteString.CopyFrom(c.Ciphertexts.Span),
                };
                return reply;
            }

            case "decrypt":
            {
                if (!attribution)
                {
                    throw new CollabProtocolException("bad_step", "decrypt belongs to attribution jobs");
                }

                // Only one set of sums is ever decrypted per job (a repeat of the same request is answered again): the
                // ad side could otherwise ask for the decryption of any single ciphertext it received.
                var hash = Convert.ToHexStringLower(SHA256.HashData(e.Sums.ToByteArray()));
                if (!await store.RecordDecryptRequestAsync(job.Id, hash, ct))
                {
                    throw new CollabProtocolException("decrypt_refused", "this job's sums were decrypted already; only that same request is answered again");
                }

                var info = await OwnInfoAsync(job, ct);
                using var keys = await JobKeys.LoadOrCreateAsync(job, store, sealer, ct);
                var suite = Suite(job, info);
                var holder = new AttributionValueHolder(suite, keys.Psi, keys.ElGamal, _encoding);
                var sums = holder.DecryptSums([.. e.Sums.Sums.Select(s => new EncryptedSegmentSum(s.Segment, s.Ciphertexts.ToByteArray()))], info.Rows);
                reply.Sums = new Wire.SegmentSums();
                foreach (var s in sums)
                {
                    reply.Sums.Sums.Add(new Wire.SegmentSum
                    {
                        Segment = s.Segment, Sum = s.Sum.ToString(CultureInfo.InvariantCulture), SumOfSquares = s.SumOfSquares.ToString(CultureInfo.InvariantCulture),
                    });
                }

                await store.AuditAsync(job.Id, "peer:" + peer.Name, "decrypted", $"{sums.Count} segment sums released to the ad side", ct);
                return reply;
            }

            case "vfl_align" or "vfl_begin" or "vfl":
                return await VflStepAsync(job, e, reply, ct);

            case "finish" when job.Terms.Protocol == CollabTerms.VflTrain:
                return await VflFinishAsync(job, peer, reply, ct);

            case "vfl_score_align" or "vfl_score_rows":
                return await VflScoreStepAsync(job, e, reply, ct);

            case "finish" when job.Terms.Protocol == CollabTerms.VflScore:
                return await VflScoreFinishAsync(job, peer, e, reply, ct);

            case "finish":
            {
                var result = job.Terms.DeliverToOther && e.Delivery is { } d ? d.ResultJson : null;
                await store.MoveAsync(job.Id, CollabJobState.Running, CollabJobState.Finished, new CollabJobChange { ResultJson = result },
                    "peer:" + peer.Name, "finished", result is null ? "the answer stays with the peer" : "the answer was delivered to this node", ct);
                await DropAsync(job.Id, ct);
                return reply;
            }

            default:
                throw new CollabProtocolException("bad_step", $"unknown step '{e.Step}'");
        }
    }

    private static T Pick<T>(List<T> list, int index) => index < list.Count
        ? list[index]
        : throw new CollabProtocolException("bad_message", $"batch {index} does not exist ({list.Count} batches)");

    /// <summary>Batch <paramref name="index"/> of a list cut in BatchSize pieces (at least one, possibly empty), and whether it is the last.</summary>
    private (List<T> Slice, bool Last) Slice<T>(List<T> all, int index)
    {
        var batches = Math.Max(1, (all.Count + options.BatchSize - 1) / options.BatchSize);
        if (index >= batches)
        {
            throw new CollabProtocolException("bad_message", $"batch {index} does not exist ({batches} batches)");
        }

        return (all.GetRange(index * options.BatchSize, Math.Min(options.BatchSize, all.Count - (index * options.BatchSize))), index == batches - 1);
    }

    /// <summary>The bucket's current round (the sequence number of its "begin"), from the store: any instance may have seen the begin.</summary>
    private async Task<long> RoundAsync(CollabJob job, int bucket, CancellationToken ct) =>
        await store.PeerBucketBegunAsync(job.Id, bucket, ct)
            ?? throw new CollabProtocolException("no_session", $"bucket {bucket} was not begun: begin it again");

    /// <summary>
    /// This party's rows of a bucket in a fixed order (ordinal by id), so that every instance cuts the same batches: the
    /// ids (overlap) or the conversions with a positive value (attribution). The data set cannot change while a job that
    /// has not ended uses it (deleting it is refused), so an instance may keep what it read.
    /// </summary>
    private async Task<OwnRows> OwnRowsAsync(CollabJob job, int bucket, CancellationToken ct)
    {
        if (_own.TryGetValue((job.Id, bucket), out var cached))
        {
            return cached;
        }

        var ids = new List<string>();
        var values = new List<Conversion>();
        await foreach (var row in dataSets.ReadBucketAsync(job.OwnDataSet, bucket, job.Terms.Buckets, ct))
        {
            if (job.Terms.Protocol == CollabTerms.Attribution)
            {
                if (row.Value > 0)
                {
                    values.Add(new Conversion(row.Id, (ulong)row.Value));
                }
            }
            else
            {
                ids.Add(row.Id);
            }
        }

        ids.Sort(StringComparer.Ordinal);
        values.Sort((x, y) => string.CompareOrdinal(x.NormalizedId, y.NormalizedId));
        var rows = new OwnRows(ids, values);
        Remember(_own, (job.Id, bucket), rows);
        return rows;
    }

    private static void Remember<TKey, TValue>(ConcurrentDictionary<TKey, TValue> cache, TKey key, TValue value)
        where TKey : notnull
    {
        if (cache.Count >= CacheEntries)
        {
            cache.Clear(); // a cache, not state: bounded memory matters more than a recomputation
        }

        cache[key] = value;
    }

    private void Forget(string jobId, int? bucket = null)
    {
        if (bucket is null)
        {
            DropVfl(jobId);
        }

        foreach (var k in _own.Keys.Where(k => k.Job == jobId && (bucket is null || k.Bucket == bucket)))
        {
            _own.TryRemove(k, out _);
        }

        foreach (var k in _dual.Keys.Where(k => k.Job == jobId && (bucket is null || k.Bucket == bucket)))
        {
            _dual.TryRemove(k, out _);
        }
    }

    private async Task DropAsync(string jobId, CancellationToken ct)
    {
        Forget(jobId);
        await store.DropPeerStateAsync(jobId, ct);
    }

    internal static PsiSuite Suite(CollabJob job, CollabDataSetInfo own) => new(job.Id, own.Rule, own.Rows, job.PeerItems, bucketBits: 0);

    private async Task<CollabDataSetInfo> OwnInfoAsync(CollabJob job, CancellationToken ct) =>
        await dataSets.GetAsync(job.OwnDataSet, ct) ?? throw new CollabProtocolException("unknown_data_set", $"this node has no data set {job.OwnDataSet} any more");

    private async Task<CollabPeer> PeerAsync(string fingerprint, CancellationToken ct) =>
        await store.FindPeerByFingerprintAsync(fingerprint, ct)
            ?? throw CollabWireErrors.Refuse("unknown_peer", "this node has no peer with the caller's certificate", StatusCode.PermissionDenied);

    private async Task<CollabJob> JobAsync(CollabPeer peer, string jobId, CancellationToken ct)
    {
        var job = await store.GetJobAsync(jobId, ct);
        if (job is null || job.PeerName != peer.Name)
        {
            log.LogWarning("collab: peer {Peer} named job {Job}, which is not a job with it", peer.Name, jobId.Length > 64 ? jobId[..64] : jobId);
            throw CollabWireErrors.Refuse("unknown_job", "no such job with the caller", StatusCode.NotFound);
        }

        return job;
    }

    private void Drop(string jobId) => Forget(jobId);

    internal static EcdhPsiCipherBatch Wire(CipherBatch b) =>
        new(b.Type, b.Segment, b.BucketIndex, b.BatchIndex, b.IsLastBatch, b.Count, b.Ciphertext.Memory);

    internal static CipherBatch Wire(EcdhPsiCipherBatch b) => new()
    {
        Type = b.Type, Segment = b.Segment, BucketIndex = b.BucketIndex, BatchIndex = b.BatchIndex, IsLastBatch = b.IsLastBatch,
        Count = b.Count, Ciphertext = ByteString.CopyFrom(b.Ciphertext.Span),
    };

    private sealed record OwnRows(List<string> Ids, List<Conversion> Values);
}
