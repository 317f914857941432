using System.Globalization;

namespace Hutong.Collab.Data;

/// <summary>How a conversions file writes its value column.</summary>
public enum ValueFormat
{
    /// <summary>Whole minor units (fen): <c>1999</c>.</summary>
    Minor,

    /// <summary>A decimal amount in major units (yuan): <c>19.99</c>, converted exactly to minor units, never through a float.</summary>
    Amount,
}

/// <summary>
/// Pure parsing of a data set's cells (no I/O): values to integer minor units, times to Unix seconds, test/control groups.
/// Each returns null when the cell is refused; the caller names the row, never the cell's content when it is an id.
/// </summary>
public static class CollabValues
{
    /// <summary>A value larger than this (10^11 minor units, a billion yuan) is refused, so the sum of 10^7 rows fits a long.</summary>
    public const long MaxValue = 100_000_000_000;

    /// <summary>
    /// The value in minor units, or null. <see cref="ValueFormat.Minor"/>: an optional + then ASCII digits.
    /// <see cref="ValueFormat.Amount"/>: ASCII digits with at most <paramref name="exponent"/> decimals after a '.', read
    /// digit by digit into an integer (so 0.1 + 0.2 is exactly 30 fen); more decimals than the currency has are refused,
    /// not rounded. Negative values are refused (refunds are netted before upload, or by summing duplicates).
    /// </summary>
    public static long? ParseValue(string? cell, ValueFormat format, int exponent)
    {
        if (cell is null)
        {
            return null;
        }

        var s = cell.AsSpan().Trim();
        if (s.Length > 0 && s[0] == '+')
        {
            s = s[1..];
        }

        if (s.Length is 0 or > 24)
        {
            return null;
        }

        long minor = 0;
        var decimals = -1; // -1: no '.' seen yet
        foreach (var c in s)
        {
            if (c == '.' && format == ValueFormat.Amount && decimals < 0)
            {
                decimals = 0;
                continue;
            }

            if (!char.IsAsciiDigit(c))
            {
                return null;
            }

            if (decimals >= 0 && ++decimals > exponent)
            {
                return null;
            }

            minor = minor * 10 + (c - '0');
            if (minor > MaxValue * Pow10(exponent))
            {
                return null; // stops before a long could overflow
            }
        }

        if (s[0] == '.' || s[^1] == '.')
        {
            return null; // ".5" and "12." are not amounts
        }

        if (format == ValueFormat.Amount)
        {
            minor *= Pow10(exponent - Math.Max(decimals, 0));
        }

        return minor <= MaxValue ? minor : null;
    }

    /// <summary>
    /// A time as Unix seconds UTC, or null: all digits are Unix seconds (10^9 … 10^11, i.e. 2001 … 5138, so milliseconds
    /// are refused rather than read as a far future); anything else must be ISO 8601 with a date, a time and an offset
    /// (<c>2026-11-11T20:00:00+08:00</c>, <c>…Z</c>) — a time without an offset is ambiguous and refused — or a date alone
    /// (<c>2026-11-11</c>), read as midnight China time (UTC+8), the platforms' business day.
    /// </summary>
    public static long? ParseTime(string? cell)
    {
        if (cell is null)
        {
            return null;
        }

        var s = cell.Trim();
        if (s.Length == 0)
        {
            return null;
        }

        if (s.All(char.IsAsciiDigit))
        {
            return s.Length <= 12 && long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var unix) && unix is >= 1_000_000_000 and < 100_000_000_000
                ? unix
                : null;
        }

        if (s.Length == 10 && DateOnly.TryParseExact(s, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
        {
            return new DateTimeOffset(date.ToDateTime(TimeOnly.MinValue), TimeSpan.FromHours(8)).ToUnixTimeSeconds();
        }

        var hasOffset = s.EndsWith('Z') || s.EndsWith('z') || (s.Length > 19 && (s[^6] is '+' or '-') && s[^3] == ':');
        return hasOffset && s.Contains('T', StringComparison.OrdinalIgnoreCase)
            && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AllowWhiteSpaces, out var t)
            ? t.ToUnixTimeSeconds()
            : null;
    }

    /// <summary>test / control (case-insensitive, trimmed), or null.</summary>
    public static CollabGroup? ParseGroup(string? cell) => cell?.Trim().ToLowerInvariant() switch
    {
        "test" or "t" or "treatment" => CollabGroup.Test,
        "control" or "c" or "holdout" => CollabGroup.Control,
        _ => null,
    };

    /// <summary>A campaign name: trimmed, 1–128 characters, no control characters; or null.</summary>
    public static string? ParseCampaign(string? cell)
    {
        var s = cell?.Trim();
        return s is { Length: > 0 and <= 128 } && !s.Any(char.IsControl) ? s : null;
    }

    private static long Pow10(int n)
    {
        long p = 1;
        for (var i = 0; i < n; i++)
        {
            p *= 10;
        }

        return p;
    }
}
