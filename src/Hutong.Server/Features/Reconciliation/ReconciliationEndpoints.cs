using System.Globalization;
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

public sealed class ReconciliationOptions
{
    public bool Enabled { get; set; } = true;

    /// <summary>China time of day after which yesterday's bills are fetched.</summary>
    public TimeSpan DailyAt { get; set; } = TimeSpan.FromHours(10);

    public TimeSpan CheckEvery { get; set; } = TimeSpan.FromMinutes(5);
}
