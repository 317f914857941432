using Hutong.Collab.Sum;

namespace Hutong.Collab.Tests;

/// <summary>
/// Seeded synthetic parties. A (ads) exposes users of two campaigns split into test and control groups; E (e-commerce)
/// has buyers, a share of A's users (the overlap) among them. Converters are drawn with known rates per arm.
/// </summary>
internal sealed record Synthetic(
    IReadOnlyDictionary<string, IReadOnlyList<string>> Cohorts,
    IReadOnlyList<Conversion> Conversions,
    IReadOnlyList<string> AdUsers,
    IReadOnlyList<string> Buyers)
{
    /// <summary>CN mobile numbers, written in mixed raw forms; <paramref name="overlap"/> of A's users are E's buyers too.</summary>
    public static (List<string> A, List<string> E) Overlap(int aSize, int eSize, double overlap, int seed)
    {
        var rng = new Random(seed);
        var shared = (int)Math.Round(aSize * overlap);
        var pool = Phones(rng, aSize + eSize - shared);
        var a = pool.Take(aSize).ToList();
        var e = pool.Take(shared).Concat(pool.Skip(aSize).Take(eSize - shared)).ToList();
        Shuffle(rng, e);
        return (a, e);
    }

    public static Synthetic Campaigns(int usersPerCohort, double testRate, double controlRate, int extraBuyers, int seed)
    {
        var rng = new Random(seed);
        var phones = Phones(rng, 4 * usersPerCohort + extraBuyers);
        var cohorts = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        var conversions = new List<Conversion>();
        var n = 0;
        foreach (var campaign in new[] { "c1", "c2" })
        {
            foreach (var (group, rate) in new[] { ("test", testRate), ("control", controlRate) })
            {
                var ids = phones.Skip(n).Take(usersPerCohort).ToList();
                n += usersPerCohort;
                cohorts[$"{campaign}:{group}"] = ids;
                // Exactly round(rate × users) converters, at random positions: the conversion rate is known exactly.
                foreach (var id in ids.OrderBy(_ => rng.Next()).Take((int)Math.Round(rate * usersPerCohort)))
                {
                    conversions.Add(new Conversion(id, (ulong)rng.Next(100, 500_000)));
                }
            }
        }

        foreach (var id in phones.Skip(n))
        {
            conversions.Add(new Conversion(id, (ulong)rng.Next(100, 500_000)));
        }

        conversions.Add(new Conversion("+8613900000000", uint.MaxValue)); // the largest value the encoding takes
        var shuffled = conversions.ToList();
        Shuffle(rng, shuffled);
        return new Synthetic(cohorts, shuffled, [.. cohorts.Values.SelectMany(c => c)], [.. shuffled.Select(c => c.NormalizedId)]);
    }

    private static List<string> Phones(Random rng, int count)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        while (set.Count < count)
        {
            set.Add($"+861{rng.Next(3, 10)}{rng.Next(0, 1_000_000_000):D9}");
        }

        return [.. set];
    }

    private static void Shuffle<T>(Random rng, List<T> list)
    {
        for (var i = list.Count - 1; i > 0; i--)
        {
            var j = rng.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }
}
