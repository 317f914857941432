using System.Globalization;

namespace Hutong.Domain;

/// <summary>An ISO 4217 currency with its minor-unit exponent (fen for CNY).</summary>
public sealed record Currency
{
    private static readonly Dictionary<string, Currency> Known = new(StringComparer.Ordinal)
    {
        ["CNY"] = new("CNY", 2, "¥"),
        ["HKD"] = new("HKD", 2, "HK$"),
        ["MOP"] = new("MOP", 2, "MOP$"),
        ["USD"] = new("USD", 2, "$"),
        ["EUR"] = new("EUR", 2, "€"),
        ["JPY"] = new("JPY", 0, "¥"),
        ["KRW"] = new("KRW", 0, "₩"),
    };

    private Currency(string code, int exponent, string symbol)
    {
        Code = code;
        Exponent = exponent;
        Symbol = symbol;
    }

    public string Code { get; }

    /// <summary>Digits after the decimal point: 2 for CNY (fen), 0 for JPY.</summary>
    public int Exponent { get; }

    public string Symbol { get; }

    public static Currency Cny => Known["CNY"];

    public static bool TryParse(string? code, out Currency currency)
    {
        currency = null!;
        if (code is null || !Known.TryGetValue(code.ToUpperInvariant(), out var found))
        {
            return false;
        }

        currency = found;
        return true;
    }

    public static Currency Parse(string code) =>
        TryParse(code, out var c) ? c : throw new ArgumentException($"Unsupported currency '{code}'.", nameof(code));

    public override string ToString() => Code;
}

/// <summary>An amount in integer minor units. Never a floating-point number.</summary>
public readonly record struct Money(long Minor, Currency Currency)
{
    /// <summary>
    /// The largest single amount the API takes or returns, in minor units: 10^11, i.e. ¥1,000,000,000 in fen. Far above
    /// any wallet's per-transaction limit or a sane monthly guarantee, yet small enough that every product the hub
    /// forms with it (× basis points, × days, × 2 for rounding) stays far inside a long. Payments, refunds, split
    /// amounts, host guarantees and statements are all held to it.
    /// </summary>
    public const long MaxAmount = 100_000_000_000;

    /// <summary>
    /// The largest balance, either sign, any ledger account may reach: 10^17 minor units (¥10^15 — more than the
    /// world's yearly output). The ledger refuses a posting that would go past it, so every running sum of an
    /// account's lines, and the sum of up to 92 accounts, fits in a 64-bit SQL integer (SQLite's SUM fails rather than
    /// wrap; PostgreSQL's is read back into a long).
    /// </summary>
    public const long MaxBalance = 100_000_000_000_000_000;

    public static Money Of(long minor, string currency) => new(minor, Currency.Parse(currency));

    public Money Add(Money other)
    {
        EnsureSameCurrency(other);
        return this with { Minor = checked(Minor + other.Minor) };
    }

    public Money Subtract(Money other)
    {
        EnsureSameCurrency(other);
        return this with { Minor = checked(Minor - other.Minor) };
    }

    /// <summary>Formats as major units without floating point, e.g. 1234 fen → "12.34".</summary>
    public string ToMajorString()
    {
        if (Currency.Exponent == 0)
        {
            return Minor.ToString(CultureInfo.InvariantCulture);
        }

        var factor = Pow10(Currency.Exponent);
        var abs = Math.Abs(Minor);
        var whole = abs / factor;
        var frac = abs % factor;
        var sign = Minor < 0 ? "-" : string.Empty;
        return string.Create(CultureInfo.InvariantCulture, $"{sign}{whole}.{frac.ToString(new string('0', Currency.Exponent), CultureInfo.InvariantCulture)}");
    }

    public string ToDisplayString() => Minor < 0 ? $"-{Currency.Symbol}{new Money(-Minor, Currency).ToMajorString()}" : $"{Currency.Symbol}{ToMajorString()}";

    public override string ToString() => $"{ToMajorString()} {Currency.Code}";

    private static long Pow10(int exponent)
    {
        long r = 1;
        for (var i = 0; i < exponent; i++)
        {
            r *= 10;
        }

        return r;
    }

    private void EnsureSameCurrency(Money other)
    {
        if (!ReferenceEquals(Currency, other.Currency) && Currency.Code != other.Currency.Code)
        {
            throw new InvalidOperationException($"Currency mismatch: {Currency.Code} vs {other.Currency.Code}.");
        }
    }
}
