namespace Hutong.Domain;

/// <summary>
/// The spelling of a state enum in the store, the SQL CHECK lists and the API: its member name in snake_case
/// (<c>AwaitingRefund</c> → <c>awaiting_refund</c>). One table serves both directions, so they cannot drift apart.
/// </summary>
public static class WireName<TEnum>
    where TEnum : struct, Enum
{
    private static readonly Dictionary<TEnum, string> Names = Enum.GetValues<TEnum>().ToDictionary(v => v, v => SnakeCase(v.ToString()));

    private static readonly Dictionary<string, TEnum> Values = Names.ToDictionary(p => p.Value, p => p.Key, StringComparer.Ordinal);

    public static string Of(TEnum value) =>
        Names.TryGetValue(value, out var name) ? name : throw new ArgumentOutOfRangeException(nameof(value), value, null);

    /// <param name="what">What the value is, for the error ("refund status").</param>
    public static TEnum Parse(string name, string what) =>
        Values.TryGetValue(name, out var value) ? value : throw new ArgumentOutOfRangeException(nameof(name), name, $"Unknown {what}.");

    private static string SnakeCase(string pascal) =>
        string.Concat(pascal.Select((ch, i) => char.IsUpper(ch) ? (i > 0 ? "_" : string.Empty) + char.ToLowerInvariant(ch) : ch.ToString()));
}
