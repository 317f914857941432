using System.Collections.Concurrent;
using System.Numerics;
using System.Security.Cryptography;
using static Hutong.Collab.Vfl.Crypto.LibCrypto;

namespace Hutong.Collab.Vfl.Crypto;

/// <summary>
/// Paillier public key, 2048-bit n (112-bit security, NIST SP 800-57 Part 1 Table 2 for factoring moduli), g = n + 1, so
/// g^m = 1 + n·m mod n² and an encryption is c = (1 + n·m)·ρ mod n² = ρ + n·(m·ρ mod n), one cheap step beside its
/// randomness ρ. The randomness follows the Damgård–Jurik simplification (secretflow/heu:heu/library/algorithms/dj/README.md,
/// after Damgård and Jurik, PKC 2001): the public key carries h_s = h^n mod n² with h = −x² mod n, and ρ = h_s^α for a
/// random ⌈k/2⌉ = 1024-bit α — computed from a fixed-base table (128 windows of 8 bits: at most 127 multiplications
/// instead of a 2048-bit exponentiation), and generated ahead into a pool.
/// </summary>
public sealed class PaillierPublicKey : IDisposable
{
    public const int ModulusBits = 2048;
    public const int ModulusBytes = ModulusBits / 8;
    public const int CiphertextBytes = 2 * ModulusBytes;
    private const int Windows = ModulusBits / 2 / 8; // 128 windows of 8 bits of α
    private readonly Lazy<Bn[]> table;
    private readonly ConcurrentQueue<Bn> pool = new();

    internal PaillierPublicKey(Bn n, Bn hs)
    {
        N = n;
        N2 = new Bn();
        Check(BN_mul(N2.Handle, n.Handle, n.Handle, Ctx), "BN_mul");
        Hs = hs;
        MontN2 = new Mont(N2);
        table = new Lazy<Bn[]>(BuildTable, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    internal Bn N { get; }

    internal Bn N2 { get; }

    internal Bn Hs { get; }

    internal Mont MontN2 { get; }

    public BigInteger Modulus => N.ToBigInteger();

    /// <summary>n (256 bytes) ‖ h_s (512 bytes), big-endian.</summary>
    public byte[] Export()
    {
        var bytes = new byte[ModulusBytes + CiphertextBytes];
        N.WriteBytes(bytes.AsSpan(0, ModulusBytes));
        Hs.WriteBytes(bytes.AsSpan(ModulusBytes));
        return bytes;
    }

    public static PaillierPublicKey Import(ReadOnlySpan<byte> exported)
    {
        if (exported.Length != ModulusBytes + CiphertextBytes)
        {
            throw new VflProtocolException("bad_key", $"A Paillier public key is {ModulusBytes + CiphertextBytes} bytes, not {exported.Length}.");
        }

        var n = Bn.FromBytes(exported[..ModulusBytes]);
        var hs = Bn.FromBytes(exported[ModulusBytes..]);
        if (n.Bits != ModulusBits || (exported[ModulusBytes - 1] & 1) == 0)
        {
            throw new VflProtocolException("bad_key", "A Paillier modulus must be an odd 2048-bit number.");
        }

        var key = new PaillierPublicKey(n, hs);
        if (BN_cmp(hs.Handle, key.N2.Handle) >= 0 || hs.Bits < 2)
        {
            key.Dispose();
            throw new VflProtocolException("bad_key", "h_s must be a unit below n².");
        }

        return key;
    }

    /// <summary>Generates <paramref name="count"/> randomizers ahead, on all cores.</summary>
    public void Prefill(int count)
    {
        if (count <= 0)
        {
            return;
        }

        _ = table.Value;
        Parallel.For(0, count, _ => pool.Enqueue(NewRandomizer()));
    }

    internal int Pooled => pool.Count;

    /// <summary>A randomizer ρ = h_s^α (normal form), from the pool when one is there.</summary>
    internal Bn TakeRandomizer() => pool.TryDequeue(out var r) ? r : NewRandomizer();

    /// <summary>m mod n as a BIGNUM (m may be negative: −m is n − m).</summary>
    internal Bn Encode(BigInteger m)
    {
        var mod = Modulus;
        var r = m % mod;
        if (r.Sign < 0)
        {
            r += mod;
        }

        return Bn.From(r);
    }

    internal Bn Encode(long m)
    {
        if (m >= 0)
        {
            return Bn.FromWord((ulong)m);
        }

        var bn = Bn.FromWord((ulong)(-(m + 1)) + 1);
        Check(BN_sub(bn.Handle, N.Handle, bn.Handle), "BN_sub");
        return bn;
    }

    /// <summary>Enc(m) with a pooled randomizer, in normal form. <paramref name="m"/> is already reduced mod n.</summary>
    internal Bn Encrypt(Bn m)
    {
        var rho = TakeRandomizer();
        AddPlainInPlace(rho, m);
        return rho;
    }

    public byte[] Encrypt(BigInteger m)
    {
        using var bn = Encode(m);
        using var c = Encrypt(bn);
        return c.ToBytes(CiphertextBytes);
    }

    /// <summary>c ← c·(1 + n·m) = c + n·(c·m mod n) mod n² (homomorphic addition of a plaintext m mod n).</summary>
    internal void AddPlainInPlace(Bn c, Bn m)
    {
        var ctx = Ctx;
        using var t = new Bn();
        Check(BN_mod_mul(t.Handle, c.Handle, m.Handle, N.Handle, ctx), "BN_mod_mul");
        Check(BN_mul(t.Handle, t.Handle, N.Handle, ctx), "BN_mul");
        Check(BN_add(c.Handle, c.Handle, t.Handle), "BN_add");
        if (BN_cmp(c.Handle, N2.Handle) >= 0)
        {
            Check(BN_sub(c.Handle, c.Handle, N2.Handle), "BN_sub");
        }
    }

    /// <summary>Enc(a + b) = a·b mod n² (normal form).</summary>
    internal Bn Add(Bn a, Bn b)
    {
        var r = new Bn();
        Check(BN_mod_mul(r.Handle, a.Handle, b.Handle, N2.Handle, Ctx), "BN_mod_mul");
        HeCounters.Multiplications(1);
        return r;
    }

    public byte[] Add(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        using var x = ReadCiphertext(a);
        using var y = ReadCiphertext(b);
        using var r = Add(x, y);
        return r.ToBytes(CiphertextBytes);
    }

    /// <summary>Enc(k·m) = c^k mod n², k signed (a negative k inverts c first).</summary>
    public byte[] MultiplyByScalar(ReadOnlySpan<byte> ciphertext, BigInteger k)
    {
        using var c = ReadCiphertext(ciphertext);
        var ctx = Ctx;
        if (k.Sign < 0)
        {
            Check(BN_mod_inverse(c.Handle, c.Handle, N2.Handle, ctx) == 0 ? 0 : 1, "BN_mod_inverse");
            HeCounters.Inversion();
            k = -k;
        }

        using var e = Bn.From(k);
        using var r = new Bn();
        Check(BN_mod_exp_mont(r.Handle, c.Handle, e.Handle, N2.Handle, ctx, MontN2.Handle), "BN_mod_exp_mont");
        return r.ToBytes(CiphertextBytes);
    }

    /// <summary>Adds a fresh encryption of 0, so the result cannot be linked to the ciphertexts it was computed from.</summary>
    internal void RerandomizeInPlace(Bn c)
    {
        using var rho = TakeRandomizer();
        Check(BN_mod_mul(c.Handle, c.Handle, rho.Handle, N2.Handle, Ctx), "BN_mod_mul");
        HeCounters.Multiplications(1);
    }

    internal Bn ReadCiphertext(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != CiphertextBytes)
        {
            throw new VflProtocolException("bad_ciphertext", $"A ciphertext is {CiphertextBytes} bytes, not {bytes.Length}.");
        }

        var c = Bn.FromBytes(bytes);
        if (BN_cmp(c.Handle, N2.Handle) >= 0)
        {
            c.Dispose();
            throw new VflProtocolException("bad_ciphertext", "A ciphertext is not below n².");
        }

        return c;
    }

    internal void ToMontInPlace(Bn c)
    {
        Check(BN_to_montgomery(c.Handle, c.Handle, MontN2.Handle, Ctx), "BN_to_montgomery");
        HeCounters.Multiplications(1);
    }

    internal void FromMontInPlace(Bn c)
    {
        Check(BN_from_montgomery(c.Handle, c.Handle, MontN2.Handle, Ctx), "BN_from_montgomery");
        HeCounters.Multiplications(1);
    }

    /// <summary>r = a·b (both in Montgomery form mod n²); r may be a or b. Counted as one ciphertext multiplication.</summary>
    internal void MontMul(Bn r, Bn a, Bn b)
    {
        MontMulUncounted(r, a, b);
        HeCounters.Multiplications(1);
    }

    private void MontMulUncounted(Bn r, Bn a, Bn b) => Check(BN_mod_mul_montgomery(r.Handle, a.Handle, b.Handle, MontN2.Handle, Ctx), "BN_mod_mul_montgomery");

    /// <summary>c⁻¹ mod n² in normal form.</summary>
    internal void InvertInPlace(Bn c)
    {
        if (BN_mod_inverse(c.Handle, c.Handle, N2.Handle, Ctx) == 0)
        {
            throw new VflProtocolException("bad_ciphertext", "A ciphertext is not a unit mod n².");
        }

        HeCounters.Inversion();
    }

    internal Bn NewRandomizer()
    {
        var t = table.Value;
        Span<byte> alpha = stackalloc byte[Windows];
        RandomNumberGenerator.Fill(alpha);
        Bn? acc = null;
        for (var k = 0; k < Windows; k++)
        {
            var digit = alpha[k];
            if (digit == 0)
            {
                continue;
            }

            var entry = t[k * 255 + digit - 1];
            if (acc is null)
            {
                acc = entry.Clone();
            }
            else
            {
                MontMulUncounted(acc, acc, entry);
            }
        }

        CryptographicOperations.ZeroMemory(alpha);
        acc ??= Bn.FromWord(1);
        Check(BN_from_montgomery(acc.Handle, acc.Handle, MontN2.Handle, Ctx), "BN_from_montgomery");
        HeCounters.Encryption();
        return acc;
    }

    /// <summary>T[k][δ] = h_s^(δ·2^(8k)) in Montgomery form, k &lt; 128, 1 ≤ δ ≤ 255 (32,640 entries, 16.7 MB).</summary>
    private Bn[] BuildTable()
    {
        var t = new Bn[Windows * 255];
        var bases = new Bn[Windows];
        var b = Hs.Clone();
        Check(BN_to_montgomery(b.Handle, b.Handle, MontN2.Handle, Ctx), "BN_to_montgomery");
        for (var k = 0; k < Windows; k++)
        {
            bases[k] = b.Clone();
            for (var s = 0; s < 8; s++)
            {
                MontMulUncounted(b, b, b);
            }
        }

        b.Dispose();
        Parallel.For(0, Windows, k =>
        {
            t[k * 255] = bases[k];
            for (var d = 1; d < 255; d++)
            {
                var e = new Bn();
                MontMulUncounted(e, t[k * 255 + d - 1], bases[k]);
                t[k * 255 + d] = e;
            }
        });
        return t;
    }

    public void Dispose()
    {
        if (table.IsValueCreated)
        {
            foreach (var e in table.Value)
            {
                e.Dispose();
            }
        }

        while (pool.TryDequeue(out var r))
        {
            r.Dispose();
        }

        MontN2.Dispose();
        N.Dispose();
        N2.Dispose();
        Hs.Dispose();
    }
}

/// <summary>
/// A Paillier key pair: the public key and p, q for CRT decryption — m_p = L_p(c^(p−1) mod p²)·h_p mod p (and the same
/// mod q), recombined by CRT: two 1024-bit exponentiations mod 2048-bit moduli instead of one 2048-bit exponentiation
/// mod n² (Paillier, EUROCRYPT '99, §7; the same decomposition as data61/python-paillier:phe/paillier.py).
/// </summary>
public sealed class PaillierKeyPair : IDisposable
{
    private readonly Bn p, q, p2, q2, pm1, qm1, hp, hq, qInvP;
    private readonly Mont montP2, montQ2;

    private PaillierKeyPair(Bn p, Bn q)
    {
        var ctx = Ctx;
        this.p = p;
        this.q = q;
        var n = new Bn();
        Check(BN_mul(n.Handle, p.Handle, q.Handle, ctx), "BN_mul");
        if (n.Bits != PaillierPublicKey.ModulusBits)
        {
            throw new CryptographicException("The modulus is not 2048 bits.");
        }

        // h = −x² mod n for a random unit x; h_s = h^n mod n².
        using var x = new Bn(secret: true);
        Check(BN_priv_rand_range(x.Handle, n.Handle), "BN_priv_rand_range");
        using var h = new Bn(secret: true);
        Check(BN_mod_mul(h.Handle, x.Handle, x.Handle, n.Handle, ctx), "BN_mod_mul");
        Check(BN_sub(h.Handle, n.Handle, h.Handle), "BN_sub");
        var n2 = new Bn();
        Check(BN_mul(n2.Handle, n.Handle, n.Handle, ctx), "BN_mul");
        var hs = new Bn();
        Check(BN_mod_exp_mont_no_mont(hs.Handle, h.Handle, n.Handle, n2.Handle, ctx, 0), "BN_mod_exp_mont");
        n2.Dispose();
        Public = new PaillierPublicKey(n, hs);

        p2 = Square(p, secret: true);
        q2 = Square(q, secret: true);
        montP2 = new Mont(p2);
        montQ2 = new Mont(q2);
        pm1 = p.Clone();
        Check(BN_sub_word(pm1.Handle, 1), "BN_sub_word");
        qm1 = q.Clone();
        Check(BN_sub_word(qm1.Handle, 1), "BN_sub_word");
        hp = HFactor(p, p2, pm1, montP2, n);
        hq = HFactor(q, q2, qm1, montQ2, n);
        qInvP = new Bn(secret: true);
        if (BN_mod_inverse(qInvP.Handle, q.Handle, p.Handle, ctx) == 0)
        {
            throw new CryptographicException("q is not invertible mod p.");
        }
    }

    public PaillierPublicKey Public { get; }

    public static PaillierKeyPair Generate()
    {
        while (true)
        {
            var p = new Bn(secret: true);
            var q = new Bn(secret: true);
            Check(BN_generate_prime_ex(p.Handle, PaillierPublicKey.ModulusBits / 2, 0, 0, 0, 0), "BN_generate_prime_ex");
            Check(BN_generate_prime_ex(q.Handle, PaillierPublicKey.ModulusBits / 2, 0, 0, 0, 0), "BN_generate_prime_ex");
            if (BN_cmp(p.Handle, q.Handle) != 0)
            {
                return new PaillierKeyPair(p, q);
            }

            p.Dispose();
            q.Dispose();
        }
    }

    /// <summary>The plaintext in [0, n).</summary>
    internal BigInteger DecryptRaw(Bn c)
    {
        var ctx = Ctx;
        using var mp = Half(c, p, p2, pm1, hp, montP2, ctx);
        using var mq = Half(c, q, q2, qm1, hq, montQ2, ctx);
        // m = m_q + q·((m_p − m_q)·q⁻¹ mod p)
        using var t = new Bn(secret: true);
        Check(BN_sub(t.Handle, mp.Handle, mq.Handle), "BN_sub");
        Check(BN_nnmod(t.Handle, t.Handle, p.Handle, ctx), "BN_nnmod");
        Check(BN_mod_mul(t.Handle, t.Handle, qInvP.Handle, p.Handle, ctx), "BN_mod_mul");
        Check(BN_mul(t.Handle, t.Handle, q.Handle, ctx), "BN_mul");
        Check(BN_add(t.Handle, t.Handle, mq.Handle), "BN_add");
        HeCounters.Decryption();
        return t.ToBigInteger();
    }

    public BigInteger DecryptRaw(ReadOnlySpan<byte> ciphertext)
    {
        using var c = Public.ReadCiphertext(ciphertext);
        return DecryptRaw(c);
    }

    /// <summary>The plaintext as a signed value: those above n/2 stand for m − n.</summary>
    public BigInteger DecryptSigned(ReadOnlySpan<byte> ciphertext)
    {
        var m = DecryptRaw(ciphertext);
        var n = Public.Modulus;
        return m > n / 2 ? m - n : m;
    }

    private static Bn Half(Bn c, Bn prime, Bn prime2, Bn primeMinus1, Bn h, Mont mont, nint ctx)
    {
        var x = new Bn(secret: true);
        Check(BN_nnmod(x.Handle, c.Handle, prime2.Handle, ctx), "BN_nnmod");
        Check(BN_mod_exp_mont_consttime(x.Handle, x.Handle, primeMinus1.Handle, prime2.Handle, ctx, mont.Handle), "BN_mod_exp_mont_consttime");
        Check(BN_sub_word(x.Handle, 1), "BN_sub_word");
        Check(BN_div(x.Handle, 0, x.Handle, prime.Handle, ctx), "BN_div");
        Check(BN_mod_mul(x.Handle, x.Handle, h.Handle, prime.Handle, ctx), "BN_mod_mul");
        return x;
    }

    /// <summary>h_p = L_p((1 + n)^(p−1) mod p²)⁻¹ mod p.</summary>
    private static Bn HFactor(Bn prime, Bn prime2, Bn primeMinus1, Mont mont, Bn n)
    {
        var ctx = Ctx;
        var g = n.Clone();
        Check(BN_add_word(g.Handle, 1), "BN_add_word");
        Check(BN_nnmod(g.Handle, g.Handle, prime2.Handle, ctx), "BN_nnmod");
        Check(BN_mod_exp_mont(g.Handle, g.Handle, primeMinus1.Handle, prime2.Handle, ctx, mont.Handle), "BN_mod_exp_mont");
        Check(BN_sub_word(g.Handle, 1), "BN_sub_word");
        Check(BN_div(g.Handle, 0, g.Handle, prime.Handle, ctx), "BN_div");
        var inv = new Bn(secret: true);
        if (BN_mod_inverse(inv.Handle, g.Handle, prime.Handle, ctx) == 0)
        {
            throw new CryptographicException("L_p(g^(p−1)) is not invertible.");
        }

        g.Dispose();
        return inv;
    }

    private static Bn Square(Bn a, bool secret)
    {
        var r = new Bn(secret);
        Check(BN_mul(r.Handle, a.Handle, a.Handle, Ctx), "BN_mul");
        return r;
    }

    public void Dispose()
    {
        Public.Dispose();
        foreach (var b in new[] { p, q, p2, q2, pm1, qm1, hp, hq, qInvP })
        {
            b.Dispose();
        }

        montP2.Dispose();
        montQ2.Dispose();
    }
}
