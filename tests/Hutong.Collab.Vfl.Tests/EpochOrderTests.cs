using Hutong.Collab.Vfl.Protocol;

namespace Hutong.Collab.Vfl.Tests;

public class EpochOrderTests
{
    // The two parties run in two processes and must draw the same batch order. An order seeded by a per-process
    // randomised hash (HashCode.Combine) agreed within one process and differed between runs: these values, taken
    // from one run, must come out of every run.
    [Fact]
    public void The_batch_order_of_an_epoch_is_the_same_in_every_process()
    {
        var options = new VflOptions { Seed = 20 };
        int[] train = [.. Enumerable.Range(0, 12)];
        Assert.Equal(string.Join(",", PinnedEpoch1), string.Join(",", options.EpochOrder(train, 1)));
        Assert.NotEqual(options.EpochOrder(train, 1), options.EpochOrder(train, 2));
    }

    private static readonly int[] PinnedEpoch1 = [5, 3, 10, 4, 8, 11, 1, 9, 6, 2, 7, 0];
}
