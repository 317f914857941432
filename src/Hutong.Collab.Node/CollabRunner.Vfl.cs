using System.Diagnostics;
using System.Text.Json.Nodes;
using Grpc.Core;
using Hutong.Collab.Crypto;
using Hutong.Collab.Node.Vfl;
using Hutong.Collab.Node.Wire;
using Hutong.Collab.Psi;
using Hutong.Collab.Vfl;
using Hutong.Collab.Vfl.Data;
using Hutong.Collab.Vfl.Protocol;
using Microsoft.Extensions.Logging;

namespace Hutong.Collab.Node;

/// <summary>
/// vfl-train on the label side (it drives): align the two feature tables by ECDH-PSI, start the ad side's party, then
/// run the Hutong.Collab.Vfl protocol's byte messages through Exchange (step "vfl"). After every epoch both parties
/// evaluate on the held-out split (the ad side learns the three figures only) and store their own checkpoint, so a
/// killed node (either side) resumes from the last finished epoch: the label side begins again (align, begin) and the
/// parties' handshake agrees on the epoch.
/// </summary>
public sealed partial class CollabRunner
{
    private async Task DriveVflAsync(CollabJob job, CancellationToken ct)
    {
        if (vfl is null)
        {
            await FailAsync(job, "vfl_unavailable", "this node has no VFL store", ct);
            return;
        }

        var peer = await store.GetPeerAsync(job.PeerName, ct) ?? throw new InvalidOperationException($"job {job.Id}: no peer {job.PeerName}");
        var client = clients.For(peer);
        var table = await vfl.LoadTableAsync(job.OwnDataSet, ct);
        if (table is null || table.Labels is null)
        {
            await FailAsync(job, "unknown_data_set", $"this node has no labelled feature table {job.OwnDataSet}", ct);
            return;
        }

        if (job.State == CollabJobState.Approved)
        {
            await store.MoveAsync(job.Id, CollabJobState.Approved, CollabJobState.Running, CollabJobChange.None, "node", "started", $"vfl-train, instance {_instance}", ct);
        }

        // A peer that restarted has lost the session: training begins again from the last stored epoch.
        await RunVflAttemptsAsync(job, "vfl", "peer unavailable or restarted; beginning again from the last stored epoch",
            j => TrainVflAsync(j, client, table, ct), e => CollabWireErrors.IsTransient(e) || CollabWireErrors.CodeOf(e) is "no_session", ct);
    }

    private async Task TrainVflAsync(CollabJob job, CollabNode.CollabNodeClient client, VflTableData table, CancellationToken ct)
    {
        var options = job.Terms.Vfl!.ToOptions();

        // 1. Alignment (ECDH-PSI revealing the intersection to both sides): H(id)^a out, H(id)^ab back in our order
        //    beside the peer's H(id')^b; we match, and tell the peer which of its rows, in which order.
        var (pairs, peerCount) = await AlignAsync(job, client, "vfl_align", table.Ids, ct);
        var guestRows = pairs.Select(p => p.Own).ToList();
        var hostRows = pairs.Select(p => p.Peer).ToList();

        if (guestRows.Count < 2)
        {
            throw new CollabProtocolException("no_intersection", $"the two feature tables share {guestRows.Count} ids: nothing to train on");
        }

        var aligned = new AlignedData(
            [.. guestRows.Select(i => table.Ids[i])], table.Info.FeatureNames, [.. table.Columns.Select(c => guestRows.Select(i => c[i]).ToArray())],
            [.. guestRows.Select(i => table.Labels![i])], table.Ids.Count - guestRows.Count);

        // 2. The peer starts its party on those rows (from its last stored epoch, if any).
        await CallAsync(job, client, new Envelope { Step = "vfl_begin", Vfl = new VflFrame { Messages = { Google.Protobuf.ByteString.CopyFrom(VflWire.Ints(hostRows)) } } }, ct);
        var epochs = await vfl!.EpochsAsync(job.Id, ct);
        var resume = epochs.Count > 0 ? VflCheckpoint.Parse(System.Text.Encoding.UTF8.GetBytes(epochs[^1].CheckpointJson)) : null;
        await store.AuditAsync(job.Id, "node", "vfl_aligned",
            $"{aligned.Rows} ids in the intersection ({table.Ids.Count} here, {peerCount} there); {(resume is null ? "training from scratch" : $"resuming after epoch {resume.Epoch}")}", ct);

        // 3. Training, one epoch at a time, with the held-out evaluation and this party's checkpoint after each.
        var channel = new VflDriverChannel(async (frame, c) =>
            (await CallAsync(job, client, new Envelope { Step = "vfl", Vfl = frame }, c)).Vfl ?? new VflFrame());
        using var party = new VflParty(VflRole.Guest, aligned, options, resume);
        await party.ConnectAsync(channel, ct);
        var sw = Stopwatch.StartNew();
        while (!party.Stopped && party.Epoch < options.Epochs)
        {
            var epochWatch = Stopwatch.StartNew();
            await party.TrainAsync(channel, null, party.Epoch + 1, null, ct);
            var metrics = await party.EvaluateAsync(channel, ct);
            await channel.FlushAsync(ct);
            await vfl.SaveEpochAsync(job.Id, new VflEpochRecord(party.Epoch, epochWatch.Elapsed.TotalSeconds, metrics,
                System.Text.Encoding.UTF8.GetString(party.Checkpoint().Serialize()), party.Stopped, time.GetUtcNow().ToUnixTimeMilliseconds()), ct);
            log.LogInformation("collab: vfl job {Job} epoch {Epoch}: held-out AUC {Auc:F4}, log loss {LogLoss:F4}", job.Id, party.Epoch, metrics.Auc, metrics.LogLoss);
        }

        // 4. This party's part of the model and the held-out figures, stored with the job; the peer stores its own.
        var all = await vfl.EpochsAsync(job.Id, ct);
        var last = all[^1];
        var weights = new JsonObject();
        for (var j = 0; j < table.Info.FeatureNames.Count; j++)
        {
            weights[table.Info.FeatureNames[j]] = party.Weights[j + 1];
        }

        var result = new JsonObject
        {
            ["protocol"] = CollabTerms.VflTrain,
            ["role"] = "label_side",
            ["job_id"] = job.Id,
            ["intersection"] = aligned.Rows,
            ["own_rows"] = table.Ids.Count,
            ["peer_rows"] = peerCount,
            ["skipped_not_in_intersection"] = aligned.SkippedNotInIntersection,
            ["epochs"] = party.Epoch,
            ["stopped_early"] = party.Epoch < options.Epochs,
            ["holdout"] = Metrics(last.Holdout),
            ["progress"] = new JsonArray([.. all.Select(e => (JsonNode)new JsonObject
            {
                ["epoch"] = e.Epoch, ["seconds"] = Math.Round(e.Seconds, 3), ["log_loss"] = e.Holdout.LogLoss, ["auc"] = e.Holdout.Auc,
            })]),
            ["model"] = new JsonObject { ["intercept"] = party.Weights[0], ["weights"] = weights },
            ["load_report"] = JsonNode.Parse(table.Info.LoadReport),
            ["train_seconds_this_run"] = Math.Round(sw.Elapsed.TotalSeconds, 3),
        };
        if (await store.MoveAsync(job.Id, CollabJobState.Running, CollabJobState.Finished, new CollabJobChange { ResultJson = result.ToJsonString() },
                "node", "finished", $"held-out AUC {last.Holdout.Auc:F4} after {party.Epoch} epochs", ct))
        {
            try
            {
                await CallAsync(job, client, new Envelope { Step = "finish" }, ct);
                await store.UpdateAsync(job.Id, CollabJobState.Finished, new CollabJobChange { FinishSent = true }, "node", "finish_sent", job.PeerName, ct);
            }
            catch (RpcException e)
            {
                log.LogInformation("collab: vfl job {Job} finished; the peer will hear it on a later pass ({Detail})", job.Id, e.Status.Detail);
            }
        }
    }

    /// <summary>The longest user id online scoring asks about: what the label side's vfl_score step takes (UTF-8 bytes).</summary>
    public const int MaxUserIdBytes = 256;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Task<VflModelPart>> _models = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _asking = new(1, 1);

    /// <summary>
    /// Online scoring, the ad side asking "how likely is this user to buy": its partial score u_H for the user goes to
    /// the label side with the id, the probability comes back. Null when this node does not hold the user; NaN when the
    /// label side does not. Asks are sent one at a time (each carries the next sequence number, which the peer requires
    /// to increase).
    /// </summary>
    public async Task<double?> AskVflAsync(string jobId, string userId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(userId);
        if (userId.Length == 0 || System.Text.Encoding.UTF8.GetByteCount(userId) > MaxUserIdBytes)
        {
            throw new CollabProtocolException("invalid_request", $"a user id is 1–{MaxUserIdBytes} bytes (UTF-8)");
        }

        var job = await store.GetJobAsync(jobId, ct) ?? throw new CollabProtocolException("not_found", $"no job {jobId}");
        if (job.Terms.Protocol != CollabTerms.VflTrain || job.IsDriver || vfl is null)
        {
            throw new CollabProtocolException("wrong_role", "only the ad side of a vfl-train job asks for online scores");
        }

        if (job.State != CollabJobState.Finished)
        {
            throw new CollabProtocolException("not_finished", $"job {jobId} is {job.State.Wire()}: no model yet");
        }

        VflModelPart model;
        try
        {
            model = await _models.GetOrAdd(job.Id, _ => VflModelPart.LoadAsync(vfl!, job, CancellationToken.None));
        }
        catch (CollabProtocolException)
        {
            _models.TryRemove(job.Id, out _);
            throw;
        }

        if (model.PartialScore(userId) is not { } uH)
        {
            return null;
        }

        var peer = await store.GetPeerAsync(job.PeerName, ct) ?? throw new InvalidOperationException($"job {job.Id}: no peer {job.PeerName}");
        await _asking.WaitAsync(ct);
        try
        {
            var reply = await CallAsync(job, clients.For(peer), new Envelope
            {
                Step = "vfl_score",
                Vfl = new VflFrame { Messages = { Google.Protobuf.ByteString.CopyFromUtf8(userId), Google.Protobuf.ByteString.CopyFrom(VflMessage.Double(uH)) } },
            }, ct);
            return reply.Vfl is { Messages.Count: 1 } f && f.Messages[0].Length == 8
                ? VflMessage.ReadDouble(f.Messages[0].ToByteArray())
                : throw new CollabProtocolException("bad_message", "the label side's answer carries no probability");
        }
        finally
        {
            _asking.Release();
        }
    }

    internal static JsonObject Metrics(Hutong.Collab.Vfl.Model.BinaryMetrics m) => new()
    {
        ["auc"] = m.Auc, ["ks"] = m.Ks, ["log_loss"] = m.LogLoss, ["rows"] = m.Rows, ["positives"] = m.Positives,
    };

    /// <summary>
    /// ECDH-PSI alignment (revealing the intersection to both sides): H(id)^a out, H(id)^ab back in our order beside the
    /// peer's H(id')^b; matched (own row, peer row) pairs in the order of the ids (ordinal), as PartyTableLoader.Intersection
    /// orders them, so both parties hold the same aligned ids in the same order (their handshake digest checks it).
    /// </summary>
    private async Task<(List<(int Own, int Peer)> Pairs, int PeerCount)> AlignAsync(CollabJob job, CollabNode.CollabNodeClient client, string step,
        IReadOnlyList<string> ids, CancellationToken ct)
    {
        var suite = VflWire.Suite(job.Id);
        using var key = SecretScalar.Generate();
        var mine = EcdhPsi.Mask(suite, key, ids);
        var align = await CallAsync(job, client, new Envelope { Step = step, Vfl = new VflFrame { Messages = { Google.Protobuf.ByteString.CopyFrom(mine) } } }, ct);
        if (align.Vfl is not { Messages.Count: 2 } a)
        {
            throw new CollabProtocolException("bad_message", "the alignment answer needs two items");
        }

        var ownDouble = VflWire.ReadValues(a.Messages[0].Span);
        if (ownDouble.Length != ids.Count || a.Messages[1].Length % Ristretto255.PointBytes != 0)
        {
            throw new CollabProtocolException("bad_message", "the alignment answer has the wrong number of values");
        }

        var peerCount = a.Messages[1].Length / Ristretto255.PointBytes;
        var peerDouble = EcdhPsi.Remask(suite, key, new EcdhPsiCipherBatch(CipherType.Enc, string.Empty, 0, 0, true, peerCount, a.Messages[1].Memory));
        var peerRow = new Dictionary<UInt128, int>(peerCount);
        for (var j = 0; j < peerCount; j++)
        {
            peerRow.TryAdd(peerDouble[j], j);
        }

        var pairs = new List<(int Own, int Peer)>();
        for (var i = 0; i < ownDouble.Length; i++)
        {
            if (peerRow.TryGetValue(ownDouble[i], out var j))
            {
                pairs.Add((i, j));
            }
        }

        pairs.Sort((x, y) => string.CompareOrdinal(ids[x.Own], ids[y.Own]));
        return (pairs, peerCount);
    }

    /// <summary>
    /// Runs a vfl job's protocol until it ends: again after an RPC error <paramref name="retry"/> accepts (with backoff up to
    /// RetryMax, at most 1,000 attempts), while the job is still running; any other peer or protocol error fails the job.
    /// </summary>
    private async Task RunVflAttemptsAsync(CollabJob job, string kind, string retrying, Func<CollabJob, Task> attempt, Func<RpcException, bool> retry,
        CancellationToken ct)
    {
        var backoff = options.RetryFirst;
        for (var n = 0; n < 1000 && !ct.IsCancellationRequested; n++)
        {
            job = (await store.GetJobAsync(job.Id, ct))!;
            if (job.State != CollabJobState.Running)
            {
                return;
            }

            try
            {
                await attempt(job);
                return;
            }
            catch (RpcException e) when (retry(e))
            {
                log.LogInformation("collab: {Kind} job {Job}: {Retrying} ({Detail}); next attempt in {Delay}", kind, job.Id, retrying, e.Status.Detail, backoff);
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
            catch (VflProtocolException e)
            {
                await FailAsync(job, e.Code, e.Message, ct);
                return;
            }
        }
    }
}
