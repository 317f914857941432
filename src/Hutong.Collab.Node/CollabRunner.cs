using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Grpc.Core;
using Hutong.Collab.Crypto;
using Hutong.Collab.Data;
using Hutong.Collab.Ids;
using Hutong.Collab.Lift;
using Hutong.Collab.Node.Wire;
using Hutong.Collab.Psi;
using Hutong.Collab.Sum;
using Microsoft.Extensions.Logging;

namespace Hutong.Collab.Node;

/// <summary>
/// The node's background work, one pass every <see cref="CollabNodeOptions.PollInterval"/>: tell peers what changed here
/// (proposals, approvals, cancellations, finishes), move jobs both parties approved to approved, and run the jobs this
/// node computes. A run claims hash buckets one at a time (a lease, so several instances of this party share a job),
/// runs the protocol on the bucket's rows with the peer and stores the bucket's result; when every bucket is done it
/// releases the answer under the job's policy. A killed node resumes at the first bucket not done; a peer that is down
/// is retried with bounded backoff, and a bucket whose state the peer lost (it restarted) is begun again.
/// </summary>
public sealed partial class CollabRunner(
    ICollabStore store, ICollabDataSets dataSets, ICollabKeySealer sealer, CollabPeerClients clients, CollabNodeOptions options,
    TimeProvider time, ILogger<CollabRunner> log, Vfl.IVflStore? vfl = null)
{
    private readonly string _instance = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..8]}";
    private readonly LimbEncoding _encoding = new();

    public async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await PassAsync(ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                log.LogWarning(e, "collab: a runner pass failed; retrying");
            }

            try
            {
                await Task.Delay(options.PollInterval, time, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public async Task PassAsync(CancellationToken ct)
    {
        foreach (var job in await store.ListActiveJobsAsync(ct))
        {
            await SyncAsync(job, ct);
        }

        foreach (var job in await store.ListActiveJobsAsync(ct))
        {
            if (job.IsDriver && job.DecisionSent && job.State is CollabJobState.Approved or CollabJobState.Running)
            {
                if (job.Terms.Protocol == CollabTerms.VflTrain)
                {
                    await DriveVflAsync(job, ct);
                    continue;
                }

                if (job.Terms.Protocol == CollabTerms.VflScore)
                {
                    await DriveVflScoreAsync(job, ct);
                    continue;
                }

                await DriveAsync(job, ct);
            }
        }
    }

    /// <summary>Tells the peer what it has not heard yet. A peer that is down hears it on a later pass.</summary>
    private async Task SyncAsync(CollabJob job, CancellationToken ct)
    {
        if (await store.GetPeerAsync(job.PeerName, ct) is not { } peer)
        {
            return;
        }

        var client = clients.For(peer);
        try
        {
            if (job.Side == CollabSide.Proposer && !job.ProposalSent)
            {
                await client.ProposeAsync(new JobProposal { JobId = job.Id, TermsJson = job.Terms.ToJson(), TermsSha256 = job.TermsSha256 }, deadline: Deadline(), cancellationToken: ct);
                await store.UpdateAsync(job.Id, job.State, new CollabJobChange { ProposalSent = true }, "node", "proposal_sent", peer.Name, ct);
                job = (await store.GetJobAsync(job.Id, ct))!;
            }

            if (!job.DecisionSent && job.ProposalSent && (job.ApprovedHere || job.CancelledHere))
            {
                var decision = job.CancelledHere ? "cancel" : "approve";
                await client.DecideAsync(new JobDecision { JobId = job.Id, TermsSha256 = job.TermsSha256, Decision = decision }, deadline: Deadline(), cancellationToken: ct);
                await store.UpdateAsync(job.Id, job.State, new CollabJobChange { DecisionSent = true }, "node", decision + "_sent", peer.Name, ct);
                job = (await store.GetJobAsync(job.Id, ct))!;
            }

            if (job.State == CollabJobState.Proposed && job.ApprovedHere && job.ApprovedThere)
            {
                await store.MoveAsync(job.Id, CollabJobState.Proposed, CollabJobState.Approved, CollabJobChange.None, "node", "both_approved", null, ct);
            }

            if (job.IsDriver && job.State == CollabJobState.Failed && !job.AbortSent)
            {
                await SendAbortAsync(job, client, ct);
            }

            if (job.IsDriver && job.State == CollabJobState.Finished && !job.FinishSent)
            {
                await CallAsync(job, client, new Envelope
                {
                    Step = "finish",
                    Delivery = job.Terms.Protocol == CollabTerms.VflScore ? new Delivery { ResultJson = VflScoreCounts(job.ResultJson) }
                        : job.Terms.DeliverToOther && job.ResultJson is { } r ? new Delivery { ResultJson = r } : null,
                }, ct);
                await store.UpdateAsync(job.Id, CollabJobState.Finished, new CollabJobChange { FinishSent = true }, "node", "finish_sent", peer.Name, ct);
            }
        }
        catch (RpcException e) when (CollabWireErrors.IsTransient(e) || CollabWireErrors.CodeOf(e) is "not_running")
        {
            log.LogInformation("collab: peer {Peer} not reachable for job {Job} yet: {Status}", peer.Name, job.Id, e.Status.Detail);
        }
    }

    private async Task DriveAsync(CollabJob job, CancellationToken ct)
    {
        var peer = await store.GetPeerAsync(job.PeerName, ct) ?? throw new InvalidOperationException($"job {job.Id}: no peer {job.PeerName}");
        var client = clients.For(peer);
        var info = await dataSets.GetAsync(job.OwnDataSet, ct);
        if (info is null)
        {
            await FailAsync(job, "unknown_data_set", $"this node has no data set {job.OwnDataSet} any more", ct);
            return;
        }

        if (job.State == CollabJobState.Approved)
        {
            await store.CreateBucketsAsync(job.Id, job.Terms.Buckets, ct);
            await store.MoveAsync(job.Id, CollabJobState.Approved, CollabJobState.Running, CollabJobChange.None, "node", "started",
                $"{job.Terms.Buckets} buckets, instance {_instance}", ct);
        }

        var backoff = options.RetryFirst;
        using var keys = await JobKeys.LoadOrCreateAsync((await store.GetJobAsync(job.Id, ct))!, store, sealer, ct);
        while (!ct.IsCancellationRequested)
        {
            job = (await store.GetJobAsync(job.Id, ct))!;
            if (job.State != CollabJobState.Running)
            {
                return;
            }

            try
            {
                var hello = await HelloAsync(job, client, info, ct);
                job = (await store.GetJobAsync(job.Id, ct))!;
                while (await store.ClaimBucketAsync(job.Id, _instance, options.BucketLease, ct) is { } bucket)
                {
                    try
                    {
                        var result = job.Terms.Protocol == CollabTerms.Attribution
                            ? await AttributionBucketAsync(job, client, info, keys, hello.ElgamalPublicKey.ToByteArray(), bucket, ct)
                            : await OverlapBucketAsync(job, client, info, keys, bucket, ct);
                        if (await store.CompleteBucketAsync(job.Id, bucket, _instance, result.ToJsonString(), ct))
                        {
                            log.LogInformation("collab: job {Job} bucket {Bucket} done", job.Id, bucket);
                        }
                    }
                    catch
                    {
                        await store.ReleaseBucketAsync(job.Id, bucket, _instance, CancellationToken.None);
                        throw;
                    }

                    backoff = options.RetryFirst;
                    if (options.BucketPause > TimeSpan.Zero)
                    {
                        await Task.Delay(options.BucketPause, time, ct);
                    }
                }

                var progress = await store.ProgressAsync(job.Id, ct);
                if (progress.Done < progress.Total)
                {
                    return; // other instances hold the remaining buckets; a later pass finishes the job
                }

                await FinishAsync(job, client, info, ct);
                return;
            }
            catch (RpcException e) when (CollabWireErrors.IsTransient(e))
            {
                log.LogInformation("collab: job {Job}: peer unavailable ({Detail}); retrying in {Delay}", job.Id, e.Status.Detail, backoff);
                await Task.Delay(backoff, time, ct);
                backoff = TimeSpan.FromTicks(Math.Min(options.RetryMax.Ticks, backoff.Ticks * 2));
            }
            catch (RpcException e)
            {
                await FailAsync(job, CollabWireErrors.CodeOf(e) ?? "peer_error", e.Status.Detail, ct);
                return;
            }
            catch (CollabProtocolException e)
            {
                await FailAsync(job, e.Code, e.Message, ct);
                return;
            }
        }
    }

    private async Task<Hello> HelloAsync(CollabJob job, CollabNode.CollabNodeClient client, CollabDataSetInfo info, CancellationToken ct)
    {
        var reply = await CallAsync(job, client, new Envelope
        {
            Step = "hello",
            Hello = new Hello
            {
                Version = PsiSuite.Version, ItemNum = info.Rows, Curve = "ristretto255", Hash = "SHA-512", HashToCurve = "ristretto255_from_hash",
                IdRule = info.Rule.Name(), BucketCount = job.Terms.Buckets,
            },
        }, ct);
        var h = reply.Hello ?? throw new CollabProtocolException("bad_message", "the peer's hello is empty");
        if (h.Version != PsiSuite.Version || h.Curve != "ristretto255" || h.IdRule != info.Rule.Name() || h.ItemNum < 0 || h.BucketCount != job.Terms.Buckets)
        {
            throw new CollabProtocolException("suite_mismatch", $"the peer answers with version {h.Version}, group {h.Curve}, id rule {h.IdRule}, {h.BucketCount} buckets");
        }

        if (h.ItemNum > options.MaxPeerItems)
        {
            throw new CollabProtocolException("too_many_items", $"the peer announces {h.ItemNum} items; this node takes at most {options.MaxPeerItems} (Hutong:Collab:MaxPeerItems)");
        }

        if (job.Terms.Protocol == CollabTerms.Attribution && (h.ElgamalPublicKey.Length != Ristretto255.PointBytes || !Ristretto255.IsValidPoint(h.ElgamalPublicKey.Span)))
        {
            throw new CollabProtocolException("bad_key", "the value holder's ElGamal public key is not a group element");
        }

        if (job.PeerItems != h.ItemNum)
        {
            await store.UpdateAsync(job.Id, CollabJobState.Running, new CollabJobChange { PeerItems = h.ItemNum }, "node", null, null, ct);
        }

        return h;
    }

    /// <summary>Overlap on one bucket: this node is the receiver (it learns the bucket's count), the peer the sender.</summary>
    private async Task<JsonObject> OverlapBucketAsync(CollabJob job, CollabNode.CollabNodeClient client, CollabDataSetInfo info, JobKeys keys, int bucket, CancellationToken ct)
    {
        var ids = new List<string>();
        await foreach (var row in dataSets.ReadBucketAsync(job.OwnDataSet, bucket, job.Terms.Buckets, ct))
        {
            ids.Add(row.Id);
        }

        var party = new EcdhPsiParty(CollabResponder.Suite(job, info), keys.Psi);
        await CallAsync(job, client, new Envelope { Step = "begin", Bucket = bucket }, ct);
        foreach (var batch in party.MaskAll(string.Empty, ids, options.BatchSize))
        {
            await CallAsync(job, client, new Envelope { Step = "enc", Bucket = bucket, Batch = CollabResponder.Wire(batch) }, ct);
        }

        var peerEnc = new PeerStreamLimit("the peer's items", PeerCap(job));
        while (true)
        {
            var b = CollabResponder.Wire(RequireBatch(await CallAsync(job, client, new Envelope { Step = "fetch_enc", Bucket = bucket, Index = peerEnc.Batches }, ct)));
            peerEnc.Take(b.Count, b.IsLastBatch);
            party.AcceptPeerEnc(b);
            if (b.IsLastBatch)
            {
                break;
            }
        }

        var ownBack = new PeerStreamLimit("our own items masked by the peer", ids.Count, exact: true);
        while (true)
        {
            var b = CollabResponder.Wire(RequireBatch(await CallAsync(job, client, new Envelope { Step = "fetch_dual", Bucket = bucket, Index = ownBack.Batches }, ct)));
            ownBack.Take(b.Count, b.IsLastBatch);
            party.AcceptOwnDual(b);
            if (b.IsLastBatch)
            {
                break;
            }
        }

        var count = party.CountIntersection(string.Empty);
        return new JsonObject { ["count"] = count, ["own"] = ids.Count, ["peer"] = party.PeerItems(string.Empty) };
    }

    /// <summary>
    /// Attribution on one bucket: this node is the ad side. Its exposures go out per segment (campaign/group), come back
    /// masked by both keys, the value holder's conversions arrive masked with their encrypted values, and the bucket's
    /// per-segment counts and encrypted sums are kept (under no threshold yet: the policy applies to the job's totals).
    /// </summary>
    private async Task<JsonObject> AttributionBucketAsync(
        CollabJob job, CollabNode.CollabNodeClient client, CollabDataSetInfo info, JobKeys keys, byte[] peerPublicKey, int bucket, CancellationToken ct)
    {
        var segments = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        await foreach (var row in dataSets.ReadBucketAsync(job.OwnDataSet, bucket, job.Terms.Buckets, ct))
        {
            var segment = SegmentOf(row);
            if (!segments.TryGetValue(segment, out var list))
            {
                segments[segment] = list = [];
            }

            list.Add(row.Id);
        }

        var ad = new AttributionAdSide(CollabResponder.Suite(job, info), keys.Psi, peerPublicKey, _encoding);
        await CallAsync(job, client, new Envelope { Step = "begin", Bucket = bucket }, ct);
        foreach (var (segment, ids) in segments)
        {
            foreach (var batch in ad.Psi.MaskAll(segment, ids, options.BatchSize))
            {
                await CallAsync(job, client, new Envelope { Step = "enc", Bucket = bucket, Batch = CollabResponder.Wire(batch) }, ct);
            }
        }

        foreach (var (segment, own) in segments)
        {
            var back = new PeerStreamLimit($"segment '{segment}' masked by the peer", own.Count, exact: true);
            while (true)
            {
                var b = CollabResponder.Wire(RequireBatch(await CallAsync(job, client, new Envelope { Step = "fetch_dual", Bucket = bucket, Index = back.Batches, Segment = segment }, ct)));
                if (b.Segment != segment)
                {
                    throw new CollabProtocolException("bad_message", $"asked for segment '{segment}', got '{b.Segment}'");
                }

                back.Take(b.Count, b.IsLastBatch);
                ad.Psi.AcceptOwnDual(b);
                if (b.IsLastBatch)
                {
                    break;
                }
            }
        }

        var conversions = new PeerStreamLimit("the peer's conversions", PeerCap(job));
        while (true)
        {
            var reply = await CallAsync(job, client, new Envelope { Step = "fetch_conv", Bucket = bucket, Index = conversions.Batches }, ct);
            var c = reply.Conversions ?? throw new CollabProtocolException("bad_message", "the peer's conversion batch is empty");
            conversions.Take(c.Count, c.IsLastBatch);
            ad.AcceptConversions(new EncryptedConversionBatch(c.BatchIndex, c.IsLastBatch, c.Count, c.Points.Memory, c.Ciphertexts.Memory));
            if (c.IsLastBatch)
            {
                break;
            }
        }

        var (counts, sums) = ad.Aggregate([.. segments.Keys], new ReleasePolicy(0));
        var result = new JsonObject { ["conversions"] = ad.ConversionsReceived };
        var bySegment = new JsonObject();
        foreach (var count in counts)
        {
            bySegment[count.Segment] = new JsonObject
            {
                ["exposed"] = count.Exposed,
                ["converters"] = count.Converters.Count,
                ["sums"] = Convert.ToBase64String(sums.Single(s => s.Segment == count.Segment).Ciphertexts.Span),
            };
        }

        result["segments"] = bySegment;
        return result;
    }

    public static string SegmentOf(CollabRow row) =>
        $"{row.Campaign ?? "all"}/{row.Group switch { CollabGroup.Test => "test", CollabGroup.Control => "control", _ => "all" }}";

    private async Task FinishAsync(CollabJob job, CollabNode.CollabNodeClient client, CollabDataSetInfo info, CancellationToken ct)
    {
        var buckets = await store.BucketResultsAsync(job.Id, ct);
        var policy = new ReleasePolicy(job.Terms.MinimumCount, job.Terms.Epsilon);
        JsonObject result;
        if (job.Terms.Protocol == CollabTerms.Attribution)
        {
            result = await AttributionResultAsync(job, client, buckets, policy, ct);
        }
        else
        {
            long count = 0, own = 0, peer = 0;
            foreach (var b in buckets)
            {
                var o = JsonNode.Parse(b.ResultJson)!.AsObject();
                count += (long)o["count"]!;
                own += (long)o["own"]!;
                peer += (long)o["peer"]!;
            }

            var released = CardinalityRelease.Release(count, own, peer, policy);
            var ownSide = job.Side == CollabSide.Proposer ? "proposer" : "peer";
            var otherSide = job.Side == CollabSide.Proposer ? "peer" : "proposer";
            result = new JsonObject
            {
                ["protocol"] = CollabTerms.Overlap,
                ["released"] = released.Released,
                ["count"] = released.Count,
                ["items"] = new JsonObject { [ownSide] = own, [otherSide] = peer },
                ["share_of_" + ownSide] = released.ShareOfOwn,
                ["share_of_" + otherSide] = released.ShareOfPeer,
                ["minimum_count"] = job.Terms.MinimumCount,
                ["epsilon"] = job.Terms.Epsilon,
                ["refused_because"] = released.RefusedBecause,
            };
        }

        result["job_id"] = job.Id;
        result["buckets"] = buckets.Count;
        if (await store.MoveAsync(job.Id, CollabJobState.Running, CollabJobState.Finished, new CollabJobChange { ResultJson = result.ToJsonString() },
                "node", "finished", result["released"] is { } r && (bool)r ? "answer released" : "answer computed", ct))
        {
            try
            {
                await CallAsync(job, client, new Envelope
                {
                    Step = "finish", Delivery = job.Terms.DeliverToOther ? new Delivery { ResultJson = result.ToJsonString() } : null,
                }, ct);
                await store.UpdateAsync(job.Id, CollabJobState.Finished, new CollabJobChange { FinishSent = true }, "node", "finish_sent", job.PeerName, ct);
            }
            catch (RpcException e)
            {
                log.LogInformation("collab: job {Job} finished; the peer will hear it on a later pass ({Detail})", job.Id, e.Status.Detail);
            }
        }
    }

    private async Task<JsonObject> AttributionResultAsync(
        CollabJob job, CollabNode.CollabNodeClient client, IReadOnlyList<CollabBucketResult> buckets, ReleasePolicy policy, CancellationToken ct)
    {
        var width = _encoding.Limbs * ExpElGamal.CiphertextBytes;
        var totals = new SortedDictionary<string, (long Exposed, long Converters, byte[] Sums)>(StringComparer.Ordinal);
        long conversions = 0;
        var scratch = new byte[ExpElGamal.CiphertextBytes];
        foreach (var b in buckets.OrderBy(b => b.Bucket))
        {
            var o = JsonNode.Parse(b.ResultJson)!.AsObject();
            conversions += (long)o["conversions"]!;
            foreach (var (segment, node) in o["segments"]!.AsObject())
            {
                var s = node!.AsObject();
                var (exposed, converters, sums) = totals.GetValueOrDefault(segment, (0, 0, new byte[width]));
                var add = Convert.FromBase64String((string)s["sums"]!);
                for (var l = 0; l < _encoding.Limbs; l++)
                {
                    var acc = sums.AsSpan(l * ExpElGamal.CiphertextBytes, ExpElGamal.CiphertextBytes);
                    ExpElGamal.Add(acc, add.AsSpan(l * ExpElGamal.CiphertextBytes, ExpElGamal.CiphertextBytes), scratch);
                    scratch.CopyTo(acc);
                }

                totals[segment] = (exposed + (long)s["exposed"]!, converters + (long)s["converters"]!, sums);
            }
        }

        var released = totals.ToDictionary(t => t.Key, t => CardinalityRelease.Release(t.Value.Converters, t.Value.Exposed, conversions, policy), StringComparer.Ordinal);
        var request = new Wire.SegmentSums();
        foreach (var (segment, t) in totals)
        {
            if (released[segment].Released)
            {
                request.Sums.Add(new Wire.SegmentSum { Segment = segment, Ciphertexts = ByteString.CopyFrom(t.Sums) });
            }
        }

        var decrypted = new Dictionary<string, (decimal Sum, decimal Squares)>(StringComparer.Ordinal);
        if (request.Sums.Count > 0)
        {
            var reply = await CallAsync(job, client, new Envelope { Step = "decrypt", Sums = request }, ct);
            foreach (var s in reply.Sums?.Sums ?? [])
            {
                decrypted[s.Segment] = (decimal.Parse(s.Sum, CultureInfo.InvariantCulture), decimal.Parse(s.SumOfSquares, CultureInfo.InvariantCulture));
            }
        }

        var segments = new JsonArray();
        foreach (var (segment, t) in totals)
        {
            var r = released[segment];
            var has = decrypted.TryGetValue(segment, out var d);
            segments.Add(new JsonObject
            {
                ["segment"] = segment,
                ["exposed"] = t.Exposed,
                ["released"] = r.Released,
                ["converters"] = r.Count,
                ["value_sum_fen"] = has ? d.Sum : null,
                ["value_sum_of_squares_fen"] = has ? d.Squares : null,
                ["refused_because"] = r.RefusedBecause,
            });
        }

        var lifts = new JsonArray();
        foreach (var campaign in totals.Keys.Select(k => k[..k.LastIndexOf('/')]).Distinct(StringComparer.Ordinal))
        {
            var test = campaign + "/test";
            var control = campaign + "/control";
            if (released.GetValueOrDefault(test)?.Released == true && released.GetValueOrDefault(control)?.Released == true
                && decrypted.ContainsKey(test) && decrypted.ContainsKey(control) && totals[test].Exposed > 0 && totals[control].Exposed > 0)
            {
                try
                {
                    var l = LiftEstimator.Estimate(
                        new ArmStats(totals[test].Exposed, released[test].Count!.Value, decrypted[test].Sum, decrypted[test].Squares),
                        new ArmStats(totals[control].Exposed, released[control].Count!.Value, decrypted[control].Sum, decrypted[control].Squares),
                        job.Terms.SpendFen);
                    lifts.Add(new JsonObject
                    {
                        ["campaign"] = campaign,
                        ["lift"] = JsonSerializer.SerializeToNode(l, LiftJson),
                    });
                }
                catch (CollabProtocolException e)
                {
                    lifts.Add(new JsonObject { ["campaign"] = campaign, ["refused_because"] = e.Message });
                }
            }
        }

        return new JsonObject
        {
            ["protocol"] = CollabTerms.Attribution,
            ["released"] = released.Values.Any(r => r.Released),
            ["conversions"] = conversions,
            ["minimum_count"] = job.Terms.MinimumCount,
            ["epsilon"] = job.Terms.Epsilon,
            ["segments"] = segments,
            ["lift"] = lifts,
        };
    }

    private static readonly JsonSerializerOptions LiftJson = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The peer's items this node takes in one stream: what its hello announced, at most MaxPeerItems.</summary>
    private long PeerCap(CollabJob job) => Math.Min(job.PeerItems, options.MaxPeerItems);

    /// <summary>
    /// Fails the job with its reason and tells the peer at once ("abort"), so its side fails too instead of waiting; a
    /// peer out of reach hears it on a later pass (abort_sent). Nothing of the bucket in flight was stored.
    /// </summary>
    private async Task FailAsync(CollabJob job, string code, string message, CancellationToken ct)
    {
        log.LogWarning("collab: job {Job} failed: {Code}: {Message}", job.Id, code, message);
        job = await store.GetJobAsync(job.Id, ct) ?? job;
        if (CollabJobStates.CanMove(job.State, CollabJobState.Failed)
            && await store.MoveAsync(job.Id, job.State, CollabJobState.Failed, new CollabJobChange { Error = $"{code}: {message}", AbortSent = false }, "node", "failed", $"{code}: {message}", ct)
            && await store.GetPeerAsync(job.PeerName, ct) is { } peer)
        {
            try
            {
                await SendAbortAsync((await store.GetJobAsync(job.Id, ct))!, clients.For(peer), ct);
            }
            catch (RpcException e)
            {
                log.LogInformation("collab: job {Job} failed; the peer will hear it on a later pass ({Detail})", job.Id, e.Status.Detail);
            }
        }
    }

    private async Task SendAbortAsync(CollabJob job, CollabNode.CollabNodeClient client, CancellationToken ct)
    {
        var (code, reason) = job.Error is { } error && error.IndexOf(": ", StringComparison.Ordinal) is var at and > 0
            ? (error[..at], error[(at + 2)..])
            : ("failed", job.Error ?? string.Empty);
        try
        {
            await CallAsync(job, client, new Envelope { Step = "abort", Abort = new Abort { Code = code, Reason = reason } }, ct);
        }
        catch (RpcException e) when (!CollabWireErrors.IsTransient(e))
        {
            // The peer cannot take it (it has no such job, or refuses the message): nothing more to tell.
            log.LogInformation("collab: job {Job}: the peer refused the abort ({Detail})", job.Id, e.Status.Detail);
        }

        await store.UpdateAsync(job.Id, CollabJobState.Failed, new CollabJobChange { AbortSent = true }, "node", "abort_sent", $"{code}: {reason}", ct);
    }

    private static CipherBatch RequireBatch(Envelope e) => e.Batch ?? throw new CollabProtocolException("bad_message", $"the peer's '{e.Step}' answer has no batch");

    private Seq? _seq;

    /// <summary>Sends one step with the next sequence number; checks the answer echoes the job, step, bucket and number.</summary>
    private async Task<Envelope> CallAsync(CollabJob job, CollabNode.CollabNodeClient client, Envelope e, CancellationToken ct)
    {
        e.JobId = job.Id;
        e.Seq = await NextSeqAsync(job.Id, ct);
        var reply = await client.ExchangeAsync(e, deadline: Deadline(), cancellationToken: ct);
        if (reply.JobId != e.JobId || reply.Step != e.Step || reply.Bucket != e.Bucket || reply.Seq != e.Seq)
        {
            throw new CollabProtocolException("bad_message", $"the peer's answer to '{e.Step}' #{e.Seq} names another job, step, bucket or sequence number");
        }

        return reply;
    }

    private async Task<long> NextSeqAsync(string jobId, CancellationToken ct)
    {
        const int block = 1000;
        lock (this)
        {
            if (_seq is { } s && s.Job == jobId && s.Next < s.End)
            {
                return s.Next++;
            }
        }

        var first = await store.ReserveSeqAsync(jobId, block, ct);
        lock (this)
        {
            _seq = new Seq(jobId, first + 1, first + block);
            return first;
        }
    }

    private sealed class Seq(string job, long next, long end)
    {
        public string Job { get; } = job;

        public long Next { get; set; } = next;

        public long End { get; } = end;
    }

    private DateTime Deadline() => DateTime.UtcNow + options.CallTimeout;
}
