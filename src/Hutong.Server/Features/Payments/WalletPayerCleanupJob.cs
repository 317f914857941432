using Hutong.Server.Features.Workers;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Payments;

/// <summary>
/// Deletes wallet payers lapsed longer than <see cref="HubOptions.WalletPayerRetention"/> and used OAuth states past their
/// expiry, so neither table grows with every buyer signed in. A singleton (one hub's delete does it for all); each pass
/// deletes in batches of <see cref="BatchSize"/>, each its own short transaction, and at most <see cref="MaxBatchesPerPass"/>
/// per table, so a backlog is worked off over passes rather than in one long lock.
/// </summary>
public sealed class WalletPayerCleanupJob(WalletPayers payers, Db db, IOptions<HubOptions> options, HubMetrics metrics, TimeProvider time, ILogger<WalletPayerCleanupJob> log)
    : HubJob("wallet-payer-cleanup", db, metrics, time, log)
{
    /// <summary>
    /// A used state is kept this long past its expiry: each hub refuses an expired state by its own clock, so a hub whose
    /// clock is behind must still find the state used.
    /// </summary>
    public static readonly TimeSpan ClockSkewMargin = TimeSpan.FromMinutes(10);

    public int BatchSize { get; init; } = 500;

    public int MaxBatchesPerPass { get; init; } = 20;

    public override bool Singleton => true;

    protected override TimeSpan Interval => TimeSpan.FromMinutes(10);

    // Checked when the hub starts (the job is built then), not at the first pass.
    private readonly TimeSpan _retention = options.Value.WalletPayerRetention >= TimeSpan.Zero
        ? options.Value.WalletPayerRetention
        : throw new InvalidOperationException("Hutong:WalletPayerRetention must not be negative (it would delete payers still in use).");

    protected override async Task PassAsync(CancellationToken ct)
    {
        var now = Time.GetUtcNow();
        var payerCutoff = (now - _retention).ToUnixTimeMilliseconds();
        var stateCutoff = (now - ClockSkewMargin).ToUnixTimeMilliseconds();
        var deleted = await InBatchesAsync(batch => payers.ForgetPayersLapsedBeforeAsync(payerCutoff, batch, ct), ct)
            + await InBatchesAsync(batch => payers.ForgetStatesExpiredBeforeAsync(stateCutoff, batch, ct), ct);
        Meter.Processed(deleted);
    }

    private async Task<int> InBatchesAsync(Func<int, Task<int>> deleteBatch, CancellationToken ct)
    {
        var total = 0;
        for (var i = 0; i < MaxBatchesPerPass && !ct.IsCancellationRequested; i++)
        {
            var n = await deleteBatch(BatchSize);
            total += n;
            if (n < BatchSize)
            {
                break; // nothing more is due
            }
        }

        return total;
    }
}
