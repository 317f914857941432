namespace Hutong.Collab.Lift;

/// <summary>
/// One arm of a test/control experiment as the attribution protocol reports it: users exposed (or held out), users who
/// converted, and the sum and sum of squares of their net values in fen (non-converters count as 0).
/// </summary>
public sealed record ArmStats(long Users, long Converters, decimal ValueSumFen, decimal ValueSumOfSquaresFen);

/// <summary>An estimate and its two-sided confidence interval.</summary>
public sealed record Interval(double Estimate, double Low, double High);

/// <summary>Conversion lift and incremental revenue from a test arm (saw the ads) and a control arm (held out).</summary>
public sealed record LiftResult(
    double Confidence,
    double TestRate,
    double ControlRate,
    Interval RateDifference,
    Interval RelativeLift,
    Interval IncrementalConverters,
    Interval IncrementalRevenueFen,
    Interval? IncrementalRoas);

/// <summary>
/// Pure large-sample estimates (no I/O). Conversion rates p = converters / users with Wald intervals on the difference;
/// relative lift p_t / p_c − 1 by the delta method on log(p_t / p_c) (Var ≈ (1 − p)/(n·p) per arm); revenue per user from
/// the sums with the sample variance (Σv² − (Σv)²/n)/(n − 1), incremental revenue (mean_t − mean_c)·n_t with Welch's
/// standard error; iROAS = incremental revenue / spend.
/// </summary>
public static class LiftEstimator
{
    public static LiftResult Estimate(ArmStats test, ArmStats control, long? spendFen = null, double confidence = 0.95)
    {
        ArgumentNullException.ThrowIfNull(test);
        ArgumentNullException.ThrowIfNull(control);
        Check(test, "test");
        Check(control, "control");
        if (confidence is <= 0 or >= 1)
        {
            throw new CollabProtocolException("bad_input", "The confidence level must be between 0 and 1.");
        }

        if (spendFen is <= 0)
        {
            throw new CollabProtocolException("bad_input", "The spend must be positive.");
        }

        var z = NormalQuantile(0.5 + confidence / 2);
        double nt = test.Users, nc = control.Users;
        var pt = test.Converters / nt;
        var pc = control.Converters / nc;

        var diffSe = Math.Sqrt(pt * (1 - pt) / nt + pc * (1 - pc) / nc);
        var diff = new Interval(pt - pc, pt - pc - z * diffSe, pt - pc + z * diffSe);

        Interval relative;
        if (test.Converters == 0 || control.Converters == 0)
        {
            relative = new Interval(pc == 0 ? double.NaN : pt / pc - 1, double.NaN, double.NaN);
        }
        else
        {
            var logRatio = Math.Log(pt / pc);
            var logSe = Math.Sqrt((1 - pt) / (nt * pt) + (1 - pc) / (nc * pc));
            relative = new Interval(pt / pc - 1, Math.Exp(logRatio - z * logSe) - 1, Math.Exp(logRatio + z * logSe) - 1);
        }

        var converters = new Interval(diff.Estimate * nt, diff.Low * nt, diff.High * nt);

        var (mt, vt) = MeanVariance(test);
        var (mc, vc) = MeanVariance(control);
        var revenueSe = nt * Math.Sqrt(vt / nt + vc / nc);
        var revenue = (mt - mc) * nt;
        var incremental = new Interval(revenue, revenue - z * revenueSe, revenue + z * revenueSe);
        var roas = spendFen is { } spend
            ? new Interval(incremental.Estimate / spend, incremental.Low / spend, incremental.High / spend)
            : null;

        return new LiftResult(confidence, pt, pc, diff, relative, converters, incremental, roas);
    }

    /// <summary>Inverse of the standard normal CDF (Acklam's rational approximation, relative error below 1.2e-9).</summary>
    public static double NormalQuantile(double p)
    {
        if (p is <= 0 or >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(p), "p must be in (0, 1).");
        }

        double[] a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00];
        double[] b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01];
        double[] c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00];
        double[] d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
        const double low = 0.02425;
        if (p < low)
        {
            var q = Math.Sqrt(-2 * Math.Log(p));
            return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }

        if (p > 1 - low)
        {
            return -NormalQuantile(1 - p);
        }

        var r = p - 0.5;
        var s = r * r;
        return (((((a[0] * s + a[1]) * s + a[2]) * s + a[3]) * s + a[4]) * s + a[5]) * r / (((((b[0] * s + b[1]) * s + b[2]) * s + b[3]) * s + b[4]) * s + 1);
    }

    private static (double Mean, double Variance) MeanVariance(ArmStats arm)
    {
        double n = arm.Users;
        var sum = (double)arm.ValueSumFen;
        var mean = sum / n;
        var variance = n > 1 ? Math.Max(0, ((double)arm.ValueSumOfSquaresFen - sum * sum / n) / (n - 1)) : 0;
        return (mean, variance);
    }

    private static void Check(ArmStats arm, string name)
    {
        if (arm.Users <= 0 || arm.Converters < 0 || arm.Converters > arm.Users || arm.ValueSumFen < 0 || arm.ValueSumOfSquaresFen < 0)
        {
            throw new CollabProtocolException("bad_input", $"The {name} arm needs users > 0 and 0 ≤ converters ≤ users, with non-negative sums.");
        }
    }
}
