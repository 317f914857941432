using Hutong.Collab.Crypto;

namespace Hutong.Collab.Psi;

/// <summary>
/// One party of an ECDH-PSI job, driven message by message so that a job can run batch by batch, bucket by bucket,
/// and resume: every output is a deterministic function of the key and the input batch, and what was received is
/// tracked by <see cref="BatchSequence"/>. Both roles use it:
/// <list type="bullet">
/// <item>the <b>receiver</b> (learns the count) sends its items as "enc" batches, masks the sender's "enc" batches into
/// <see cref="AcceptPeerEnc"/>'s buckets, receives its own items back as sorted "dual.enc" buckets and counts matches;</item>
/// <item>the <b>sender</b> sends its items as "enc" batches and returns the receiver's items masked again, bucket by
/// bucket and sorted (<see cref="PeerDualBatches"/>), so the receiver cannot tell which of its items matched.</item>
/// </list>
/// Items are grouped in segments (campaign × group cohorts of the attribution protocol; "" for plain overlap).
/// </summary>
public sealed class EcdhPsiParty
{
    private readonly SecretScalar key;
    private readonly BatchSequence received = new();
    private readonly Dictionary<string, DualBuckets> peerDual = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DualBuckets> ownDual = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> peerItems = new(StringComparer.Ordinal);

    public EcdhPsiParty(PsiSuite suite, SecretScalar key)
    {
        ArgumentNullException.ThrowIfNull(suite);
        ArgumentNullException.ThrowIfNull(key);
        Suite = suite;
        this.key = key;
    }

    public PsiSuite Suite { get; }

    /// <summary>Stage 1 for one batch of our own (normalised, de-duplicated) ids.</summary>
    public EcdhPsiCipherBatch MaskBatch(string segment, IReadOnlyList<string> normalizedIds, int batchIndex, bool isLast)
    {
        ArgumentNullException.ThrowIfNull(normalizedIds);
        var packed = EcdhPsi.Mask(Suite, key, normalizedIds);
        return new EcdhPsiCipherBatch(CipherType.Enc, segment, 0, batchIndex, isLast, normalizedIds.Count, packed);
    }

    /// <summary>All stage-1 batches of a list of ids, <paramref name="batchSize"/> at a time (at least one, possibly empty).</summary>
    public IEnumerable<EcdhPsiCipherBatch> MaskAll(string segment, IReadOnlyList<string> normalizedIds, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(normalizedIds);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var batches = Math.Max(1, (normalizedIds.Count + batchSize - 1) / batchSize);
        for (var b = 0; b < batches; b++)
        {
            var slice = normalizedIds.Skip(b * batchSize).Take(batchSize).ToList();
            yield return MaskBatch(segment, slice, b, b == batches - 1);
        }
    }

    /// <summary>Stage 2 on the peer's "enc" batch: masked again with our key, truncated, put into the segment's buckets.</summary>
    public void AcceptPeerEnc(EcdhPsiCipherBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        batch.Validate(CipherType.Enc, Ristretto255.PointBytes);
        received.Check(batch);
        RestorePeerEnc(batch, RemaskPeerEnc(batch));
    }

    /// <summary>
    /// Stage 2 without keeping anything: the peer's "enc" batch masked again with our key and truncated. A party whose
    /// state lives in a store (several instances answering one job) keeps these values and gives them back to
    /// <see cref="RestorePeerEnc"/> later, on any instance.
    /// </summary>
    public UInt128[] RemaskPeerEnc(EcdhPsiCipherBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        batch.Validate(CipherType.Enc, Ristretto255.PointBytes);
        return EcdhPsi.Remask(Suite, key, batch);
    }

    /// <summary>
    /// Takes a peer "enc" batch whose values <see cref="RemaskPeerEnc"/> computed (here or on another instance): the
    /// same as <see cref="AcceptPeerEnc"/> with the batch. Only the batch's header is read (type, segment, index, last).
    /// </summary>
    public void RestorePeerEnc(EcdhPsiCipherBatch header, ReadOnlySpan<UInt128> remasked)
    {
        ArgumentNullException.ThrowIfNull(header);
        if (remasked.Length != header.Count)
        {
            throw new CollabProtocolException("bad_message", $"'{header.Type}' batch {header.BatchIndex}: {remasked.Length} values for {header.Count} items.");
        }

        received.Check(header);
        received.Commit(header);
        Buckets(peerDual, header.Segment).Add(remasked);
        peerItems[header.Segment] = peerItems.GetValueOrDefault(header.Segment) + header.Count;
    }

    public bool PeerEncEnded(string segment) => received.Ended(CipherType.Enc, segment, 0);

    public long PeerItems(string segment) => peerItems.GetValueOrDefault(segment);

    public IReadOnlyCollection<string> PeerSegments => peerItems.Keys;

    /// <summary>
    /// The sender's answer: the receiver's items masked again, per segment and bucket, sorted, at most
    /// <paramref name="batchSize"/> values a batch. Only after the peer's last "enc" batch of that segment.
    /// </summary>
    public IEnumerable<EcdhPsiCipherBatch> PeerDualBatches(string segment, int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (!PeerEncEnded(segment))
        {
            throw new CollabProtocolException("not_ready", $"segment '{segment}': the peer's items have not all arrived.");
        }

        var buckets = Buckets(peerDual, segment);
        for (var b = 0; b < buckets.BucketCount; b++)
        {
            var (sorted, _) = buckets.Sorted(b);
            var batches = Math.Max(1, (sorted.Length + batchSize - 1) / batchSize);
            for (var i = 0; i < batches; i++)
            {
                var slice = sorted.AsSpan(Math.Min(sorted.Length, i * batchSize), Math.Min(batchSize, Math.Max(0, sorted.Length - i * batchSize)));
                yield return new EcdhPsiCipherBatch(CipherType.DualEnc, segment, b, i, i == batches - 1, slice.Length, EcdhPsi.Pack(Suite, slice));
            }

            buckets.Release(b);
        }
    }

    /// <summary>The receiver takes its own items back, masked by both keys.</summary>
    public void AcceptOwnDual(EcdhPsiCipherBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        batch.Validate(CipherType.DualEnc, Suite.TruncatedBytes);
        received.Check(batch);
        var values = EcdhPsi.Unpack(Suite, batch);
        Buckets(ownDual, batch.Segment).AddSortedChunk(batch.BucketIndex, values);
        received.Commit(batch);
    }

    public bool OwnDualEnded(string segment) =>
        Enumerable.Range(0, Suite.BucketCount).All(b => received.Ended(CipherType.DualEnc, segment, b));

    public long OwnDualItems(string segment) => ownDual.TryGetValue(segment, out var d) ? d.Count : 0;

    /// <summary>
    /// How many of our items (segment <paramref name="ownSegment"/>) the peer also has (its items of
    /// <paramref name="peerSegment"/>), bucket by bucket. Both streams must be complete.
    /// </summary>
    public long CountIntersection(string ownSegment, string peerSegment = "")
    {
        RequireComplete(ownSegment, peerSegment);
        var own = Buckets(ownDual, ownSegment);
        var peer = Buckets(peerDual, peerSegment);
        long count = 0;
        for (var b = 0; b < Suite.BucketCount; b++)
        {
            var (mine, _) = own.Sorted(b);
            var (theirs, _) = peer.Sorted(b);
            count += DualBuckets.MatchPositions(mine, theirs).LongCount();
        }

        return count;
    }

    internal DualBuckets OwnDualBuckets(string segment) => Buckets(ownDual, segment);

    internal void RequireComplete(string ownSegment, string? peerSegment)
    {
        if (!OwnDualEnded(ownSegment) || (peerSegment is not null && !PeerEncEnded(peerSegment)))
        {
            throw new CollabProtocolException("not_ready", $"segment '{ownSegment}': not every batch has arrived yet.");
        }
    }

    internal BatchSequence Received => received;

    internal SecretScalar Key => key;

    private DualBuckets Buckets(Dictionary<string, DualBuckets> map, string segment)
    {
        if (!map.TryGetValue(segment, out var buckets))
        {
            buckets = new DualBuckets(Suite);
            map[segment] = buckets;
        }

        return buckets;
    }
}
