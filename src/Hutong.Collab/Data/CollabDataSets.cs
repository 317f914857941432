using Hutong.Collab.Ids;

namespace Hutong.Collab.Data;

/// <summary>What a party's data set holds: E's conversions (purchases) or A's exposures (ad impressions).</summary>
public enum CollabDataSetKind
{
    /// <summary>E: one row per buyer (values summed per id): purchase value in fen, first purchase time.</summary>
    Conversions,

    /// <summary>A: one row per exposed user: campaign, test/control group, first exposure time.</summary>
    Exposures,
}

/// <summary>Which arm of a lift study an exposed user is in.</summary>
public enum CollabGroup
{
    None,
    Test,
    Control,
}

/// <summary>
/// One row of a stored data set, its id already normalised by the data set's <see cref="IdRule"/>. The raw id never
/// leaves the party; <see cref="Id"/> leaves only hashed to the group and masked.
/// </summary>
/// <param name="Id">The normalised id.</param>
/// <param name="Value">Conversions: the purchase value in minor units (refunds netted). Exposures: 0.</param>
/// <param name="TimeUnixSeconds">First purchase / first exposure, Unix seconds UTC; null when the file had no time.</param>
/// <param name="Campaign">Exposures: the campaign; conversions: null.</param>
/// <param name="Group">Exposures: test or control; conversions: <see cref="CollabGroup.None"/>.</param>
public readonly record struct CollabRow(string Id, long Value, long? TimeUnixSeconds, string? Campaign, CollabGroup Group);

/// <summary>A stored data set as the job engine sees it.</summary>
public sealed record CollabDataSetInfo(string Id, CollabDataSetKind Kind, IdRule Rule, long Rows, string Currency);

/// <summary>
/// The contract between the data sets (upload, validation, storage, Hutong's own payments) and the job engine (PSI,
/// intersection-sum). Rows are read hash bucket by hash bucket so memory stays bounded whatever the data set's size; the
/// bucket of a row is a function of its normalised id only (<see cref="BucketOf"/>), so both parties agree on it.
/// </summary>
public interface ICollabDataSets
{
    Task<CollabDataSetInfo?> GetAsync(string dataSetId, CancellationToken ct);

    /// <summary>The rows whose <see cref="BucketOf"/> is <paramref name="bucket"/>, each id once.</summary>
    IAsyncEnumerable<CollabRow> ReadBucketAsync(string dataSetId, int bucket, int bucketCount, CancellationToken ct);
}

public static class CollabBuckets
{
    /// <summary>
    /// The hash bucket of a normalised id: the first 4 bytes of SHA-256("hutong/collab/bucket/v1" ‖ 0x00 ‖ id, UTF-8),
    /// big-endian, modulo <paramref name="bucketCount"/>. Buckets reveal nothing a party does not already hold: both
    /// sides bucket their own ids and compare only bucket by bucket.
    /// </summary>
    public static int BucketOf(string normalizedId, int bucketCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bucketCount, 1);
        return (int)(HashOf(normalizedId) % (uint)bucketCount);
    }

    /// <summary>
    /// The 32-bit value <see cref="BucketOf"/> reduces: the first 4 bytes of SHA-256("hutong/collab/bucket/v1" ‖ 0x00 ‖
    /// id), big-endian. Stored with each data set row, so rows can be re-bucketed to any bucket count without hashing again.
    /// </summary>
    public static uint HashOf(string normalizedId)
    {
        ArgumentNullException.ThrowIfNull(normalizedId);
        var tag = "hutong/collab/bucket/v1"u8;
        var idBytes = System.Text.Encoding.UTF8.GetBytes(normalizedId);
        var input = new byte[tag.Length + 1 + idBytes.Length];
        tag.CopyTo(input);
        idBytes.CopyTo(input.AsSpan(tag.Length + 1));
        Span<byte> hash = stackalloc byte[32];
        System.Security.Cryptography.SHA256.HashData(input, hash);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(hash);
    }
}
