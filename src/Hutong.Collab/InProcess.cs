using Hutong.Collab.Crypto;
using Hutong.Collab.Ids;
using Hutong.Collab.Psi;
using Hutong.Collab.Sum;

namespace Hutong.Collab;

/// <summary>What an in-process run reports: the answer, and the bytes each direction carried (ciphertext payloads only).</summary>
public sealed record CardinalityRun(CardinalityResult Result, long TrueCount, long BytesReceiverToSender, long BytesSenderToReceiver, PsiSuite Suite);

public sealed record AttributionRun(IReadOnlyList<SegmentCount> Counts, IReadOnlyList<SegmentSum> Sums, long BytesAdToValueHolder, long BytesValueHolderToAd);

/// <summary>
/// Both parties of a protocol in one process, passing the same messages a network would carry, in the same order.
/// For tests, the benchmark and a local demonstration; the hub's gRPC service drives the same parties message by message.
/// </summary>
public static class InProcess
{
    public static CardinalityRun Cardinality(
        string jobId, IdRule rule, IReadOnlyList<string> receiverIds, IReadOnlyList<string> senderIds, ReleasePolicy policy,
        int batchSize = 4096, int? bucketBits = null, Func<double>? uniform = null)
    {
        ArgumentNullException.ThrowIfNull(receiverIds);
        ArgumentNullException.ThrowIfNull(senderIds);
        using var rKey = SecretScalar.Generate();
        using var sKey = SecretScalar.Generate();
        var rHello = new PsiSuite(jobId, rule, receiverIds.Count, senderIds.Count, bucketBits).Handshake(receiverIds.Count, 0);
        var sHello = new PsiSuite(jobId, rule, senderIds.Count, receiverIds.Count, bucketBits).Handshake(senderIds.Count, 0);
        if (bucketBits is { } bits)
        {
            rHello = rHello with { BucketBits = bits };
            sHello = sHello with { BucketBits = bits };
        }

        var receiver = new EcdhPsiParty(PsiSuite.Agree(rHello, sHello), rKey);
        var sender = new EcdhPsiParty(PsiSuite.Agree(sHello, rHello), sKey);
        long up = 0, down = 0;

        // The two directions are independent and run at once, as on a network: R's items go out and come back masked
        // by S while S's items are masked by R. Each batch is spread over all cores; running both directions together
        // fills one direction's batch tails with the other's work. Only S mutates S's state in the first task and only
        // R mutates R's state in the second.
        var outbound = Task.Run(() =>
        {
            long bytes = 0;
            foreach (var batch in receiver.MaskAll("", receiverIds, batchSize))
            {
                bytes += batch.Ciphertext.Length;
                sender.AcceptPeerEnc(batch);
            }

            return bytes;
        });
        var inbound = Task.Run(() =>
        {
            long bytes = 0;
            foreach (var batch in sender.MaskAll("", senderIds, batchSize))
            {
                bytes += batch.Ciphertext.Length;
                receiver.AcceptPeerEnc(batch);
            }

            return bytes;
        });
        up += outbound.GetAwaiter().GetResult();
        down += inbound.GetAwaiter().GetResult();

        foreach (var batch in sender.PeerDualBatches("", batchSize))
        {
            down += batch.Ciphertext.Length;
            receiver.AcceptOwnDual(batch);
        }

        var count = receiver.CountIntersection("");
        var result = CardinalityRelease.Release(count, receiverIds.Count, receiver.PeerItems(""), policy, uniform);
        return new CardinalityRun(result, count, up, down, receiver.Suite);
    }

    /// <summary>
    /// The attribution protocol: A's cohorts (segment → normalised ids) against E's conversions. A learns the counts,
    /// E decrypts the sums of the released segments and hands them to A.
    /// </summary>
    public static AttributionRun Attribution(
        string jobId, IdRule rule, IReadOnlyDictionary<string, IReadOnlyList<string>> adCohorts, IReadOnlyList<Conversion> conversions,
        ReleasePolicy policy, LimbEncoding? encoding = null, int batchSize = 4096)
    {
        ArgumentNullException.ThrowIfNull(adCohorts);
        ArgumentNullException.ThrowIfNull(conversions);
        encoding ??= new LimbEncoding();
        using var aKey = SecretScalar.Generate();
        using var eKey = SecretScalar.Generate();
        using var heKey = SecretScalar.Generate();
        var adItems = adCohorts.Values.Sum(c => (long)c.Count);
        var aSuite = PsiSuite.Agree(new PsiSuite(jobId, rule, adItems, conversions.Count).Handshake(adItems, 0),
            new PsiSuite(jobId, rule, conversions.Count, adItems).Handshake(conversions.Count, 0));
        var eSuite = PsiSuite.Agree(new PsiSuite(jobId, rule, conversions.Count, adItems).Handshake(conversions.Count, 0),
            new PsiSuite(jobId, rule, adItems, conversions.Count).Handshake(adItems, 0));

        var e = new AttributionValueHolder(eSuite, eKey, heKey, encoding);
        var a = new AttributionAdSide(aSuite, aKey, e.PublicKey.Span, encoding);
        long up = 0, down = e.PublicKey.Length;
        foreach (var (segment, ids) in adCohorts)
        {
            foreach (var batch in a.Psi.MaskAll(segment, ids, batchSize))
            {
                up += batch.Ciphertext.Length;
                e.Psi.AcceptPeerEnc(batch);
            }
        }

        foreach (var segment in adCohorts.Keys)
        {
            foreach (var batch in e.Psi.PeerDualBatches(segment, batchSize))
            {
                down += batch.Ciphertext.Length;
                a.Psi.AcceptOwnDual(batch);
            }
        }

        var batches = Math.Max(1, (conversions.Count + batchSize - 1) / batchSize);
        for (var i = 0; i < batches; i++)
        {
            var slice = conversions.Skip(i * batchSize).Take(batchSize).ToList();
            var batch = e.MaskBatch(slice, i, i == batches - 1);
            down += batch.Points.Length + batch.Ciphertexts.Length;
            a.AcceptConversions(batch);
        }

        var (counts, sums) = a.Aggregate([.. adCohorts.Keys], policy);
        up += sums.Sum(s => (long)s.Ciphertexts.Length);
        var decrypted = e.DecryptSums(sums);
        down += decrypted.Count * 32L;
        return new AttributionRun(counts, decrypted, up, down);
    }
}
