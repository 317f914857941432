using System.Numerics;
using static Hutong.Collab.Vfl.Crypto.LibCrypto;

namespace Hutong.Collab.Vfl.Crypto;

/// <summary>
/// An OpenSSL BIGNUM owned by managed code: freed on Dispose (cleared first when it is secret) or by its SafeHandle's
/// finalizer, never while a call into libcrypto holds it.
/// </summary>
internal sealed unsafe class Bn : IDisposable
{
    private readonly bool secret;

    public Bn(bool secret = false)
    {
        var raw = BN_new();
        if (raw == 0)
        {
            throw new OutOfMemoryException("BN_new failed.");
        }

        Handle = new SafeBn(raw, secret);
        this.secret = secret;
    }

    public SafeBn Handle { get; }

    public int Bits => BN_num_bits(Handle);

    public static Bn FromBytes(ReadOnlySpan<byte> bigEndian, bool secret = false)
    {
        var bn = new Bn(secret);
        fixed (byte* p = bigEndian)
        {
            if (BN_bin2bn(p, bigEndian.Length, bn.Handle) == 0)
            {
                throw new System.Security.Cryptography.CryptographicException("BN_bin2bn failed.");
            }
        }

        return bn;
    }

    /// <summary>A non-negative integer.</summary>
    public static Bn From(BigInteger value, bool secret = false)
    {
        if (value.Sign < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(value), "Non-negative values only.");
        }

        return FromBytes(value.IsZero ? [0] : value.ToByteArray(isUnsigned: true, isBigEndian: true), secret);
    }

    public static Bn FromWord(ulong value)
    {
        var bn = new Bn();
        Check(BN_set_word(bn.Handle, value), "BN_set_word");
        return bn;
    }

    public Bn Clone()
    {
        var bn = new Bn(secret);
        if (BN_copy(bn.Handle, Handle) == 0)
        {
            throw new System.Security.Cryptography.CryptographicException("BN_copy failed.");
        }

        return bn;
    }

    public void WriteBytes(Span<byte> bigEndian)
    {
        fixed (byte* p = bigEndian)
        {
            if (BN_bn2binpad(Handle, p, bigEndian.Length) != bigEndian.Length)
            {
                throw new System.Security.Cryptography.CryptographicException("A big number does not fit its field.");
            }
        }
    }

    public byte[] ToBytes(int length)
    {
        var bytes = new byte[length];
        WriteBytes(bytes);
        return bytes;
    }

    public BigInteger ToBigInteger()
    {
        var bytes = ToBytes((Bits + 7) / 8);
        return new BigInteger(bytes, isUnsigned: true, isBigEndian: true);
    }

    public void Dispose() => Handle.Dispose();
}

/// <summary>A Montgomery context for one modulus (shared read-only by all threads once set).</summary>
internal sealed class Mont : IDisposable
{
    public Mont(Bn modulus)
    {
        var raw = BN_MONT_CTX_new();
        if (raw == 0)
        {
            throw new OutOfMemoryException("BN_MONT_CTX_new failed.");
        }

        Handle = new SafeMont(raw);
        Check(BN_MONT_CTX_set(Handle, modulus.Handle, Ctx), "BN_MONT_CTX_set");
    }

    public SafeMont Handle { get; }

    public void Dispose() => Handle.Dispose();
}
