using System.Globalization;
using Hutong.Server.Features.Workers;
using Hutong.Server.Http;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Reconciliation;

public sealed record RunReconciliationRequest(string? Date);

/// <summary>Operator API (admin token): run a day's reconciliation, read a day's report as JSON, CSV or HTML.</summary>
public static class ReconciliationEndpoints
{
    public static void Map(RouteGroupBuilder admin)
    {
        var g = admin.MapGroup("/reconciliations").WithTags("Reconciliations");
        g.MapPost("/", async (HttpContext ctx, ReconciliationService svc) =>
        {
            var (body, problem) = await RequestBody.ReadAsync<RunReconciliationRequest>(ctx.Request);
            if (problem is not null)
            {
                return problem;
            }

            return TryDate(body!.Date, out var date) ? ApiResult.Ok(await svc.RunAsync(date, null, ctx.RequestAborted)) : Problems.Invalid("date", "date must be yyyy-MM-dd.");
        }).WithSummary("Download every channel's bill for a China day and match it against the hub; returns the report.");
        g.MapGet("/{date}", async (string date, ReconciliationService svc, CancellationToken ct) =>
            TryDate(date, out var d) ? ApiResult.Ok(await svc.StoredAsync(d, ct)) : Problems.Invalid("date", "date must be yyyy-MM-dd."));
        g.MapGet("/{date}/report.csv", async (string date, ReconciliationService svc, CancellationToken ct) =>
            TryDate(date, out var d) ? Results.Text(ReconciliationReportWriter.Csv(await svc.StoredAsync(d, ct)), "text/csv; charset=utf-8") : Problems.Invalid("date", "date must be yyyy-MM-dd."));
        g.MapGet("/{date}/report.html", async Task<IResult> (HttpContext ctx, string date, ReconciliationService svc, CancellationToken ct) =>
        {
            if (!TryDate(date, out var d))
            {
                return Problems.Invalid("date", "date must be yyyy-MM-dd.");
            }

            ctx.Response.Headers.ContentSecurityPolicy = SecurityHeaders.WithStyleHashes(ReconciliationReportWriter.Style);
            return Results.Content(ReconciliationReportWriter.Html(await svc.StoredAsync(d, ct)), "text/html; charset=utf-8");
        });
    }

    private static bool TryDate(string? s, out DateOnly date) =>
        DateOnly.TryParseExact(s, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out date);
}

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

public sealed class ReconciliationOptions
{
    public bool Enabled { get; set; } = true;

    /// <summary>China time of day after which yesterday's bills are fetched.</summary>
    public TimeSpan DailyAt { get; set; } = TimeSpan.FromHours(10);

    public TimeSpan CheckEvery { get; set; } = TimeSpan.FromMinutes(5);
}
