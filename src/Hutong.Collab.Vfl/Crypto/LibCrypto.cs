using System.Runtime.InteropServices;

namespace Hutong.Collab.Vfl.Crypto;

/// <summary>
/// OpenSSL 3 libcrypto big-number functions (include/openssl/bn.h), by P/Invoke. BN_ULONG is 64-bit on the 64-bit Linux
/// builds .NET runs on. Every function that returns int returns 1 on success and 0 on failure.
/// </summary>
internal static unsafe partial class LibCrypto
{
    private const string Lib = "libcrypto.so.3";

    [LibraryImport(Lib)] internal static partial nint BN_new();
    [LibraryImport(Lib)] internal static partial void BN_free(nint a);
    [LibraryImport(Lib)] internal static partial void BN_clear_free(nint a);
    [LibraryImport(Lib)] internal static partial nint BN_CTX_new();
    [LibraryImport(Lib)] internal static partial void BN_CTX_free(nint ctx);
    [LibraryImport(Lib)] internal static partial nint BN_bin2bn(byte* s, int len, nint ret);
    [LibraryImport(Lib)] internal static partial int BN_bn2binpad(nint a, byte* to, int tolen);
    [LibraryImport(Lib)] internal static partial int BN_num_bits(nint a);
    [LibraryImport(Lib)] internal static partial nint BN_copy(nint to, nint from);
    [LibraryImport(Lib)] internal static partial int BN_set_word(nint a, ulong w);
    [LibraryImport(Lib)] internal static partial int BN_add_word(nint a, ulong w);
    [LibraryImport(Lib)] internal static partial int BN_sub_word(nint a, ulong w);
    [LibraryImport(Lib)] internal static partial void BN_set_negative(nint a, int n);
    [LibraryImport(Lib)] internal static partial int BN_is_negative(nint a);
    [LibraryImport(Lib)] internal static partial int BN_is_one(nint a);
    [LibraryImport(Lib)] internal static partial int BN_cmp(nint a, nint b);
    [LibraryImport(Lib)] internal static partial int BN_add(nint r, nint a, nint b);
    [LibraryImport(Lib)] internal static partial int BN_sub(nint r, nint a, nint b);
    [LibraryImport(Lib)] internal static partial int BN_mul(nint r, nint a, nint b, nint ctx);
    [LibraryImport(Lib)] internal static partial int BN_div(nint dv, nint rem, nint m, nint d, nint ctx);
    [LibraryImport(Lib)] internal static partial int BN_nnmod(nint r, nint m, nint d, nint ctx);
    [LibraryImport(Lib)] internal static partial int BN_mod_mul(nint r, nint a, nint b, nint m, nint ctx);
    [LibraryImport(Lib)] internal static partial int BN_gcd(nint r, nint a, nint b, nint ctx);
    [LibraryImport(Lib)] internal static partial nint BN_mod_inverse(nint ret, nint a, nint n, nint ctx);
    [LibraryImport(Lib)] internal static partial int BN_mod_exp_mont(nint r, nint a, nint p, nint m, nint ctx, nint mont);
    [LibraryImport(Lib)] internal static partial int BN_mod_exp_mont_consttime(nint r, nint a, nint p, nint m, nint ctx, nint mont);
    [LibraryImport(Lib)] internal static partial nint BN_MONT_CTX_new();
    [LibraryImport(Lib)] internal static partial void BN_MONT_CTX_free(nint mont);
    [LibraryImport(Lib)] internal static partial int BN_MONT_CTX_set(nint mont, nint mod, nint ctx);
    [LibraryImport(Lib)] internal static partial int BN_mod_mul_montgomery(nint r, nint a, nint b, nint mont, nint ctx);
    [LibraryImport(Lib)] internal static partial int BN_to_montgomery(nint r, nint a, nint mont, nint ctx);
    [LibraryImport(Lib)] internal static partial int BN_from_montgomery(nint r, nint a, nint mont, nint ctx);
    [LibraryImport(Lib)] internal static partial int BN_generate_prime_ex(nint ret, int bits, int safe, nint add, nint rem, nint cb);
    [LibraryImport(Lib)] internal static partial int BN_priv_rand_range(nint r, nint range);

    /// <summary>One BN_CTX per thread (a BN_CTX is scratch space and is not thread-safe); lives as long as the thread.</summary>
    [ThreadStatic] private static nint threadCtx;

    internal static nint Ctx
    {
        get
        {
            if (threadCtx == 0)
            {
                threadCtx = BN_CTX_new();
                if (threadCtx == 0)
                {
                    throw new OutOfMemoryException("BN_CTX_new failed.");
                }
            }

            return threadCtx;
        }
    }

    internal static void Check(int ok, string what)
    {
        if (ok != 1)
        {
            throw new System.Security.Cryptography.CryptographicException($"OpenSSL {what} failed.");
        }
    }
}
