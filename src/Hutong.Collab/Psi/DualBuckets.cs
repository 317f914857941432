namespace Hutong.Collab.Psi;

/// <summary>
/// Second-stage values split into buckets by their leading bits. The values are pseudo-random (H(x)^(k·k')), so the
/// buckets are balanced and a bucket says nothing about which ids are in it — unlike buckets by a hash of the id,
/// whose per-bucket counts would let a party that chose its own bucket contents learn more than the total. Each value
/// may carry a tag (the attribution protocol's index of a ciphertext). A bucket is sorted before it is sent: a sorted
/// order depends only on the values, so it is as good as a shuffle and hides the order the items came in.
/// This in-memory store is the pure core; the storage layer keeps the same buckets on disk or in the database.
/// </summary>
public sealed class DualBuckets
{
    private readonly List<UInt128>[] values;
    private readonly List<long>[]? tags;
    private readonly PsiSuite suite;

    public DualBuckets(PsiSuite suite, bool tagged = false)
    {
        ArgumentNullException.ThrowIfNull(suite);
        this.suite = suite;
        values = [.. Enumerable.Range(0, suite.BucketCount).Select(_ => new List<UInt128>())];
        tags = tagged ? [.. Enumerable.Range(0, suite.BucketCount).Select(_ => new List<long>())] : null;
    }

    public int BucketCount => values.Length;

    public long Count => values.Sum(v => (long)v.Count);

    public void Add(ReadOnlySpan<UInt128> batch, long firstTag = 0)
    {
        for (var i = 0; i < batch.Length; i++)
        {
            var b = suite.BucketOf(batch[i]);
            values[b].Add(batch[i]);
            tags?[b].Add(firstTag + i);
        }
    }

    /// <summary>Adds a received dual.enc bucket chunk; refuses values outside that bucket or not strictly increasing.</summary>
    public void AddSortedChunk(int bucket, ReadOnlySpan<UInt128> chunk)
    {
        if (bucket < 0 || bucket >= values.Length)
        {
            throw new CollabProtocolException("bad_message", $"bucket {bucket} does not exist (the job has {values.Length}).");
        }

        var list = values[bucket];
        for (var i = 0; i < chunk.Length; i++)
        {
            if (suite.BucketOf(chunk[i]) != bucket)
            {
                throw new CollabProtocolException("bad_message", $"a value in bucket {bucket}'s batch belongs to bucket {suite.BucketOf(chunk[i])}.");
            }

            if (list.Count > 0 && chunk[i] <= list[^1])
            {
                throw new CollabProtocolException("duplicate_item",
                    $"bucket {bucket}: values not strictly increasing — a duplicate id or a reordered batch.");
            }

            list.Add(chunk[i]);
        }
    }

    /// <summary>The bucket's values sorted (with their tags), refusing duplicates (the same id twice across batches).</summary>
    public (UInt128[] Values, long[] Tags) Sorted(int bucket)
    {
        var v = values[bucket].ToArray();
        var t = tags?[bucket].ToArray() ?? [];
        if (tags is null)
        {
            Array.Sort(v);
        }
        else
        {
            Array.Sort(v, t);
        }

        for (var i = 1; i < v.Length; i++)
        {
            if (v[i] == v[i - 1])
            {
                throw new CollabProtocolException("duplicate_item",
                    $"bucket {bucket}: the same item twice after masking — an id was sent twice (across batches).");
            }
        }

        return (v, t);
    }

    /// <summary>Frees a bucket once it is counted.</summary>
    public void Release(int bucket)
    {
        values[bucket] = [];
        if (tags is not null)
        {
            tags[bucket] = [];
        }
    }

    /// <summary>Positions in <paramref name="peer"/> whose value is also in <paramref name="own"/> (both sorted).</summary>
    public static IEnumerable<int> MatchPositions(UInt128[] own, UInt128[] peer)
    {
        ArgumentNullException.ThrowIfNull(own);
        ArgumentNullException.ThrowIfNull(peer);
        int i = 0, j = 0;
        while (i < own.Length && j < peer.Length)
        {
            if (own[i] < peer[j])
            {
                i++;
            }
            else if (own[i] > peer[j])
            {
                j++;
            }
            else
            {
                yield return j;
                i++;
                j++;
            }
        }
    }
}
