using Hutong.Collab.Crypto;
using Hutong.Collab.Ids;
using Hutong.Collab.Psi;

namespace Hutong.Collab.Tests;

/// <summary>
/// The answering party keeps its state in a store so that any of its instances answers any message: its stage-2 values
/// computed on one instance (<see cref="EcdhPsiParty.RemaskPeerEnc"/>), stored packed, and restored on another
/// (<see cref="EcdhPsiParty.RestorePeerEnc"/>) give the same answer as one party that accepted every batch itself; and
/// every stream from the peer is bounded (<see cref="PeerStreamLimit"/>).
/// </summary>
public class StatelessPartyTests
{
    [Fact]
    public void Values_remasked_on_one_instance_and_restored_on_another_give_the_same_dual_batches_and_count()
    {
        var (mine, theirs) = Synthetic.Overlap(700, 900, 0.4, seed: 5);
        var expected = mine.Intersect(theirs, StringComparer.Ordinal).Count();
        var suite = new PsiSuite("job-restore", IdRule.Phone, theirs.Count, mine.Count, bucketBits: 0);
        using var driverKey = SecretScalar.Generate();
        using var answerKey = SecretScalar.Generate();
        var driver = new EcdhPsiParty(new PsiSuite("job-restore", IdRule.Phone, mine.Count, theirs.Count, bucketBits: 0), driverKey);
        var encs = driver.MaskAll(string.Empty, mine, 128).ToList();

        var one = new EcdhPsiParty(suite, answerKey);
        var stored = new List<(EcdhPsiCipherBatch Header, byte[] Packed)>();
        foreach (var b in encs)
        {
            one.AcceptPeerEnc(b);
            var instance1 = new EcdhPsiParty(suite, answerKey); // a fresh instance each message: nothing kept in memory
            stored.Add((b with { Ciphertext = ReadOnlyMemory<byte>.Empty }, EcdhPsi.Pack(suite, instance1.RemaskPeerEnc(b))));
        }

        var instance2 = new EcdhPsiParty(suite, answerKey);
        foreach (var (header, packed) in stored)
        {
            var asDual = new EcdhPsiCipherBatch(CipherType.DualEnc, header.Segment, 0, header.BatchIndex, header.IsLastBatch, header.Count, packed);
            instance2.RestorePeerEnc(header, EcdhPsi.Unpack(suite, asDual));
        }

        var fromOne = one.PeerDualBatches(string.Empty, 100).ToList();
        var fromTwo = instance2.PeerDualBatches(string.Empty, 100).ToList();
        Assert.Equal(fromOne.Select(b => (b.BatchIndex, b.IsLastBatch, b.Count, Convert.ToHexString(b.Ciphertext.Span))),
            fromTwo.Select(b => (b.BatchIndex, b.IsLastBatch, b.Count, Convert.ToHexString(b.Ciphertext.Span))));

        // The driver's count from the restored answer is the plaintext join, and a restored batch cannot be taken twice.
        var answering = new EcdhPsiParty(suite, answerKey);
        foreach (var b in answering.MaskAll(string.Empty, theirs, 128))
        {
            driver.AcceptPeerEnc(b);
        }

        foreach (var b in fromTwo)
        {
            driver.AcceptOwnDual(b);
        }

        Assert.Equal(expected, driver.CountIntersection(string.Empty));
        var (h, p) = stored[0];
        Assert.Equal("replayed_batch", Assert.Throws<CollabProtocolException>(() => instance2.RestorePeerEnc(h, EcdhPsi.Unpack(suite,
            new EcdhPsiCipherBatch(CipherType.DualEnc, h.Segment, 0, h.BatchIndex, h.IsLastBatch, h.Count, p)))).Code);
    }

    [Fact]
    public void A_peer_stream_is_bounded_by_its_announced_count_and_cannot_run_on_with_empty_batches()
    {
        var limit = new PeerStreamLimit("the peer's items", 10);
        limit.Take(4, false);
        limit.Take(4, false);
        Assert.Equal("too_many_items", Assert.Throws<CollabProtocolException>(() => limit.Take(3, true)).Code);
        Assert.Equal(8, limit.Items); // the refused batch took nothing
        Assert.Equal("bad_message", Assert.Throws<CollabProtocolException>(() => limit.Take(0, false)).Code);
        limit.Take(2, true);
        Assert.Equal("bad_message", Assert.Throws<CollabProtocolException>(() => limit.Take(0, true)).Code); // after the last
        Assert.Equal(3, limit.Batches);

        var empty = new PeerStreamLimit("nothing", 0);
        empty.Take(0, true); // one empty last batch is how an empty list is sent

        var exact = new PeerStreamLimit("our items back", 5, exact: true);
        exact.Take(3, false);
        Assert.Equal("bad_message", Assert.Throws<CollabProtocolException>(() => exact.Take(1, true)).Code); // fewer than sent
    }
}
