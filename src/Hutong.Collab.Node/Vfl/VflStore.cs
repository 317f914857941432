using Hutong.Collab.Vfl.Model;

namespace Hutong.Collab.Node.Vfl;

/// <summary>
/// A feature table as a node stores it (vertical federated learning, issue 20): one row per user — the id, the named
/// numeric features (missing values already imputed with the column mean; how many is in <see cref="LoadReport"/>) and,
/// on the label side, the 0/1 label. The ad side's tables have no label column.
/// </summary>
public sealed record VflTableInfo(string Id, string Name, bool HasLabels, IReadOnlyList<string> FeatureNames, long Rows, string LoadReport, long CreatedAt);

/// <summary>A table's rows in upload order, column-major (30,000 rows × 23 features is 5.5 MB: it is read whole).</summary>
public sealed record VflTableData(VflTableInfo Info, IReadOnlyList<string> Ids, double[][] Columns, int[]? Labels);

/// <summary>One finished epoch of a vfl-train job on one node: its held-out metrics and this party's checkpoint.</summary>
public sealed record VflEpochRecord(int Epoch, double Seconds, BinaryMetrics Holdout, string CheckpointJson, bool Stopped, long At);

/// <summary>
/// The node's VFL storage (migration 0038, SQLite and PostgreSQL in Hutong.Server/Collab/Nodes): feature tables and,
/// per job, each finished epoch (progress, metrics, this party's checkpoint — never the peer's).
/// </summary>
public interface IVflStore
{
    Task<VflTableInfo?> GetTableAsync(string tableId, CancellationToken ct);

    Task<VflTableData?> LoadTableAsync(string tableId, CancellationToken ct);

    /// <summary>Stores an epoch once (a replayed epoch after a resume overwrites the same row).</summary>
    Task SaveEpochAsync(string jobId, VflEpochRecord epoch, CancellationToken ct);

    Task<IReadOnlyList<VflEpochRecord>> EpochsAsync(string jobId, CancellationToken ct);

    /// <summary>vfl-score, the label side: stores scored rows (a row stored again by a resumed run is overwritten).</summary>
    Task SaveScoresAsync(string jobId, IReadOnlyList<VflScoreRow> rows, CancellationToken ct);

    /// <summary>vfl-score: a page of a job's scores, in row order, after row <paramref name="afterRow"/> (exclusive).</summary>
    Task<IReadOnlyList<VflScoreRow>> ScoresAsync(string jobId, int afterRow, int limit, CancellationToken ct);
}

/// <summary>One scored user of a vfl-score job (the label side only): its row in the aligned order, id and probability.</summary>
public sealed record VflScoreRow(int Row, string UserId, double Probability);
