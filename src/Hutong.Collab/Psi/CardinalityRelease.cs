using System.Security.Cryptography;

namespace Hutong.Collab.Psi;

/// <summary>
/// What may be released: a minimum count below which the answer is refused, and optional differential privacy on the
/// count (two-sided geometric noise, the discrete Laplace mechanism, with sensitivity 1: one person changes the
/// intersection count by at most 1; ε-differentially private, Ghosh–Roughgarden–Sundararajan 2009).
/// </summary>
public sealed record ReleasePolicy(long MinimumCount, double? Epsilon = null)
{
    public void Validate()
    {
        if (MinimumCount < 0)
        {
            throw new CollabProtocolException("bad_policy", "The minimum count cannot be negative.");
        }

        if (Epsilon is { } e && (double.IsNaN(e) || e <= 0 || e > 20))
        {
            throw new CollabProtocolException("bad_policy", "ε must be in (0, 20].");
        }
    }
}

/// <summary>The released overlap, or why it was refused. Shares are of each side's item count.</summary>
public sealed record CardinalityResult(bool Released, long? Count, double? ShareOfOwn, double? ShareOfPeer, double? Epsilon, string? RefusedBecause);

public static class CardinalityRelease
{
    /// <summary>
    /// Applies the policy to a true count. With ε the noise is added first and the threshold applies to the noisy count
    /// (checking the true count would let the refusal itself leak it); the noisy count is clamped to [0, min(M, N)].
    /// </summary>
    public static CardinalityResult Release(long trueCount, long ownItems, long peerItems, ReleasePolicy policy, Func<double>? uniform = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        policy.Validate();
        var count = trueCount;
        if (policy.Epsilon is { } epsilon)
        {
            count = Math.Clamp(trueCount + TwoSidedGeometric(epsilon, uniform ?? CryptoUniform), 0, Math.Min(ownItems, peerItems));
        }

        if (count < policy.MinimumCount)
        {
            return new CardinalityResult(false, null, null, null, policy.Epsilon,
                $"the overlap is below the minimum of {policy.MinimumCount} this job allows to release");
        }

        return new CardinalityResult(true, count, Share(count, ownItems), Share(count, peerItems), policy.Epsilon, null);
    }

    /// <summary>Z = G1 − G2 with G ~ Geometric(1 − e^−ε) on {0, 1, …}: P(Z = z) ∝ e^(−ε|z|).</summary>
    public static long TwoSidedGeometric(double epsilon, Func<double> uniform)
    {
        ArgumentNullException.ThrowIfNull(uniform);
        var alpha = Math.Exp(-epsilon);
        return Geometric(alpha, uniform) - Geometric(alpha, uniform);
    }

    /// <summary>Uniform in (0, 1] from the operating system's CSPRNG (53 bits).</summary>
    public static double CryptoUniform()
    {
        Span<byte> b = stackalloc byte[8];
        RandomNumberGenerator.Fill(b);
        return ((BitConverter.ToUInt64(b) >> 11) + 1) * (1.0 / (1UL << 53));
    }

    private static long Geometric(double alpha, Func<double> uniform) => (long)Math.Floor(Math.Log(uniform()) / Math.Log(alpha));

    private static double? Share(long count, long of) => of == 0 ? null : (double)count / of;
}
