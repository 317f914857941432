using Hutong.Collab.Crypto;
using Hutong.Collab.Ids;
using Hutong.Collab.Lift;
using Hutong.Collab.Psi;
using Hutong.Collab.Sum;

namespace Hutong.Collab.Tests;

public class AttributionTests
{
    [Fact]
    public void Counts_sums_and_sums_of_squares_per_segment_are_the_plaintext_join()
    {
        var data = Synthetic.Campaigns(usersPerCohort: 1_500, testRate: 0.06, controlRate: 0.04, extraBuyers: 2_000, seed: 19);
        var values = data.Conversions.ToDictionary(c => c.NormalizedId, c => c.ValueFen, StringComparer.Ordinal);

        var run = InProcess.Attribution("job-attr", IdRule.Phone, data.Cohorts, data.Conversions, new ReleasePolicy(10), batchSize: 700);

        Assert.Equal(4, run.Counts.Count);
        Assert.Equal(4, run.Sums.Count);
        foreach (var (segment, ids) in data.Cohorts)
        {
            var matched = ids.Where(values.ContainsKey).Select(id => (UInt128)values[id]).ToList();
            var count = run.Counts.Single(c => c.Segment == segment);
            var sum = run.Sums.Single(s => s.Segment == segment);
            Assert.Equal(ids.Count, count.Exposed);
            Assert.Equal(matched.Count, count.Converters.Count);
            Assert.Equal(matched.Aggregate(UInt128.Zero, (a, v) => a + v), sum.Sum);
            Assert.Equal(matched.Aggregate(UInt128.Zero, (a, v) => a + v * v), sum.SumOfSquares);
        }
    }

    [Fact]
    public void A_segment_below_the_threshold_gets_no_sum()
    {
        var data = Synthetic.Campaigns(usersPerCohort: 300, testRate: 0.2, controlRate: 0.01, extraBuyers: 100, seed: 5);

        var run = InProcess.Attribution("job-thr", IdRule.Phone, data.Cohorts, data.Conversions, new ReleasePolicy(MinimumCount: 20));

        Assert.All(run.Counts.Where(c => c.Segment.EndsWith(":control", StringComparison.Ordinal)), c => Assert.False(c.Converters.Released));
        Assert.All(run.Counts.Where(c => c.Segment.EndsWith(":test", StringComparison.Ordinal)), c => Assert.True(c.Converters.Released));
        Assert.Equal(["c1:test", "c2:test"], run.Sums.Select(s => s.Segment).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Known_lift_is_recovered_with_an_interval_that_covers_it()
    {
        // 20,000 users per arm; true rates 6 % vs 4 %: relative lift 50 %, incremental 400 converters per 20,000.
        var data = Synthetic.Campaigns(usersPerCohort: 10_000, testRate: 0.06, controlRate: 0.04, extraBuyers: 0, seed: 2026);
        var run = InProcess.Attribution("job-lift", IdRule.Phone, data.Cohorts, data.Conversions, new ReleasePolicy(10));

        ArmStats Arm(string group)
        {
            var counts = run.Counts.Where(c => c.Segment.EndsWith(group, StringComparison.Ordinal)).ToList();
            var sums = run.Sums.Where(s => s.Segment.EndsWith(group, StringComparison.Ordinal)).ToList();
            return new ArmStats(counts.Sum(c => c.Exposed), counts.Sum(c => c.Converters.Count!.Value),
                sums.Aggregate(0m, (a, s) => a + (decimal)s.Sum), sums.Aggregate(0m, (a, s) => a + (decimal)s.SumOfSquares));
        }

        var lift = LiftEstimator.Estimate(Arm(":test"), Arm(":control"), spendFen: 5_000_000);

        Assert.Equal(0.06, lift.TestRate, 12);
        Assert.Equal(0.04, lift.ControlRate, 12);
        Assert.Equal(0.5, lift.RelativeLift.Estimate, 12);
        Assert.InRange(0.5, lift.RelativeLift.Low, lift.RelativeLift.High);
        Assert.InRange(0.02, lift.RateDifference.Low, lift.RateDifference.High);
        Assert.InRange(400.0, lift.IncrementalConverters.Low, lift.IncrementalConverters.High);
        Assert.True(lift.IncrementalRevenueFen.Estimate > 0);
        Assert.True(lift.IncrementalRevenueFen.Low < lift.IncrementalRevenueFen.Estimate);
        Assert.Equal(lift.IncrementalRevenueFen.Estimate / 5_000_000, lift.IncrementalRoas!.Estimate, 12);
    }

    [Fact]
    public void Lift_matches_the_formulas_on_fixed_numbers()
    {
        var test = new ArmStats(10_000, 600, 600 * 10_000m, 600 * 10_000m * 10_000m); // every converter spends ¥100
        var control = new ArmStats(10_000, 400, 400 * 10_000m, 400 * 10_000m * 10_000m);

        var lift = LiftEstimator.Estimate(test, control, spendFen: 1_000_000);

        Assert.Equal(0.02, lift.RateDifference.Estimate, 12);
        var se = Math.Sqrt(0.06 * 0.94 / 10_000 + 0.04 * 0.96 / 10_000);
        Assert.Equal(0.02 - 1.959963985 * se, lift.RateDifference.Low, 7);
        Assert.Equal(0.5, lift.RelativeLift.Estimate, 12);
        var logSe = Math.Sqrt(0.94 / 600 + 0.96 / 400);
        Assert.Equal(Math.Exp(Math.Log(1.5) + 1.959963985 * logSe) - 1, lift.RelativeLift.High, 7);
        Assert.Equal(200.0, lift.IncrementalConverters.Estimate, 9);
        Assert.Equal(2_000_000.0, lift.IncrementalRevenueFen.Estimate, 6); // (60 − 40 fen per user) × 10,000 users
        Assert.Equal(2.0, lift.IncrementalRoas!.Estimate, 9);
        Assert.Equal(1.959963985, LiftEstimator.NormalQuantile(0.975), 6);
        Assert.Throws<CollabProtocolException>(() => LiftEstimator.Estimate(test with { Converters = 20_000 }, control));
    }

    [Fact]
    public void ElGamal_adds_under_encryption_and_decrypts_by_baby_step_giant_step()
    {
        using var x = SecretScalar.Generate();
        var pub = ExpElGamal.PublicKey(x);
        var a = new byte[64];
        var b = new byte[64];
        var sum = new byte[64];
        ExpElGamal.Encrypt(pub, 65_535, a);
        ExpElGamal.Encrypt(pub, 12_345, b);
        ExpElGamal.Add(a, b, sum);
        ExpElGamal.Rerandomize(pub, sum);
        var point = new byte[32];
        ExpElGamal.DecryptToPoint(x, sum, point);

        Assert.Equal(77_880UL, new DiscreteLog(100_000).Solve(point));
        Assert.Equal("sum_out_of_range", Assert.Throws<CollabProtocolException>(() => new DiscreteLog(70_000).Solve(point)).Code);
        ExpElGamal.Encrypt(pub, 0, a);
        ExpElGamal.DecryptToPoint(x, a, point);
        Assert.Equal(0UL, new DiscreteLog(10).Solve(point));

        a[63] |= 0x80; // a tampered ciphertext
        Assert.Equal("bad_ciphertext", Assert.Throws<CollabProtocolException>(() => ExpElGamal.Add(a, b, sum)).Code);
        Assert.Equal("bad_ciphertext", Assert.Throws<CollabProtocolException>(() => ExpElGamal.DecryptToPoint(x, a, point)).Code);
    }

    [Fact]
    public void Limbs_round_trip_values_and_squares()
    {
        var encoding = new LimbEncoding(LimbBits: 16, ValueBits: 32);
        Span<ulong> limbs = stackalloc ulong[encoding.Limbs];
        Span<ulong> total = stackalloc ulong[encoding.Limbs];
        ulong[] values = [0, 1, 65_535, 65_536, uint.MaxValue, 123_456_789];
        foreach (var v in values)
        {
            encoding.Encode(v, limbs);
            for (var i = 0; i < limbs.Length; i++)
            {
                total[i] += limbs[i];
            }
        }

        var (sum, squares) = encoding.Decode(total);
        Assert.Equal(values.Aggregate(UInt128.Zero, (a, v) => a + v), sum);
        Assert.Equal(values.Aggregate(UInt128.Zero, (a, v) => a + (UInt128)v * v), squares);
        Assert.Equal(6, encoding.Limbs);
        Assert.Equal("value_too_large", Assert.Throws<CollabProtocolException>(() => encoding.Encode((ulong)uint.MaxValue + 1, new ulong[6])).Code);
    }

    [Fact]
    public void Purchases_are_netted_per_buyer_before_the_protocol()
    {
        var conversions = ConversionAggregator.Aggregate(
            [("+8613800138000", 10_000), ("+8613800138000", 2_500), ("+8613800138000", -2_500), ("+8613900139000", 500), ("+8613900139000", -500)],
            new LimbEncoding());

        Assert.Equal([new Conversion("+8613800138000", 10_000)], conversions);
        Assert.Equal("value_too_large", Assert.Throws<CollabProtocolException>(() =>
            ConversionAggregator.Aggregate([("+8613800138000", 1L << 40)], new LimbEncoding())).Code);
    }

    [Fact]
    public void Conversions_with_a_tampered_point_or_short_ciphertexts_are_refused()
    {
        var suite = new PsiSuite("job-c", IdRule.Opaque, 2, 2);
        using var he = SecretScalar.Generate();
        var e = new AttributionValueHolder(suite, SecretScalar.Generate(), he, new LimbEncoding());
        var a = new AttributionAdSide(suite, SecretScalar.Generate(), e.PublicKey.Span, new LimbEncoding());
        var batch = e.MaskBatch([new Conversion("a", 5), new Conversion("b", 7)], 0, true);
        var points = batch.Points.ToArray();
        points[31] |= 0x80;

        Assert.Equal("bad_point", Assert.Throws<CollabProtocolException>(() => a.AcceptConversions(batch with { Points = points })).Code);
        Assert.Equal("bad_message", Assert.Throws<CollabProtocolException>(() => a.AcceptConversions(batch with { Ciphertexts = batch.Ciphertexts[..64] })).Code);
        Assert.Equal("bad_key", Assert.Throws<CollabProtocolException>(() => new AttributionAdSide(suite, SecretScalar.Generate(), new byte[32], new LimbEncoding())).Code);
        a.AcceptConversions(batch); // a refused batch is not counted as received: the genuine one is still taken
        Assert.Equal(2, a.ConversionsReceived);
        Assert.Equal("not_ready", Assert.Throws<CollabProtocolException>(() => a.Aggregate(["x"], new ReleasePolicy(0))).Code); // segment x never came back
    }
}
