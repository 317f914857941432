using Hutong.Collab.Vfl.Model;
using Hutong.Collab.Vfl.Protocol;
using Xunit.Abstractions;

namespace Hutong.Collab.Vfl.Tests;

public class TrainingTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("breast", 0, 64)]
    [InlineData("default_credit", 3000, 256)]
    public async Task The_federated_model_is_within_001_AUC_of_plaintext_and_equals_its_fixed_point_replay(string name, int subsample, int batch)
    {
        var (guest, host, joined, labels) = VflData.Load(name, subsample == 0 ? null : subsample);
        var options = new VflOptions { Epochs = 5, BatchSize = batch };
        var plain = PlainLogisticRegression.Train(joined, labels, guest.Columns.Length, options);
        var replay = PlainLogisticRegression.Train(joined, labels, guest.Columns.Length, options, PlainLogisticRegression.Mode.TaylorFixedPoint);

        var started = DateTime.UtcNow;
        using var run = await VflLocal.TrainAsync(guest, host, options);
        var metrics = await run.EvaluateAsync();
        output.WriteLine($"{name}: federated AUC {metrics.Auc:F4} KS {metrics.Ks:F4} logloss {metrics.LogLoss:F4}; plaintext AUC {plain.Holdout.Auc:F4} KS {plain.Holdout.Ks:F4} logloss {plain.Holdout.LogLoss:F4}; {run.GuestReport!.Epochs} epochs in {(DateTime.UtcNow - started).TotalSeconds:F1} s");

        Assert.InRange(metrics.Auc, plain.Holdout.Auc - 0.01, 1.0);
        Assert.Equal(replay.Epochs, run.GuestReport!.Epochs);
        // The protocol computes exactly the Taylor/fixed-point gradient: the weights agree to the last bit.
        Assert.Equal((IEnumerable<double>)replay.Weights, run.Guest.Weights.Concat(run.Host.Weights).ToArray());
        Assert.Equal(replay.Holdout.Auc, metrics.Auc, 12);
    }
}
