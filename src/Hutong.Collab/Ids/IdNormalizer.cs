using System.Globalization;
using System.Text;

namespace Hutong.Collab.Ids;

/// <summary>One input row the normaliser refused, by its 0-based position in the input. The raw id is never repeated.</summary>
public sealed record InputProblem(long Row, string Code, string Detail);

/// <summary>The normalised ids of a batch, in input order, and the rows that were refused.</summary>
public sealed record NormalizedIds(IReadOnlyList<string> Ids, IReadOnlyList<InputProblem> Problems)
{
    public bool Ok => Problems.Count == 0;

    /// <summary>Throws a <see cref="CollabProtocolException"/> naming the first problems when any row was refused.</summary>
    public IReadOnlyList<string> OrThrow()
    {
        if (Problems.Count > 0)
        {
            var first = string.Join("; ", Problems.Take(5).Select(p => $"row {p.Row}: {p.Detail}"));
            throw new CollabProtocolException(Problems[0].Code, $"{Problems.Count} input row(s) refused — {first}.");
        }

        return Ids;
    }
}

/// <summary>Pure id normalisation (see <see cref="IdRule"/>); no I/O, no logging of ids.</summary>
public static class IdNormalizer
{
    public const int MaxOpaqueLength = 256;

    /// <summary>The normalised id, or null with the reason.</summary>
    public static string? TryNormalize(string? raw, IdRule rule, out InputProblem? problem, long row = 0)
    {
        problem = null;
        if (raw is null || string.IsNullOrWhiteSpace(raw))
        {
            problem = new InputProblem(row, "empty_id", "the id is empty");
            return null;
        }

        var s = raw.Trim();
        string? result = rule switch
        {
            IdRule.Phone => Phone(s),
            IdRule.DeviceId => Device(s),
            IdRule.Opaque => Opaque(s),
            _ => throw new ArgumentOutOfRangeException(nameof(rule), rule, "Unknown id rule."),
        };

        if (result is null)
        {
            problem = new InputProblem(row, "bad_id", rule switch
            {
                IdRule.Phone => "not a CN mobile number nor an E.164 number (+ and 8–15 digits)",
                IdRule.DeviceId => "not a device id (8–64 hex digits, not all zeros)",
                _ => $"not an id (1–{MaxOpaqueLength} characters without control characters)",
            });
        }

        return result;
    }

    /// <summary>
    /// Normalises a batch; every bad row and every duplicate (after normalisation — "+86 138…" and "138…" are the same
    /// person) is reported. Duplicates across batches are caught later, when the double-masked values are sorted.
    /// </summary>
    public static NormalizedIds NormalizeAll(IEnumerable<string?> raws, IdRule rule, long firstRow = 0)
    {
        ArgumentNullException.ThrowIfNull(raws);
        var ids = new List<string>();
        var problems = new List<InputProblem>();
        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        var row = firstRow;
        foreach (var raw in raws)
        {
            var id = TryNormalize(raw, rule, out var problem, row);
            if (id is null)
            {
                problems.Add(problem!);
            }
            else if (!seen.TryAdd(id, row))
            {
                problems.Add(new InputProblem(row, "duplicate_id", $"the same id as row {seen[id]} after normalisation"));
            }
            else
            {
                ids.Add(id);
            }

            row++;
        }

        return new NormalizedIds(ids, problems);
    }

    private static string? Phone(string s)
    {
        var b = new StringBuilder(s.Length);
        foreach (var c in s)
        {
            if (c is ' ' or '-' or '.' or '(' or ')')
            {
                continue;
            }

            if (c == '+' && b.Length == 0)
            {
                b.Append(c);
            }
            else if (c is >= '0' and <= '9')
            {
                b.Append(c);
            }
            else
            {
                return null;
            }
        }

        var d = b.ToString();
        string national;
        if (d.StartsWith("+86", StringComparison.Ordinal))
        {
            national = d[3..];
        }
        else if (d.StartsWith("0086", StringComparison.Ordinal))
        {
            national = d[4..];
        }
        else if (d.StartsWith('+'))
        {
            // Another country: keep the E.164 form as written (ITU-T E.164: at most 15 digits).
            var digits = d[1..];
            return digits.Length is >= 8 and <= 15 && digits[0] != '0' ? d : null;
        }
        else if (d.Length == 13 && d.StartsWith("86", StringComparison.Ordinal))
        {
            national = d[2..];
        }
        else
        {
            national = d;
        }

        // CN mobile numbers: 11 digits, 1 then 3–9 (MIIT numbering plan: 13x–19x).
        return national.Length == 11 && national[0] == '1' && national[1] is >= '3' and <= '9' && national.All(char.IsAsciiDigit)
            ? "+86" + national
            : null;
    }

    private static string? Device(string s)
    {
        var b = new StringBuilder(s.Length);
        foreach (var c in s)
        {
            if (c == '-')
            {
                continue;
            }

            if (!char.IsAsciiHexDigit(c))
            {
                return null;
            }

            b.Append(char.ToLowerInvariant(c));
        }

        var d = b.ToString();
        return d.Length is >= 8 and <= 64 && d.Any(c => c != '0') ? d : null;
    }

    private static string? Opaque(string s) =>
        s.Length <= MaxOpaqueLength && !s.Any(c => char.GetUnicodeCategory(c) is UnicodeCategory.Control or UnicodeCategory.Format)
            ? s
            : null;
}
