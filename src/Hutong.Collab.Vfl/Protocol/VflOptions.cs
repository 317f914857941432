using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Hutong.Collab.Vfl.Protocol;

/// <summary>
/// The hyperparameters both parties agree on (their digest is checked in the handshake). Mini-batch gradient descent with
/// L2 on the feature weights (not the intercept); early stopping when the relative weight change of an epoch,
/// ‖Δw‖ / max(1, ‖w‖) over both parties, falls below <see cref="Tolerance"/>. The seed fixes the 80/20 split and each
/// epoch's batch order, so a resumed run replays the same batches.
/// </summary>
public sealed record VflOptions
{
    public int Epochs { get; init; } = 10;

    public int BatchSize { get; init; } = 512;

    public double LearningRate { get; init; } = 0.3;

    public double L2 { get; init; } = 0.001;

    public double Tolerance { get; init; } = 1e-4;

    public int Seed { get; init; } = 20;

    public double HoldoutShare { get; init; } = 0.2;

    public void Validate()
    {
        if (Epochs is < 1 or > 10_000 || BatchSize is < 16 or > FixedPoint.MaxBatch || LearningRate <= 0 || L2 < 0 || Tolerance < 0
            || HoldoutShare is < 0 or >= 1)
        {
            throw new ArgumentException($"Options out of range: {this}.");
        }
    }

    internal string Canonical() => string.Create(CultureInfo.InvariantCulture,
        $"epochs={Epochs};batch={BatchSize};lr={LearningRate:R};l2={L2:R};tol={Tolerance:R};seed={Seed};holdout={HoldoutShare:R};fx={FixedPoint.FeatureBits};fd={FixedPoint.ResidualBits}");

    /// <summary>Both parties' digest: options, the aligned ids in order, and the feature counts.</summary>
    internal byte[] JobDigest(IReadOnlyList<string> alignedIds, int guestFeatures, int hostFeatures)
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        h.AppendData(Encoding.UTF8.GetBytes(Canonical() + $";g={guestFeatures};h={hostFeatures};rows={alignedIds.Count}\n"));
        foreach (var id in alignedIds)
        {
            h.AppendData(Encoding.UTF8.GetBytes(id));
            h.AppendData("\n"u8);
        }

        return h.GetHashAndReset();
    }

    /// <summary>The holdout rows (a seeded shuffle; the last <see cref="HoldoutShare"/> of it) and the training rows.</summary>
    public (int[] Train, int[] Holdout) Split(int rows)
    {
        var order = Enumerable.Range(0, rows).ToArray();
        new Random(Seed).Shuffle(order);
        var holdout = (int)Math.Round(rows * HoldoutShare);
        var train = order[..(rows - holdout)];
        var test = order[(rows - holdout)..];
        Array.Sort(train);
        Array.Sort(test);
        return (train, test);
    }

    /// <summary>
    /// Epoch e's batch order over the training rows: a shuffle seeded by (seed, epoch). The seed is mixed by fixed
    /// arithmetic, not HashCode.Combine, which is randomised per process: the two parties run in two processes and must
    /// draw the same order, and a run must be repeatable.
    /// </summary>
    public int[] EpochOrder(int[] train, int epoch)
    {
        ArgumentNullException.ThrowIfNull(train);
        var order = (int[])train.Clone();
        new Random(unchecked((Seed * 1_000_003) ^ (epoch * 7_919) ^ 0x5f1)).Shuffle(order);
        return order;
    }
}

/// <summary>
/// Fixed-point encoding. Features: round(x·2^8) (step 1/256 ≈ 0.0039), clipped to |x| &lt; 128, so exponents are signed
/// 15-bit. Residual terms: round(v·2^16) (step ≈ 1.5e−5), clipped to |v| &lt; 2^14. A batch gradient entry Σ_i x_i·d_i is
/// then below 2^(15+30+12) = 2^57 for batches up to 4,096 rows; it is offset by 2^63, masked by a uniform 104-bit value
/// (statistical hiding 2^−40) and packed 19 to a plaintext in 105-bit slots (19·105 = 1,995 bits &lt; n).
/// </summary>
public static class FixedPoint
{
    public const int FeatureBits = 8;
    public const int ResidualBits = 16;
    public const int MaxBatch = 4096;
    public const int SlotBits = 105;
    public const int MaskBits = 104;
    public const int SlotsPerCiphertext = 19;
    public static readonly UInt128 Offset = (UInt128)1 << 63;
    private const double FeatureScale = 1 << FeatureBits;
    private const double ResidualScale = 1 << ResidualBits;
    private const long ResidualLimit = (1L << 30) - 1;

    public static short Feature(double x) => (short)Math.Clamp(Math.Round(x * FeatureScale, MidpointRounding.ToEven), -32767, 32767);

    public static double FeatureValue(short q) => q / FeatureScale;

    public static long Residual(double v) => Math.Clamp((long)Math.Round(v * ResidualScale, MidpointRounding.ToEven), -ResidualLimit, ResidualLimit);

    /// <summary>Σ_i x_i·d_i (integers at scale 2^24) as the gradient's value, averaged over the batch.</summary>
    public static double Gradient(long sum, int batch) => sum / (FeatureScale * ResidualScale) / batch;
}
