using System.Text;
using Hutong.Collab.Crypto;
using Hutong.Collab.Ids;

namespace Hutong.Collab.Psi;

/// <summary>
/// What both parties of one job agree on before any point is sent: the job, the id rule, the second-stage width and
/// the number of buckets. Derived from the two handshakes, so both sides compute the same suite.
/// </summary>
public sealed record PsiSuite
{
    public const int Version = 1;
    public const int StatisticalSecurityBits = 40;

    /// <summary>The widest second-stage value kept (128 bits: collision-free at any realistic size).</summary>
    public const int MaxTruncatedBytes = 16;

    /// <summary>Items per bucket the bucket count aims at (2^20: ~16 MB of second-stage values per side and bucket).</summary>
    public const long TargetBucketItems = 1L << 20;

    public PsiSuite(string jobId, IdRule rule, long ownItems, long peerItems, int? bucketBits = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(jobId);
        if (ownItems < 0 || peerItems < 0)
        {
            throw new CollabProtocolException("bad_size", "Item counts cannot be negative.");
        }

        JobId = jobId;
        Rule = rule;
        TruncatedBytes = TruncatedBytesFor(ownItems, peerItems);
        BucketBits = bucketBits ?? BucketBitsFor(Math.Max(ownItems, peerItems));
        if (BucketBits is < 0 or > 16)
        {
            throw new CollabProtocolException("bad_suite", "Bucket bits must be 0–16.");
        }

        Domain = $"hutong-collab/v{Version}/ecdh-psi/ristretto255/sha512/{rule.Name()}/{jobId}";
    }

    public string JobId { get; }

    public IdRule Rule { get; }

    /// <summary>ceil((ceil(log2(M·N)) + 40) / 8) bytes, at most 16 (the interop draft's `Log(MN) + 40`).</summary>
    public int TruncatedBytes { get; }

    public int BucketBits { get; }

    public int BucketCount => 1 << BucketBits;

    /// <summary>The hash-to-group domain tag: version, group, hash, id rule and job, so no two jobs share points.</summary>
    public string Domain { get; }

    public static int TruncatedBytesFor(long m, long n)
    {
        var product = Math.Max(2.0, (double)Math.Max(1, m) * Math.Max(1, n));
        var bits = (int)Math.Ceiling(Math.Log2(product)) + StatisticalSecurityBits;
        return Math.Min(MaxTruncatedBytes, (bits + 7) / 8);
    }

    public static int BucketBitsFor(long items) =>
        items <= TargetBucketItems ? 0 : Math.Min(16, (int)Math.Ceiling(Math.Log2((double)items / TargetBucketItems)));

    /// <summary>The agreed suite from both handshakes; refuses a peer that proposes another group, hash, rule or job.</summary>
    public static PsiSuite Agree(PsiHandshake mine, PsiHandshake peer)
    {
        ArgumentNullException.ThrowIfNull(mine);
        ArgumentNullException.ThrowIfNull(peer);
        if (peer.Version != Version || peer.Curve != mine.Curve || peer.Hash != mine.Hash || peer.HashToCurve != mine.HashToCurve)
        {
            throw new CollabProtocolException("suite_mismatch", "The peer proposes another protocol version, group, hash or hash-to-group.");
        }

        if (peer.JobId != mine.JobId || peer.IdRule != mine.IdRule)
        {
            throw new CollabProtocolException("suite_mismatch", "The peer's job or id rule differs from ours.");
        }

        if (peer.ItemNum < 0)
        {
            throw new CollabProtocolException("bad_size", "The peer announced a negative item count.");
        }

        var rule = Enum.GetValues<IdRule>().Single(r => r.Name() == mine.IdRule);
        return new PsiSuite(mine.JobId, rule, mine.ItemNum, peer.ItemNum, Math.Max(mine.BucketBits, peer.BucketBits));
    }

    public PsiHandshake Handshake(long ownItems, int resultToRank) =>
        new(Version, JobId, ownItems, resultToRank, Rule.Name(), BucketBitsFor(ownItems), TruncatedBytes * 8);

    /// <summary>
    /// H(id) = ristretto255_from_hash(SHA-512(len16(domain) ‖ domain ‖ UTF-8(id))): a domain-separated hash to the group.
    /// </summary>
    public void HashToGroup(string normalizedId, Span<byte> point)
    {
        var domain = Encoding.UTF8.GetByteCount(Domain);
        var id = Encoding.UTF8.GetByteCount(normalizedId);
        var length = 2 + domain + id;
        Span<byte> input = length <= 1024 ? stackalloc byte[length] : new byte[length];
        input[0] = (byte)(domain >> 8);
        input[1] = (byte)domain;
        Encoding.UTF8.GetBytes(Domain, input[2..]);
        Encoding.UTF8.GetBytes(normalizedId, input[(2 + domain)..]);
        Ristretto255.HashToGroup(input, point);
    }

    /// <summary>
    /// A second-stage point truncated to <see cref="TruncatedBytes"/>, as a left-aligned 128-bit number. Bytes 1… of the
    /// encoding are used: byte 0's lowest bit is always 0 in a canonical ristretto255 encoding.
    /// </summary>
    public UInt128 Truncate(ReadOnlySpan<byte> point)
    {
        Span<byte> be = stackalloc byte[16];
        be.Clear();
        point.Slice(1, TruncatedBytes).CopyTo(be);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(be);
    }

    public int BucketOf(UInt128 value) => BucketBits == 0 ? 0 : (int)(value >> (128 - BucketBits));
}
