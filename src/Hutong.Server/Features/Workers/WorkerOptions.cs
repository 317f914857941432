namespace Hutong.Server.Features.Workers;

/// <summary>Settings under "Hutong:Workers": how the payment worker's jobs (re-queries, stray closes, expiry) share out their work.</summary>
public sealed class WorkerOptions
{
    /// <summary>Items one job works on at once. Of these, one wallet channel gets at most half and one merchant at one channel a quarter (at least one each).</summary>
    public int Parallelism { get; set; } = 8;

    /// <summary>How long one item (all its wallet calls and writes) may take before it is abandoned and backed off.</summary>
    public TimeSpan ItemTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a claim outlives <see cref="ItemTimeout"/>, so only a hub that died leaves a row to another: a dead hub's
    /// rows (payment jobs, refunds, splits) are taken over ItemTimeout + LeaseMargin after it claimed them.
    /// </summary>
    public TimeSpan LeaseMargin { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a claim lasts (<see cref="ItemTimeout"/> + <see cref="LeaseMargin"/>). A payment attempt still 'requested'
    /// this long after it was committed is a dead hub's (its create call outlived any wallet timeout) and is re-queried,
    /// so a confirm cut off by a dead hub is recovered within the same bound as the dead hub's claimed rows.
    /// </summary>
    public TimeSpan LeaseFor => ItemTimeout + LeaseMargin;

    /// <summary>The first wait after a pass that left an item as it was (wallet unreachable, amount mismatch); doubled each time.</summary>
    public TimeSpan BackoffBase { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The longest wait between two tries of an item that keeps failing.</summary>
    public TimeSpan BackoffMax { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Failures in a row after which an item is alerted (logged as an error, once).</summary>
    public int AlertAfterFailures { get; set; } = 5;

    internal int PerChannel => Math.Max(1, Parallelism / 2);

    internal int PerMerchantChannel => Math.Max(1, Parallelism / 4);

    internal TimeSpan Backoff(int failuresBefore) =>
        TimeSpan.FromTicks(Math.Min(BackoffMax.Ticks, BackoffBase.Ticks * (1L << Math.Clamp(failuresBefore, 0, 20))));
}
