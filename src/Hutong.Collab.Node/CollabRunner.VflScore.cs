using System.Text.Json.Nodes;
using Grpc.Core;
using Hutong.Collab.Crypto;
using Hutong.Collab.Node.Vfl;
using Hutong.Collab.Node.Wire;
using Hutong.Collab.Psi;
using Hutong.Collab.Vfl;
using Hutong.Collab.Vfl.Protocol;
using Microsoft.Extensions.Logging;

namespace Hutong.Collab.Node;

/// <summary>
/// vfl-score on the label side (it drives and receives the scores): align this node's feature table with the ad side's
/// by ECDH-PSI (as vfl-train does), then ask the ad side, chunk by chunk, for its partial scores u_H of the intersection's
/// rows ("vfl_score_rows": its row numbers in, one 8-byte double per row out); add this node's u_G and store σ(u_G + u_H)
/// per user. The ad side learns which of its users are in the intersection and the counts, never a score. A killed
/// node begins again from the alignment; rows already stored are overwritten with the same values.
/// </summary>
public sealed partial class CollabRunner
{
    /// <summary>Rows asked for in one vfl_score_rows call (the ad side refuses more).</summary>
    public const int VflScoreChunk = 4096;

    private async Task DriveVflScoreAsync(CollabJob job, CancellationToken ct)
    {
        if (vfl is null)
        {
            await FailAsync(job, "vfl_unavailable", "this node has no VFL store", ct);
            return;
        }

        var peer = await store.GetPeerAsync(job.PeerName, ct) ?? throw new InvalidOperationException($"job {job.Id}: no peer {job.PeerName}");
        var client = clients.For(peer);
        VflModelPart model;
        VflTableData? table;
        try
        {
            var train = job.Terms.TrainJob is { } t ? await store.GetJobAsync(t, ct) : null;
            if (train is not { State: CollabJobState.Finished } || train.Terms.Protocol != CollabTerms.VflTrain || !train.IsDriver)
            {
                throw new CollabProtocolException("unknown_train_job", $"this node holds no finished vfl-train job {job.Terms.TrainJob} it trained as the label side");
            }

            table = await vfl.LoadTableAsync(job.OwnDataSet, ct) ?? throw new CollabProtocolException("unknown_data_set", $"this node has no feature table {job.OwnDataSet}");
            model = await VflModelPart.LoadAsync(vfl, train.Id, job.OwnDataSet, ct);
            if (!model.IsLabelSide)
            {
                throw new CollabProtocolException("bad_checkpoint", "the stored model part is not the label side's");
            }
        }
        catch (CollabProtocolException e)
        {
            await FailAsync(job, e.Code, e.Message, ct);
            return;
        }

        if (job.State == CollabJobState.Approved)
        {
            await store.MoveAsync(job.Id, CollabJobState.Approved, CollabJobState.Running, CollabJobChange.None, "node", "started", $"vfl-score with {job.Terms.TrainJob}, instance {_instance}", ct);
        }

        await RunVflAttemptsAsync(job, "vfl-score", "peer unavailable; beginning again", j => ScoreVflAsync(j, client, table, model, ct),
            CollabWireErrors.IsTransient, ct);
    }

    private async Task ScoreVflAsync(CollabJob job, CollabNode.CollabNodeClient client, VflTableData table, VflModelPart model, CancellationToken ct)
    {
        // 1. Alignment, as for training: H(id)^a out; H(id)^ab in our order and the peer's H(id')^b back.
        var (pairs, peerCount) = await AlignAsync(job, client, "vfl_score_align", table.Ids, ct);
        await store.AuditAsync(job.Id, "node", "vfl_aligned", $"{pairs.Count} ids in the intersection ({table.Ids.Count} here, {peerCount} there)", ct);

        // 2. The ad side's partial scores, chunk by chunk; σ(u_G + u_H) stored per user (row = position in the aligned order).
        double sum = 0;
        for (var start = 0; start < pairs.Count; start += VflScoreChunk)
        {
            var chunk = pairs.GetRange(start, Math.Min(VflScoreChunk, pairs.Count - start));
            var reply = await CallAsync(job, client, new Envelope
            {
                Step = "vfl_score_rows", Index = start,
                Vfl = new VflFrame { Messages = { Google.Protobuf.ByteString.CopyFrom(VflWire.Ints([.. chunk.Select(p => p.Peer)])) } },
            }, ct);
            if (reply.Vfl is not { Messages.Count: 1 } f || f.Messages[0].Length != chunk.Count * 8)
            {
                throw new CollabProtocolException("bad_message", $"the ad side's answer to rows {start}… does not carry {chunk.Count} partial scores");
            }

            var partial = VflMessage.ReadDoubles(f.Messages[0].ToByteArray());
            var rows = new List<VflScoreRow>(chunk.Count);
            for (var k = 0; k < chunk.Count; k++)
            {
                var uH = partial[k];
                if (!double.IsFinite(uH))
                {
                    throw new CollabProtocolException("bad_message", "the ad side sent a partial score that is not a finite number");
                }

                var p = 1 / (1 + Math.Exp(-(model.PartialScoreAt(chunk[k].Own) + uH)));
                sum += p;
                rows.Add(new VflScoreRow(start + k, table.Ids[chunk[k].Own], p));
            }

            await vfl!.SaveScoresAsync(job.Id, rows, ct);
        }

        // 3. The label side's result: counts and the mean score; the ad side is told the counts only.
        var result = new JsonObject
        {
            ["protocol"] = CollabTerms.VflScore,
            ["role"] = "label_side",
            ["job_id"] = job.Id,
            ["train_job"] = job.Terms.TrainJob,
            ["own_rows"] = table.Ids.Count,
            ["peer_rows"] = peerCount,
            ["scored"] = pairs.Count,
            ["skipped_not_in_intersection"] = table.Ids.Count - pairs.Count,
            ["mean_probability"] = pairs.Count == 0 ? null : sum / pairs.Count,
        };
        if (await store.MoveAsync(job.Id, CollabJobState.Running, CollabJobState.Finished, new CollabJobChange { ResultJson = result.ToJsonString() },
                "node", "finished", $"{pairs.Count} users scored", ct))
        {
            try
            {
                await CallAsync(job, client, new Envelope { Step = "finish", Delivery = new Delivery { ResultJson = VflScoreCounts(result.ToJsonString()) } }, ct);
                await store.UpdateAsync(job.Id, CollabJobState.Finished, new CollabJobChange { FinishSent = true }, "node", "finish_sent", job.PeerName, ct);
            }
            catch (RpcException e)
            {
                log.LogInformation("collab: vfl-score job {Job} finished; the peer will hear it on a later pass ({Detail})", job.Id, e.Status.Detail);
            }
        }
    }

    /// <summary>What the ad side of a vfl-score job is told at the end: counts only (no score, no mean).</summary>
    internal static string VflScoreCounts(string? labelSideResult)
    {
        var r = labelSideResult is null ? new JsonObject() : JsonNode.Parse(labelSideResult)!.AsObject();
        return new JsonObject
        {
            ["protocol"] = CollabTerms.VflScore,
            ["role"] = "ad_side",
            ["job_id"] = r["job_id"]?.DeepClone(),
            ["train_job"] = r["train_job"]?.DeepClone(),
            ["own_rows"] = r["peer_rows"]?.DeepClone(),
            ["scored"] = r["scored"]?.DeepClone(),
        }.ToJsonString();
    }
}
