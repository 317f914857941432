using System.Reflection;
using Hutong.Collab.Vfl.Crypto;

namespace Hutong.Collab.Vfl.Tests;

/// <summary>
/// A BIGNUM passed to libcrypto as a raw pointer can be freed by its finalizer while OpenSSL still reads it (the GC may
/// collect a Bn whose last managed use is reading its pointer for the call): a CI test host segfaulted in libcrypto on a
/// thread-pool worker after the VFL tests. Passed as a SafeHandle, the marshaller holds it for the whole call.
/// </summary>
public sealed class LibCryptoHandleTests
{
    [Fact]
    public void Every_BIGNUM_and_Montgomery_context_crosses_into_libcrypto_as_a_SafeHandle()
    {
        // Raw pointers remain only for the thread's own BN_CTX, arguments that are always NULL, and the frees the
        // SafeHandles' ReleaseHandle calls.
        var raw = typeof(LibCrypto).GetMethods(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)
            .Where(m => m.Name.StartsWith("BN_", StringComparison.Ordinal) && !m.Name.EndsWith("_free", StringComparison.Ordinal))
            .SelectMany(m => m.GetParameters()
                .Where(p => p.ParameterType == typeof(nint) && p.Name is not ("ctx" or "rem" or "add" or "cb" or "noMont"))
                .Select(p => $"{m.Name}({p.Name})"))
            .ToList();
        Assert.Empty(raw);
        Assert.Contains(typeof(LibCrypto).GetMethods(BindingFlags.Static | BindingFlags.NonPublic),
            m => m.Name == nameof(LibCrypto.BN_mod_exp_mont) && m.GetParameters()[0].ParameterType == typeof(SafeBn));
    }

    [Fact]
    public void A_disposed_big_number_refuses_further_use_instead_of_reading_freed_memory()
    {
        var bn = Bn.FromWord(12345);
        Assert.Equal(14, bn.Bits);
        bn.Dispose();
        Assert.Throws<ObjectDisposedException>(() => bn.Bits);
    }
}
