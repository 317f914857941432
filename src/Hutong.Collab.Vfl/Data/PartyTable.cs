using System.Globalization;

namespace Hutong.Collab.Vfl.Data;

/// <summary>How to read one party's file: the id column, the label column (guest only; null for the host), the separator.</summary>
public sealed record TableOptions(string IdColumn = "id", string? LabelColumn = null, char Separator = ',');

/// <summary>One party's rows as loaded: ids, feature columns (missing values already imputed), labels (guest), and the report.</summary>
public sealed class PartyTable
{
    internal PartyTable(IReadOnlyList<string> ids, IReadOnlyList<string> featureNames, double[][] columns, int[]? labels, LoadReport report)
    {
        Ids = ids;
        FeatureNames = featureNames;
        Columns = columns;
        Labels = labels;
        Report = report;
    }

    public IReadOnlyList<string> Ids { get; }

    public IReadOnlyList<string> FeatureNames { get; }

    /// <summary>Column-major: Columns[feature][row].</summary>
    public double[][] Columns { get; }

    public int[]? Labels { get; }

    public LoadReport Report { get; }

    public int Rows => Ids.Count;

    /// <summary>
    /// This party's rows in the order of the intersection ids (which both parties hold after PSI, in the same order).
    /// Rows not in the intersection are reported and skipped; an intersection id this party does not hold is an error.
    /// </summary>
    public AlignedData Align(IReadOnlyList<string> intersection)
    {
        ArgumentNullException.ThrowIfNull(intersection);
        var index = new Dictionary<string, int>(Ids.Count, StringComparer.Ordinal);
        for (var i = 0; i < Ids.Count; i++)
        {
            index[Ids[i]] = i;
        }

        var rows = new int[intersection.Count];
        for (var k = 0; k < intersection.Count; k++)
        {
            if (!index.TryGetValue(intersection[k], out rows[k]))
            {
                throw new VflProtocolException("not_in_table", $"Intersection id {k} is not in this party's table.");
            }
        }

        var columns = Columns.Select(c => rows.Select(r => c[r]).ToArray()).ToArray();
        var labels = Labels is null ? null : rows.Select(r => Labels[r]).ToArray();
        return new AlignedData([.. intersection], FeatureNames, columns, labels, Rows - intersection.Count);
    }
}

/// <summary>One party's rows aligned to the intersection: row k of both parties is the same user.</summary>
public sealed record AlignedData(IReadOnlyList<string> Ids, IReadOnlyList<string> FeatureNames, double[][] Columns, int[]? Labels, int SkippedNotInIntersection)
{
    public int Rows => Ids.Count;
}

/// <summary>What the loader did: rows read, rows skipped and why, and per column how many values were missing and imputed with what.</summary>
public sealed record LoadReport(int RowsRead, int RowsKept, IReadOnlyList<string> Skipped, IReadOnlyList<ImputedColumn> Imputed)
{
    public int MissingValues => Imputed.Sum(c => c.Missing);

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{RowsRead} rows read, {RowsKept} kept, {RowsRead - RowsKept} skipped; {MissingValues} missing values imputed (column mean) in {Imputed.Count} column(s)");
}

public sealed record ImputedColumn(string Column, int Missing, double Mean);

/// <summary>
/// Reads a party's CSV: a header row, the id column and (guest) the label column by name, every other column a numeric
/// feature. Missing values (empty, NA, NaN, null, ?) are imputed with the column's mean over the present values, counted
/// per column. Skipped rows, each with the reason: an empty id, a repeated id (the first is kept), a missing or non-0/1
/// label, a field that is not a number, a wrong field count.
/// </summary>
public static class PartyTableLoader
{
    private static readonly HashSet<string> Missing = new(StringComparer.OrdinalIgnoreCase) { "", "na", "nan", "null", "?" };

    public static PartyTable Load(string path, TableOptions options)
    {
        using var reader = new StreamReader(path);
        return Load(reader, options);
    }

    public static PartyTable Load(TextReader reader, TableOptions options)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(options);
        var header = reader.ReadLine() ?? throw new VflProtocolException("empty_file", "The file is empty (no header row).");
        var names = header.Split(options.Separator).Select(h => h.Trim()).ToArray();
        var idAt = Array.IndexOf(names, options.IdColumn);
        if (idAt < 0)
        {
            throw new VflProtocolException("missing_column", $"No id column '{options.IdColumn}' in the header.");
        }

        var labelAt = -1;
        if (options.LabelColumn is { } label)
        {
            labelAt = Array.IndexOf(names, label);
            if (labelAt < 0)
            {
                throw new VflProtocolException("missing_column", $"No label column '{label}' in the header.");
            }
        }

        var featureAt = Enumerable.Range(0, names.Length).Where(i => i != idAt && i != labelAt).ToArray();
        if (featureAt.Length == 0)
        {
            throw new VflProtocolException("no_features", "The file has no feature columns.");
        }

        var ids = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var values = featureAt.Select(_ => new List<double>()).ToArray();
        var labels = new List<int>();
        var skipped = new List<string>();
        var read = 0;
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            if (line.Length == 0)
            {
                continue;
            }

            read++;
            var fields = line.Split(options.Separator);
            if (fields.Length != names.Length)
            {
                skipped.Add($"line {read + 1}: {fields.Length} fields, the header has {names.Length}");
                continue;
            }

            var id = fields[idAt].Trim();
            if (id.Length == 0)
            {
                skipped.Add($"line {read + 1}: empty id");
                continue;
            }

            if (seen.Contains(id))
            {
                skipped.Add($"line {read + 1}: repeated id (the first row with it is kept)");
                continue;
            }

            var y = 0;
            if (labelAt >= 0 && !TryLabel(fields[labelAt].Trim(), out y))
            {
                skipped.Add($"line {read + 1}: label '{Shorten(fields[labelAt])}' is not 0 or 1");
                continue;
            }

            var row = new double[featureAt.Length];
            var bad = -1;
            for (var j = 0; j < featureAt.Length; j++)
            {
                var f = fields[featureAt[j]].Trim();
                if (Missing.Contains(f))
                {
                    row[j] = double.NaN;
                }
                else if (!double.TryParse(f, NumberStyles.Float, CultureInfo.InvariantCulture, out row[j]) || !double.IsFinite(row[j]))
                {
                    bad = j;
                    break;
                }
            }

            if (bad >= 0)
            {
                skipped.Add($"line {read + 1}: column '{names[featureAt[bad]]}' is not a number");
                continue;
            }

            seen.Add(id);
            ids.Add(id);
            labels.Add(y);
            for (var j = 0; j < featureAt.Length; j++)
            {
                values[j].Add(row[j]);
            }
        }

        if (ids.Count == 0)
        {
            throw new VflProtocolException("no_rows", "No usable rows.");
        }

        var imputed = new List<ImputedColumn>();
        var columns = new double[featureAt.Length][];
        for (var j = 0; j < featureAt.Length; j++)
        {
            var col = values[j].ToArray();
            var present = col.Where(double.IsFinite).ToArray();
            var missing = col.Length - present.Length;
            if (missing > 0)
            {
                if (present.Length == 0)
                {
                    throw new VflProtocolException("empty_column", $"Column '{names[featureAt[j]]}' has no values.");
                }

                var mean = present.Average();
                for (var i = 0; i < col.Length; i++)
                {
                    if (!double.IsFinite(col[i]))
                    {
                        col[i] = mean;
                    }
                }

                imputed.Add(new ImputedColumn(names[featureAt[j]], missing, mean));
            }

            columns[j] = col;
        }

        return new PartyTable(ids, [.. featureAt.Select(i => names[i])], columns, labelAt >= 0 ? [.. labels] : null,
            new LoadReport(read, ids.Count, skipped, imputed));
    }

    /// <summary>The ids both tables hold, in ordinal order — what PSI hands both parties (see docs/collab-vfl.md on what that reveals).</summary>
    public static IReadOnlyList<string> Intersection(PartyTable guest, PartyTable host)
    {
        ArgumentNullException.ThrowIfNull(guest);
        ArgumentNullException.ThrowIfNull(host);
        var h = new HashSet<string>(host.Ids, StringComparer.Ordinal);
        var both = guest.Ids.Where(h.Contains).ToList();
        both.Sort(StringComparer.Ordinal);
        return both;
    }

    private static bool TryLabel(string s, out int y)
    {
        y = 0;
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || (v != 0 && v != 1))
        {
            return false;
        }

        y = (int)v;
        return true;
    }

    private static string Shorten(string s) => s.Length <= 16 ? s : s[..16] + "…";
}
