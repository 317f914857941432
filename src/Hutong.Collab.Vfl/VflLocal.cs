using Hutong.Collab.Vfl.Data;
using Hutong.Collab.Vfl.Model;
using Hutong.Collab.Vfl.Protocol;

namespace Hutong.Collab.Vfl;

/// <summary>What a local two-party run leaves: both parties (connected, trained), their channel ends and the last checkpoints.</summary>
public sealed class VflLocalRun : IDisposable
{
    internal VflLocalRun(VflParty guest, VflParty host, InProcessVflChannel guestEnd, InProcessVflChannel hostEnd)
    {
        Guest = guest;
        Host = host;
        GuestEnd = guestEnd;
        HostEnd = hostEnd;
    }

    public VflParty Guest { get; }

    public VflParty Host { get; }

    public InProcessVflChannel GuestEnd { get; }

    public InProcessVflChannel HostEnd { get; }

    public VflTrainingReport? GuestReport { get; internal set; }

    public VflCheckpoint? GuestCheckpoint { get; internal set; }

    public VflCheckpoint? HostCheckpoint { get; internal set; }

    /// <summary>Held-out AUC, KS and log loss (the guest computes them; the host receives only the figures).</summary>
    public async Task<BinaryMetrics> EvaluateAsync(CancellationToken ct = default)
    {
        var host = Host.EvaluateAsync(HostEnd, ct);
        var guest = await Guest.EvaluateAsync(GuestEnd, ct);
        _ = await host;
        return guest;
    }

    public void Dispose()
    {
        Guest.Dispose();
        Host.Dispose();
    }
}

/// <summary>Both parties in one process, each on its own task, exchanging bytes over an in-process channel — the same messages a network carries.</summary>
public static class VflLocal
{
    public static async Task<VflLocalRun> TrainAsync(AlignedData guest, AlignedData host, VflOptions options, bool record = false,
        VflCheckpoint? guestResume = null, VflCheckpoint? hostResume = null, int? stopAfterEpoch = null,
        IProgress<VflEpochProgress>? progress = null, Action<VflRole, VflCheckpoint>? saved = null, CancellationToken ct = default)
    {
        var (g, h) = InProcessVflChannel.CreatePair(record);
        var run = new VflLocalRun(new VflParty(VflRole.Guest, guest, options, guestResume), new VflParty(VflRole.Host, host, options, hostResume), g, h);
        try
        {
            var guestTask = Task.Run(async () =>
            {
                await run.Guest.ConnectAsync(g, ct);
                return await run.Guest.TrainAsync(g, c =>
                {
                    run.GuestCheckpoint = c;
                    saved?.Invoke(VflRole.Guest, c);
                }, stopAfterEpoch, progress, ct);
            }, ct);
            var hostTask = Task.Run(async () =>
            {
                await run.Host.ConnectAsync(h, ct);
                return await run.Host.TrainAsync(h, c =>
                {
                    run.HostCheckpoint = c;
                    saved?.Invoke(VflRole.Host, c);
                }, stopAfterEpoch, null, ct);
            }, ct);
            run.GuestReport = await guestTask;
            await hostTask;
            return run;
        }
        catch
        {
            run.Dispose();
            throw;
        }
    }
}
