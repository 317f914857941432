using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Hutong.Collab.Data;
using Parquet;
using Parquet.Schema;

namespace Hutong.Server.Collab.DataSets;

/// <summary>
/// One input row before validation: the cells of the columns the options name, as text. <paramref name="Row"/> is how
/// problems name it (CSV: the line as a spreadsheet numbers it, header = 1; Parquet: data rows from 1), or
/// <paramref name="Where"/> when set (from-payments: the payment's id). <paramref name="Malformed"/>: why the row could
/// not even be split into cells.
/// </summary>
public sealed record RawRecord(long Row, string? Id, string? Value, string? Time, string? Campaign, string? Group, string? Where = null, string? Malformed = null);

/// <summary>An input refused as a whole (a missing column, not UTF-8, too large…): nothing is stored.</summary>
public sealed class CollabInputException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;
}

/// <summary>Reads uploads as <see cref="RawRecord"/>s, streamed: CSV record by record, Parquet row group by row group.</summary>
public static class CollabSources
{
    /// <summary>
    /// A CSV file (RFC 4180, UTF-8, header row). Invalid UTF-8 is refused (never replaced by U+FFFD: that would merge
    /// distinct ids). Memory: the reader's buffer and one record.
    /// </summary>
    public static async IAsyncEnumerable<RawRecord> CsvAsync(Stream stream, DataSetUploadOptions o, [EnumeratorCancellation] CancellationToken ct)
    {
        using var text = new StreamReader(stream, new UTF8Encoding(false, throwOnInvalidBytes: true), detectEncodingFromByteOrderMarks: false, bufferSize: 64 * 1024, leaveOpen: true);
        var csv = new CsvRecordReader(text);
        var fields = new List<string>();
        if (!await ReadAsync(csv, fields, ct))
        {
            throw new CollabInputException("empty_file", "The file is empty: it needs a header row and at least one data row.");
        }

        var header = fields.Select(f => f.Trim()).ToList();
        var map = Columns(o, name =>
        {
            var at = header.FindAll(h => h == name).Count;
            return at switch
            {
                0 => -1,
                1 => header.IndexOf(name),
                _ => throw new CollabInputException("duplicate_column", $"The header names column '{name}' more than once."),
            };
        }, header);
        while (await ReadAsync(csv, fields, ct))
        {
            if (fields.Count != header.Count)
            {
                yield return new RawRecord(csv.Record, null, null, null, null, null, Malformed: $"it has {fields.Count} fields, the header has {header.Count}");
                continue;
            }

            yield return new RawRecord(csv.Record, Cell(fields, map.Id), Cell(fields, map.Value), Cell(fields, map.Time), Cell(fields, map.Campaign), Cell(fields, map.Group));
        }
    }

    private static async ValueTask<bool> ReadAsync(CsvRecordReader csv, List<string> fields, CancellationToken ct)
    {
        try
        {
            return await csv.ReadAsync(fields, ct);
        }
        catch (CsvFormatException e)
        {
            throw new CollabInputException(e.Code, e.Message);
        }
        catch (DecoderFallbackException)
        {
            throw new CollabInputException("not_utf8", $"The file is not UTF-8 (after row {csv.Record}).");
        }
    }

    private static string? Cell(List<string> fields, int at) => at < 0 ? null : fields[at];

    /// <summary>The column positions the options name; a missing one refuses the whole file before anything is read.</summary>
    private static (int Id, int Value, int Time, int Campaign, int Group) Columns(DataSetUploadOptions o, Func<string, int> find, IReadOnlyList<string> header)
    {
        int Required(string? name, string option)
        {
            if (name is null)
            {
                throw new CollabInputException("missing_option", $"The option {option} is required for a {DataSetWire.Of(o.Kind)} data set.");
            }

            var at = find(name);
            return at >= 0 ? at
                : throw new CollabInputException("missing_column", $"The file has no column '{name}' ({option}); its columns are: {string.Join(", ", header.Take(50))}.");
        }

        var conversions = o.Kind == CollabDataSetKind.Conversions;
        return (
            Required(o.IdColumn, "id_column"),
            conversions ? Required(o.ValueColumn, "value_column") : -1,
            o.TimeColumn is null ? -1 : Required(o.TimeColumn, "time_column"),
            conversions ? -1 : Required(o.CampaignColumn, "campaign_column"),
            conversions || o.GroupColumn is null ? -1 : Required(o.GroupColumn, "group_column"));
    }

    /// <summary>
    /// A Parquet file, one row group at a time (memory: the named columns of one row group). Columns may be strings,
    /// integers, decimals (exact) or timestamps; a floating-point value column is refused (a float cannot hold fen
    /// exactly). The stream must be seekable (Parquet's footer is at the end).
    /// </summary>
    public static async IAsyncEnumerable<RawRecord> ParquetAsync(Stream stream, DataSetUploadOptions o, [EnumeratorCancellation] CancellationToken ct)
    {
        ParquetReader reader;
        try
        {
            reader = await ParquetReader.CreateAsync(stream, null, leaveStreamOpen: true, ct);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or ArgumentException or InvalidOperationException or FormatException)
        {
            throw new CollabInputException("not_parquet", "The file is not a readable Parquet file.");
        }

        await using (reader)
        {
            var fields = reader.Schema.GetDataFields();
            var names = fields.Select(f => f.Name).ToList();
            var map = Columns(o, name => fields.Count(f => f.Name == name) switch
            {
                0 => -1,
                1 => names.IndexOf(name),
                _ => throw new CollabInputException("duplicate_column", $"The file has more than one column '{name}'."),
            }, names);
            long row = 0;
            for (var g = 0; g < reader.RowGroupCount; g++)
            {
                using var rg = reader.OpenRowGroupReader(g);
                var n = checked((int)rg.RowCount);
                var ids = await ColumnAsync(rg, fields, map.Id, n, "id_column", value: false, ct);
                var values = await ColumnAsync(rg, fields, map.Value, n, "value_column", value: true, ct);
                var times = await ColumnAsync(rg, fields, map.Time, n, "time_column", value: false, ct);
                var campaigns = await ColumnAsync(rg, fields, map.Campaign, n, "campaign_column", value: false, ct);
                var groups = await ColumnAsync(rg, fields, map.Group, n, "group_column", value: false, ct);
                for (var i = 0; i < n; i++)
                {
                    row++;
                    yield return new RawRecord(row, ids?[i], values?[i], times?[i], campaigns?[i], groups?[i]);
                }
            }
        }
    }

    private static async Task<string?[]?> ColumnAsync(ParquetRowGroupReader rg, DataField[] fields, int at, int n, string option, bool value, CancellationToken ct)
    {
        if (at < 0)
        {
            return null;
        }

        var f = fields[at];
        if (f.IsArray || f.MaxRepetitionLevel > 0)
        {
            throw new CollabInputException("unsupported_column", $"The column '{f.Name}' ({option}) is a list; it must hold one value per row.");
        }

        var t = Nullable.GetUnderlyingType(f.ClrType) ?? f.ClrType;
        // Parquet.Net 6 reports a UTF-8 string column as ReadOnlyMemory<char>; its string overload reads it as strings.
        if (t == typeof(string) || t == typeof(ReadOnlyMemory<char>))
        {
            var buffer = new string?[n];
            await rg.ReadAsync(f, buffer.AsMemory(), null, ct);
            return buffer;
        }

        if (t == typeof(long))
        {
            return await ValuesAsync<long>(rg, f, n, v => v.ToString(CultureInfo.InvariantCulture), ct);
        }

        if (t == typeof(int))
        {
            return await ValuesAsync<int>(rg, f, n, v => v.ToString(CultureInfo.InvariantCulture), ct);
        }

        if (t == typeof(decimal))
        {
            // Exact: the decimal's digits, trailing zeros of its scale dropped ("19.990" is 19.99).
            return await ValuesAsync<decimal>(rg, f, n, v => v.ToString("0.############################", CultureInfo.InvariantCulture), ct);
        }

        if (t == typeof(DateTime) && !value)
        {
            // Parquet timestamps are UTC instants (isAdjustedToUTC) as Parquet.Net reads them.
            return await ValuesAsync<DateTime>(rg, f, n, v => new DateTimeOffset(DateTime.SpecifyKind(v, DateTimeKind.Utc)).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture), ct);
        }

        if (t == typeof(DateTimeOffset) && !value)
        {
            return await ValuesAsync<DateTimeOffset>(rg, f, n, v => v.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture), ct);
        }

        throw new CollabInputException(value && (t == typeof(double) || t == typeof(float)) ? "float_value" : "unsupported_column",
            value && (t == typeof(double) || t == typeof(float))
                ? $"The value column '{f.Name}' is floating point, which cannot hold amounts exactly: write integer minor units (int64) or a decimal."
                : $"The column '{f.Name}' ({option}) has a type this upload does not read ({t.Name}); use a string, an integer, a decimal or a timestamp.");
    }

    private static async Task<string?[]> ValuesAsync<T>(ParquetRowGroupReader rg, DataField f, int n, Func<T, string> text, CancellationToken ct)
        where T : struct
    {
        var result = new string?[n];
        if (f.IsNullable)
        {
            var buffer = new T?[n];
            await rg.ReadAsync<T>(f, buffer.AsMemory(), null, ct);
            for (var i = 0; i < n; i++)
            {
                result[i] = buffer[i] is { } v ? text(v) : null;
            }
        }
        else
        {
            var buffer = new T[n];
            await rg.ReadAsync<T>(f, buffer.AsMemory(), null, ct);
            for (var i = 0; i < n; i++)
            {
                result[i] = text(buffer[i]);
            }
        }

        return result;
    }
}

/// <summary>A read-only view of a stream that refuses to read past a byte limit (an upload's Hutong:Collab:DataSets:MaxBytes).</summary>
public sealed class LimitedStream(Stream inner, long max) : Stream
{
    public long BytesRead { get; private set; }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => BytesRead; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Count(await inner.ReadAsync(buffer, cancellationToken));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private int Count(int n)
    {
        BytesRead += n;
        return BytesRead > max
            ? throw new CollabInputException("dataset_too_large", $"The file is larger than the limit of {max} bytes (Hutong:Collab:DataSets:MaxBytes).")
            : n;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
