using System.Security.Cryptography;

namespace Hutong.Collab.Crypto;

/// <summary>
/// The prime-order group ristretto255 (RFC 9496) over libsodium: 32-byte canonical encodings, 32-byte scalars.
/// Every decode refuses a non-canonical encoding (libsodium's ristretto255_frombytes), so a tampered point never
/// enters a computation.
/// </summary>
public static unsafe class Ristretto255
{
    public const int PointBytes = 32;
    public const int ScalarBytes = 32;
    public const int HashBytes = 64;

    /// <summary>The encoding of the identity element (all zeros).</summary>
    public static ReadOnlySpan<byte> Identity => new byte[PointBytes];

    public static void FromHash(ReadOnlySpan<byte> hash, Span<byte> point)
    {
        Check(hash, HashBytes, nameof(hash));
        Check(point, PointBytes, nameof(point));
        fixed (byte* h = hash)
        fixed (byte* p = point)
        {
            _ = Sodium.crypto_core_ristretto255_from_hash(p, h);
        }
    }

    /// <summary>
    /// point = from_hash(SHA-512(message)): the hash-to-group of the PSI, both steps in libsodium. The same SHA-512 as
    /// System.Security.Cryptography's, without its per-call digest context (from_hash alone costs ~0.23 of a scalar
    /// multiplication; every microsecond around it is paid on each item, on cores that are busy multiplying).
    /// </summary>
    public static void HashToGroup(ReadOnlySpan<byte> message, Span<byte> point)
    {
        Check(point, PointBytes, nameof(point));
        Span<byte> digest = stackalloc byte[HashBytes];
        fixed (byte* m = message)
        fixed (byte* h = digest)
        fixed (byte* p = point)
        {
            _ = Sodium.crypto_hash_sha512(h, m, (ulong)message.Length);
            _ = Sodium.crypto_core_ristretto255_from_hash(p, h);
        }

        CryptographicOperations.ZeroMemory(digest);
    }

    public static bool IsValidPoint(ReadOnlySpan<byte> point)
    {
        if (point.Length != PointBytes)
        {
            return false;
        }

        fixed (byte* p = point)
        {
            return Sodium.crypto_core_ristretto255_is_valid_point(p) == 1;
        }
    }

    /// <summary>result = scalar·point; false when the point is not a canonical encoding or the result is the identity.</summary>
    public static bool TryMultiply(ReadOnlySpan<byte> scalar, ReadOnlySpan<byte> point, Span<byte> result)
    {
        Check(scalar, ScalarBytes, nameof(scalar));
        Check(result, PointBytes, nameof(result));
        if (point.Length != PointBytes)
        {
            return false;
        }

        fixed (byte* n = scalar)
        fixed (byte* p = point)
        fixed (byte* q = result)
        {
            return Sodium.crypto_scalarmult_ristretto255(q, n, p) == 0;
        }
    }

    /// <summary>result = scalar·G; the identity (zeros) when scalar ≡ 0.</summary>
    public static void MultiplyBase(ReadOnlySpan<byte> scalar, Span<byte> result)
    {
        Check(scalar, ScalarBytes, nameof(scalar));
        Check(result, PointBytes, nameof(result));
        fixed (byte* n = scalar)
        fixed (byte* q = result)
        {
            if (Sodium.crypto_scalarmult_ristretto255_base(q, n) != 0)
            {
                result.Clear(); // libsodium refuses to output the identity; 0·G is the identity
            }
        }
    }

    public static bool TryAdd(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, Span<byte> result)
    {
        if (a.Length != PointBytes || b.Length != PointBytes)
        {
            return false;
        }

        Check(result, PointBytes, nameof(result));
        fixed (byte* p = a)
        fixed (byte* q = b)
        fixed (byte* r = result)
        {
            return Sodium.crypto_core_ristretto255_add(r, p, q) == 0;
        }
    }

    public static bool TrySubtract(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, Span<byte> result)
    {
        if (a.Length != PointBytes || b.Length != PointBytes)
        {
            return false;
        }

        Check(result, PointBytes, nameof(result));
        fixed (byte* p = a)
        fixed (byte* q = b)
        fixed (byte* r = result)
        {
            return Sodium.crypto_core_ristretto255_sub(r, p, q) == 0;
        }
    }

    /// <summary>A uniformly random non-zero scalar (libsodium's own CSPRNG).</summary>
    public static void RandomScalar(Span<byte> scalar)
    {
        Check(scalar, ScalarBytes, nameof(scalar));
        fixed (byte* s = scalar)
        {
            Sodium.crypto_core_ristretto255_scalar_random(s);
        }
    }

    /// <summary>The scalar of a small non-negative integer (little-endian).</summary>
    public static void ScalarFromUInt64(ulong value, Span<byte> scalar)
    {
        Check(scalar, ScalarBytes, nameof(scalar));
        scalar.Clear();
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(scalar, value);
    }

    /// <summary>True when the 32 bytes are a canonical (fully reduced) scalar other than zero.</summary>
    public static bool IsCanonicalNonZeroScalar(ReadOnlySpan<byte> scalar)
    {
        if (scalar.Length != ScalarBytes || !scalar.ContainsAnyExcept((byte)0))
        {
            return false;
        }

        Span<byte> wide = stackalloc byte[64];
        Span<byte> reduced = stackalloc byte[ScalarBytes];
        wide.Clear();
        scalar.CopyTo(wide);
        fixed (byte* w = wide)
        fixed (byte* r = reduced)
        {
            Sodium.crypto_core_ristretto255_scalar_reduce(r, w);
        }

        var same = reduced.SequenceEqual(scalar);
        CryptographicOperations.ZeroMemory(wide);
        CryptographicOperations.ZeroMemory(reduced);
        return same;
    }

    private static void Check(ReadOnlySpan<byte> span, int length, string name)
    {
        if (span.Length != length)
        {
            throw new ArgumentException($"{name} must be {length} bytes, not {span.Length}.", name);
        }
    }
}
