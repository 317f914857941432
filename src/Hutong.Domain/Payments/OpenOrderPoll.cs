namespace Hutong.Domain.Payments;

/// <summary>
/// When the hub asks a wallet about an open order of a pending payment that nobody has told it about. A notification can
/// be lost (dropped, or the hub's notify URL unreachable for longer than the wallet retries), and a cancel that met an
/// unanswered query leaves a paid order open: without asking, the hub would learn of the payment only at expiry.
/// The wait doubles with the order's age (first, 2×first, 4×first, …) up to <see cref="Max"/>, so an abandoned QR costs
/// a handful of queries; polling stops at the payment's expiry, where the expiry job's close-then-query takes over.
/// </summary>
public sealed record OpenOrderPoll
{
    public OpenOrderPoll(TimeSpan first, TimeSpan max)
    {
        if (first <= TimeSpan.Zero || max < first)
        {
            throw new ArgumentException("An open-order poll waits a positive first interval, and at most max ≥ first.", nameof(first));
        }

        (First, Max) = (first, max);
    }

    public TimeSpan First { get; }

    public TimeSpan Max { get; }

    /// <summary>The next poll of an order opened at <paramref name="openedAt"/>, or null when it would fall at or after <paramref name="expiresAt"/>.</summary>
    public DateTimeOffset? Next(DateTimeOffset openedAt, DateTimeOffset now, DateTimeOffset expiresAt)
    {
        var age = now - openedAt;
        var wait = age < First ? First : age > Max ? Max : age;
        var next = now + wait;
        return next < expiresAt ? next : null;
    }
}
