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

public class ScoringTests
{
    [Fact]
    public async Task Online_scoring_answers_the_host_with_the_probability_batch_scoring_gives_the_guest()
    {
        var (guest, host, _, _) = VflData.Load("breast");
        using var run = await VflLocal.TrainAsync(guest, host, new VflOptions { Epochs = 2, BatchSize = 64 });
        var rows = new[] { 0, 5, 77, 300 };
        var hostBatch = run.Host.ScoreBatchAsync(run.HostEnd, rows);
        var batch = (await run.Guest.ScoreBatchAsync(run.GuestEnd, rows))!;
        Assert.Null(await hostBatch); // the host gets no per-row predictions from batch scoring

        var serve = run.Guest.ServeAsync(run.GuestEnd);
        var online = new List<double>();
        foreach (var r in rows)
        {
            online.Add(await run.Host.AskAsync(run.HostEnd, host.Ids[r]));
        }

        await VflParty.ByeAsync(run.HostEnd);
        Assert.Equal(rows.Length, await serve);
        Assert.Equal(batch, online.ToArray());
        Assert.All(online, p => Assert.InRange(p, 0, 1));
        await Assert.ThrowsAsync<VflProtocolException>(() => run.Host.AskAsync(run.HostEnd, "nobody"));
    }
}
