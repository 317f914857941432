using System.Globalization;
using System.Text.Json;
using Dapper;
using Hutong.Collab.Node.Vfl;
using Hutong.Collab.Vfl.Data;
using Hutong.Collab.Vfl.Model;
using Hutong.Server.Storage;

namespace Hutong.Server.Collab.Nodes;

/// <summary>
/// Feature tables and per-epoch training records of vertical federated learning (migration 0038) on SQLite or
/// PostgreSQL. A table is written in one transaction (all rows or none). Rows are read whole: 30,000 rows × 23 features
/// is about 5.5 MB of doubles, and the protocol needs every row of the intersection in every epoch anyway.
/// </summary>
public sealed class SqlVflStore(Db db, TimeProvider time) : IVflStore
{
    private const int InsertChunk = 500;

    /// <summary>Stores a loaded table (ids as given; features imputed by the loader) and returns its description.</summary>
    public async Task<VflTableInfo> CreateTableAsync(string name, PartyTable table, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(table);
        var id = "vft_" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(10));
        var info = new VflTableInfo(id, name, table.Labels is not null, table.FeatureNames, table.Rows, ReportJson(table.Report), time.GetUtcNow().ToUnixTimeMilliseconds());
        await db.WriteAsync(async (c, t) =>
        {
            await c.ExecuteAsync("""
                INSERT INTO collab_vfl_tables (id, name, has_labels, feature_names, row_count, load_report, created_at)
                VALUES (@Id, @Name, @HasLabels, @Names, @Rows, @LoadReport, @CreatedAt)
                """, new { info.Id, info.Name, info.HasLabels, Names = JsonSerializer.Serialize(info.FeatureNames), info.Rows, info.LoadReport, info.CreatedAt }, t);
            for (var start = 0; start < table.Rows; start += InsertChunk)
            {
                var rows = Enumerable.Range(start, Math.Min(InsertChunk, table.Rows - start)).Select(r => new
                {
                    TableId = id,
                    RowNo = r,
                    UserId = table.Ids[r],
                    Label = table.Labels is { } l ? (int?)l[r] : null,
                    Features = string.Join(',', table.Columns.Select(col => col[r].ToString("R", CultureInfo.InvariantCulture))),
                });
                await c.ExecuteAsync("INSERT INTO collab_vfl_rows (table_id, row_no, user_id, label, features) VALUES (@TableId, @RowNo, @UserId, @Label, @Features)", rows, t);
            }

            return 0;
        }, ct);
        return info;
    }

    public Task<VflTableInfo?> GetTableAsync(string tableId, CancellationToken ct) =>
        db.ReadAsync(async c => (await c.QuerySingleOrDefaultAsync<TableRow?>(
            "SELECT id, name, has_labels, feature_names, row_count, load_report, created_at FROM collab_vfl_tables WHERE id = @tableId", new { tableId }))?.ToInfo(), ct);

    public async Task<IReadOnlyList<VflTableInfo>> ListTablesAsync(CancellationToken ct) =>
        [.. (await db.ReadAsync(c => c.QueryAsync<TableRow>(
            "SELECT id, name, has_labels, feature_names, row_count, load_report, created_at FROM collab_vfl_tables ORDER BY created_at DESC, id"), ct)).Select(r => r.ToInfo())];

    public async Task<VflTableData?> LoadTableAsync(string tableId, CancellationToken ct)
    {
        if (await GetTableAsync(tableId, ct) is not { } info)
        {
            return null;
        }

        var rows = (await db.ReadAsync(c => c.QueryAsync<DataRow>(
            "SELECT row_no, user_id, label, features FROM collab_vfl_rows WHERE table_id = @tableId ORDER BY row_no", new { tableId }), ct)).ToList();
        var columns = info.FeatureNames.Select(_ => new double[rows.Count]).ToArray();
        var ids = new string[rows.Count];
        var labels = info.HasLabels ? new int[rows.Count] : null;
        for (var r = 0; r < rows.Count; r++)
        {
            ids[r] = rows[r].UserId;
            var values = rows[r].Features.Split(',');
            for (var j = 0; j < columns.Length; j++)
            {
                columns[j][r] = double.Parse(values[j], CultureInfo.InvariantCulture);
            }

            if (labels is not null)
            {
                labels[r] = (int)(rows[r].Label ?? 0);
            }
        }

        return new VflTableData(info, ids, columns, labels);
    }

    public Task SaveEpochAsync(string jobId, VflEpochRecord epoch, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(epoch);
        return db.WriteAsync(async (c, t) => await c.ExecuteAsync("""
            INSERT INTO collab_vfl_epochs (job_id, epoch, seconds, auc, ks, log_loss, holdout_rows, positives, stopped, checkpoint_json, at)
            VALUES (@jobId, @Epoch, @Seconds, @Auc, @Ks, @LogLoss, @Rows, @Positives, @Stopped, @CheckpointJson, @At)
            ON CONFLICT (job_id, epoch) DO UPDATE SET seconds = excluded.seconds, auc = excluded.auc, ks = excluded.ks, log_loss = excluded.log_loss,
                holdout_rows = excluded.holdout_rows, positives = excluded.positives, stopped = excluded.stopped,
                checkpoint_json = excluded.checkpoint_json, at = excluded.at
            """, new
        {
            jobId, epoch.Epoch, epoch.Seconds, epoch.Holdout.Auc, epoch.Holdout.Ks, epoch.Holdout.LogLoss, epoch.Holdout.Rows, epoch.Holdout.Positives,
            epoch.Stopped, epoch.CheckpointJson, epoch.At,
        }, t), ct);
    }

    public async Task<IReadOnlyList<VflEpochRecord>> EpochsAsync(string jobId, CancellationToken ct) =>
        [.. (await db.ReadAsync(c => c.QueryAsync<EpochRow>("""
            SELECT epoch, seconds, auc, ks, log_loss, holdout_rows, positives, stopped, checkpoint_json, at
            FROM collab_vfl_epochs WHERE job_id = @jobId ORDER BY epoch
            """, new { jobId }), ct)).Select(e => new VflEpochRecord((int)e.Epoch, e.Seconds, new BinaryMetrics(e.Auc, e.Ks, e.LogLoss, (int)e.HoldoutRows, (int)e.Positives),
            e.CheckpointJson, e.Stopped, e.At))];

    public Task SaveScoresAsync(string jobId, IReadOnlyList<VflScoreRow> rows, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(rows);
        return db.WriteAsync(async (c, t) =>
        {
            for (var start = 0; start < rows.Count; start += InsertChunk)
            {
                await c.ExecuteAsync("""
                    INSERT INTO collab_vfl_scores (job_id, row_no, user_id, probability) VALUES (@jobId, @Row, @UserId, @Probability)
                    ON CONFLICT (job_id, row_no) DO UPDATE SET user_id = excluded.user_id, probability = excluded.probability
                    """, rows.Skip(start).Take(InsertChunk).Select(r => new { jobId, r.Row, r.UserId, r.Probability }), t);
            }

            return 0;
        }, ct);
    }

    public async Task<IReadOnlyList<VflScoreRow>> ScoresAsync(string jobId, int afterRow, int limit, CancellationToken ct) =>
        [.. (await db.ReadAsync(c => c.QueryAsync<ScoreRow>(
            "SELECT row_no, user_id, probability FROM collab_vfl_scores WHERE job_id = @jobId AND row_no > @afterRow ORDER BY row_no LIMIT @limit",
            new { jobId, afterRow, limit }), ct)).Select(r => new VflScoreRow((int)r.RowNo, r.UserId, r.Probability))];

    private static string ReportJson(LoadReport r) => JsonSerializer.Serialize(new
    {
        rows_read = r.RowsRead,
        rows_kept = r.RowsKept,
        missing_values_imputed = r.MissingValues,
        imputed = r.Imputed.Select(i => new { column = i.Column, missing = i.Missing, mean = i.Mean }),
        skipped = r.Skipped.Take(100),
        skipped_total = r.Skipped.Count,
    });

    private sealed class TableRow
    {
        public string Id { get; set; } = "";

        public string Name { get; set; } = "";

        public bool HasLabels { get; set; }

        public string FeatureNames { get; set; } = "[]";

        public long RowCount { get; set; }

        public string LoadReport { get; set; } = "{}";

        public long CreatedAt { get; set; }

        public VflTableInfo ToInfo() => new(Id, Name, HasLabels, JsonSerializer.Deserialize<string[]>(FeatureNames) ?? [], RowCount, LoadReport, CreatedAt);
    }

    private sealed class DataRow
    {
        public long RowNo { get; set; }

        public string UserId { get; set; } = "";

        public long? Label { get; set; }

        public string Features { get; set; } = "";
    }

    private sealed class ScoreRow
    {
        public long RowNo { get; set; }

        public string UserId { get; set; } = "";

        public double Probability { get; set; }
    }

    private sealed class EpochRow
    {
        public long Epoch { get; set; }

        public double Seconds { get; set; }

        public double Auc { get; set; }

        public double Ks { get; set; }

        public double LogLoss { get; set; }

        public long HoldoutRows { get; set; }

        public long Positives { get; set; }

        public bool Stopped { get; set; }

        public string CheckpointJson { get; set; } = "";

        public long At { get; set; }
    }
}
