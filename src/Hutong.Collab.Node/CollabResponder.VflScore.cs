using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Hutong.Collab.Crypto;
using Hutong.Collab.Node.Vfl;
using Hutong.Collab.Node.Wire;
using Hutong.Collab.Psi;
using Hutong.Collab.Vfl.Protocol;

namespace Hutong.Collab.Node;

/// <summary>
/// vfl-score on the ad side (it answers): "vfl_score_align" masks its ids for the alignment and the label side's again
/// (as vfl_align); "vfl_score_rows" answers this node's partial scores u_H of the rows named, with the finished vfl-train
/// job's weights over the score job's feature table. Nothing is kept between calls but a cache of the model part: the
/// rows are named by their number in the stored table, so any instance answers. "finish" stores the counts the label
/// side reports; no score ever reaches this node.
/// </summary>
public sealed partial class CollabResponder
{
    private readonly ConcurrentDictionary<string, Task<VflModelPart>> _scoreModels = new(StringComparer.Ordinal);

    private async Task<Envelope> VflScoreStepAsync(CollabJob job, Envelope e, Envelope reply, CancellationToken ct)
    {
        if (job.Terms.Protocol != CollabTerms.VflScore || vfl is null)
        {
            throw new CollabProtocolException("bad_step", $"{e.Step} belongs to vfl-score jobs");
        }

        if (e.Step == "vfl_score_align")
        {
            if (e.Vfl.Messages.Count != 1 || e.Vfl.Messages[0].Length % Ristretto255.PointBytes != 0)
            {
                throw new CollabProtocolException("bad_message", "vfl_score_align carries the label side's masked ids, 32 bytes each");
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
            reply.Vfl = new VflFrame { Messages = { ByteString.CopyFrom(VflWire.Values(theirs)), ByteString.CopyFrom(ours) } };
            await store.AuditAsync(job.Id, "node", "vfl_score_aligned", $"the label side's {count} masked ids masked again; this node's {table.Ids.Count} masked", ct);
            return reply;
        }

        // vfl_score_rows
        var rows = e.Vfl.Messages.Count == 1 ? VflWire.ReadInts(e.Vfl.Messages[0].Span) : [];
        if (rows.Length is 0 or > CollabRunner.VflScoreChunk)
        {
            throw new CollabProtocolException("bad_message", $"vfl_score_rows names 1–{CollabRunner.VflScoreChunk} rows");
        }

        VflModelPart model;
        try
        {
            model = await _scoreModels.GetOrAdd(job.Id, _ => LoadScoreModelAsync(job));
        }
        catch (CollabProtocolException)
        {
            _scoreModels.TryRemove(job.Id, out _);
            throw;
        }

        if (rows.Any(r => r < 0 || r >= model.Rows))
        {
            throw new CollabProtocolException("bad_message", "vfl_score_rows names rows this table does not have");
        }

        var partial = new double[rows.Length];
        for (var k = 0; k < rows.Length; k++)
        {
            partial[k] = model.PartialScoreAt(rows[k]);
        }

        reply.Vfl = new VflFrame { Messages = { ByteString.CopyFrom(VflMessage.Doubles(partial)) } };
        return reply;
    }

    private async Task<VflModelPart> LoadScoreModelAsync(CollabJob job)
    {
        var train = job.Terms.TrainJob is { } t ? await store.GetJobAsync(t, CancellationToken.None) : null;
        if (train is not { State: CollabJobState.Finished } || train.Terms.Protocol != CollabTerms.VflTrain || train.IsDriver || train.PeerName != job.PeerName)
        {
            throw new CollabProtocolException("unknown_train_job", $"this node holds no finished vfl-train job {job.Terms.TrainJob} it trained as the ad side with this peer");
        }

        var model = await VflModelPart.LoadAsync(vfl!, train.Id, job.OwnDataSet, CancellationToken.None);
        return model.IsLabelSide ? throw new CollabProtocolException("bad_checkpoint", "the stored model part is the label side's") : model;
    }

    /// <summary>The label side ended the job: this node stores the counts it reports (scored rows), nothing per row.</summary>
    private async Task<Envelope> VflScoreFinishAsync(CollabJob job, CollabPeer peer, Envelope e, Envelope reply, CancellationToken ct)
    {
        var counts = new JsonObject { ["protocol"] = CollabTerms.VflScore, ["role"] = "ad_side", ["job_id"] = job.Id, ["train_job"] = job.Terms.TrainJob };
        try
        {
            if (e.Delivery is { ResultJson.Length: > 0 and < 4096 } d && JsonNode.Parse(d.ResultJson) is JsonObject told)
            {
                // Only the two counts are kept from what the label side says (a number each, or nothing).
                counts["own_rows"] = told["own_rows"] is JsonValue o && o.TryGetValue<long>(out var own) ? own : null;
                counts["scored"] = told["scored"] is JsonValue s && s.TryGetValue<long>(out var scored) ? scored : null;
            }
        }
        catch (System.Text.Json.JsonException)
        {
            // a malformed report leaves the counts out
        }

        await store.MoveAsync(job.Id, CollabJobState.Running, CollabJobState.Finished, new CollabJobChange { ResultJson = counts.ToJsonString() },
            "peer:" + peer.Name, "finished", "the scores stay with the label side; the counts are stored here", ct);
        _scoreModels.TryRemove(job.Id, out _);
        await DropAsync(job.Id, ct);
        return reply;
    }
}
