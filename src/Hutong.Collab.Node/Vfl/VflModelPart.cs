using Hutong.Collab.Vfl.Protocol;

namespace Hutong.Collab.Node.Vfl;

/// <summary>
/// One party's trained part of a vfl-train model, ready to score its own users: its feature table indexed by id and its
/// weights from the last stored epoch (the label side's intercept first). Loaded once per job and kept (30,000 rows ×
/// 23 features is a few MB).
/// </summary>
internal sealed class VflModelPart
{
    private readonly Dictionary<string, int> _rowOf;
    private readonly double[][] _columns;
    private readonly double[] _weights;
    private readonly bool _intercept;

    private VflModelPart(VflTableData table, double[] weights, bool intercept)
    {
        _rowOf = new Dictionary<string, int>(table.Ids.Count, StringComparer.Ordinal);
        for (var i = 0; i < table.Ids.Count; i++)
        {
            _rowOf.TryAdd(table.Ids[i], i);
        }

        _columns = table.Columns;
        _weights = weights;
        _intercept = intercept;
    }

    public static async Task<VflModelPart> LoadAsync(IVflStore store, CollabJob job, CancellationToken ct)
    {
        var table = await store.LoadTableAsync(job.OwnDataSet, ct) ?? throw new CollabProtocolException("unknown_data_set", $"no feature table {job.OwnDataSet}");
        var epochs = await store.EpochsAsync(job.Id, ct);
        if (epochs.Count == 0)
        {
            throw new CollabProtocolException("no_model", "the job stored no trained epoch");
        }

        var checkpoint = VflCheckpoint.Parse(System.Text.Encoding.UTF8.GetBytes(epochs[^1].CheckpointJson));
        var intercept = checkpoint.Role == VflRole.Guest;
        if (checkpoint.Weights.Length != table.Columns.Length + (intercept ? 1 : 0))
        {
            throw new CollabProtocolException("bad_checkpoint", "the stored model does not fit the feature table");
        }

        return new VflModelPart(table, checkpoint.Weights, intercept);
    }

    /// <summary>This party's partial score x·w of a user (the intercept included on the label side); null for a user it does not hold.</summary>
    public double? PartialScore(string id)
    {
        if (!_rowOf.TryGetValue(id, out var row))
        {
            return null;
        }

        var off = _intercept ? 1 : 0;
        var u = _intercept ? _weights[0] : 0.0;
        for (var j = 0; j < _columns.Length; j++)
        {
            // the same fixed-point grid the training used
            u += _weights[j + off] * FixedPoint.FeatureValue(FixedPoint.Feature(_columns[j][row]));
        }

        return u;
    }
}
