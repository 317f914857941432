using System.Runtime.InteropServices;

namespace Hutong.Collab.Crypto;

/// <summary>
/// The ristretto255 functions of libsodium 1.0.22 (the native library the `libsodium` NuGet package ships), by P/Invoke.
/// Signatures from libsodium's include/sodium/crypto_core_ristretto255.h and crypto_scalarmult_ristretto255.h.
/// </summary>
internal static unsafe partial class Sodium
{
    private const string Lib = "libsodium";

    static Sodium()
    {
        // sodium_init: 0 on success, 1 if already initialised, -1 on failure.
        if (sodium_init() < 0)
        {
            throw new InvalidOperationException("libsodium could not be initialised.");
        }
    }

    [LibraryImport(Lib)]
    private static partial int sodium_init();

    /// <summary>Maps 64 uniformly random bytes to a group element (RFC 9496 §4.3.4 one-way map).</summary>
    [LibraryImport(Lib)]
    internal static partial int crypto_core_ristretto255_from_hash(byte* p, byte* r);

    /// <summary>1 when p is the canonical encoding of a group element, else 0.</summary>
    [LibraryImport(Lib)]
    internal static partial int crypto_core_ristretto255_is_valid_point(byte* p);

    /// <summary>r = p + q; -1 when p or q is not a canonical encoding.</summary>
    [LibraryImport(Lib)]
    internal static partial int crypto_core_ristretto255_add(byte* r, byte* p, byte* q);

    /// <summary>r = p − q; -1 when p or q is not a canonical encoding.</summary>
    [LibraryImport(Lib)]
    internal static partial int crypto_core_ristretto255_sub(byte* r, byte* p, byte* q);

    [LibraryImport(Lib)]
    internal static partial void crypto_core_ristretto255_scalar_random(byte* r);

    /// <summary>-1 when s is zero.</summary>
    [LibraryImport(Lib)]
    internal static partial int crypto_core_ristretto255_scalar_invert(byte* recip, byte* s);

    /// <summary>Reduces a 64-byte little-endian number modulo the group order.</summary>
    [LibraryImport(Lib)]
    internal static partial void crypto_core_ristretto255_scalar_reduce(byte* r, byte* s);

    [LibraryImport(Lib)]
    internal static partial void crypto_core_ristretto255_scalar_mul(byte* z, byte* x, byte* y);

    /// <summary>SHA-512 of inlen bytes (include/sodium/crypto_hash_sha512.h); always 0. In-process, no per-call context.</summary>
    [LibraryImport(Lib)]
    internal static partial int crypto_hash_sha512(byte* @out, byte* @in, ulong inlen);

    /// <summary>q = n·p; -1 when p is not a canonical encoding or q is the identity.</summary>
    [LibraryImport(Lib)]
    internal static partial int crypto_scalarmult_ristretto255(byte* q, byte* n, byte* p);

    /// <summary>q = n·G; -1 when q is the identity (n ≡ 0).</summary>
    [LibraryImport(Lib)]
    internal static partial int crypto_scalarmult_ristretto255_base(byte* q, byte* n);
}
