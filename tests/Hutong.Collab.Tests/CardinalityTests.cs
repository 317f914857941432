using Hutong.Collab.Crypto;
using Hutong.Collab.Ids;
using Hutong.Collab.Psi;

namespace Hutong.Collab.Tests;

public class CardinalityTests
{
    [Theory]
    [InlineData(3_000, 2_500, 0.78, 0, 512)]
    [InlineData(2_000, 4_000, 0.10, 3, 300)] // 8 buckets, batches that do not divide the sizes
    [InlineData(1_000, 1_000, 0.0, 1, 1000)]
    [InlineData(1_500, 1_500, 1.0, 0, 4096)]
    public void The_count_is_the_plaintext_join(int m, int n, double overlap, int bucketBits, int batchSize)
    {
        var (a, e) = Synthetic.Overlap(m, n, overlap, seed: m + n);
        var expected = a.Intersect(e, StringComparer.Ordinal).Count();

        var run = InProcess.Cardinality("job-1", IdRule.Phone, a, e, new ReleasePolicy(0), batchSize, bucketBits);

        Assert.Equal(expected, run.TrueCount);
        Assert.True(run.Result.Released);
        Assert.Equal(expected, run.Result.Count);
        Assert.Equal((double)expected / m, run.Result.ShareOfOwn!.Value, 9);
        Assert.Equal((double)expected / n, run.Result.ShareOfPeer!.Value, 9);
        Assert.Equal(1 << bucketBits, run.Suite.BucketCount);
        // Only points and truncated values travel: 32 bytes per item each way, plus the truncated second stage.
        Assert.Equal(32L * m, run.BytesReceiverToSender);
        Assert.Equal(32L * n + (long)run.Suite.TruncatedBytes * m, run.BytesSenderToReceiver);
    }

    [Fact]
    public void Raw_ids_written_differently_match_after_normalisation()
    {
        var a = IdNormalizer.NormalizeAll(["138 0013 8000", "+86-139-0013-9000", "+44 20 7946 0958"], IdRule.Phone).OrThrow();
        var e = IdNormalizer.NormalizeAll(["008613800138000", "8613900139000", "+442079460959"], IdRule.Phone).OrThrow();

        Assert.Equal(2, InProcess.Cardinality("job-norm", IdRule.Phone, a, e, new ReleasePolicy(0)).TrueCount);
    }

    [Fact]
    public void A_count_below_the_threshold_is_refused()
    {
        var (a, e) = Synthetic.Overlap(500, 500, 0.02, seed: 7); // 10 shared

        var run = InProcess.Cardinality("job-small", IdRule.Phone, a, e, new ReleasePolicy(MinimumCount: 50));

        Assert.Equal(10, run.TrueCount);
        Assert.False(run.Result.Released);
        Assert.Null(run.Result.Count);
        Assert.Contains("minimum of 50", run.Result.RefusedBecause, StringComparison.Ordinal);
    }

    [Fact]
    public void Differential_privacy_noise_is_two_sided_geometric_with_the_stated_epsilon()
    {
        var rng = new Random(42);
        const double epsilon = 0.5;
        var samples = Enumerable.Range(0, 200_000).Select(_ => CardinalityRelease.TwoSidedGeometric(epsilon, () => 1 - rng.NextDouble())).ToList();
        var alpha = Math.Exp(-epsilon);

        // P(Z = 0) = (1 − α)/(1 + α); Var Z = 2α/(1 − α)².
        Assert.InRange(samples.Count(s => s == 0) / (double)samples.Count, (1 - alpha) / (1 + alpha) - 0.005, (1 - alpha) / (1 + alpha) + 0.005);
        Assert.Equal(0, samples.Average(), 1);
        var variance = samples.Select(s => (double)s * s).Average();
        Assert.InRange(variance / (2 * alpha / ((1 - alpha) * (1 - alpha))), 0.95, 1.05);
    }

    [Fact]
    public void With_epsilon_the_released_count_is_noised_and_the_threshold_applies_to_it()
    {
        var (a, e) = Synthetic.Overlap(1_000, 1_000, 0.5, seed: 11);
        var u = new Queue<double>([0.01, 0.9]); // G1 = floor(ln 0.01 / −ε) = 4 at ε = 1, G2 = 0 → +4

        var run = InProcess.Cardinality("job-dp", IdRule.Phone, a, e, new ReleasePolicy(0, Epsilon: 1), uniform: u.Dequeue);

        Assert.Equal(run.TrueCount + 4, run.Result.Count);
        Assert.Equal(1, run.Result.Epsilon);
        Assert.False(CardinalityRelease.Release(10, 100, 100, new ReleasePolicy(12, 1), new Queue<double>([0.9, 0.9]).Dequeue).Released);
        Assert.Throws<CollabProtocolException>(() => CardinalityRelease.Release(10, 100, 100, new ReleasePolicy(0, Epsilon: 0)));
    }

    [Fact]
    public void The_second_stage_width_is_log2_MN_plus_40_bits()
    {
        Assert.Equal(10, PsiSuite.TruncatedBytesFor(100_000, 100_000)); // ⌈log2 1e10⌉ = 34, + 40 = 74 bits
        Assert.Equal(11, PsiSuite.TruncatedBytesFor(10_000_000, 10_000_000)); // 47 + 40 = 87 bits
        Assert.Equal(16, PsiSuite.TruncatedBytesFor(long.MaxValue, long.MaxValue));
        Assert.Equal(0, PsiSuite.BucketBitsFor(1_000_000));
        Assert.Equal(4, PsiSuite.BucketBitsFor(10_000_000)); // 16 buckets of ~625 k
    }

    [Fact]
    public void A_tampered_point_is_refused_with_its_position()
    {
        using var key = SecretScalar.Generate();
        var suite = new PsiSuite("job-t", IdRule.Opaque, 3, 3);
        var party = new EcdhPsiParty(suite, SecretScalar.Generate());
        var batch = party.MaskBatch("", ["a", "b", "c"], 0, true);
        var bytes = batch.Ciphertext.ToArray();
        bytes[32 + 31] |= 0x80; // item 1: the top bit set — never canonical

        var ex = Assert.Throws<CollabProtocolException>(() => new EcdhPsiParty(suite, key).AcceptPeerEnc(batch with { Ciphertext = bytes }));
        Assert.Equal("bad_point", ex.Code);
        Assert.Contains("item 1", ex.Message, StringComparison.Ordinal);

        var identity = batch.Ciphertext.ToArray();
        Array.Clear(identity, 64, 32); // item 2: the identity
        Assert.Equal("bad_point", Assert.Throws<CollabProtocolException>(() => new EcdhPsiParty(suite, key).AcceptPeerEnc(batch with { Ciphertext = identity })).Code);

        var nonCanonical = batch.Ciphertext.ToArray();
        Array.Fill(nonCanonical, (byte)0xFF, 0, 31); // item 0: a field element ≥ p = 2^255 − 19
        nonCanonical[31] = 0x7F;
        Assert.Equal("bad_point", Assert.Throws<CollabProtocolException>(() => new EcdhPsiParty(suite, key).AcceptPeerEnc(batch with { Ciphertext = nonCanonical })).Code);

        Assert.Equal("bad_message", Assert.Throws<CollabProtocolException>(() => new EcdhPsiParty(suite, key).AcceptPeerEnc(batch with { Count = 4 })).Code);
    }

    [Fact]
    public void A_replayed_skipped_or_late_batch_is_refused()
    {
        var suite = new PsiSuite("job-r", IdRule.Opaque, 4, 4);
        var peer = new EcdhPsiParty(suite, SecretScalar.Generate());
        var batches = peer.MaskAll("", ["a", "b", "c", "d"], 1).ToList();
        var me = new EcdhPsiParty(suite, SecretScalar.Generate());

        me.AcceptPeerEnc(batches[0]);
        Assert.Equal("replayed_batch", Assert.Throws<CollabProtocolException>(() => me.AcceptPeerEnc(batches[0])).Code);
        Assert.Equal("batch_out_of_order", Assert.Throws<CollabProtocolException>(() => me.AcceptPeerEnc(batches[2])).Code);
        me.AcceptPeerEnc(batches[1]);
        me.AcceptPeerEnc(batches[2]);
        me.AcceptPeerEnc(batches[3]);
        Assert.True(me.PeerEncEnded(""));
        Assert.Equal("replayed_batch", Assert.Throws<CollabProtocolException>(() => me.AcceptPeerEnc(batches[3] with { BatchIndex = 4 })).Code);
        Assert.Equal(4, me.PeerItems(""));
    }

    [Fact]
    public void An_id_sent_twice_in_different_batches_is_caught_when_the_buckets_are_sorted()
    {
        var suite = new PsiSuite("job-d", IdRule.Opaque, 4, 4);
        var receiver = new EcdhPsiParty(suite, SecretScalar.Generate());
        var sender = new EcdhPsiParty(suite, SecretScalar.Generate());
        sender.AcceptPeerEnc(receiver.MaskBatch("", ["a", "b"], 0, false));
        sender.AcceptPeerEnc(receiver.MaskBatch("", ["c", "a"], 1, true));

        var ex = Assert.Throws<CollabProtocolException>(() => sender.PeerDualBatches("", 10).ToList());
        Assert.Equal("duplicate_item", ex.Code);
    }

    [Fact]
    public void Dual_batches_that_are_out_of_order_or_in_the_wrong_bucket_are_refused()
    {
        var suite = new PsiSuite("job-b", IdRule.Opaque, 100, 100, bucketBits: 2);
        var receiver = new EcdhPsiParty(suite, SecretScalar.Generate());
        var sender = new EcdhPsiParty(suite, SecretScalar.Generate());
        foreach (var b in receiver.MaskAll("", [.. Enumerable.Range(0, 100).Select(i => $"u{i}")], 100))
        {
            sender.AcceptPeerEnc(b);
        }

        var dual = sender.PeerDualBatches("", 1000).ToList();
        Assert.Equal(4, dual.Count);
        var values = EcdhPsi.Unpack(suite, dual[0]);
        Array.Reverse(values);
        var reversed = dual[0] with { Ciphertext = EcdhPsi.Pack(suite, values) };
        Assert.Equal("duplicate_item", Assert.Throws<CollabProtocolException>(() => new EcdhPsiParty(suite, SecretScalar.Generate()).AcceptOwnDual(reversed)).Code);
        Assert.Equal("bad_message", Assert.Throws<CollabProtocolException>(() => new EcdhPsiParty(suite, SecretScalar.Generate()).AcceptOwnDual(dual[1] with { BucketIndex = 0 })).Code);
        Assert.Equal("not_ready", Assert.Throws<CollabProtocolException>(() => receiver.CountIntersection("")).Code);
    }

    [Fact]
    public void Suites_must_agree()
    {
        var mine = new PsiSuite("job-s", IdRule.Phone, 10, 20).Handshake(10, 0);
        var peer = new PsiSuite("job-s", IdRule.Phone, 20, 10).Handshake(20, 0);

        Assert.Equal(PsiSuite.Agree(mine, peer).TruncatedBytes, PsiSuite.Agree(peer, mine).TruncatedBytes);
        Assert.Equal("suite_mismatch", Assert.Throws<CollabProtocolException>(() => PsiSuite.Agree(mine, peer with { IdRule = IdRule.DeviceId.Name() })).Code);
        Assert.Equal("suite_mismatch", Assert.Throws<CollabProtocolException>(() => PsiSuite.Agree(mine, peer with { Curve = "curve25519" })).Code);
        Assert.Equal("suite_mismatch", Assert.Throws<CollabProtocolException>(() => PsiSuite.Agree(mine, peer with { JobId = "other" })).Code);
    }

    [Fact]
    public void The_same_id_hashes_to_different_points_in_different_jobs_and_rules()
    {
        Span<byte> p1 = stackalloc byte[32];
        Span<byte> p2 = stackalloc byte[32];
        Span<byte> p3 = stackalloc byte[32];
        new PsiSuite("job-1", IdRule.Opaque, 1, 1).HashToGroup("x", p1);
        new PsiSuite("job-2", IdRule.Opaque, 1, 1).HashToGroup("x", p2);
        new PsiSuite("job-1", IdRule.DeviceId, 1, 1).HashToGroup("x", p3);

        Assert.False(p1.SequenceEqual(p2));
        Assert.False(p1.SequenceEqual(p3));
        Assert.True(Ristretto255.IsValidPoint(p1));
    }

    [Theory]
    [InlineData("+8613800138000")]
    [InlineData("")]
    [InlineData("0123456789abcdef0123456789abcdef")]
    [InlineData("d\u00e9j\u00e0-vu-\u4e2d\u6587")] // multi-byte UTF-8
    public void Hash_to_group_is_from_hash_of_sha512_of_the_length_prefixed_domain_and_id(string id)
    {
        // The formula written out with .NET's own SHA-512 (the hash-to-group uses libsodium's): a change of either the
        // input layout or the hash would change every point, and a job between two versions would find no overlap.
        var suite = new PsiSuite("job-h2g", IdRule.Opaque, 10, 10);
        var domain = System.Text.Encoding.UTF8.GetBytes(suite.Domain);
        byte[] input = [(byte)(domain.Length >> 8), (byte)domain.Length, .. domain, .. System.Text.Encoding.UTF8.GetBytes(id)];
        var expected = new byte[32];
        Ristretto255.FromHash(System.Security.Cryptography.SHA512.HashData(input), expected);

        var actual = new byte[32];
        suite.HashToGroup(id, actual);

        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(actual));
        Assert.True(Ristretto255.IsValidPoint(actual));
    }

    [Fact]
    public void Hash_to_group_of_an_id_longer_than_the_stack_buffer_matches_the_formula()
    {
        var suite = new PsiSuite("job-h2g", IdRule.Opaque, 10, 10);
        var id = new string('x', 3000); // input > 1024 bytes: the heap path
        var domain = System.Text.Encoding.UTF8.GetBytes(suite.Domain);
        byte[] input = [(byte)(domain.Length >> 8), (byte)domain.Length, .. domain, .. System.Text.Encoding.UTF8.GetBytes(id)];
        var expected = new byte[32];
        Ristretto255.FromHash(System.Security.Cryptography.SHA512.HashData(input), expected);
        var actual = new byte[32];

        suite.HashToGroup(id, actual);

        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Secret_keys_import_only_canonical_non_zero_scalars()
    {
        using var key = SecretScalar.Generate();
        using var again = SecretScalar.Import(key.Export());
        Assert.Equal(key.Export(), again.Export());
        Assert.Equal("bad_key", Assert.Throws<CollabProtocolException>(() => SecretScalar.Import(new byte[32])).Code);
        var big = new byte[32];
        Array.Fill(big, (byte)0xFF);
        Assert.Equal("bad_key", Assert.Throws<CollabProtocolException>(() => SecretScalar.Import(big)).Code);
        Assert.Equal("SecretScalar(***)", key.ToString());
    }
}
