using System.Numerics;

namespace Hutong.Collab.Vfl.Crypto;

/// <summary>The two heavy steps of the protocol on ciphertexts: Σ_i x_i·Enc(d_i) for each feature, and packing.</summary>
internal static class HeOps
{
    /// <summary>Window of the bucket method: 5 bits, three windows for a 15-bit magnitude.</summary>
    internal const int Window = 5;
    internal const int MagnitudeBits = 15;
    private const int Buckets = (1 << Window) - 1;

    /// <summary>
    /// Enc(Σ_i x_i·m_i) = Π_i c_i^(x_i) for signed 15-bit x_i by the bucket method (Pippenger): per 5-bit window each c_i is
    /// multiplied into the bucket of its digit — positive and negative x in separate buckets — and the buckets are summed by
    /// running products, so the cost is ≈ 3·(b + 124) multiplications for b rows instead of ≈ 22·b for one exponentiation
    /// each; one inversion folds the negative side in. <paramref name="montBases"/> are in Montgomery form; the result is
    /// in normal form.
    /// </summary>
    internal static Bn SignedMultiExp(PaillierPublicKey key, Bn[] montBases, ReadOnlySpan<short> x)
    {
        if (x.Length != montBases.Length)
        {
            throw new ArgumentException("One exponent per base.", nameof(x));
        }

        var windows = (MagnitudeBits + Window - 1) / Window;
        var acc = new Bn?[2];
        var buckets = new Bn?[2, Buckets];
        var running = new Bn?[2];
        var total = new Bn?[2];
        try
        {
            for (var t = windows - 1; t >= 0; t--)
            {
                for (var s = 0; s < 2; s++)
                {
                    if (acc[s] is { } a)
                    {
                        for (var k = 0; k < Window; k++)
                        {
                            key.MontMul(a, a, a);
                        }
                    }
                }

                var shift = t * Window;
                for (var i = 0; i < x.Length; i++)
                {
                    var v = x[i];
                    if (v == 0)
                    {
                        continue;
                    }

                    var s = v > 0 ? 0 : 1;
                    var digit = ((v > 0 ? v : -v) >> shift) & Buckets;
                    if (digit == 0)
                    {
                        continue;
                    }

                    ref var bucket = ref buckets[s, digit - 1];
                    if (bucket is null)
                    {
                        bucket = montBases[i].Clone();
                    }
                    else
                    {
                        key.MontMul(bucket, bucket, montBases[i]);
                    }
                }

                // Σ_δ δ·B_δ = Π_δ (Π_{δ' ≥ δ} B_δ') by running products from the top bucket down.
                for (var s = 0; s < 2; s++)
                {
                    for (var d = Buckets - 1; d >= 0; d--)
                    {
                        if (buckets[s, d] is { } b)
                        {
                            if (running[s] is null)
                            {
                                running[s] = b;
                                buckets[s, d] = null;
                            }
                            else
                            {
                                key.MontMul(running[s]!, running[s]!, b);
                                b.Dispose();
                                buckets[s, d] = null;
                            }
                        }

                        if (running[s] is { } r)
                        {
                            if (total[s] is null)
                            {
                                total[s] = r.Clone();
                            }
                            else
                            {
                                key.MontMul(total[s]!, total[s]!, r);
                            }
                        }
                    }

                    if (total[s] is { } tot)
                    {
                        if (acc[s] is null)
                        {
                            acc[s] = tot;
                        }
                        else
                        {
                            key.MontMul(acc[s]!, acc[s]!, tot);
                            tot.Dispose();
                        }
                    }

                    total[s] = null;
                    running[s]?.Dispose();
                    running[s] = null;
                }
            }

            var result = acc[0] ?? OneMont(key);
            acc[0] = null;
            key.FromMontInPlace(result);
            if (acc[1] is { } neg)
            {
                key.FromMontInPlace(neg);
                key.InvertInPlace(neg);
                using var r = key.Add(result, neg);
                LibCrypto.BN_copy(result.Handle, r.Handle);
            }

            return result;
        }
        finally
        {
            foreach (var b in buckets)
            {
                b?.Dispose();
            }

            acc[1]?.Dispose();
            acc[0]?.Dispose();
            running[0]?.Dispose();
            running[1]?.Dispose();
            total[0]?.Dispose();
            total[1]?.Dispose();
        }
    }

    /// <summary>
    /// Enc(Σ_j m_j·2^(slot·j)) from Enc(m_j) (normal form), by Horner: P ← P^(2^slot)·Enc(m_j) from the top slot down.
    /// </summary>
    internal static Bn Pack(PaillierPublicKey key, IReadOnlyList<Bn> parts, int slotBits)
    {
        var acc = parts[^1].Clone();
        key.ToMontInPlace(acc);
        for (var j = parts.Count - 2; j >= 0; j--)
        {
            for (var k = 0; k < slotBits; k++)
            {
                key.MontMul(acc, acc, acc);
            }

            using var c = parts[j].Clone();
            key.ToMontInPlace(c);
            key.MontMul(acc, acc, c);
        }

        key.FromMontInPlace(acc);
        return acc;
    }

    /// <summary>Splits a packed plaintext into its slots (each in [0, 2^slot)).</summary>
    internal static UInt128[] Unpack(BigInteger packed, int slots, int slotBits)
    {
        var mask = (BigInteger.One << slotBits) - 1;
        var values = new UInt128[slots];
        for (var j = 0; j < slots; j++)
        {
            values[j] = (UInt128)((packed >> (slotBits * j)) & mask);
        }

        return values;
    }

    private static Bn OneMont(PaillierPublicKey key)
    {
        var one = Bn.FromWord(1);
        key.ToMontInPlace(one);
        return one;
    }
}
