using System.Reflection;
using Hutong.Collab.Vfl.Data;
using Hutong.Collab.Vfl.Model;
using Hutong.Collab.Vfl.Protocol;

namespace Hutong.Collab.Vfl.Tests;

public class SyntheticTests
{
    /// <summary>
    /// Seeded synthetic users with a known logistic ground truth split across the parties (3 guest features, 4 host
    /// features, y ~ Bernoulli(σ(β₀ + x·β))): the federated model reaches the true model's hold-out AUC within 0.01,
    /// and its host weights point the way the true host coefficients do — the host's features matter and are learnt
    /// without the host ever seeing a label.
    /// </summary>
    [Fact]
    public async Task The_federated_model_recovers_a_known_logistic_ground_truth()
    {
        const int rows = 1500;
        var rng = new Random(2020);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        double[] betaG = [1.2, -0.8, 0.5], betaH = [0.9, -1.5, 0.0, 0.7];
        const double beta0 = -0.5;
        var g = betaG.Select(_ => new double[rows]).ToArray();
        var h = betaH.Select(_ => new double[rows]).ToArray();
        var y = new int[rows];
        var truth = new double[rows];
        for (var i = 0; i < rows; i++)
        {
            var z = beta0;
            for (var j = 0; j < g.Length; j++)
            {
                g[j][i] = Normal();
                z += betaG[j] * g[j][i];
            }

            for (var j = 0; j < h.Length; j++)
            {
                h[j][i] = Normal();
                z += betaH[j] * h[j][i];
            }

            truth[i] = 1 / (1 + Math.Exp(-z));
            y[i] = rng.NextDouble() < truth[i] ? 1 : 0;
        }

        var ids = Enumerable.Range(0, rows).Select(i => $"u{i:D5}").ToList();
        var guest = new AlignedData(ids, ["g0", "g1", "g2"], g, y, 0);
        var host = new AlignedData(ids, ["h0", "h1", "h2", "h3"], h, null, 0);
        var options = new VflOptions { Epochs = 8, BatchSize = 128 };
        var (_, holdout) = options.Split(rows);
        var oracle = BinaryMetrics.Compute([.. holdout.Select(i => truth[i])], [.. holdout.Select(i => y[i])]);

        using var run = await VflLocal.TrainAsync(guest, host, options);
        var m = await run.EvaluateAsync();

        Assert.InRange(m.Auc, oracle.Auc - 0.01, 1);
        var wH = run.Host.Weights;
        Assert.True(wH[0] > 0.3 && wH[1] < -0.5 && Math.Abs(wH[2]) < 0.25 && wH[3] > 0.2, $"host weights {string.Join(", ", wH)}");
        var wG = run.Guest.Weights; // intercept first
        Assert.True(wG[0] < 0 && wG[1] > 0.4 && wG[2] < -0.3 && wG[3] > 0.1, $"guest weights {string.Join(", ", wG)}");
    }
}

/// <summary>The protocol core stays pure: it references the base class library only (no hub, no ASP.NET, no storage).</summary>
public class VflPurityTests
{
    [Fact]
    public void The_vfl_core_references_only_the_base_class_library()
    {
        var assembly = typeof(VflParty).Assembly;
        Assert.All(assembly.GetReferencedAssemblies().Select(a => a.Name!), name =>
            Assert.True(name.StartsWith("System", StringComparison.Ordinal) || name is "netstandard" or "mscorlib", $"Hutong.Collab.Vfl references {name}"));
        Assert.DoesNotContain(assembly.GetTypes(), t => t.Namespace is { } ns && !ns.StartsWith("Hutong.Collab.Vfl", StringComparison.Ordinal)
            && !ns.StartsWith("System", StringComparison.Ordinal) && !ns.StartsWith("Microsoft", StringComparison.Ordinal));
        Assert.NotNull(assembly.GetType("Hutong.Collab.Vfl.Crypto.LibCrypto", throwOnError: false, ignoreCase: false)?.GetMethod("BN_mod_mul_montgomery", BindingFlags.NonPublic | BindingFlags.Static));
    }
}
