using System.Runtime.CompilerServices;
using System.Text.Json;
using Dapper;
using Hutong.Collab.Data;
using Hutong.Collab.Ids;
using Hutong.Domain;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Collab.DataSets;

/// <summary>What from-payments reads: a merchant's succeeded payments in [From, To), optionally one product category.</summary>
public sealed record FromPaymentsRequest(string Name, string MerchantId, DateTimeOffset From, DateTimeOffset? To, string? Category, IdRule Rule, string Currency);

/// <summary>
/// A party's data sets: upload (CSV, Parquet) or build from this hub's payments, validate row by row, store by hash
/// bucket; list, show, delete. An upload is streamed: at most <see cref="CollabDataSetLimits.ChunkRows"/> parsed rows are
/// in memory, each chunk written in a transaction of its own while the data set is loading; the data set becomes ready in
/// one conditional update at the end, together with the answer to the Idempotency-Key. A refused upload (any bad row, a
/// missing column, too many rows…) deletes what it wrote and answers a problem naming rows, never ids: nothing is left.
/// </summary>
public sealed class CollabDataSetService(Db db, CollabDataSetStore store, IOptions<CollabDataSetLimits> limits, TimeProvider time)
{
    public const string IdPrefix = "cds";

    public async Task<Outcome<CollabDataSetDto>> UploadAsync(Stream body, DataSetSource format, DataSetUploadOptions options, IdempotencyContext? idem, CancellationToken ct)
    {
        var limit = limits.Value;
        if (Check(options) is { } invalid)
        {
            return invalid;
        }

        if (format == DataSetSource.Csv)
        {
            var limited = new LimitedStream(body, limit.MaxBytes);
            return await ImportAsync(options, format, CollabSources.CsvAsync(limited, options, ct), () => limited.BytesRead, idem, ct);
        }

        // Parquet's footer is at the end: a stream that cannot seek is spooled to a temporary file first (disk, not memory).
        if (body.CanSeek && body.Length > limit.MaxBytes)
        {
            return TooLarge(limit.MaxBytes);
        }

        Stream seekable = body;
        FileStream? spool = null;
        try
        {
            if (!body.CanSeek)
            {
                spool = new FileStream(Path.GetTempFileName(), FileMode.Create, FileAccess.ReadWrite, FileShare.None, 64 * 1024, FileOptions.DeleteOnClose | FileOptions.Asynchronous);
                try
                {
                    await new LimitedStream(body, limit.MaxBytes).CopyToAsync(spool, ct);
                }
                catch (CollabInputException e)
                {
                    return Refused(e.Code, e.Message, []);
                }

                spool.Position = 0;
                seekable = spool;
            }

            var length = seekable.Length;
            return await ImportAsync(options, format, CollabSources.ParquetAsync(seekable, options, ct), () => length, idem, ct);
        }
        finally
        {
            if (spool is not null)
            {
                await spool.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// E's conversions from this hub's own succeeded payments: buyer_id is the id, the value is amount − refunded summed
    /// per buyer (a fully refunded payment adds nothing and a buyer with nothing left is no conversion), the time is the
    /// buyer's first payment. Payments without a buyer_id cannot be matched and are skipped.
    /// </summary>
    public async Task<Outcome<CollabDataSetDto>> FromPaymentsAsync(FromPaymentsRequest request, IdempotencyContext? idem, CancellationToken ct)
    {
        var to = request.To ?? time.GetUtcNow();
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(request.MerchantId))
        {
            errors["merchant"] = ["merchant is required."];
        }

        if (to <= request.From)
        {
            errors["to"] = ["to must be after from."];
        }

        if (!Currency.TryParse(request.Currency, out _))
        {
            errors["currency"] = [$"{request.Currency} is not a currency this hub knows."];
        }

        if (errors.Count > 0)
        {
            return Failure.Validation(errors);
        }

        var options = new DataSetUploadOptions
        {
            Name = request.Name,
            Kind = CollabDataSetKind.Conversions,
            Rule = request.Rule,
            IdColumn = "payments.buyer_id",
            ValueColumn = "payments.amount - payments.amount_refunded",
            TimeColumn = "payments.succeeded_at",
            Currency = request.Currency,
            Duplicates = DuplicatePolicy.Sum,
        };
        if (Check(options) is { } invalid)
        {
            return invalid;
        }

        var described = new Dictionary<string, string?>(options.Describe())
        {
            ["merchant"] = request.MerchantId,
            ["from"] = request.From.ToUniversalTime().ToString("O"),
            ["to"] = to.ToUniversalTime().ToString("O"),
            ["category"] = request.Category,
        };
        return await ImportAsync(options, DataSetSource.Payments, PaymentsAsync(request, to, ct), () => 0, idem, ct, described);
    }

    private async IAsyncEnumerable<RawRecord> PaymentsAsync(FromPaymentsRequest r, DateTimeOffset to, [EnumeratorCancellation] CancellationToken ct)
    {
        // A read of the payments table (no write): the hub's ledger of truth for what each buyer paid and got back.
        var sql = """
            SELECT id, buyer_id, amount - amount_refunded AS net, succeeded_at FROM payments
            WHERE merchant_id = @m AND status = 'succeeded' AND currency = @cur AND succeeded_at >= @from AND succeeded_at < @to
              AND buyer_id IS NOT NULL AND buyer_id <> '' AND amount > amount_refunded
            """ + (r.Category is null ? "" : " AND product_category = @cat") + " ORDER BY id";
        await using var c = await db.OpenAsync(ct);
        await using var reader = await c.ExecuteReaderAsync(new CommandDefinition(sql, new
        {
            m = r.MerchantId,
            cur = r.Currency,
            from = r.From.ToUnixTimeMilliseconds(),
            to = to.ToUnixTimeMilliseconds(),
            cat = r.Category,
        }, cancellationToken: ct, commandTimeout: 0));
        long row = 0;
        while (await reader.ReadAsync(ct))
        {
            row++;
            var seconds = reader.GetInt64(3) / 1000;
            yield return new RawRecord(row, reader.GetString(1), reader.GetInt64(2).ToString(System.Globalization.CultureInfo.InvariantCulture),
                seconds.ToString(System.Globalization.CultureInfo.InvariantCulture), null, null, Where: $"payment {reader.GetString(0)}");
        }
    }

    private static Failure? Check(DataSetUploadOptions o)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(o.Name) || o.Name.Length > 100 || o.Name.Any(char.IsControl))
        {
            errors["name"] = ["name is required: 1–100 characters, no control characters."];
        }

        if (!Currency.TryParse(o.Currency, out _))
        {
            errors["currency"] = [$"{o.Currency} is not a currency this hub knows."];
        }

        if (o.Kind == CollabDataSetKind.Conversions && string.IsNullOrEmpty(o.ValueColumn))
        {
            errors["value_column"] = ["A conversions data set needs value_column."];
        }

        if (o.Kind == CollabDataSetKind.Exposures && string.IsNullOrEmpty(o.CampaignColumn))
        {
            errors["campaign_column"] = ["An exposures data set needs campaign_column."];
        }

        if (o.Kind == CollabDataSetKind.Exposures && o.Duplicates == DuplicatePolicy.Sum)
        {
            errors["duplicates"] = ["duplicates=sum is for conversions; exposures keep each id's first exposure per campaign."];
        }

        return errors.Count > 0 ? Failure.Validation(errors) : null;
    }

    private static Failure TooLarge(long max) => Refused("dataset_too_large", $"The file is larger than the limit of {max} bytes (Hutong:Collab:DataSets:MaxBytes).", []);

    private static Failure Refused(string code, string detail, IReadOnlyList<string> rows)
    {
        var errors = rows.Count > 0 ? new Dictionary<string, string[]> { ["rows"] = [.. rows] } : null;
        var kind = code is "dataset_too_large" or "too_many_rows" ? FailureKind.Unprocessable : FailureKind.Validation;
        return new Failure(kind, code, "The data set was refused; nothing was stored.", detail, "file", errors);
    }

    /// <summary>The upload pipeline: parse and normalise each row, merge within a chunk, write chunks, then ready or nothing.</summary>
    private async Task<Outcome<CollabDataSetDto>> ImportAsync(DataSetUploadOptions o, DataSetSource source, IAsyncEnumerable<RawRecord> records, Func<long> bytesRead,
        IdempotencyContext? idem, CancellationToken ct, IReadOnlyDictionary<string, string?>? described = null)
    {
        var limit = limits.Value;
        await SweepAsync(ct);
        var exponent = Currency.Parse(o.Currency).Exponent;
        var merge = o.Kind == CollabDataSetKind.Exposures ? ChunkMerge.Earliest : o.Duplicates == DuplicatePolicy.Sum ? ChunkMerge.Sum : ChunkMerge.RefuseExisting;
        var now = time.GetUtcNow();
        var header = new DataSetRow
        {
            Id = Ids.New(IdPrefix, now),
            Name = o.Name.Trim(),
            Kind = DataSetWire.Of(o.Kind),
            IdRule = DataSetWire.Of(o.Rule),
            IdRuleName = o.Rule.Name(),
            Currency = o.Currency,
            Source = DataSetWire.Of(source),
            State = DataSetWire.Of(DataSetState.Loading),
            StoredBuckets = CollabDataSetStore.StoredBuckets,
            Options = JsonSerializer.Serialize(described ?? o.Describe()),
            CreatedAt = now.ToUnixTimeMilliseconds(),
            UpdatedAt = now.ToUnixTimeMilliseconds(),
        };

        var created = false;
        var problems = new List<string>();
        var chunk = new Dictionary<(string Id, string Campaign), PendingRow>();
        long inputRows = 0;
        var tooMany = false;
        try
        {
            await foreach (var raw in records.WithCancellation(ct))
            {
                if (++inputRows > limit.MaxRows)
                {
                    tooMany = true;
                    break;
                }

                var where = raw.Where ?? $"row {raw.Row}";
                if (Parse(raw, o, exponent, out var problem) is not { } row)
                {
                    problems.Add($"{where}: {problem}");
                }
                else if (problems.Count == 0 && chunk.TryGetValue((row.Id, row.Campaign), out var first))
                {
                    if (merge == ChunkMerge.RefuseExisting)
                    {
                        problems.Add($"{where}: duplicate_id — the same id as {first.Where ?? $"row {first.Row}"} after normalisation ({o.Rule.Name()}).");
                    }
                    else if (merge == ChunkMerge.Sum)
                    {
                        first.Value += row.Value;
                        first.Time = Earliest(first.Time, row.Time);
                    }
                    else if (row.Time is { } t && (first.Time is null || t < first.Time))
                    {
                        first.Time = row.Time;
                        first.Group = row.Group;
                    }
                }
                else if (problems.Count == 0)
                {
                    chunk[(row.Id, row.Campaign)] = row;
                }

                if (problems.Count >= limit.MaxProblems)
                {
                    break;
                }

                if (problems.Count == 0 && chunk.Count >= limit.ChunkRows)
                {
                    created = await FlushAsync(header, chunk, merge, created, problems, o, ct);
                }
            }

            if (tooMany)
            {
                await DiscardAsync(header.Id, created);
                return Refused("too_many_rows", $"The file has more than {limit.MaxRows} data rows (Hutong:Collab:DataSets:MaxRows).", []);
            }

            if (problems.Count == 0 && chunk.Count > 0)
            {
                created = await FlushAsync(header, chunk, merge, created, problems, o, ct);
            }

            if (problems.Count == 0 && inputRows == 0)
            {
                return Refused("empty_file", source == DataSetSource.Payments
                    ? "No succeeded payment of this merchant in this range has a buyer_id and an amount left after refunds."
                    : "The file has a header but no data rows.", []);
            }

            if (problems.Count > 0)
            {
                await DiscardAsync(header.Id, created);
                var more = problems.Count >= limit.MaxProblems ? $" (reading stopped at {limit.MaxProblems} problems)" : "";
                return Refused("dataset_invalid", $"{problems.Count} row(s) refused{more}; the first: {problems[0]}", problems);
            }
        }
        catch (CollabInputException e)
        {
            await DiscardAsync(header.Id, created);
            return Refused(e.Code, e.Message, []);
        }
        catch
        {
            await DiscardAsync(header.Id, created);
            throw;
        }

        var (rows, total) = await store.TotalsAsync(header.Id, ct);
        var readyAt = time.GetUtcNow().ToUnixTimeMilliseconds();
        var bytes = bytesRead();
        var outcome = await db.WriteAsync<Outcome<CollabDataSetDto>?>(async (c, t) =>
        {
            if (!await store.MarkReadyAsync(c, t, header.Id, rows, inputRows, total, bytes, readyAt))
            {
                return null;
            }

            header.State = DataSetWire.Of(DataSetState.Ready);
            header.RowCount = rows;
            header.InputRows = inputRows;
            header.MergedRows = inputRows - rows;
            header.ValueTotal = total;
            header.InputBytes = bytes;
            header.UpdatedAt = readyAt;
            header.ReadyAt = readyAt;
            var done = Outcome.Created(header.ToDto());
            if (idem is not null)
            {
                await idem.CompleteAsync(c, t, done);
            }

            return done;
        }, CancellationToken.None);
        return outcome ?? new Failure(FailureKind.Conflict, "dataset_deleted", "The data set was deleted while it was loading.");
    }

    private async Task<bool> FlushAsync(DataSetRow header, Dictionary<(string Id, string Campaign), PendingRow> chunk, ChunkMerge merge, bool created,
        List<string> problems, DataSetUploadOptions o, CancellationToken ct)
    {
        // In key order (stored bucket, id, campaign): each statement then appends to few index pages instead of 256.
        var rows = chunk.Values.OrderBy(r => r.Hash % CollabDataSetStore.StoredBuckets).ThenBy(r => r.Id, StringComparer.Ordinal).ThenBy(r => r.Campaign, StringComparer.Ordinal).ToList();
        chunk.Clear();
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var refused = await db.WriteAsync(async (c, t) =>
        {
            if (!created)
            {
                await store.InsertAsync(c, t, header);
            }
            else
            {
                await store.TouchAsync(c, t, header.Id, now);
            }

            return await store.WriteChunkAsync(c, t, header.Id, rows, merge);
        }, ct);
        foreach (var r in refused.Take(Math.Max(0, limits.Value.MaxProblems - problems.Count)))
        {
            problems.Add($"{r.Where ?? $"row {r.Row}"}: duplicate_id — the same id as an earlier row after normalisation ({o.Rule.Name()}).");
        }

        return true;
    }

    private static long? Earliest(long? a, long? b) => a is null ? b : b is null ? a : Math.Min(a.Value, b.Value);

    /// <summary>A refused upload leaves nothing: its rows and its header go (not cancellable: the caller may be gone).</summary>
    private async Task DiscardAsync(string id, bool created)
    {
        if (created)
        {
            await store.DeleteAsync(id, CancellationToken.None);
        }
    }

    /// <summary>Data sets a crashed upload or delete left behind (no progress for StaleAfter) are removed.</summary>
    private async Task SweepAsync(CancellationToken ct)
    {
        var before = time.GetUtcNow().Add(-limits.Value.StaleAfter).ToUnixTimeMilliseconds();
        foreach (var id in await store.StaleAsync(before, ct))
        {
            await store.DeleteAsync(id, ct);
        }
    }

    /// <summary>One input row parsed and normalised, or null with the reason (which never repeats the id).</summary>
    private static PendingRow? Parse(RawRecord raw, DataSetUploadOptions o, int exponent, out string? problem)
    {
        problem = null;
        if (raw.Malformed is { } m)
        {
            problem = $"malformed_row — {m}.";
            return null;
        }

        var id = IdNormalizer.TryNormalize(raw.Id, o.Rule, out var idProblem, raw.Row);
        if (id is null)
        {
            problem = $"{idProblem!.Code} — {idProblem.Detail} ({o.Rule.Name()}).";
            return null;
        }

        long value = 0;
        if (o.Kind == CollabDataSetKind.Conversions)
        {
            if (CollabValues.ParseValue(raw.Value, o.ValueFormat, exponent) is not { } v)
            {
                problem = o.ValueFormat == ValueFormat.Minor
                    ? $"bad_value — the value is not whole minor units (0 to {CollabValues.MaxValue})."
                    : $"bad_value — the value is not an amount with at most {exponent} decimals (0 to {CollabValues.MaxValue} minor units).";
                return null;
            }

            value = v;
        }

        long? at = null;
        if (o.TimeColumn is not null)
        {
            if (CollabValues.ParseTime(raw.Time) is not { } t)
            {
                problem = $"bad_time — the time is neither Unix seconds nor ISO 8601 with an offset (2026-11-11T20:00:00+08:00) or a date.";
                return null;
            }

            at = t;
        }

        var campaign = "";
        var group = CollabGroup.None;
        if (o.Kind == CollabDataSetKind.Exposures)
        {
            if (CollabValues.ParseCampaign(raw.Campaign) is not { } c)
            {
                problem = "bad_campaign — the campaign is empty, longer than 128 characters or has control characters.";
                return null;
            }

            campaign = c;
            if (o.GroupColumn is not null)
            {
                if (CollabValues.ParseGroup(raw.Group) is not { } g)
                {
                    problem = $"bad_group — the group is neither test nor control.";
                    return null;
                }

                group = g;
            }
        }

        return new PendingRow { Id = id, Campaign = campaign, Hash = CollabBuckets.HashOf(id), Value = value, Time = at, Group = group, Row = raw.Row, Where = raw.Where };
    }

    public async Task<Outcome<CollabDataSetList>> ListAsync(CancellationToken ct) =>
        Outcome.Ok(new CollabDataSetList("list", [.. (await store.ListAsync(ct)).Select(r => r.ToDto())]));

    public async Task<Outcome<CollabDataSetDto>> GetAsync(string id, CancellationToken ct) =>
        await store.FindAsync(id, ct) is { } row ? Outcome.Ok(row.ToDto()) : Failure.NotFound("collab_dataset");

    /// <summary>
    /// Marks the data set deleting (jobs stop seeing it at once), then removes its rows bucket by bucket; refused (409
    /// dataset_in_use, naming the jobs) while a job that has not ended uses it.
    /// </summary>
    public async Task<Outcome<CollabDataSetDto>> DeleteAsync(string id, CancellationToken ct)
    {
        if (await store.FindAsync(id, ct) is null)
        {
            return Failure.NotFound("collab_dataset");
        }

        var (marked, jobs) = await store.MarkDeletingUnlessUsedAsync(id, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
        if (jobs.Count > 0)
        {
            return Failure.Conflict("dataset_in_use", "A cooperation job that has not ended uses this data set.",
                $"Jobs {string.Join(", ", jobs)} name it; cancel them or wait until they finish, then delete it.", "id");
        }

        if (!marked)
        {
            return Failure.Conflict("dataset_deleting", "The data set is already being deleted.");
        }

        await store.DeleteAsync(id, CancellationToken.None);
        return Outcome<CollabDataSetDto>.NoContent();
    }
}
