using System.Collections.Concurrent;
using Hutong.Collab.Crypto;
using Hutong.Collab.Psi;

namespace Hutong.Collab.Sum;

/// <summary>One buyer's converted value: the normalised id and the net purchase value in fen (refunds netted).</summary>
public sealed record Conversion(string NormalizedId, ulong ValueFen);

/// <summary>
/// The value holder's items for the intersection-sum: H(w)^k2 for each conversion, and the ElGamal encryptions of the
/// limbs of its value and of its square (<see cref="LimbEncoding.Limbs"/> × 64 bytes each), in the same order.
/// </summary>
public sealed record EncryptedConversionBatch(int BatchIndex, bool IsLastBatch, int Count, ReadOnlyMemory<byte> Points, ReadOnlyMemory<byte> Ciphertexts);

/// <summary>A segment's summed, re-randomised ciphertexts (one per limb), sent by the ad side to the value holder.</summary>
public sealed record EncryptedSegmentSum(string Segment, ReadOnlyMemory<byte> Ciphertexts);

/// <summary>What the value holder decrypts and releases to the ad side, per segment.</summary>
public sealed record SegmentSum(string Segment, UInt128 Sum, UInt128 SumOfSquares);

/// <summary>The ad side's per-segment outcome: the (possibly noised) converter count, or why it was withheld.</summary>
public sealed record SegmentCount(string Segment, long Exposed, CardinalityResult Converters);

/// <summary>Aggregates a buyer's purchases before the protocol: one value per id (the protocol refuses duplicate ids).</summary>
public static class ConversionAggregator
{
    /// <summary>Sums signed amounts (refunds negative) per normalised id; ids netting to 0 or less are dropped.</summary>
    public static IReadOnlyList<Conversion> Aggregate(IEnumerable<(string NormalizedId, long AmountFen)> purchases, LimbEncoding encoding)
    {
        ArgumentNullException.ThrowIfNull(purchases);
        ArgumentNullException.ThrowIfNull(encoding);
        var totals = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (id, amount) in purchases)
        {
            totals[id] = checked(totals.GetValueOrDefault(id) + amount);
        }

        var result = new List<Conversion>(totals.Count);
        foreach (var (id, total) in totals.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            if (total <= 0)
            {
                continue;
            }

            if ((ulong)total > encoding.MaxValue)
            {
                throw new CollabProtocolException("value_too_large", $"A buyer's total is above 2^{encoding.ValueBits} − 1 fen.");
            }

            result.Add(new Conversion(id, (ulong)total));
        }

        return result;
    }
}

/// <summary>
/// E, the value holder (private intersection-sum with cardinality, Ion et al., "On Deploying Secure Computing: Private
/// Intersection-Sum-with-Cardinality", EuroS&amp;P 2020 — Google's Private Join and Compute): masks the ad side's
/// cohorts a second time, sends its own conversions masked with encrypted values, and finally decrypts the per-segment
/// sums. It never learns who matched, nor the counts.
/// </summary>
public sealed class AttributionValueHolder
{
    private readonly SecretScalar elGamal;
    private DiscreteLog? dlog;

    public AttributionValueHolder(PsiSuite suite, SecretScalar psiKey, SecretScalar elGamalKey, LimbEncoding encoding)
    {
        ArgumentNullException.ThrowIfNull(encoding);
        encoding.Validate();
        Psi = new EcdhPsiParty(suite, psiKey);
        elGamal = elGamalKey;
        Encoding = encoding;
        PublicKey = ExpElGamal.PublicKey(elGamalKey);
    }

    public EcdhPsiParty Psi { get; }

    public LimbEncoding Encoding { get; }

    public ReadOnlyMemory<byte> PublicKey { get; }

    public long ConversionsSent { get; private set; }

    /// <summary>One batch of conversions: points and ciphertexts computed on all cores.</summary>
    public EncryptedConversionBatch MaskBatch(IReadOnlyList<Conversion> conversions, int batchIndex, bool isLast)
    {
        ArgumentNullException.ThrowIfNull(conversions);
        var ids = conversions.Select(c => c.NormalizedId).ToList();
        var points = EcdhPsi.Mask(Psi.Suite, Psi.Key, ids);
        var limbs = Encoding.Limbs;
        var ciphertexts = new byte[conversions.Count * limbs * ExpElGamal.CiphertextBytes];
        var pub = PublicKey;
        var encoding = Encoding;
        Parallel.ForEach(Partitioner.Create(0, conversions.Count * limbs, EcdhPsi.Chunk(conversions.Count * limbs)), range =>
        {
            Span<ulong> parts = stackalloc ulong[limbs];
            for (var n = range.Item1; n < range.Item2; n++)
            {
                var (item, limb) = Math.DivRem(n, limbs);
                encoding.Encode(conversions[item].ValueFen, parts);
                ExpElGamal.Encrypt(pub.Span, parts[limb], ciphertexts.AsSpan(n * ExpElGamal.CiphertextBytes, ExpElGamal.CiphertextBytes));
            }
        });
        ConversionsSent += conversions.Count;
        return new EncryptedConversionBatch(batchIndex, isLast, conversions.Count, points, ciphertexts);
    }

    /// <summary>
    /// Decrypts the ad side's sums. Every limb sum must lie within what our own conversions allow
    /// (<see cref="ConversionsSent"/> × (2^LimbBits − 1)); a larger one is refused.
    /// </summary>
    public IReadOnlyList<SegmentSum> DecryptSums(IReadOnlyList<EncryptedSegmentSum> sums) => DecryptSums(sums, ConversionsSent);

    /// <summary>
    /// As <see cref="DecryptSums(IReadOnlyList{EncryptedSegmentSum})"/>, for a job whose conversions were sent by
    /// several holders (one per hash bucket, e.g. after a restart): <paramref name="conversionsSent"/> is the job's total.
    /// </summary>
    public IReadOnlyList<SegmentSum> DecryptSums(IReadOnlyList<EncryptedSegmentSum> sums, long conversionsSent)
    {
        ArgumentNullException.ThrowIfNull(sums);
        if (dlog is null || dlog.Max != Encoding.LimbSumBound(conversionsSent))
        {
            dlog = new DiscreteLog(Encoding.LimbSumBound(conversionsSent));
        }

        var result = new List<SegmentSum>(sums.Count);
        Span<byte> mG = stackalloc byte[Ristretto255.PointBytes];
        Span<ulong> limbSums = stackalloc ulong[Encoding.Limbs];
        foreach (var s in sums)
        {
            if (s.Ciphertexts.Length != Encoding.Limbs * ExpElGamal.CiphertextBytes)
            {
                throw new CollabProtocolException("bad_message", $"segment '{s.Segment}': {s.Ciphertexts.Length} bytes of sums, expected {Encoding.Limbs * ExpElGamal.CiphertextBytes}.");
            }

            for (var l = 0; l < Encoding.Limbs; l++)
            {
                ExpElGamal.DecryptToPoint(elGamal, s.Ciphertexts.Span.Slice(l * ExpElGamal.CiphertextBytes, ExpElGamal.CiphertextBytes), mG);
                limbSums[l] = dlog.Solve(mG);
            }

            var (sum, squares) = Encoding.Decode(limbSums);
            result.Add(new SegmentSum(s.Segment, sum, squares));
        }

        return result;
    }
}

/// <summary>
/// A, the ad side: sends its cohorts (one segment per campaign × group), masks E's conversions a second time, finds
/// which of them are in each cohort (without learning which of its own users they are: its items come back sorted),
/// counts them and adds up their ciphertexts. Learns the per-segment counts; the sums only when E releases them.
/// </summary>
public sealed class AttributionAdSide
{
    private readonly byte[] peerPublicKey;
    private readonly DualBuckets conversions;
    private readonly List<byte[]> ciphertextBatches = [];
    private readonly BatchSequence received = new();

    public AttributionAdSide(PsiSuite suite, SecretScalar psiKey, ReadOnlySpan<byte> peerPublicKey, LimbEncoding encoding)
    {
        ArgumentNullException.ThrowIfNull(encoding);
        encoding.Validate();
        if (!Ristretto255.IsValidPoint(peerPublicKey) || !peerPublicKey.ContainsAnyExcept((byte)0))
        {
            throw new CollabProtocolException("bad_key", "The value holder's ElGamal public key is not a valid group element other than the identity.");
        }

        Psi = new EcdhPsiParty(suite, psiKey);
        this.peerPublicKey = peerPublicKey.ToArray();
        Encoding = encoding;
        conversions = new DualBuckets(suite, tagged: true);
    }

    public EcdhPsiParty Psi { get; }

    public LimbEncoding Encoding { get; }

    public long ConversionsReceived { get; private set; }

    public void AcceptConversions(EncryptedConversionBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var asEnc = new EcdhPsiCipherBatch(CipherType.Enc, "conversions", 0, batch.BatchIndex, batch.IsLastBatch, batch.Count, batch.Points);
        asEnc.Validate(CipherType.Enc, Ristretto255.PointBytes);
        if ((long)batch.Count * Encoding.Limbs * ExpElGamal.CiphertextBytes != batch.Ciphertexts.Length)
        {
            throw new CollabProtocolException("bad_message", $"conversion batch {batch.BatchIndex}: {batch.Ciphertexts.Length} bytes of ciphertexts for {batch.Count} items.");
        }

        received.Check(asEnc);
        var values = EcdhPsi.Remask(Psi.Suite, Psi.Key, asEnc);
        received.Commit(asEnc);
        conversions.Add(values, (long)ciphertextBatches.Count << 32);
        ciphertextBatches.Add(batch.Ciphertexts.ToArray());
        ConversionsReceived += batch.Count;
    }

    public bool ConversionsEnded => received.Ended(CipherType.Enc, "conversions", 0);

    /// <summary>
    /// Per segment: the converter count (released under <paramref name="policy"/>) and, for released segments only,
    /// the re-randomised encrypted sums to send to E.
    /// </summary>
    public (IReadOnlyList<SegmentCount> Counts, IReadOnlyList<EncryptedSegmentSum> Sums) Aggregate(IReadOnlyList<string> segments, ReleasePolicy policy)
    {
        ArgumentNullException.ThrowIfNull(segments);
        ArgumentNullException.ThrowIfNull(policy);
        if (!ConversionsEnded)
        {
            throw new CollabProtocolException("not_ready", "The value holder's conversions have not all arrived.");
        }

        var sortedConversions = Enumerable.Range(0, Psi.Suite.BucketCount).Select(conversions.Sorted).ToArray();
        var counts = new List<SegmentCount>();
        var sums = new List<EncryptedSegmentSum>();
        foreach (var segment in segments)
        {
            Psi.RequireComplete(segment, null);
            var matched = new List<long>();
            var own = Psi.OwnDualBuckets(segment);
            for (var b = 0; b < Psi.Suite.BucketCount; b++)
            {
                var (mine, _) = own.Sorted(b);
                var (theirs, tags) = sortedConversions[b];
                matched.AddRange(DualBuckets.MatchPositions(mine, theirs).Select(j => tags[j]));
            }

            var exposed = Psi.OwnDualItems(segment);
            var released = CardinalityRelease.Release(matched.Count, exposed, ConversionsReceived, policy);
            counts.Add(new SegmentCount(segment, exposed, released));
            if (released.Released)
            {
                sums.Add(new EncryptedSegmentSum(segment, SumCiphertexts(matched)));
            }
        }

        return (counts, sums);
    }

    private byte[] SumCiphertexts(List<long> tags)
    {
        var limbs = Encoding.Limbs;
        var width = limbs * ExpElGamal.CiphertextBytes;
        var total = new byte[width]; // all zeros: Enc(0) with r = 0, the identity in both components
        var gate = new object();
        Parallel.ForEach(Partitioner.Create(0, tags.Count, Math.Max(64, tags.Count / (Environment.ProcessorCount * 4) + 1)), range =>
        {
            var local = new byte[width];
            var scratch = new byte[ExpElGamal.CiphertextBytes];
            for (var i = range.Item1; i < range.Item2; i++)
            {
                var tag = tags[i];
                var source = ciphertextBatches[(int)(tag >> 32)].AsSpan((int)(tag & 0xFFFFFFFF) * width, width);
                for (var l = 0; l < limbs; l++)
                {
                    var acc = local.AsSpan(l * ExpElGamal.CiphertextBytes, ExpElGamal.CiphertextBytes);
                    ExpElGamal.Add(acc, source.Slice(l * ExpElGamal.CiphertextBytes, ExpElGamal.CiphertextBytes), scratch);
                    scratch.CopyTo(acc);
                }
            }

            lock (gate)
            {
                var scratchTotal = new byte[ExpElGamal.CiphertextBytes];
                for (var l = 0; l < limbs; l++)
                {
                    var acc = total.AsSpan(l * ExpElGamal.CiphertextBytes, ExpElGamal.CiphertextBytes);
                    ExpElGamal.Add(acc, local.AsSpan(l * ExpElGamal.CiphertextBytes, ExpElGamal.CiphertextBytes), scratchTotal);
                    scratchTotal.CopyTo(acc);
                }
            }
        });

        for (var l = 0; l < limbs; l++)
        {
            ExpElGamal.Rerandomize(peerPublicKey, total.AsSpan(l * ExpElGamal.CiphertextBytes, ExpElGamal.CiphertextBytes));
        }

        return total;
    }
}
