namespace Hutong.Collab.Sum;

/// <summary>
/// A value v (integer fen, below 2^ValueBits) and its square, each split into LimbBits-bit limbs, one ciphertext per
/// limb. A limb sum over n items is at most n·(2^LimbBits − 1), the range the decryptor's baby-step giant-step covers.
/// Defaults: 32-bit values (up to ¥42.9 million per buyer), 16-bit limbs: 2 + 4 = 6 ciphertexts per conversion.
/// </summary>
public sealed record LimbEncoding(int LimbBits = 16, int ValueBits = 32)
{
    public int ValueLimbs => (ValueBits + LimbBits - 1) / LimbBits;

    public int SquareLimbs => (2 * ValueBits + LimbBits - 1) / LimbBits;

    public int Limbs => ValueLimbs + SquareLimbs;

    public ulong MaxValue => ValueBits == 64 ? ulong.MaxValue : (1UL << ValueBits) - 1;

    public void Validate()
    {
        if (LimbBits is < 1 or > 24 || ValueBits is < 1 or > 48)
        {
            throw new CollabProtocolException("bad_encoding", "Limbs of 1–24 bits and values of 1–48 bits.");
        }
    }

    /// <summary>The limbs of v then of v², least significant first.</summary>
    public void Encode(ulong value, Span<ulong> limbs)
    {
        if (value > MaxValue)
        {
            throw new CollabProtocolException("value_too_large", $"A value above 2^{ValueBits} − 1 fen cannot be encrypted with this job's encoding.");
        }

        var mask = (1UL << LimbBits) - 1;
        for (var i = 0; i < ValueLimbs; i++)
        {
            limbs[i] = (value >> (i * LimbBits)) & mask;
        }

        var square = (UInt128)value * value;
        for (var i = 0; i < SquareLimbs; i++)
        {
            limbs[ValueLimbs + i] = (ulong)(square >> (i * LimbBits)) & mask;
        }
    }

    /// <summary>Σv and Σv² from the limb sums.</summary>
    public (UInt128 Sum, UInt128 SumOfSquares) Decode(ReadOnlySpan<ulong> limbSums)
    {
        UInt128 sum = 0, squares = 0;
        for (var i = 0; i < ValueLimbs; i++)
        {
            sum += (UInt128)limbSums[i] << (i * LimbBits);
        }

        for (var i = 0; i < SquareLimbs; i++)
        {
            squares += (UInt128)limbSums[ValueLimbs + i] << (i * LimbBits);
        }

        return (sum, squares);
    }

    public ulong LimbSumBound(long items) => (ulong)Math.Max(1, items) * ((1UL << LimbBits) - 1);
}
