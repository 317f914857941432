namespace Hutong.Domain;

/// <summary>What every cursor list (GET /v1/payments, /refunds, /events, /payouts …) checks of its limit and starting_after.</summary>
public static class ListPage
{
    public const int MaxLimit = 100;

    /// <summary>
    /// The page size (<paramref name="limit"/>, else <paramref name="defaultLimit"/>, 1 to <see cref="MaxLimit"/>) and
    /// a cursor with the listed objects' id prefix; or the problem naming the parameter. <paramref name="cursorIs"/> ends
    /// the refusal "starting_after must be …", e.g. "a payment id".
    /// </summary>
    public static (int Take, Failure? Problem) Check(int? limit, string? startingAfter, string idPrefix, string cursorIs, int defaultLimit = 10)
    {
        var take = limit ?? defaultLimit;
        if (take is < 1 or > MaxLimit)
        {
            return (0, Failure.Invalid("limit", $"limit must be between 1 and {MaxLimit}."));
        }

        return startingAfter is not null && !Ids.HasPrefix(startingAfter, idPrefix)
            ? (0, Failure.Invalid("starting_after", $"starting_after must be {cursorIs}."))
            : (take, null);
    }
}
