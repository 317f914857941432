using Hutong.Domain;

namespace Hutong.Server.Collab.Nodes;

/// <summary>A cooperation job's id in a route (<c>cj_</c> and 20 lower-case hex digits, as CollabJobService makes them).</summary>
public readonly record struct CollabJobId(string Value) : IRouteId, IParsable<CollabJobId>
{
    public bool IsBound => Value is not null;

    public string What => "collab job";

    public static bool TryParse(string? s, IFormatProvider? provider, out CollabJobId result)
    {
        result = s is { Length: 23 } && s.StartsWith("cj_", StringComparison.Ordinal) && s.AsSpan(3).ContainsAnyExcept("0123456789abcdef") is false
            ? new CollabJobId(s)
            : default;
        return result.IsBound;
    }

    public static CollabJobId Parse(string s, IFormatProvider? provider) =>
        TryParse(s, provider, out var id) ? id : throw new FormatException($"Not a collab job id: {s}");

    public override string ToString() => Value;
}
