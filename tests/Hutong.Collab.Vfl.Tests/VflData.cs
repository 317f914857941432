using Hutong.Collab.Vfl.Data;

namespace Hutong.Collab.Vfl.Tests;

/// <summary>The shared vertical data sets (tests/data/vertical, copied next to the test assembly).</summary>
internal static class VflData
{
    public static (AlignedData Guest, AlignedData Host, double[][] Joined, int[] Labels) Load(string name, int? subsample = null)
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "data", "vertical");
        var guest = PartyTableLoader.Load(Path.Combine(dir, $"{name}_hetero_guest.csv"), new TableOptions("id", "y"));
        var host = PartyTableLoader.Load(Path.Combine(dir, $"{name}_hetero_host.csv"), new TableOptions("id"));
        var ids = PartyTableLoader.Intersection(guest, host);
        if (subsample is { } n)
        {
            // a seeded subsample of the intersection (both parties agree on it like on the intersection itself)
            var pick = ids.ToArray();
            new Random(7).Shuffle(pick);
            ids = [.. pick.Take(n).Order(StringComparer.Ordinal)];
        }

        var g = guest.Align(ids);
        var h = host.Align(ids);
        return (g, h, [.. g.Columns, .. h.Columns], g.Labels!);
    }
}
