namespace Hutong.Collab.Vfl.Model;

/// <summary>Held-out figures: AUC (ties counted half), Kolmogorov–Smirnov (max gap between the score CDFs of positives and negatives), log loss.</summary>
public sealed record BinaryMetrics(double Auc, double Ks, double LogLoss, int Rows, int Positives)
{
    public static BinaryMetrics Compute(IReadOnlyList<double> p, IReadOnlyList<int> y)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(y);
        var n = p.Count;
        var order = Enumerable.Range(0, n).OrderBy(i => p[i]).ToArray();
        var pos = y.Count(v => v == 1);
        var neg = n - pos;

        // AUC by ranks with average ranks for ties (Mann–Whitney U).
        double rankSum = 0;
        for (var i = 0; i < n;)
        {
            var j = i;
            while (j + 1 < n && p[order[j + 1]] == p[order[i]])
            {
                j++;
            }

            var avg = (i + j) / 2.0 + 1;
            for (var k = i; k <= j; k++)
            {
                if (y[order[k]] == 1)
                {
                    rankSum += avg;
                }
            }

            i = j + 1;
        }

        var auc = pos == 0 || neg == 0 ? double.NaN : (rankSum - pos * (pos + 1) / 2.0) / ((double)pos * neg);

        // KS: walk the scores upward; the gap between the CDFs is checked after each run of ties.
        double ks = 0, cp = 0, cn = 0;
        for (var i = 0; i < n;)
        {
            var j = i;
            while (j < n && p[order[j]] == p[order[i]])
            {
                if (y[order[j]] == 1)
                {
                    cp++;
                }
                else
                {
                    cn++;
                }

                j++;
            }

            ks = Math.Max(ks, Math.Abs(cp / Math.Max(1, pos) - cn / Math.Max(1, neg)));
            i = j;
        }

        const double eps = 1e-15;
        var logLoss = -Enumerable.Range(0, n).Average(i =>
        {
            var q = Math.Clamp(p[i], eps, 1 - eps);
            return y[i] == 1 ? Math.Log(q) : Math.Log(1 - q);
        });
        return new BinaryMetrics(auc, ks, logLoss, n, pos);
    }
}

internal static class Sigmoid
{
    public static double Of(double z) => 1 / (1 + Math.Exp(-z));
}
