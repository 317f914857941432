using System.Data.Common;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Dapper;
using Hutong.Collab.Data;
using Hutong.Collab.Ids;
using Hutong.Server.Storage;

namespace Hutong.Server.Collab.DataSets;

/// <summary>A stored data set's header row.</summary>
public sealed class DataSetRow
{
    public string Id { get; set; } = "";

    public string Name { get; set; } = "";

    public string Kind { get; set; } = "";

    public string IdRule { get; set; } = "";

    public string IdRuleName { get; set; } = "";

    public string Currency { get; set; } = "";

    public string Source { get; set; } = "";

    public string State { get; set; } = "";

    public int StoredBuckets { get; set; }

    public long RowCount { get; set; }

    public long InputRows { get; set; }

    public long MergedRows { get; set; }

    public long ValueTotal { get; set; }

    public long InputBytes { get; set; }

    public string Options { get; set; } = "{}";

    public long CreatedAt { get; set; }

    public long UpdatedAt { get; set; }

    public long? ReadyAt { get; set; }

    public CollabDataSetDto ToDto() => new(Id, "collab_dataset", Name, Kind, IdRule, IdRuleName, Currency, Source, State, StoredBuckets, RowCount, InputRows,
        MergedRows, ValueTotal, InputBytes, JsonSerializer.Deserialize<SortedDictionary<string, string?>>(Options) ?? [],
        DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt), ReadyAt is { } r ? DateTimeOffset.FromUnixTimeMilliseconds(r) : null);
}

/// <summary>One parsed, normalised row on its way to the store.</summary>
public sealed class PendingRow
{
    public required string Id { get; init; }

    public required string Campaign { get; init; }

    public required uint Hash { get; init; }

    public long Value { get; set; }

    public long? Time { get; set; }

    public CollabGroup Group { get; set; }

    /// <summary>The input row it came from (the first one, when several were merged).</summary>
    public long Row { get; init; }

    public string? Where { get; init; }
}

/// <summary>How a chunk's rows meet rows already stored under the same key.</summary>
public enum ChunkMerge
{
    /// <summary>Insert; a key already stored is reported back (conversions, duplicates refused).</summary>
    RefuseExisting,

    /// <summary>Add the values, keep the earliest time (conversions, duplicates summed).</summary>
    Sum,

    /// <summary>Keep the earliest exposure (exposures).</summary>
    Earliest,
}

/// <summary>
/// The collab_datasets and collab_dataset_rows tables (migration 0036), and <see cref="ICollabDataSets"/> for the job
/// engine: a ready data set's rows, one bucket at a time, streamed from one index range.
/// </summary>
public sealed class CollabDataSetStore(Db db) : ICollabDataSets
{
    /// <summary>Rows are stored in this many buckets; a job may use any bucket count (see <see cref="ReadBucketAsync"/>).</summary>
    public const int StoredBuckets = 256;

    /// <summary>Rows per INSERT statement: 8 parameters each, well under SQLite's 32,766 and PostgreSQL's 65,535.</summary>
    private const int RowsPerStatement = 500;

    private const string Columns = "id, name, kind, id_rule, id_rule_name, currency, source, state, stored_buckets, row_count, input_rows, merged_rows, value_total, input_bytes, options, created_at, updated_at, ready_at";

    public Task InsertAsync(DbConnection c, DbTransaction t, DataSetRow row) =>
        c.ExecuteAsync($"""
            INSERT INTO collab_datasets ({Columns})
            VALUES (@Id, @Name, @Kind, @IdRule, @IdRuleName, @Currency, @Source, @State, @StoredBuckets, @RowCount, @InputRows, @MergedRows, @ValueTotal, @InputBytes, @Options, @CreatedAt, @UpdatedAt, @ReadyAt)
            """, row, t);

    public async Task<DataSetRow?> FindAsync(string id, CancellationToken ct) =>
        await db.ReadAsync(c => c.QuerySingleOrDefaultAsync<DataSetRow>(new CommandDefinition(
            $"SELECT {Columns} FROM collab_datasets WHERE id = @id", new { id }, cancellationToken: ct)), ct);

    public async Task<IReadOnlyList<DataSetRow>> ListAsync(CancellationToken ct) =>
        [.. await db.ReadReplicaAsync(c => c.QueryAsync<DataSetRow>(new CommandDefinition(
            $"SELECT {Columns} FROM collab_datasets ORDER BY id DESC LIMIT 1000", cancellationToken: ct)), ct)];

    /// <summary>Data sets left loading or deleting with no progress since <paramref name="before"/> (a crashed upload).</summary>
    public async Task<IReadOnlyList<string>> StaleAsync(long before, CancellationToken ct) =>
        [.. await db.ReadAsync(c => c.QueryAsync<string>(new CommandDefinition(
            "SELECT id FROM collab_datasets WHERE state IN ('loading', 'deleting') AND updated_at < @before", new { before }, cancellationToken: ct)), ct)];

    /// <summary>Progress of a loading data set (so it is not taken for a crashed one).</summary>
    public Task TouchAsync(DbConnection c, DbTransaction t, string id, long now) =>
        c.ExecuteAsync("UPDATE collab_datasets SET updated_at = @now WHERE id = @id", new { id, now }, t);

    /// <summary>Loading → ready with the final counts; false when it was not loading any more (deleted meanwhile).</summary>
    public async Task<bool> MarkReadyAsync(DbConnection c, DbTransaction t, string id, long rows, long inputRows, long valueTotal, long inputBytes, long now) =>
        await c.ExecuteAsync("""
            UPDATE collab_datasets SET state = 'ready', row_count = @rows, input_rows = @inputRows, merged_rows = @merged, value_total = @valueTotal,
                input_bytes = @inputBytes, updated_at = @now, ready_at = @now
            WHERE id = @id AND state = 'loading'
            """, new { id, rows, inputRows, merged = inputRows - rows, valueTotal, inputBytes, now }, t) == 1;

    /// <summary>
    /// Ready or loading → deleting, unless a cooperation job that is not final (proposed, approved, running) names the
    /// data set as this node's: then nothing changes and the jobs are answered (a running job must never read a set
    /// whose rows are half gone). The jobs are read and the data set marked in one transaction; a job proposed after it
    /// finds the data set gone (only ready data sets are offered to jobs). Marked is false when there is no such data
    /// set or it is already being deleted.
    /// </summary>
    public async Task<(bool Marked, IReadOnlyList<string> Jobs)> MarkDeletingUnlessUsedAsync(string id, long now, CancellationToken ct) =>
        await db.WriteAsync(async (c, t) =>
        {
            var jobs = new List<string>();
            foreach (var job in await c.QueryAsync<(string Id, string Side, string TermsJson)>(
                "SELECT id, side, terms_json FROM collab_jobs WHERE state IN ('proposed', 'approved', 'running') ORDER BY id", transaction: t))
            {
                var terms = Hutong.Collab.Node.CollabTerms.FromJson(job.TermsJson);
                if ((job.Side == "proposer" ? terms.ProposerDataSet : terms.PeerDataSet) == id)
                {
                    jobs.Add(job.Id);
                }
            }

            if (jobs.Count > 0)
            {
                return (false, (IReadOnlyList<string>)jobs);
            }

            var marked = await c.ExecuteAsync(
                "UPDATE collab_datasets SET state = 'deleting', updated_at = @now WHERE id = @id AND state IN ('loading', 'ready')", new { id, now }, t) == 1;
            return (marked, []);
        }, ct);

    /// <summary>Deletes a data set's rows one stored bucket per transaction (bounded work per write), then the data set.</summary>
    public async Task DeleteAsync(string id, CancellationToken ct)
    {
        for (var b = 0; b < StoredBuckets; b++)
        {
            var bucket = b;
            await db.WriteAsync((c, t) => c.ExecuteAsync("DELETE FROM collab_dataset_rows WHERE dataset_id = @id AND bucket = @bucket", new { id, bucket }, t), ct);
        }

        await db.WriteAsync((c, t) => c.ExecuteAsync("DELETE FROM collab_datasets WHERE id = @id", new { id }, t), ct);
    }

    /// <summary>The stored rows' count and value total (read before the data set is marked ready).</summary>
    public async Task<(long Rows, long ValueTotal)> TotalsAsync(string id, CancellationToken ct)
    {
        var r = await db.ReadAsync(c => c.QuerySingleAsync<(long, long?)>(new CommandDefinition(
            "SELECT COUNT(*), SUM(value) FROM collab_dataset_rows WHERE dataset_id = @id", new { id }, cancellationToken: ct, commandTimeout: 600)), ct);
        return (r.Item1, r.Item2 ?? 0);
    }

    /// <summary>
    /// Writes a chunk of rows (unique keys within the chunk) and answers the keys refused because already stored
    /// (<see cref="ChunkMerge.RefuseExisting"/> only; empty otherwise).
    /// </summary>
    public async Task<IReadOnlyList<PendingRow>> WriteChunkAsync(DbConnection c, DbTransaction t, string dataSetId, IReadOnlyList<PendingRow> rows, ChunkMerge merge)
    {
        var refused = new List<PendingRow>();
        for (var start = 0; start < rows.Count; start += RowsPerStatement)
        {
            var n = Math.Min(RowsPerStatement, rows.Count - start);
            await using var cmd = c.CreateCommand();
            cmd.Transaction = t;
            cmd.CommandText = InsertSql(n, merge);
            Add(cmd, "@d", dataSetId);
            for (var i = 0; i < n; i++)
            {
                var r = rows[start + i];
                Add(cmd, $"@b{i}", (int)(r.Hash % StoredBuckets));
                Add(cmd, $"@i{i}", r.Id);
                Add(cmd, $"@c{i}", r.Campaign);
                Add(cmd, $"@h{i}", (long)r.Hash);
                Add(cmd, $"@v{i}", r.Value);
                Add(cmd, $"@t{i}", r.Time);
                Add(cmd, $"@g{i}", DataSetWire.Of(r.Group));
            }

            if (merge != ChunkMerge.RefuseExisting)
            {
                await cmd.ExecuteNonQueryAsync();
                continue;
            }

            var inserted = new HashSet<string>(StringComparer.Ordinal);
            await using (var reader = await cmd.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    inserted.Add(reader.GetString(0));
                }
            }

            if (inserted.Count < n)
            {
                for (var i = 0; i < n; i++)
                {
                    if (!inserted.Contains(rows[start + i].Id))
                    {
                        refused.Add(rows[start + i]);
                    }
                }
            }
        }

        return refused;
    }

    private static readonly Dictionary<(int, ChunkMerge), string> SqlCache = [];

    private static string InsertSql(int n, ChunkMerge merge)
    {
        lock (SqlCache)
        {
            if (SqlCache.TryGetValue((n, merge), out var cached))
            {
                return cached;
            }

            var sb = new StringBuilder("INSERT INTO collab_dataset_rows (dataset_id, bucket, norm_id, campaign, h, value, time, grp) VALUES ");
            for (var i = 0; i < n; i++)
            {
                sb.Append(i == 0 ? "" : ", ").Append($"(@d, @b{i}, @i{i}, @c{i}, @h{i}, @v{i}, @t{i}, @g{i})");
            }

            sb.Append(" ON CONFLICT (dataset_id, bucket, norm_id, campaign) ").Append(merge switch
            {
                ChunkMerge.RefuseExisting => "DO NOTHING RETURNING norm_id",
                ChunkMerge.Sum => """
                    DO UPDATE SET value = collab_dataset_rows.value + excluded.value,
                        time = CASE WHEN excluded.time IS NULL THEN collab_dataset_rows.time
                                    WHEN collab_dataset_rows.time IS NULL OR excluded.time < collab_dataset_rows.time THEN excluded.time
                                    ELSE collab_dataset_rows.time END
                    """,
                _ => """
                    DO UPDATE SET time = excluded.time, grp = excluded.grp
                    WHERE excluded.time IS NOT NULL AND (collab_dataset_rows.time IS NULL OR excluded.time < collab_dataset_rows.time)
                    """,
            });
            return SqlCache[(n, merge)] = sb.ToString();
        }
    }

    private static void Add(DbCommand cmd, string name, object? value)
    {
        var p = cmd.CreateParameter();
        p.ParameterName = name;
        p.Value = value ?? DBNull.Value;
        if (value is null)
        {
            p.DbType = System.Data.DbType.Int64;
        }

        cmd.Parameters.Add(p);
    }

    public async Task<CollabDataSetInfo?> GetAsync(string dataSetId, CancellationToken ct) =>
        await FindAsync(dataSetId, ct) is { } row && DataSetWire.State(row.State) == DataSetState.Ready
            ? new CollabDataSetInfo(row.Id, DataSetWire.Kind(row.Kind)!.Value, DataSetWire.Rule(row.IdRule)!.Value, row.RowCount, row.Currency)
            : null;

    /// <summary>
    /// The rows of <paramref name="bucket"/> for <paramref name="bucketCount"/> buckets, ordered by id (ordinal), then
    /// campaign. An exposures data set holds an id once per campaign. Stored buckets are
    /// <c>h mod 256</c>: when <paramref name="bucketCount"/> divides 256, job bucket b is the stored buckets b, b+n, b+2n…
    /// (each one index range); when 256 divides it, job bucket b is within stored bucket b mod 256, filtered by h; any
    /// other count filters every row by h (a full scan per bucket — use a divisor or a multiple of 256).
    /// Memory: one row at a time (an unbuffered reader), whatever the bucket's size.
    /// </summary>
    public async IAsyncEnumerable<CollabRow> ReadBucketAsync(string dataSetId, int bucket, int bucketCount, [EnumeratorCancellation] CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bucketCount, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(bucket);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(bucket, bucketCount);
        if (await GetAsync(dataSetId, ct) is null)
        {
            throw new InvalidOperationException($"data set {dataSetId} does not exist or is not ready");
        }

        await using var c = await db.OpenAsync(ct);
        if (StoredBuckets % bucketCount == 0)
        {
            for (var s = bucket; s < StoredBuckets; s += bucketCount)
            {
                await foreach (var row in QueryAsync(c, "bucket = @s", new { d = dataSetId, s }, ct))
                {
                    yield return row;
                }
            }

            yield break;
        }

        var where = bucketCount % StoredBuckets == 0 ? "bucket = @s AND h % @n = @b" : "h % @n = @b";
        await foreach (var row in QueryAsync(c, where, new { d = dataSetId, s = bucket % StoredBuckets, n = (long)bucketCount, b = (long)bucket }, ct))
        {
            yield return row;
        }
    }

    private static async IAsyncEnumerable<CollabRow> QueryAsync(DbConnection c, string where, object args, [EnumeratorCancellation] CancellationToken ct)
    {
        var sql = $"SELECT norm_id, value, time, campaign, grp FROM collab_dataset_rows WHERE dataset_id = @d AND {where} ORDER BY bucket, norm_id, campaign";
        await using var reader = await c.ExecuteReaderAsync(new CommandDefinition(sql, args, cancellationToken: ct, commandTimeout: 0));
        while (await reader.ReadAsync(ct))
        {
            var campaign = reader.GetString(3);
            yield return new CollabRow(reader.GetString(0), reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetInt64(2),
                campaign.Length == 0 ? null : campaign, DataSetWire.Group(reader.GetString(4)));
        }
    }
}
