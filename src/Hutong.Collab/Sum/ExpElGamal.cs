using Hutong.Collab.Crypto;

namespace Hutong.Collab.Sum;

/// <summary>
/// Exponential ElGamal on ristretto255: Enc(m) = (r·G, m·G + r·X) with X = x·G. Additively homomorphic (component-wise
/// point addition adds the plaintexts); decryption gives m·G, and m is found by baby-step giant-step, so plaintext sums
/// must stay in a known range — hence values are split into limbs (<see cref="LimbEncoding"/>). A ciphertext is 64 bytes.
/// </summary>
public static class ExpElGamal
{
    public const int CiphertextBytes = 2 * Ristretto255.PointBytes;

    public static byte[] PublicKey(SecretScalar secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        var x = new byte[Ristretto255.PointBytes];
        Ristretto255.MultiplyBase(secret.Bytes, x);
        return x;
    }

    public static void Encrypt(ReadOnlySpan<byte> publicKey, ulong m, Span<byte> ciphertext)
    {
        Span<byte> r = stackalloc byte[Ristretto255.ScalarBytes];
        Span<byte> mScalar = stackalloc byte[Ristretto255.ScalarBytes];
        Span<byte> mG = stackalloc byte[Ristretto255.PointBytes];
        Span<byte> rX = stackalloc byte[Ristretto255.PointBytes];
        Ristretto255.RandomScalar(r);
        Ristretto255.MultiplyBase(r, ciphertext[..Ristretto255.PointBytes]);
        if (!Ristretto255.TryMultiply(r, publicKey, rX))
        {
            throw new CollabProtocolException("bad_key", "The peer's ElGamal public key is not a valid group element.");
        }

        Ristretto255.ScalarFromUInt64(m, mScalar);
        Ristretto255.MultiplyBase(mScalar, mG);
        Ristretto255.TryAdd(mG, rX, ciphertext[Ristretto255.PointBytes..]);
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(r);
    }

    /// <summary>sum = a + b component-wise (Enc(m1) ⊕ Enc(m2) = Enc(m1 + m2)); refuses non-canonical points.</summary>
    public static void Add(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, Span<byte> sum)
    {
        const int P = Ristretto255.PointBytes;
        if (!Ristretto255.TryAdd(a[..P], b[..P], sum[..P]) || !Ristretto255.TryAdd(a[P..], b[P..], sum[P..]))
        {
            throw new CollabProtocolException("bad_ciphertext", "A ciphertext holds a point that is not a canonical ristretto255 encoding.");
        }
    }

    /// <summary>Adds a fresh encryption of 0, so the result cannot be linked to the ciphertexts it was summed from.</summary>
    public static void Rerandomize(ReadOnlySpan<byte> publicKey, Span<byte> ciphertext)
    {
        Span<byte> zero = stackalloc byte[CiphertextBytes];
        Encrypt(publicKey, 0, zero);
        Span<byte> copy = stackalloc byte[CiphertextBytes];
        ciphertext.CopyTo(copy);
        Add(copy, zero, ciphertext);
    }

    /// <summary>m·G = C2 − x·C1.</summary>
    public static void DecryptToPoint(SecretScalar secret, ReadOnlySpan<byte> ciphertext, Span<byte> mG)
    {
        ArgumentNullException.ThrowIfNull(secret);
        const int P = Ristretto255.PointBytes;
        Span<byte> xC1 = stackalloc byte[P];
        if (!Ristretto255.IsValidPoint(ciphertext[..P]) || !Ristretto255.IsValidPoint(ciphertext[P..]))
        {
            throw new CollabProtocolException("bad_ciphertext", "A ciphertext holds a point that is not a canonical ristretto255 encoding.");
        }

        if (!Ristretto255.TryMultiply(secret.Bytes, ciphertext[..P], xC1))
        {
            xC1.Clear(); // C1 is the identity: x·C1 is the identity too
        }

        Ristretto255.TrySubtract(ciphertext[P..], xC1, mG);
    }
}

/// <summary>
/// Baby-step giant-step discrete logarithm of m·G for 0 ≤ m ≤ max: a table of ⌈√(max+1)⌉ points (8-byte keys), then at
/// most as many giant steps. Built once per job and reused for every limb.
/// </summary>
public sealed class DiscreteLog
{
    private readonly Dictionary<ulong, uint> baby;
    private readonly byte[] giant = new byte[Ristretto255.PointBytes];
    private readonly ulong step;

    public DiscreteLog(ulong max)
    {
        if (max > 1UL << 48)
        {
            throw new ArgumentOutOfRangeException(nameof(max), "At most 2^48: use narrower limbs.");
        }

        Max = max;
        step = (ulong)Math.Ceiling(Math.Sqrt(max + 1.0));
        baby = new Dictionary<ulong, uint>((int)step);
        Span<byte> current = stackalloc byte[Ristretto255.PointBytes];
        Span<byte> next = stackalloc byte[Ristretto255.PointBytes];
        Span<byte> g = stackalloc byte[Ristretto255.PointBytes];
        Span<byte> one = stackalloc byte[Ristretto255.ScalarBytes];
        Ristretto255.ScalarFromUInt64(1, one);
        Ristretto255.MultiplyBase(one, g);
        current.Clear();
        for (uint j = 0; j < step; j++)
        {
            baby.TryAdd(Key(current), j);
            Ristretto255.TryAdd(current, g, next);
            next.CopyTo(current);
        }

        current.CopyTo(giant); // step·G
    }

    public ulong Max { get; }

    public ulong Solve(ReadOnlySpan<byte> point)
    {
        Span<byte> p = stackalloc byte[Ristretto255.PointBytes];
        Span<byte> next = stackalloc byte[Ristretto255.PointBytes];
        point.CopyTo(p);
        for (ulong i = 0; i * step <= Max; i++)
        {
            if (baby.TryGetValue(Key(p), out var j) && i * step + j <= Max)
            {
                return i * step + j;
            }

            Ristretto255.TrySubtract(p, giant, next);
            next.CopyTo(p);
        }

        throw new CollabProtocolException("sum_out_of_range", $"A decrypted limb sum is above {Max}: the peer summed more than it could have.");
    }

    private static ulong Key(ReadOnlySpan<byte> point) => BitConverter.ToUInt64(point[..8]);
}
