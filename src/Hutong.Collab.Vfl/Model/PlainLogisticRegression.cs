using Hutong.Collab.Vfl.Protocol;

namespace Hutong.Collab.Vfl.Model;

/// <summary>
/// The accuracy reference: logistic regression on the joined data in one place (guest features then host features, an
/// intercept first), the same hyperparameters, split, batch order and early-stopping rule as the federated run, but the
/// exact sigmoid and doubles throughout. <see cref="Mode.TaylorFixedPoint"/> instead replays exactly what the federated
/// protocol computes (sigmoid ≈ ½ + z/4, the fixed-point encodings), which must give the federated weights bit for bit.
/// </summary>
public static class PlainLogisticRegression
{
    public enum Mode
    {
        Exact = 1,
        TaylorFixedPoint = 2,
    }

    public sealed record Result(double[] Weights, int Epochs, BinaryMetrics Holdout);

    /// <param name="columns">Joined columns (guest's then host's), row-aligned.</param>
    /// <param name="guestFeatures">How many of the columns are the guest's (the early-stopping norms are summed per party the same way).</param>
    public static Result Train(double[][] columns, int[] labels, int guestFeatures, VflOptions options, Mode mode = Mode.Exact)
    {
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(options);
        var rows = labels.Length;
        var (train, holdout) = options.Split(rows);
        var guestCols = new[] { Enumerable.Repeat(1.0, rows).ToArray() }.Concat(columns.Take(guestFeatures)).ToArray();
        var hostCols = columns.Skip(guestFeatures).ToArray();
        if (mode == Mode.TaylorFixedPoint)
        {
            guestCols = Quantize(guestCols);
            hostCols = Quantize(hostCols);
        }

        var wG = new double[guestCols.Length];
        var wH = new double[hostCols.Length];
        var epoch = 0;
        var stopped = false;
        while (!stopped && epoch < options.Epochs)
        {
            var prevG = (double[])wG.Clone();
            var prevH = (double[])wH.Clone();
            var order = options.EpochOrder(train, epoch);
            for (var start = 0; start < order.Length; start += options.BatchSize)
            {
                var batch = order.AsSpan(start, Math.Min(options.BatchSize, order.Length - start)).ToArray();
                var uG = VflMath.PartialScores(guestCols, wG, batch);
                var uH = VflMath.PartialScores(hostCols, wH, batch);
                if (mode == Mode.Exact)
                {
                    var d = new double[batch.Length];
                    for (var i = 0; i < batch.Length; i++)
                    {
                        d[i] = Sigmoid.Of(uG[i] + uH[i]) - labels[batch[i]];
                    }

                    Step(guestCols, wG, batch, d, options, intercept: true);
                    Step(hostCols, wH, batch, d, options, intercept: false);
                }
                else
                {
                    var a = VflMath.GuestTerms(uG, batch, labels);
                    var h = VflMath.HostTerms(uH);
                    var dq = a.Zip(h, (x, y) => x + y).ToArray();
                    VflMath.Update(wG, VflMath.IntegerGradient(QuantizedShorts(guestCols), batch, dq), batch.Length, options, intercept: true);
                    VflMath.Update(wH, VflMath.IntegerGradient(QuantizedShorts(hostCols), batch, dq), batch.Length, options, intercept: false);
                }
            }

            epoch++;
            stopped = VflMath.ShouldStop(VflMath.Change(wG, prevG), VflMath.Change(wH, prevH), options);
        }

        var pHold = holdout.Select(i =>
            Sigmoid.Of(VflMath.PartialScores(guestCols, wG, [i])[0] + VflMath.PartialScores(hostCols, wH, [i])[0])).ToArray();
        return new Result([.. wG, .. wH], epoch, BinaryMetrics.Compute(pHold, [.. holdout.Select(i => labels[i])]));
    }

    private static void Step(double[][] cols, double[] w, int[] batch, double[] d, VflOptions options, bool intercept)
    {
        for (var j = 0; j < w.Length; j++)
        {
            double g = 0;
            for (var i = 0; i < batch.Length; i++)
            {
                g += cols[j][batch[i]] * d[i];
            }

            g /= batch.Length;
            var l2 = intercept && j == 0 ? 0 : options.L2 * w[j];
            w[j] -= options.LearningRate * (g + l2);
        }
    }

    private static double[][] Quantize(double[][] cols) =>
        [.. cols.Select(c => c.Select(v => FixedPoint.FeatureValue(FixedPoint.Feature(v))).ToArray())];

    private static short[][] QuantizedShorts(double[][] quantized) => [.. quantized.Select(c => c.Select(FixedPoint.Feature).ToArray())];
}

/// <summary>The arithmetic both the parties and the Taylor replay use, so that they agree to the last bit.</summary>
internal static class VflMath
{
    /// <summary>u_i = Σ_j x_ij·w_j over the given rows (columns already quantized to the feature grid).</summary>
    public static double[] PartialScores(double[][] cols, double[] w, int[] rows)
    {
        var u = new double[rows.Length];
        for (var i = 0; i < rows.Length; i++)
        {
            double s = 0;
            for (var j = 0; j < w.Length; j++)
            {
                s += cols[j][rows[i]] * w[j];
            }

            u[i] = s;
        }

        return u;
    }

    /// <summary>The guest's term of the Taylor residual: ¼·u_G + ½ − y (fixed point).</summary>
    public static long[] GuestTerms(double[] uG, int[] rows, int[] labels)
    {
        var a = new long[uG.Length];
        for (var i = 0; i < a.Length; i++)
        {
            a[i] = FixedPoint.Residual(0.25 * uG[i] + 0.5 - labels[rows[i]]);
        }

        return a;
    }

    /// <summary>The host's term: ¼·u_H (fixed point).</summary>
    public static long[] HostTerms(double[] uH) => [.. uH.Select(u => FixedPoint.Residual(0.25 * u))];

    /// <summary>Σ_i x_ij·d_i in integers (what the protocol computes under encryption).</summary>
    public static long[] IntegerGradient(short[][] xq, int[] rows, long[] d)
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

    public static void Update(double[] w, long[] g, int batch, VflOptions options, bool intercept)
    {
        for (var j = 0; j < w.Length; j++)
        {
            var l2 = intercept && j == 0 ? 0 : options.L2 * w[j];
            w[j] -= options.LearningRate * (FixedPoint.Gradient(g[j], batch) + l2);
        }
    }

    public static (double Delta2, double Norm2) Change(double[] w, double[] prev)
    {
        double d = 0, n = 0;
        for (var j = 0; j < w.Length; j++)
        {
            d += (w[j] - prev[j]) * (w[j] - prev[j]);
            n += w[j] * w[j];
        }

        return (d, n);
    }

    public static bool ShouldStop((double Delta2, double Norm2) guest, (double Delta2, double Norm2) host, VflOptions options) =>
        Math.Sqrt(guest.Delta2 + host.Delta2) / Math.Max(1, Math.Sqrt(guest.Norm2 + host.Norm2)) < options.Tolerance;
}
