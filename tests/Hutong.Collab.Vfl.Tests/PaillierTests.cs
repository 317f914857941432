using System.Numerics;
using System.Security.Cryptography;
using Hutong.Collab.Vfl.Crypto;
using Hutong.Collab.Vfl.Protocol;

namespace Hutong.Collab.Vfl.Tests;

public sealed class PaillierFixture : IDisposable
{
    public PaillierKeyPair Keys { get; } = PaillierKeyPair.Generate();

    public void Dispose() => Keys.Dispose();
}

public class PaillierTests(PaillierFixture fixture) : IClassFixture<PaillierFixture>
{
    private PaillierPublicKey Pk => fixture.Keys.Public;

    private BigInteger N => Pk.Modulus;

    [Fact]
    public void The_key_is_2048_bits_and_h_s_is_an_nth_residue()
    {
        Assert.Equal(2048, (int)N.GetBitLength());
        var exported = Pk.Export();
        using var again = PaillierPublicKey.Import(exported);
        Assert.Equal(N, again.Modulus);
        Assert.Equal("bad_key", Assert.Throws<VflProtocolException>(() => PaillierPublicKey.Import(exported.AsSpan(1))).Code);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("1")]
    [InlineData("-1")]
    [InlineData("1267650600228229401496703205376")] // 2^100
    [InlineData("-1152921504606846976")] // −2^60
    public void Decrypt_of_encrypt_is_the_identity_for_signed_values(string value)
    {
        var m = BigInteger.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
        var c1 = Pk.Encrypt(m);
        var c2 = Pk.Encrypt(m);

        Assert.Equal(m, fixture.Keys.DecryptSigned(c1));
        Assert.NotEqual(c1, c2); // fresh randomness each time
    }

    [Fact]
    public void CRT_decryption_opens_a_textbook_ciphertext_built_with_BigInteger()
    {
        // c = (1 + n)^m · r^n mod n² with a uniform r — independent of our DJN randomness and of OpenSSL.
        var n2 = N * N;
        var m = new BigInteger(RandomNumberGenerator.GetBytes(200), isUnsigned: true);
        var r = new BigInteger(RandomNumberGenerator.GetBytes(255), isUnsigned: true);
        var c = (1 + N * m) % n2 * BigInteger.ModPow(r, N, n2) % n2;
        var bytes = new byte[PaillierPublicKey.CiphertextBytes];
        c.TryWriteBytes(bytes.AsSpan(PaillierPublicKey.CiphertextBytes - c.GetByteCount(isUnsigned: true)), out _, isUnsigned: true, isBigEndian: true);

        Assert.Equal(m, fixture.Keys.DecryptRaw(bytes));
        Assert.Equal(N - 5, fixture.Keys.DecryptRaw(Pk.Encrypt(-5))); // −5 is n − 5 mod n
    }

    [Fact]
    public void Adding_ciphertexts_adds_plaintexts_and_raising_to_k_multiplies()
    {
        var a = BigInteger.Pow(3, 90);
        var b = -BigInteger.Pow(7, 40);
        var sum = Pk.Add(Pk.Encrypt(a), Pk.Encrypt(b));
        Assert.Equal(a + b, fixture.Keys.DecryptSigned(sum));

        Assert.Equal(a * 12345, fixture.Keys.DecryptSigned(Pk.MultiplyByScalar(Pk.Encrypt(a), 12345)));
        Assert.Equal(a * -77, fixture.Keys.DecryptSigned(Pk.MultiplyByScalar(Pk.Encrypt(a), -77)));
        Assert.Equal(b * -77, fixture.Keys.DecryptSigned(Pk.MultiplyByScalar(Pk.Encrypt(b), -77)));
    }

    [Fact]
    public void The_bucket_multi_exponentiation_computes_the_signed_dot_product_and_packing_keeps_the_slots()
    {
        var rng = new Random(5);
        var m = Enumerable.Range(0, 150).Select(_ => (long)rng.Next(-1 << 30, 1 << 30)).ToArray();
        var columns = Enumerable.Range(0, 3).Select(j => Enumerable.Range(0, 150).Select(i =>
            j == 2 ? (short)0 : (short)(i % 7 == 0 ? 0 : rng.Next(-32767, 32768))).ToArray()).ToArray();
        var bases = m.Select(v =>
        {
            var c = Pk.ReadCiphertext(Pk.Encrypt(v));
            Pk.ToMontInPlace(c);
            return c;
        }).ToArray();

        var sums = columns.Select(x => HeOps.SignedMultiExp(Pk, bases, x)).ToArray();
        var expected = columns.Select(x => x.Select((v, i) => (BigInteger)v * m[i]).Aggregate(BigInteger.Zero, (s, t) => s + t)).ToArray();
        for (var j = 0; j < 3; j++)
        {
            Assert.Equal(expected[j], fixture.Keys.DecryptSigned(sums[j].ToBytes(PaillierPublicKey.CiphertextBytes)));
        }

        // Packed: Σ_j (sum_j + 2^63)·2^(105·j) decrypts to the slots.
        using var packed = HeOps.Pack(Pk, sums, FixedPoint.SlotBits);
        var offsets = Enumerable.Range(0, 3).Aggregate(BigInteger.Zero, (s, j) => s + ((BigInteger)FixedPoint.Offset << (FixedPoint.SlotBits * j)));
        using var o = Bn.From(offsets);
        Pk.AddPlainInPlace(packed, o);
        var slots = HeOps.Unpack(fixture.Keys.DecryptRaw(packed.ToBytes(PaillierPublicKey.CiphertextBytes)), 3, FixedPoint.SlotBits);
        for (var j = 0; j < 3; j++)
        {
            Assert.Equal(expected[j], (BigInteger)slots[j] - (BigInteger)FixedPoint.Offset);
        }

        foreach (var b in bases.Concat(sums))
        {
            b.Dispose();
        }
    }

    [Fact]
    public void A_ciphertext_at_or_above_n_squared_is_refused()
    {
        var tooBig = Enumerable.Repeat((byte)0xff, PaillierPublicKey.CiphertextBytes).ToArray();
        Assert.Equal("bad_ciphertext", Assert.Throws<VflProtocolException>(() => fixture.Keys.DecryptRaw(tooBig)).Code);
    }
}
