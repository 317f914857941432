using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Google.Protobuf;
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
/// vfl-train on the ad side (it answers): "vfl_align" masks its ids for the alignment and masks the label side's again;
/// "vfl_begin" takes the intersection rows and starts this node's party (from its last stored epoch) on a task of its
/// own; "vfl" carries the protocol's messages both ways; "finish" stores this party's part of the model with the job.
/// Every step passed the envelope checks first (known peer, job, approvals, a fresh sequence number).
/// </summary>
public sealed partial class CollabResponder
{
    private readonly ConcurrentDictionary<string, VflAlignment> _alignments = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, VflResponderSession> _vfl = new(StringComparer.Ordinal);

    private async Task<Envelope> VflStepAsync(CollabJob job, Envelope e, Envelope reply, CancellationToken ct)
    {
        if (job.Terms.Protocol != CollabTerms.VflTrain || vfl is null)
        {
            throw new CollabProtocolException("bad_step", $"{e.Step} belongs to vfl-train jobs");
        }

        switch (e.Step)
        {
            case "vfl_align":
            {
                if (e.Vfl.Messages.Count != 1 || e.Vfl.Messages[0].Length % Ristretto255.PointBytes != 0)
                {
                    throw new CollabProtocolException("bad_message", "vfl_align carries the label side's masked ids, 32 bytes each");
                }

                var table = await vfl.LoadTableAsync(job.OwnDataSet, ct);
                if (table is null || table.Labels is not null)
                {
                    throw new CollabProtocolException("unknown_data_set", $"this node has no unlabelled feature table {job.OwnDataSet}");
                }

                var suite = VflWire.Suite(job.Id);
                using var key = SecretScalar.Generate();
                var count = e.Vfl.Messages[0].Length / Ristretto255.PointBytes;
                var theirs = EcdhPsi.Remask(suite, key, new EcdhPsiCipherBatch(CipherType.Enc, string.Empty, 0, 0, true, count, e.Vfl.Messages[0].Memory));
                var ours = EcdhPsi.Mask(suite, key, table.Ids);
                DropVfl(job.Id);
                _alignments[job.Id] = new VflAlignment(table);
                reply.Vfl = new VflFrame { Messages = { ByteString.CopyFrom(VflWire.Values(theirs)), ByteString.CopyFrom(ours) } };
                return reply;
            }

            case "vfl_begin":
            {
                if (!_alignments.TryRemove(job.Id, out var alignment))
                {
                    throw new CollabProtocolException("no_session", "no alignment here (this node restarted?): align again");
                }

                var table = alignment.Table;
                var rows = e.Vfl.Messages.Count == 1 ? VflWire.ReadInts(e.Vfl.Messages[0].Span) : [];
                if (rows.Length < 2 || rows.Any(r => r < 0 || r >= table.Ids.Count) || rows.Distinct().Count() != rows.Length)
                {
                    throw new CollabProtocolException("bad_message", "vfl_begin names rows this table does not have, or a row twice");
                }

                var aligned = new AlignedData([.. rows.Select(r => table.Ids[r])], table.Info.FeatureNames,
                    [.. table.Columns.Select(c => rows.Select(r => c[r]).ToArray())], null, table.Ids.Count - rows.Length);
                var epochs = await vfl.EpochsAsync(job.Id, ct);
                var resume = epochs.Count > 0 ? VflCheckpoint.Parse(System.Text.Encoding.UTF8.GetBytes(epochs[^1].CheckpointJson)) : null;
                var options = job.Terms.Vfl!.ToOptions();
                var session = new VflResponderSession(rows);
                var party = new VflParty(VflRole.Host, aligned, options, resume);
                var vflStore = vfl;
                DropVfl(job.Id);
                session.Start(async (end, stop) =>
                {
                    using (party)
                    {
                        await party.ConnectAsync(end, stop);
                        while (!party.Stopped && party.Epoch < options.Epochs)
                        {
                            var sw = Stopwatch.StartNew();
                            await party.TrainAsync(end, null, party.Epoch + 1, null, stop);
                            var metrics = await party.EvaluateAsync(end, stop); // the figures only: no per-row prediction comes back
                            await vflStore.SaveEpochAsync(job.Id, new VflEpochRecord(party.Epoch, sw.Elapsed.TotalSeconds, metrics,
                                System.Text.Encoding.UTF8.GetString(party.Checkpoint().Serialize()), party.Stopped, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()), stop);
                        }
                    }
                });
                _vfl[job.Id] = session;
                await store.AuditAsync(job.Id, "node", "vfl_aligned",
                    $"{rows.Length} ids in the intersection ({table.Ids.Count} here); {(resume is null ? "training from scratch" : $"resuming after epoch {resume.Epoch}")}", ct);
                return reply;
            }

            default: // "vfl"
            {
                if (!_vfl.TryGetValue(job.Id, out var session))
                {
                    throw new CollabProtocolException("no_session", "no training runs here for this job (this node restarted?): begin again");
                }

                var wait = TimeSpan.FromTicks(Math.Max(TimeSpan.FromSeconds(1).Ticks, Math.Min(TimeSpan.FromSeconds(20).Ticks, options.CallTimeout.Ticks / 2)));
                reply.Vfl = await session.ExchangeAsync(e.Vfl, wait, ct);
                return reply;
            }
        }
    }

    private async Task<Envelope> VflFinishAsync(CollabJob job, CollabPeer peer, Envelope reply, CancellationToken ct)
    {
        if (_vfl.TryGetValue(job.Id, out var session) && session.Run is { } run)
        {
            try
            {
                await run.WaitAsync(TimeSpan.FromSeconds(30), ct); // the last epoch's record is being written
            }
            catch (Exception x) when (x is not OperationCanceledException)
            {
                log.LogWarning("collab: vfl job {Job}: this node's party ended with {Error}", job.Id, x.Message);
            }
        }

        var epochs = vfl is null ? [] : await vfl.EpochsAsync(job.Id, ct);
        JsonObject result;
        if (epochs.Count == 0)
        {
            result = new JsonObject { ["protocol"] = CollabTerms.VflTrain, ["role"] = "ad_side", ["job_id"] = job.Id, ["epochs"] = 0 };
        }
        else
        {
            var last = epochs[^1];
            var checkpoint = VflCheckpoint.Parse(System.Text.Encoding.UTF8.GetBytes(last.CheckpointJson));
            var info = await vfl!.GetTableAsync(job.OwnDataSet, ct);
            var weights = new JsonObject();
            for (var j = 0; j < checkpoint.Weights.Length; j++)
            {
                weights[info?.FeatureNames.ElementAtOrDefault(j) ?? $"x{j}"] = checkpoint.Weights[j];
            }

            result = new JsonObject
            {
                ["protocol"] = CollabTerms.VflTrain,
                ["role"] = "ad_side",
                ["job_id"] = job.Id,
                ["intersection"] = session?.HostRows.Length,
                ["own_rows"] = info?.Rows,
                ["epochs"] = checkpoint.Epoch,
                // What the protocol lets the ad side learn about the model's quality: the label side's three figures.
                ["holdout"] = CollabRunner.Metrics(last.Holdout),
                ["progress"] = new JsonArray([.. epochs.Select(e => (JsonNode)new JsonObject
                {
                    ["epoch"] = e.Epoch, ["seconds"] = Math.Round(e.Seconds, 3), ["log_loss"] = e.Holdout.LogLoss, ["auc"] = e.Holdout.Auc,
                })]),
                ["model"] = new JsonObject { ["weights"] = weights },
                ["load_report"] = info is null ? null : JsonNode.Parse(info.LoadReport),
            };
        }

        await store.MoveAsync(job.Id, CollabJobState.Running, CollabJobState.Finished, new CollabJobChange { ResultJson = result.ToJsonString() },
            "peer:" + peer.Name, "finished", "this node's part of the model is stored with the job", ct);
        Drop(job.Id);
        return reply;
    }

    private readonly ConcurrentDictionary<string, Task<VflModelPart>> _models = new(StringComparer.Ordinal);

    /// <summary>
    /// Online scoring, the label side answering: the ad side sends a user id and its partial score u_H; this node adds
    /// its own u_G and answers σ(u_G + u_H) — NaN for a user it does not hold. The envelope checks (peer, job, a fresh
    /// sequence number) apply as to every step; the job must be a finished vfl-train job this node trained as label side.
    /// </summary>
    private async Task<Envelope> VflScoreAsync(CollabJob job, Envelope e, CancellationToken ct)
    {
        if (job.Terms.Protocol != CollabTerms.VflTrain || vfl is null || !job.IsDriver)
        {
            throw CollabWireErrors.Refuse("bad_step", "vfl_score asks the label side of a vfl-train job");
        }

        if (e.Vfl is not { Messages.Count: 2 } f || f.Messages[0].Length is 0 or > 256 || f.Messages[1].Length != 8)
        {
            throw CollabWireErrors.Refuse("bad_message", "vfl_score carries a user id and the ad side's partial score");
        }

        if (job.State != CollabJobState.Finished)
        {
            throw CollabWireErrors.Refuse("not_finished", $"the job is {job.State.Wire()}: no model to score with yet", Grpc.Core.StatusCode.FailedPrecondition);
        }

        if (e.Seq <= job.LastSeq || !await store.AcceptSeqAsync(job.Id, e.Seq, ct))
        {
            throw CollabWireErrors.Refuse("replayed", $"sequence number {e.Seq} was already seen: a replayed message");
        }

        VflModelPart model;
        try
        {
            model = await _models.GetOrAdd(job.Id, _ => VflModelPart.LoadAsync(vfl!, job, CancellationToken.None));
        }
        catch (CollabProtocolException x)
        {
            _models.TryRemove(job.Id, out _);
            throw CollabWireErrors.Refuse(x.Code, x.Message);
        }

        var id = System.Text.Encoding.UTF8.GetString(f.Messages[0].Span);
        var uH = VflMessage.ReadDouble(f.Messages[1].ToByteArray());
        var p = model.PartialScore(id) is { } uG && double.IsFinite(uH) ? 1 / (1 + Math.Exp(-(uG + uH))) : double.NaN;
        return new Envelope
        {
            JobId = job.Id, Step = e.Step, Bucket = e.Bucket, Seq = e.Seq,
            Vfl = new VflFrame { Messages = { ByteString.CopyFrom(VflMessage.Double(p)) } },
        };
    }

    private void DropVfl(string jobId)
    {
        _alignments.TryRemove(jobId, out _);
        if (_vfl.TryRemove(jobId, out var s))
        {
            s.Dispose();
        }
    }

    private sealed record VflAlignment(VflTableData Table);
}
