using System.Collections.Concurrent;
using System.Security.Cryptography;
using Hutong.Collab.Crypto;

namespace Hutong.Collab.Psi;

/// <summary>
/// The two group operations of ECDH-PSI (Huberman–Franklin–Hogg, as in the interop draft), run on all cores. Hashing
/// to the group is done item by item inside the same parallel loop as the multiplication, so it overlaps with it
/// instead of being a pass of its own.
/// </summary>
public static class EcdhPsi
{
    /// <summary>Stage 1: H(id)^k for each normalised id, packed 32 bytes each, in input order.</summary>
    public static byte[] Mask(PsiSuite suite, SecretScalar key, IReadOnlyList<string> normalizedIds)
    {
        ArgumentNullException.ThrowIfNull(suite);
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(normalizedIds);
        var k = key.Bytes;
        var output = new byte[normalizedIds.Count * Ristretto255.PointBytes];
        Parallel.ForEach(Partitioner.Create(0, normalizedIds.Count, Chunk(normalizedIds.Count)), range =>
        {
            Span<byte> point = stackalloc byte[Ristretto255.PointBytes];
            for (var i = range.Item1; i < range.Item2; i++)
            {
                suite.HashToGroup(normalizedIds[i], point);
                if (!Ristretto255.TryMultiply(k, point, output.AsSpan(i * Ristretto255.PointBytes, Ristretto255.PointBytes)))
                {
                    throw new CryptographicException("Hash-to-group gave the identity."); // probability 2^-252
                }
            }
        });
        return output;
    }

    /// <summary>
    /// Stage 2: the peer's stage-1 points masked again with our key and truncated, in the batch's order. Every point
    /// is decoded by libsodium, which refuses a non-canonical encoding; the identity is refused too.
    /// </summary>
    public static UInt128[] Remask(PsiSuite suite, SecretScalar key, EcdhPsiCipherBatch peerEnc)
    {
        ArgumentNullException.ThrowIfNull(suite);
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(peerEnc);
        peerEnc.Validate(CipherType.Enc, Ristretto255.PointBytes);
        var k = key.Bytes;
        var input = peerEnc.Ciphertext;
        var output = new UInt128[peerEnc.Count];
        var firstBad = int.MaxValue;
        Parallel.ForEach(Partitioner.Create(0, peerEnc.Count, Chunk(peerEnc.Count)), range =>
        {
            Span<byte> q = stackalloc byte[Ristretto255.PointBytes];
            var span = input.Span;
            for (var i = range.Item1; i < range.Item2; i++)
            {
                if (!Ristretto255.TryMultiply(k, span.Slice(i * Ristretto255.PointBytes, Ristretto255.PointBytes), q))
                {
                    InterlockedMin(ref firstBad, i);
                    return;
                }

                output[i] = suite.Truncate(q);
            }
        });

        if (firstBad != int.MaxValue)
        {
            throw new CollabProtocolException("bad_point",
                $"'{peerEnc.Type}' batch {peerEnc.BatchIndex}, item {firstBad}: not a canonical ristretto255 encoding of a non-identity element.");
        }

        return output;
    }

    /// <summary>Packs second-stage values big-endian, <see cref="PsiSuite.TruncatedBytes"/> each (the wire form).</summary>
    public static byte[] Pack(PsiSuite suite, ReadOnlySpan<UInt128> values)
    {
        ArgumentNullException.ThrowIfNull(suite);
        var w = suite.TruncatedBytes;
        var output = new byte[values.Length * w];
        Span<byte> be = stackalloc byte[16];
        for (var i = 0; i < values.Length; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(be, values[i]);
            be[..w].CopyTo(output.AsSpan(i * w, w));
        }

        return output;
    }

    public static UInt128[] Unpack(PsiSuite suite, EcdhPsiCipherBatch dual)
    {
        ArgumentNullException.ThrowIfNull(suite);
        ArgumentNullException.ThrowIfNull(dual);
        dual.Validate(CipherType.DualEnc, suite.TruncatedBytes);
        var w = suite.TruncatedBytes;
        var values = new UInt128[dual.Count];
        Span<byte> be = stackalloc byte[16];
        var span = dual.Ciphertext.Span;
        for (var i = 0; i < values.Length; i++)
        {
            be.Clear();
            span.Slice(i * w, w).CopyTo(be);
            values[i] = System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(be);
        }

        return values;
    }

    internal static int Chunk(int count) => Math.Max(16, count / (Environment.ProcessorCount * 8) + 1);

    private static void InterlockedMin(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value < current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
