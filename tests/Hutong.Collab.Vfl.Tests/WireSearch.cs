using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;
using Hutong.Collab.Vfl.Protocol;

namespace Hutong.Collab.Vfl.Tests;

/// <summary>A plaintext the wire must not carry, in one encoding: what it is, and its bytes (8 bytes or more).</summary>
internal sealed record Needle(string What, byte[] Bytes);

/// <summary>
/// The wire inspections' search (WireTests in process; CollabVflWireTests between two hub processes, which links this
/// file): the encodings a leaked plaintext would have — doubles and fixed-point integers of the features, the CSV text
/// they come from, the labels as bytes, text and integers, the residual terms and the batch gradients — and a search of
/// recorded bytes for all of them at every offset. Needles shorter than 8 bytes are refused (random ciphertext bytes
/// would match them by chance), and so are encodings that are mostly zero bytes (a small integer, 0.5), which framing
/// and row lists legitimately contain: a plaintext is searched in the encodings where finding it means a leak.
/// </summary>
internal static class WireSearch
{
    public static byte[] Le(long v)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(b, v);
        return b;
    }

    public static byte[] Be(long v)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteInt64BigEndian(b, v);
        return b;
    }

    /// <summary>Each feature value as a double, both byte orders (values whose low 32 mantissa bits are 0, like 0.5 or 3, are left out).</summary>
    public static IEnumerable<Needle> FeatureDoubles(string who, double[][] columns, int rows = int.MaxValue)
    {
        foreach (var col in columns)
        {
            foreach (var v in col.Take(rows))
            {
                var bits = BitConverter.DoubleToInt64Bits(v);
                if ((bits & 0xFFFF_FFFF) != 0)
                {
                    yield return new Needle($"{who}'s feature {v.ToString("R", CultureInfo.InvariantCulture)} (double LE)", Le(bits));
                    yield return new Needle($"{who}'s feature {v.ToString("R", CultureInfo.InvariantCulture)} (double BE)", Be(bits));
                }
            }
        }
    }

    /// <summary>
    /// The features' fixed-point integers round(x·2^8) as runs of consecutive values, 16 bytes each: 8 as int16, 4 as
    /// int32, 2 as int64, either byte order, down each column (rows in the given order) and across each row's features.
    /// </summary>
    public static IEnumerable<Needle> FeatureFixedPoint(string who, double[][] columns, IReadOnlyList<int> order)
    {
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(order);
        var q = columns.Select(c => order.Select(r => (long)FixedPoint.Feature(c[r])).ToArray()).ToArray();
        IEnumerable<long[]> Runs(long[] values, int n)
        {
            for (var i = 0; i + n <= values.Length; i++)
            {
                yield return values[i..(i + n)];
            }
        }

        var lines = q.Concat(Enumerable.Range(0, order.Count).Select(r => q.Select(c => c[r]).ToArray()));
        foreach (var line in lines)
        {
            foreach (var (width, n) in new[] { (2, 8), (4, 4), (8, 2) })
            {
                foreach (var run in Runs(line, n))
                {
                    if (run.Count(v => Math.Abs(v) >= 2) < n / 2)
                    {
                        continue; // mostly zero bytes: not a telling encoding
                    }

                    yield return new Needle($"{who}'s features in fixed point (int{width * 8} LE run)", Pack(run, width, bigEndian: false));
                    yield return new Needle($"{who}'s features in fixed point (int{width * 8} BE run)", Pack(run, width, bigEndian: true));
                }
            }
        }
    }

    /// <summary>The CSV text the features come from: each data line after its id, and each field of 8 characters or more.</summary>
    public static IEnumerable<Needle> CsvText(string who, string csv, int lines = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(csv);
        foreach (var line in csv.Split('\n').Skip(1).Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).Take(lines))
        {
            var fields = line.Split(',');
            yield return new Needle($"{who}'s CSV line", Encoding.UTF8.GetBytes(line[(line.IndexOf(',', StringComparison.Ordinal) + 1)..]));
            foreach (var f in fields.Skip(1).Where(f => f.Length >= 8))
            {
                yield return new Needle($"{who}'s CSV field {f}", Encoding.UTF8.GetBytes(f));
            }
        }
    }

    /// <summary>Runs of 64 labels (in the given row order, from every 16th start) as bytes, text and int32 LE.</summary>
    public static IEnumerable<Needle> Labels(int[] labels, IReadOnlyList<int> order, int run = 64)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(order);
        for (var s = 0; s + run <= order.Count; s += 16)
        {
            var y = Enumerable.Range(s, run).Select(i => labels[order[i]]).ToArray();
            yield return new Needle("the labels as bytes", [.. y.Select(v => (byte)v)]);
            yield return new Needle("the labels as text", [.. y.Select(v => (byte)('0' + v))]);
            yield return new Needle("the labels as int32", Pack([.. y.Select(v => (long)v)], 4, bigEndian: false));
        }
    }

    /// <summary>Fixed-point residual terms and residuals as int64, either byte order (those below 2^12 in magnitude are left out).</summary>
    public static IEnumerable<Needle> Residuals(string what, IEnumerable<long> values) =>
        values.Where(v => Math.Abs(v) >= 1 << 12).Distinct().SelectMany(v => new[] { new Needle(what, Le(v)), new Needle(what, Be(v)) });

    /// <summary>Batch gradients Σ x·d as int64 either way round, and with the 2^63 offset as a 16-byte big-endian integer (|g| > 2^20).</summary>
    public static IEnumerable<Needle> Gradients(string what, IEnumerable<long> values)
    {
        foreach (var g in values.Where(g => Math.Abs(g) > 1 << 20).Distinct())
        {
            yield return new Needle(what, Le(g));
            yield return new Needle(what, Be(g));
            var shifted = (UInt128)((Int128)g + (Int128)FixedPoint.Offset);
            var wide = new byte[16];
            BinaryPrimitives.WriteUInt128BigEndian(wide, shifted);
            yield return new Needle(what + " with the offset", wide);
            yield return new Needle(what + " with the offset", ((BigInteger)shifted).ToByteArray(isUnsigned: true, isBigEndian: true));
        }
    }

    /// <summary>Every needle found in <paramref name="wire"/> (at any offset), with where.</summary>
    public static List<(Needle Needle, int At)> Find(byte[] wire, IEnumerable<Needle> needles)
    {
        ArgumentNullException.ThrowIfNull(wire);
        ArgumentNullException.ThrowIfNull(needles);
        var byPrefix = new Dictionary<ulong, List<Needle>>();
        foreach (var n in needles)
        {
            if (n.Bytes.Length < 8)
            {
                throw new ArgumentException($"needle \"{n.What}\" is shorter than 8 bytes", nameof(needles));
            }

            var key = BinaryPrimitives.ReadUInt64LittleEndian(n.Bytes);
            if (!byPrefix.TryGetValue(key, out var list))
            {
                byPrefix[key] = list = [];
            }

            list.Add(n);
        }

        var found = new List<(Needle, int)>();
        var span = wire.AsSpan();
        for (var i = 0; i + 8 <= span.Length; i++)
        {
            if (byPrefix.TryGetValue(BinaryPrimitives.ReadUInt64LittleEndian(span[i..]), out var candidates))
            {
                foreach (var n in candidates)
                {
                    if (span[i..].StartsWith(n.Bytes))
                    {
                        found.Add((n, i));
                    }
                }
            }
        }

        return found;
    }

    /// <summary>Fails if one encoding of one plaintext is in <paramref name="wire"/> (any length; the in-process test's first form).</summary>
    public static void AssertAbsent(byte[] wire, byte[] needle, string what) =>
        Assert.True(wire.AsSpan().IndexOf(needle) < 0, $"{what} ({Convert.ToHexString(needle)}) is on the wire");

    /// <summary>Fails, naming the first few, if any needle is in <paramref name="wire"/>.</summary>
    public static void AssertAbsent(byte[] wire, IEnumerable<Needle> needles, string direction)
    {
        var found = Find(wire, needles);
        Assert.True(found.Count == 0, $"{direction}: {found.Count} plaintexts on the wire, e.g. " +
            string.Join("; ", found.Take(5).Select(f => $"{f.Needle.What} ({Convert.ToHexString(f.Needle.Bytes)}) at byte {f.At}")));
    }

    private static byte[] Pack(long[] values, int width, bool bigEndian)
    {
        var b = new byte[values.Length * width];
        for (var i = 0; i < values.Length; i++)
        {
            var s = b.AsSpan(i * width, width);
            switch (width, bigEndian)
            {
                case (2, false): BinaryPrimitives.WriteInt16LittleEndian(s, (short)values[i]); break;
                case (2, true): BinaryPrimitives.WriteInt16BigEndian(s, (short)values[i]); break;
                case (4, false): BinaryPrimitives.WriteInt32LittleEndian(s, (int)values[i]); break;
                case (4, true): BinaryPrimitives.WriteInt32BigEndian(s, (int)values[i]); break;
                case (8, false): BinaryPrimitives.WriteInt64LittleEndian(s, values[i]); break;
                default: BinaryPrimitives.WriteInt64BigEndian(s, values[i]); break;
            }
        }

        return b;
    }
}

/// <summary>
/// Every plaintext the protocol computes under encryption, replayed in the clear with the protocol's own arithmetic
/// (PlainLogisticRegression's Taylor/fixed-point mode, step by step): per batch the guest's residual terms a_i, the
/// host's h_i, the residuals d_i and both parties' integer gradients. The final weights let a test check the replay is
/// the run it inspects (they must equal the trained model bit for bit).
/// </summary>
internal sealed record VflPlaintexts(List<long> GuestTerms, List<long> HostTerms, List<long> Residuals, List<long> GuestGradients, List<long> HostGradients, double[] GuestWeights, double[] HostWeights)
{
    public static VflPlaintexts Replay(double[][] guestColumns, double[][] hostColumns, int[] labels, VflOptions options)
    {
        ArgumentNullException.ThrowIfNull(guestColumns);
        ArgumentNullException.ThrowIfNull(hostColumns);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(options);
        Assert.Equal(0, options.Tolerance); // no early stopping in a replay
        var rows = labels.Length;
        var (train, _) = options.Split(rows);
        short[][] Q(IEnumerable<double[]> cols) => [.. cols.Select(c => c.Select(FixedPoint.Feature).ToArray())];
        var gq = Q(new[] { Enumerable.Repeat(1.0, rows).ToArray() }.Concat(guestColumns));
        var hq = Q(hostColumns);
        var gv = gq.Select(c => c.Select(FixedPoint.FeatureValue).ToArray()).ToArray();
        var hv = hq.Select(c => c.Select(FixedPoint.FeatureValue).ToArray()).ToArray();
        var wG = new double[gq.Length];
        var wH = new double[hq.Length];
        var r = new VflPlaintexts([], [], [], [], [], wG, wH);
        for (var epoch = 0; epoch < options.Epochs; epoch++)
        {
            var order = options.EpochOrder(train, epoch);
            for (var start = 0; start < order.Length; start += options.BatchSize)
            {
                var batch = order[start..Math.Min(order.Length, start + options.BatchSize)];
                var a = new long[batch.Length];
                var h = new long[batch.Length];
                var d = new long[batch.Length];
                for (var i = 0; i < batch.Length; i++)
                {
                    a[i] = FixedPoint.Residual(0.25 * Dot(gv, wG, batch[i]) + 0.5 - labels[batch[i]]);
                    h[i] = FixedPoint.Residual(0.25 * Dot(hv, wH, batch[i]));
                    d[i] = a[i] + h[i];
                }

                var gG = Gradient(gq, batch, d);
                var gH = Gradient(hq, batch, d);
                Update(wG, gG, batch.Length, options, intercept: true);
                Update(wH, gH, batch.Length, options, intercept: false);
                r.GuestTerms.AddRange(a);
                r.HostTerms.AddRange(h);
                r.Residuals.AddRange(d);
                r.GuestGradients.AddRange(gG);
                r.HostGradients.AddRange(gH);
            }
        }

        return r;
    }

    private static double Dot(double[][] cols, double[] w, int row)
    {
        double s = 0;
        for (var j = 0; j < w.Length; j++)
        {
            s += cols[j][row] * w[j];
        }

        return s;
    }

    private static long[] Gradient(short[][] xq, int[] rows, long[] d)
    {
        var g = new long[xq.Length];
        for (var j = 0; j < xq.Length; j++)
        {
            long s = 0;
            for (var i = 0; i < rows.Length; i++)
            {
                s += xq[j][rows[i]] * d[i];
            }

            g[j] = s;
        }

        return g;
    }

    private static void Update(double[] w, long[] g, int batch, VflOptions options, bool intercept)
    {
        for (var j = 0; j < w.Length; j++)
        {
            var l2 = intercept && j == 0 ? 0 : options.L2 * w[j];
            w[j] -= options.LearningRate * (FixedPoint.Gradient(g[j], batch) + l2);
        }
    }
}
