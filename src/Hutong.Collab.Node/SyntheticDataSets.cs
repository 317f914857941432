using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using Hutong.Collab.Data;
using Hutong.Collab.Ids;

namespace Hutong.Collab.Node;

/// <summary>
/// Seeded synthetic data sets for demonstrations and tests (CLI/hub option Hutong:Collab:Synthetic). The data set id
/// says what it holds: <c>synthetic:{kind}:{from}:{count}:{seed}</c> is users <c>u{i}</c> for i in [from, from+count):
/// <list type="bullet">
/// <item><c>users</c>: plain ids (overlap);</item>
/// <item><c>exposures</c>: each user in campaign c1 or c2 and in the test or control group (a hash of seed and i);</item>
/// <item><c>conversions</c>: the users of the range who bought: 30 % of test-group users, 20 % of control-group users
/// (the same hash), each with a value of 1.00–1,000.00 yuan in fen.</item>
/// </list>
/// Two parties with ranges [0, 1000) and [220, 1220) share exactly 780 users (78 %). Everything is a function of the
/// id, so a plaintext join of the two data sets (<see cref="ReadAllAsync"/>) gives the exact expected answers.
/// </summary>
public sealed class SyntheticDataSets : ICollabDataSets
{
    public const string Prefix = "synthetic:";
    public const double TestRate = 0.30;
    public const double ControlRate = 0.20;

    public Task<CollabDataSetInfo?> GetAsync(string dataSetId, CancellationToken ct)
    {
        if (Parse(dataSetId) is not { } p)
        {
            return Task.FromResult<CollabDataSetInfo?>(null);
        }

        var rows = p.Kind == "conversions" ? Range(p).LongCount(i => Converts(p.Seed, i)) : p.Count;
        var kind = p.Kind == "exposures" ? CollabDataSetKind.Exposures : CollabDataSetKind.Conversions;
        return Task.FromResult<CollabDataSetInfo?>(new CollabDataSetInfo(dataSetId, kind, IdRule.Opaque, rows, "CNY"));
    }

    public async IAsyncEnumerable<CollabRow> ReadBucketAsync(string dataSetId, int bucket, int bucketCount, [EnumeratorCancellation] CancellationToken ct)
    {
        var p = Parse(dataSetId) ?? throw new CollabProtocolException("unknown_data_set", $"no data set {dataSetId}");
        foreach (var i in Range(p))
        {
            ct.ThrowIfCancellationRequested();
            var row = Row(p, i);
            if (row is { } r && CollabBuckets.BucketOf(r.Id, bucketCount) == bucket)
            {
                yield return r;
            }
        }

        await Task.CompletedTask;
    }

    /// <summary>Every row, for a plaintext reference join.</summary>
    public IReadOnlyList<CollabRow> ReadAll(string dataSetId)
    {
        var p = Parse(dataSetId) ?? throw new CollabProtocolException("unknown_data_set", $"no data set {dataSetId}");
        return [.. Range(p).Select(i => Row(p, i)).OfType<CollabRow>()];
    }

    public static string Id(string kind, long from, long count, int seed) => $"{Prefix}{kind}:{from}:{count}:{seed}";

    private static CollabRow? Row(Spec p, long i)
    {
        var id = "u" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return p.Kind switch
        {
            "users" => new CollabRow(id, 0, null, null, CollabGroup.None),
            "exposures" => new CollabRow(id, 0, 1_700_000_000 + i, "c" + (1 + Hash(p.Seed, "campaign", i) % 2), GroupOf(p.Seed, i)),
            _ => Converts(p.Seed, i) ? new CollabRow(id, 100 + (long)(Hash(p.Seed, "value", i) % 99_901), 1_700_100_000 + i, null, CollabGroup.None) : null,
        };
    }

    private static CollabGroup GroupOf(int seed, long i) => Hash(seed, "group", i) % 2 == 0 ? CollabGroup.Test : CollabGroup.Control;

    private static bool Converts(int seed, long i) =>
        Hash(seed, "converts", i) % 10_000 < (GroupOf(seed, i) == CollabGroup.Test ? TestRate : ControlRate) * 10_000;

    private static ulong Hash(int seed, string what, long i)
    {
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes($"{seed}/{what}/{i}"), digest);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(digest);
    }

    private static IEnumerable<long> Range(Spec p)
    {
        for (var i = p.From; i < p.From + p.Count; i++)
        {
            yield return i;
        }
    }

    private sealed record Spec(string Kind, long From, long Count, int Seed);

    private static Spec? Parse(string dataSetId)
    {
        if (!dataSetId.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return null;
        }

        var parts = dataSetId[Prefix.Length..].Split(':');
        return parts.Length == 4 && parts[0] is "users" or "exposures" or "conversions"
            && long.TryParse(parts[1], out var from) && from >= 0
            && long.TryParse(parts[2], out var count) && count is >= 0 and <= 100_000_000
            && int.TryParse(parts[3], out var seed)
            ? new Spec(parts[0], from, count, seed)
            : null;
    }
}
