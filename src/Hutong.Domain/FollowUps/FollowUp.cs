namespace Hutong.Domain.FollowUps;

/// <summary>What to do when a followed call has been checked as often as its schedule has steps.</summary>
public enum WhenExhausted
{
    /// <summary>Keep checking at the last interval (money is in flight at the wallet: refunds, splits, returns).</summary>
    RepeatLast,

    /// <summary>Stop and hand it to a person (a payment attempt nobody can resolve).</summary>
    GiveUp,
}

/// <summary>
/// When a wallet call that has no final answer yet is checked again: the n-th scheduling waits <c>Intervals[n]</c>.
/// Bounded: at least one interval, each positive, at most <see cref="MaxIntervals"/>.
/// </summary>
public sealed record FollowUpSchedule
{
    public const int MaxIntervals = 64;

    public FollowUpSchedule(IReadOnlyList<TimeSpan> intervals, WhenExhausted whenExhausted)
    {
        ArgumentNullException.ThrowIfNull(intervals);
        if (intervals.Count is 0 or > MaxIntervals)
        {
            throw new ArgumentException($"A follow-up schedule has 1-{MaxIntervals} intervals.", nameof(intervals));
        }

        if (intervals.Any(i => i <= TimeSpan.Zero))
        {
            throw new ArgumentException("Every interval of a follow-up schedule is positive.", nameof(intervals));
        }

        Intervals = intervals.ToArray();
        WhenExhausted = whenExhausted;
    }

    public IReadOnlyList<TimeSpan> Intervals { get; }

    public WhenExhausted WhenExhausted { get; }
}

/// <summary>
/// One wallet call followed to its outcome (a refund, a split, a split return, a payment attempt): where it is, how many
/// checks were scheduled so far and when the next one is due (null: nothing to check, it is final or given up). The one
/// place that turns a schedule into the next check, instead of a copy per feature.
/// </summary>
/// <typeparam name="TStatus">The followed thing's own state enum.</typeparam>
public readonly record struct FollowUp<TStatus>(TStatus Status, int Checks, DateTimeOffset? NextCheckAt)
    where TStatus : struct, Enum
{
    /// <summary>
    /// Still open at the wallet (processing, or no answer): <paramref name="status"/> with the next check on the schedule,
    /// or <see cref="FollowUpStep{TStatus}.GaveUp"/> once a <see cref="WhenExhausted.GiveUp"/> schedule is used up.
    /// </summary>
    public FollowUpStep<TStatus> CheckLater(TStatus status, FollowUpSchedule schedule, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        var n = schedule.Intervals.Count;
        if (Checks >= n && schedule.WhenExhausted == WhenExhausted.GiveUp)
        {
            return new FollowUpStep<TStatus>(this with { Status = status, NextCheckAt = null }, GaveUp: true);
        }

        // Checks never exceeds int.MaxValue in practice (one a day for 5.8 million years), but a counter must not wrap.
        var wait = schedule.Intervals[Math.Min(Math.Max(Checks, 0), n - 1)];
        return new FollowUpStep<TStatus>(new FollowUp<TStatus>(status, Checks == int.MaxValue ? Checks : Checks + 1, now + wait), GaveUp: false);
    }

    /// <summary>Final (or parked until something else makes it due): nothing more to check.</summary>
    public FollowUp<TStatus> Settle(TStatus status) => this with { Status = status, NextCheckAt = null };

    /// <summary>Not checked, but looked at again at <paramref name="at"/> (e.g. a split the wallet's delay does not allow yet).</summary>
    public FollowUp<TStatus> Defer(DateTimeOffset at) => this with { NextCheckAt = at };
}

/// <summary>The follow-up after one scheduling: the new state, and whether the schedule was used up (a person must look).</summary>
public readonly record struct FollowUpStep<TStatus>(FollowUp<TStatus> Next, bool GaveUp)
    where TStatus : struct, Enum;
