namespace Hutong.Domain.Settlement;

/// <summary>When a month may be settled: the calendar is China's (UTC+8), whatever the server's time zone.</summary>
public static class SettlementCalendar
{
    /// <summary>The months a statement can be asked for; bounds the date arithmetic (DateOnly ends at 9999-12-31).</summary>
    public const int FirstYear = 2000;

    public const int LastYear = 2999;

    /// <summary>A month is over from China midnight of the first day of the next month.</summary>
    public static bool IsMonthOver(int year, int month, DateTimeOffset now)
    {
        var next = new DateOnly(year, month, 1).AddMonths(1);
        return now >= new DateTimeOffset(next.ToDateTime(TimeOnly.MinValue), HostContract.ChinaOffset);
    }
}
