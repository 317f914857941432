using System.Runtime.InteropServices;

namespace Hutong.Collab.Vfl.Crypto;

/// <summary>
/// OpenSSL 3 libcrypto big-number functions (include/openssl/bn.h), by P/Invoke. BN_ULONG is 64-bit on the 64-bit Linux
/// builds .NET runs on. Every function that returns int returns 1 on success and 0 on failure.
/// </summary>
internal static unsafe partial class LibCrypto
{
    private const string Lib = "libcrypto.so.3";

    // BIGNUMs and Montgomery contexts are passed as SafeHandles: the marshaller holds a reference on each for the whole call,
    // so a Bn whose last managed use is the call itself cannot be finalized (BN_free) while OpenSSL still reads it. With raw
    // pointers that happened: a test host segfaulted in libcrypto (kernel log, a .NET thread-pool worker) after the VFL tests.
    // ctx is the calling thread's own BN_CTX (never freed while the thread lives); the nint BN parameters are always NULL.
    [LibraryImport(Lib)] internal static partial nint BN_new();
    [LibraryImport(Lib)] internal static partial void BN_free(nint a);
    [LibraryImport(Lib)] internal static partial void BN_clear_free(nint a);
    [LibraryImport(Lib)] internal static partial nint BN_CTX_new();
    [LibraryImport(Lib)] internal static partial void BN_CTX_free(nint ctx);
    [LibraryImport(Lib)] internal static partial nint BN_bin2bn(byte* s, int len, SafeBn ret);
    [LibraryImport(Lib)] internal static partial int BN_bn2binpad(SafeBn a, byte* to, int tolen);
    [LibraryImport(Lib)] internal static partial int BN_num_bits(SafeBn a);
    [LibraryImport(Lib)] internal static partial nint BN_copy(SafeBn to, SafeBn from);
    [LibraryImport(Lib)] internal static partial int BN_set_word(SafeBn a, ulong w);
    [LibraryImport(Lib)] internal static partial int BN_add_word(SafeBn a, ulong w);
    [LibraryImport(Lib)] internal static partial int BN_sub_word(SafeBn a, ulong w);
    [LibraryImport(Lib)] internal static partial void BN_set_negative(SafeBn a, int n);
    [LibraryImport(Lib)] internal static partial int BN_is_negative(SafeBn a);
    [LibraryImport(Lib)] internal static partial int BN_is_one(SafeBn a);
    [LibraryImport(Lib)] internal static partial int BN_cmp(SafeBn a, SafeBn b);
    [LibraryImport(Lib)] internal static partial int BN_add(SafeBn r, SafeBn a, SafeBn b);
    [LibraryImport(Lib)] internal static partial int BN_sub(SafeBn r, SafeBn a, SafeBn b);
    [LibraryImport(Lib)] internal static partial int BN_mul(SafeBn r, SafeBn a, SafeBn b, nint ctx);
    [LibraryImport(Lib)] internal static partial int BN_div(SafeBn dv, nint rem, SafeBn m, SafeBn d, nint ctx);
    [LibraryImport(Lib)] internal static partial int BN_nnmod(SafeBn r, SafeBn m, SafeBn d, nint ctx);
    [LibraryImport(Lib)] internal static partial int BN_mod_mul(SafeBn r, SafeBn a, SafeBn b, SafeBn m, nint ctx);
    [LibraryImport(Lib)] internal static partial int BN_gcd(SafeBn r, SafeBn a, SafeBn b, nint ctx);
    [LibraryImport(Lib)] internal static partial nint BN_mod_inverse(SafeBn ret, SafeBn a, SafeBn n, nint ctx);
    [LibraryImport(Lib)] internal static partial int BN_mod_exp_mont(SafeBn r, SafeBn a, SafeBn p, SafeBn m, nint ctx, SafeMont mont);
    [LibraryImport(Lib, EntryPoint = "BN_mod_exp_mont")] internal static partial int BN_mod_exp_mont_no_mont(SafeBn r, SafeBn a, SafeBn p, SafeBn m, nint ctx, nint noMont);
    [LibraryImport(Lib)] internal static partial int BN_mod_exp_mont_consttime(SafeBn r, SafeBn a, SafeBn p, SafeBn m, nint ctx, SafeMont mont);
    [LibraryImport(Lib)] internal static partial nint BN_MONT_CTX_new();
    [LibraryImport(Lib)] internal static partial void BN_MONT_CTX_free(nint mont);
    [LibraryImport(Lib)] internal static partial int BN_MONT_CTX_set(SafeMont mont, SafeBn mod, nint ctx);
    [LibraryImport(Lib)] internal static partial int BN_mod_mul_montgomery(SafeBn r, SafeBn a, SafeBn b, SafeMont mont, nint ctx);
    [LibraryImport(Lib)] internal static partial int BN_to_montgomery(SafeBn r, SafeBn a, SafeMont mont, nint ctx);
    [LibraryImport(Lib)] internal static partial int BN_from_montgomery(SafeBn r, SafeBn a, SafeMont mont, nint ctx);
    [LibraryImport(Lib)] internal static partial int BN_generate_prime_ex(SafeBn ret, int bits, int safe, nint add, nint rem, nint cb);
    [LibraryImport(Lib)] internal static partial int BN_priv_rand_range(SafeBn r, SafeBn range);

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

/// <summary>An owned BIGNUM*: freed (cleared first when secret) once disposed and no call holds it.</summary>
internal sealed class SafeBn : SafeHandle
{
    public SafeBn()
        : base(0, ownsHandle: true)
    {
    }

    public SafeBn(nint handle, bool secret)
        : base(0, ownsHandle: true)
    {
        SetHandle(handle);
        Secret = secret;
    }

    public bool Secret { get; }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        if (Secret)
        {
            LibCrypto.BN_clear_free(handle);
        }
        else
        {
            LibCrypto.BN_free(handle);
        }

        return true;
    }
}

/// <summary>An owned BN_MONT_CTX*: freed once disposed and no call holds it.</summary>
internal sealed class SafeMont : SafeHandle
{
    public SafeMont()
        : base(0, ownsHandle: true)
    {
    }

    public SafeMont(nint handle)
        : base(0, ownsHandle: true) => SetHandle(handle);

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        LibCrypto.BN_MONT_CTX_free(handle);
        return true;
    }
}
