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

    public static Task<VflModelPart> LoadAsync(IVflStore store, CollabJob job, CancellationToken ct) => LoadAsync(store, job.Id, job.OwnDataSet, ct);

    /// <summary>The trained weights of vfl-train job <paramref name="trainJobId"/> over feature table <paramref name="tableId"/> (batch scoring: another table with the same features).</summary>
    public static async Task<VflModelPart> LoadAsync(IVflStore store, string trainJobId, string tableId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(store);
        var table = await store.LoadTableAsync(tableId, ct) ?? throw new CollabProtocolException("unknown_data_set", $"no feature table {tableId}");
        var epochs = await store.EpochsAsync(trainJobId, ct);
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

    /// <summary>Whether this is the label side's part (its weights start with the intercept).</summary>
    public bool IsLabelSide => _intercept;

    /// <summary>The table's rows (upload order).</summary>
    public int Rows => _columns.Length == 0 ? _rowOf.Count : _columns[0].Length;

    /// <summary>This party's partial score x·w of a user (the intercept included on the label side); null for a user it does not hold.</summary>
    public double? PartialScore(string id) => _rowOf.TryGetValue(id, out var row) ? PartialScoreAt(row) : null;

    /// <summary>This party's partial score of the table's row <paramref name="row"/> (upload order).</summary>
    public double PartialScoreAt(int row)
    {
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
