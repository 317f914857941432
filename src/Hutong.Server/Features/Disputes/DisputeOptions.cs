namespace Hutong.Server.Features.Disputes;

/// <summary>Hutong:Disputes — buyers' complaints at the wallets, their deadlines and the sync that finds lost notifications.</summary>
public sealed class DisputeOptions
{
    /// <summary>How long before respond_by the merchant gets dispute.deadline_approaching (default 6 hours).</summary>
    public TimeSpan WarnBefore { get; set; } = TimeSpan.FromHours(6);

    /// <summary>The wait between two passes of the deadline job (default 5 minutes).</summary>
    public TimeSpan DeadlineInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The wait between two passes of the sync job that lists the wallets' complaints (default 30 minutes).</summary>
    public TimeSpan SyncInterval { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>How many days back (China time) the sync lists complaints, today included (default 3; WeChat allows at most 30).</summary>
    public int SyncLookbackDays { get; set; } = 3;

    /// <summary>The most pages of 50 complaints one sync pass reads per wallet account (default 10).</summary>
    public int SyncMaxPages { get; set; } = 10;

    /// <summary>
    /// How long the id a wallet issued for an uploaded evidence image is used again (default 1 day): an answer retried
    /// after no answer sends the same ids; later, the image is uploaded again (the wallets publish no lifetime for the ids).
    /// </summary>
    public TimeSpan EvidenceReuse { get; set; } = TimeSpan.FromDays(1);

    /// <summary>The most disputes one deadline pass alerts on (default 200).</summary>
    public int DeadlineBatch { get; set; } = 200;
}
