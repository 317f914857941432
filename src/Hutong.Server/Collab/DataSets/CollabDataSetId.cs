using Hutong.Domain;

namespace Hutong.Server.Collab.DataSets;

/// <summary>A cooperation data set's id in a route (<c>cds_…</c>).</summary>
public readonly record struct CollabDataSetId(string Value) : IRouteId, IParsable<CollabDataSetId>
{
    public bool IsBound => Value is not null;

    public string What => "collab data set";

    public static bool TryParse(string? s, IFormatProvider? provider, out CollabDataSetId result)
    {
        result = Ids.HasPrefix(s, CollabDataSetService.IdPrefix) ? new CollabDataSetId(s!) : default;
        return result.IsBound;
    }

    public static CollabDataSetId Parse(string s, IFormatProvider? provider) =>
        TryParse(s, provider, out var id) ? id : throw new FormatException($"Not a collab data set id: {s}");

    public override string ToString() => Value;
}
