using System.Globalization;
using Hutong.Server.Features.Workers;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Reconciliation;

/// <summary>
/// Runs yesterday's reconciliation once a day after <see cref="ReconciliationOptions.DailyAt"/> (China time; the wallets
/// publish bills around 09:00–10:00), unless it already ran. Checks every few minutes, so a restart catches up. A
/// singleton: with several hubs on one database only the one holding the lock fetches the bills.
/// </summary>
public sealed partial class ReconciliationScheduler(
    ReconciliationService svc, Storage.Db db, IOptions<HubOptions> options, HubMetrics metrics, TimeProvider time, ILogger<ReconciliationScheduler> log)
    : HubJob("reconciliation", db, metrics, time, log)
{
    /// <summary>The bill date to reconcile now, or null: yesterday, once the daily time has passed and it has not run.</summary>
    public static DateOnly? Due(DateTimeOffset now, TimeSpan dailyAt, bool alreadyRan)
    {
        var china = now.ToOffset(ReconciliationService.China);
        return china.TimeOfDay >= dailyAt && !alreadyRan ? DateOnly.FromDateTime(china.DateTime).AddDays(-1) : null;
    }

    public override bool Singleton => true;

    public override bool Enabled => options.Value.Reconciliation.Enabled;

    protected override TimeSpan Interval => options.Value.Reconciliation.CheckEvery;

    protected override async Task PassAsync(CancellationToken ct)
    {
        var now = Time.GetUtcNow();
        var yesterday = DateOnly.FromDateTime(now.ToOffset(ReconciliationService.China).DateTime).AddDays(-1);
        var ran = await Db.ReadAsync(c => Dapper.SqlMapper.ExecuteScalarAsync<int>(c,
            "SELECT COUNT(*) FROM reconciliation_runs WHERE bill_date = @d AND status = 'completed'", new { d = yesterday.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) }), ct) > 0;
        if (Due(now, options.Value.Reconciliation.DailyAt, ran) is not { } date)
        {
            return;
        }

        try
        {
            var report = await svc.RunAsync(date, null, ct);
            Meter.Processed();
            LogRan(log, report.BillDate, report.Channels.Count, report.Discrepancies.Count());
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Meter.Failed(); // the pass fails with it and is logged; the next check tries again
            throw;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Daily reconciliation of {Date}: {Channels} channels, {Discrepancies} discrepancies")]
    private static partial void LogRan(ILogger logger, string date, int channels, int discrepancies);
}
