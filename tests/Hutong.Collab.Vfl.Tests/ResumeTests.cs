using Hutong.Collab.Vfl.Protocol;

namespace Hutong.Collab.Vfl.Tests;

public class ResumeTests
{
    private static readonly VflOptions Options = new() { Epochs = 5, BatchSize = 64, Tolerance = 0 };

    [Fact]
    public async Task Parties_killed_during_epoch_3_resume_from_their_checkpoints_and_end_with_the_uninterrupted_model()
    {
        var (guest, host, _, _) = VflData.Load("breast");
        using var whole = await VflLocal.TrainAsync(guest, host, Options);
        var expected = whole.Guest.Weights.Concat(whole.Host.Weights).ToArray();

        // Kill both ends (cancel every pending send/receive) as soon as the guest has saved epoch 2: the host may or may
        // not have saved epoch 2 by then, so the two checkpoints can be one epoch apart.
        using var kill = new CancellationTokenSource();
        var saved = new Dictionary<VflRole, byte[]>();
        var interrupted = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => VflLocal.TrainAsync(guest, host, Options,
            saved: (role, c) =>
            {
                lock (saved)
                {
                    saved[role] = c.Serialize(); // what a node writes to its store
                }

                if (role == VflRole.Guest && c.Epoch == 2)
                {
                    kill.Cancel();
                }
            },
            ct: kill.Token));
        Assert.NotNull(interrupted);
        var g = VflCheckpoint.Parse(saved[VflRole.Guest]);
        var h = VflCheckpoint.Parse(saved[VflRole.Host]);
        Assert.Equal(2, g.Epoch);
        Assert.InRange(h.Epoch, 1, 2);

        using var resumed = await VflLocal.TrainAsync(guest, host, Options, guestResume: g, hostResume: h);

        Assert.Equal(5, resumed.Guest.Epoch);
        Assert.Equal(Math.Min(g.Epoch, h.Epoch) == 2 ? 3 : 4, resumed.GuestReport!.EpochSeconds.Count); // only the missing epochs ran
        Assert.Equal(expected, resumed.Guest.Weights.Concat(resumed.Host.Weights).ToArray());
    }

    [Fact]
    public async Task Checkpoints_one_epoch_apart_roll_the_later_party_back()
    {
        var (guest, host, _, _) = VflData.Load("breast");
        using var whole = await VflLocal.TrainAsync(guest, host, Options);
        using var part = await VflLocal.TrainAsync(guest, host, Options, stopAfterEpoch: 3);
        var g = part.GuestCheckpoint!; // epoch 3
        var h = part.HostCheckpoint!.Previous!; // epoch 2: as if the host died before saving epoch 3
        Assert.Equal(2, h.Epoch);

        using var resumed = await VflLocal.TrainAsync(guest, host, Options, guestResume: g, hostResume: h);

        Assert.Equal(3, resumed.GuestReport!.EpochSeconds.Count);
        Assert.Equal(whole.Guest.Weights.Concat(whole.Host.Weights).ToArray(), resumed.Guest.Weights.Concat(resumed.Host.Weights).ToArray());
    }

    [Fact]
    public async Task A_checkpoint_of_another_job_is_refused()
    {
        var (guest, host, _, _) = VflData.Load("breast");
        using var part = await VflLocal.TrainAsync(guest, host, Options, stopAfterEpoch: 1);

        var e = Assert.Throws<VflProtocolException>(() => new VflParty(VflRole.Guest, guest, Options with { Seed = 99 }, part.GuestCheckpoint));
        Assert.Equal("bad_checkpoint", e.Code);
    }
}
