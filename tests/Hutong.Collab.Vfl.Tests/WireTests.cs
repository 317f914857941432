using System.Buffers.Binary;
using System.Numerics;
using Hutong.Collab.Vfl.Crypto;
using Hutong.Collab.Vfl.Protocol;
using static Hutong.Collab.Vfl.Tests.WireSearch;

namespace Hutong.Collab.Vfl.Tests;

/// <summary>Every byte each party sent, searched for the plaintext encodings of what the other must not learn.</summary>
public class WireTests
{
    [Fact]
    public async Task Neither_partys_messages_carry_its_features_labels_residuals_or_gradients_in_the_clear()
    {
        var (guest, host, _, labels) = VflData.Load("breast");
        var options = new VflOptions { Epochs = 2, BatchSize = 64, Tolerance = 0 };
        using var run = await VflLocal.TrainAsync(guest, host, options, record: true);

        // What the first batch's plaintexts are (weights start at 0, so u = 0): a_i = round(2^16·(½ − y_i)), h_i = 0,
        // and the gradient sums Σ_i x_ij·a_i for both parties' features.
        var (train, _) = options.Split(guest.Rows);
        var rows = options.EpochOrder(train, 0)[..64];
        var a = rows.Select(r => (long)Math.Round(65536 * (0.5 - labels[r]))).ToArray();
        var guestX = new[] { Enumerable.Repeat(1.0, guest.Rows).ToArray() }.Concat(guest.Columns).ToArray();
        long[] Grad(double[][] cols) => [.. cols.Select(c => rows.Select((r, i) => FixedPoint.Feature(c[r]) * a[i]).Sum())];
        var guestGrad = Grad(guestX);
        var hostGrad = Grad(host.Columns);

        var guestWire = run.GuestEnd.Sent.Select(b => VflMessage.Parse(b)).ToList();
        var hostWire = run.HostEnd.Sent.Select(b => VflMessage.Parse(b)).ToList();
        var guestBytes = run.GuestEnd.Sent.SelectMany(b => b).ToArray();
        var hostBytes = run.HostEnd.Sent.SelectMany(b => b).ToArray();

        // Features: every value of a sample of rows as double (8 bytes LE and BE), the guest's first 64 labels as bytes.
        foreach (var (wire, cols) in new[] { (guestBytes, guest.Columns), (hostBytes, host.Columns) })
        {
            foreach (var col in cols)
            {
                foreach (var v in col.Take(40))
                {
                    AssertAbsent(wire, Le(BitConverter.DoubleToInt64Bits(v)), "a feature (double LE)");
                    AssertAbsent(wire, Be(BitConverter.DoubleToInt64Bits(v)), "a feature (double BE)");
                }
            }
        }

        AssertAbsent(guestBytes, [.. rows.Select(r => (byte)labels[r])], "the labels as bytes");
        AssertAbsent(guestBytes, [.. rows.Take(32).Select(r => (byte)('0' + labels[r]))], "the labels as text");
        foreach (var v in a.Distinct())
        {
            AssertAbsent(guestBytes, Le(v), "a residual term");
        }

        // Gradients: the plain sums, and sums + the 2^63 offset, as 8/16-byte integers either way round, in both directions.
        foreach (var g in guestGrad.Concat(hostGrad).Where(g => Math.Abs(g) > 1 << 20))
        {
            foreach (var wire in new[] { guestBytes, hostBytes })
            {
                AssertAbsent(wire, Le(g), "a gradient");
                AssertAbsent(wire, Be(g), "a gradient");
                var shifted = (UInt128)((Int128)g + (Int128)FixedPoint.Offset);
                AssertAbsent(wire, ((BigInteger)shifted).ToByteArray(isUnsigned: true, isBigEndian: true), "an offset gradient");
            }
        }

        // Shape: every training message item is a 512-byte ciphertext except the masked sums handed back; the guest's 64
        // ciphertexts of only two distinct plaintexts (±2^15) are all different (fresh randomness).
        foreach (var m in guestWire.Concat(hostWire).Where(m => m.Type is VflMessageType.ResidualTerms or VflMessageType.MaskedGradient))
        {
            Assert.All(m.Items, i => Assert.Equal(PaillierPublicKey.CiphertextBytes, i.Length));
        }

        var first = guestWire.First(m => m.Type == VflMessageType.ResidualTerms);
        Assert.Equal(64, first.Items.Select(Convert.ToHexString).Distinct().Count());

        // The masked sums returned to the guest decode to gradient + offset + a 104-bit mask, not to the gradient.
        var back = hostWire.First(m => m.Type == VflMessageType.MaskedGradientPlain);
        var slots = HeOps.Unpack(new BigInteger(back.Items[0], isUnsigned: true, isBigEndian: true), guestGrad.Length, FixedPoint.SlotBits);
        for (var j = 0; j < guestGrad.Length; j++)
        {
            Assert.NotEqual((UInt128)((Int128)guestGrad[j] + (Int128)FixedPoint.Offset), slots[j]);
            Assert.True(slots[j] >> 70 != 0, "a slot carries a wide mask");
        }

        // Every batch of both epochs, replayed in the clear with the protocol's arithmetic (the replay is this run: its
        // weights are the trained ones bit for bit): no residual term, residual or gradient of any batch is on the wire.
        var replay = VflPlaintexts.Replay(guest.Columns, host.Columns, labels, options);
        Assert.Equal((IEnumerable<double>)replay.GuestWeights, run.Guest.Weights);
        Assert.Equal((IEnumerable<double>)replay.HostWeights, run.Host.Weights);
        var secret = WireSearch.Residuals("a guest term", replay.GuestTerms).Concat(WireSearch.Residuals("a host term", replay.HostTerms))
            .Concat(WireSearch.Residuals("a residual", replay.Residuals))
            .Concat(WireSearch.Gradients("a guest gradient", replay.GuestGradients)).Concat(WireSearch.Gradients("a host gradient", replay.HostGradients))
            .Concat(WireSearch.FeatureDoubles("the guest", guest.Columns)).Concat(WireSearch.FeatureDoubles("the host", host.Columns))
            .Concat(WireSearch.FeatureFixedPoint("the guest", guest.Columns, [.. Enumerable.Range(0, guest.Rows)]))
            .Concat(WireSearch.FeatureFixedPoint("the host", host.Columns, [.. Enumerable.Range(0, host.Rows)]))
            .Concat(WireSearch.Labels(labels, [.. Enumerable.Range(0, labels.Length)])).ToList();
        WireSearch.AssertAbsent(guestBytes, secret, "guest → host");
        WireSearch.AssertAbsent(hostBytes, secret, "host → guest");

        // The host never receives a label-bearing plaintext: the only plaintext numbers it gets are its masked sums and,
        // per epoch, one continue/stop decision.
        Assert.Equal(
            [VflMessageType.Hello, VflMessageType.ResidualTerms, VflMessageType.MaskedGradient, VflMessageType.MaskedGradientPlain, VflMessageType.Decision],
            guestWire.Select(m => m.Type).Distinct().Order().ToArray());
    }
}
