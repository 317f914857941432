using System.Globalization;
using Hutong.Server.Features.Reconciliation;
using Hutong.Server.Http;
using Microsoft.AspNetCore.Mvc;

namespace Hutong.Server.Features.Console.Pages;

/// <summary>
/// Reconciliation per bill day (operators: a channel's bill covers the whole hub), a chart of the differences, a day's
/// open items (ReconciliationService.StoredAsync, the admin API's read) and the existing HTML report.
/// </summary>
[Requires(ConsolePermission.ReconciliationRead)]
public sealed class ReconciliationModel(ConsoleOpsQueries queries, ReconciliationService reconciliation) : ConsolePageModel
{
    public override string Title => L.T("对账", "Reconciliation");

    [BindProperty(SupportsGet = true)]
    public string? Date { get; set; }

    public IReadOnlyList<ReconciliationDayRow> Days { get; private set; } = [];

    public ReconciliationReport? Report { get; private set; }

    public async Task OnGetAsync(CancellationToken ct)
    {
        Days = await queries.ReconciliationDaysAsync(60, ct);
        if (DateOnly.TryParseExact(Date, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d))
        {
            Report = await reconciliation.StoredAsync(d, ct);
        }
    }
}

/// <summary>The existing HTML report of a day (ReconciliationReportWriter, as /admin serves it), behind the console session.</summary>
[Requires(ConsolePermission.ReconciliationRead)]
public sealed class ReconciliationReportModel(ReconciliationService reconciliation) : ConsolePageModel
{
    public override string Title => L.T("对账报告", "Reconciliation report");

    public async Task<IActionResult> OnGetAsync(string date, CancellationToken ct)
    {
        if (!DateOnly.TryParseExact(date, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d))
        {
            return NotFoundPage();
        }

        Response.Headers.ContentSecurityPolicy = SecurityHeaders.WithStyleHashes(ReconciliationReportWriter.Style);
        return Content(ReconciliationReportWriter.Html(await reconciliation.StoredAsync(d, ct)), "text/html; charset=utf-8");
    }
}
