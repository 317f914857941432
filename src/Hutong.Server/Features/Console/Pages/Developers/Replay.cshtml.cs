using System.Globalization;
using Hutong.Server.Features.Webhooks;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Console.Pages;

/// <summary>
/// Replaying the merchant's events of a time range (optionally one type, to one endpoint) through
/// EventService.ReplayAsync — POST /v1/events/resend's path, with its bounds (<see cref="WebhookOptions.ReplayMaxEvents"/>
/// events, <see cref="WebhookOptions.ReplayMaxRange"/>): a range over them is refused and nothing is sent. Each form
/// carries its Idempotency-Key, so sending it twice replays once; every replay and refusal is audit-logged with its counts.
/// </summary>
[Requires(ConsolePermission.EventsRead)]
[Requires(ConsolePermission.WebhooksResend)]
public sealed class ReplayModel(EventService events, WebhookEndpointService endpoints, ConsoleStore store, IOptions<HubOptions> options, TimeProvider time) : ConsoleOpsPageModel
{
    public override string Title => L.T("按时间范围重发事件", "Replay events by time range");

    [BindProperty]
    public string? Key { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? From { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? To { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? Type { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? Endpoint { get; set; }

    public int MaxEvents => options.Value.Webhooks.ReplayMaxEvents;

    public string MaxDays => options.Value.Webhooks.ReplayMaxRange.TotalDays.ToString("0.##", CultureInfo.InvariantCulture);

    public IReadOnlyList<WebhookEndpointDto> Endpoints { get; private set; } = [];

    public ResendResult? Result { get; private set; }

    public async Task OnGetAsync(CancellationToken ct) => await LoadAsync(ct);

    public async Task<IActionResult> OnPostAsync(CancellationToken ct)
    {
        if (MerchantId is not { } merchant)
        {
            return NotFoundPage();
        }

        await LoadAsync(ct);
        var (gte, lt) = (ChinaTime(From), ChinaTime(To));
        if (gte is null || lt is null)
        {
            Problem = new ConsoleProblem(400, "validation_error", L.T("时间范围不对", "The time range is not valid"),
                L.T("请填写开始和结束时间（北京时间）。", "Enter the start and the end (China Standard Time)."));
            return Page();
        }

        var type = string.IsNullOrWhiteSpace(Type) ? null : Type.Trim();
        var endpoint = string.IsNullOrWhiteSpace(Endpoint) ? null : Endpoint.Trim();
        var request = new ReplayEventsRequest(new CreatedRange(gte, lt), type, endpoint);
        var range = $"{gte:O}..{lt:O} type={type ?? "*"} endpoint={endpoint ?? "*"}";
        var actor = Actor("events.replayed", merchant, endpoint, range);
        var result = await ConsoleActions.RunAsync(store, merchant, Key, "events.replay:" + range, time, idem => events.ReplayAsync(merchant, request, idem, ct), ct);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (result.Repeated)
        {
            Done = "repeat";
            return Page();
        }

        if (result.Outcome.Failure is { } failure)
        {
            await store.AuditAsync(actor with { Action = "events.replay_refused", Detail = range + " " + failure.Code }, now, ct);
            Problem = ProblemOf(failure) with { Detail = WebhooksModel.Detail(failure) };
            return Page();
        }

        Result = result.Outcome.Value!;
        await store.AuditAsync(actor with { Detail = $"{range} events={Result.Events} queued={Result.Queued}" }, now, ct);
        return Page();
    }

    /// <summary>A datetime-local value (yyyy-MM-ddTHH:mm[:ss]) read as China Standard Time, or null.</summary>
    public static DateTimeOffset? ChinaTime(string? value) =>
        DateTime.TryParseExact(value?.Trim(), ["yyyy-MM-ddTHH:mm", "yyyy-MM-ddTHH:mm:ss", "yyyy-MM-ddTHH:mm:ss.fff"], CultureInfo.InvariantCulture, DateTimeStyles.None, out var d)
            ? new DateTimeOffset(DateTime.SpecifyKind(d, DateTimeKind.Unspecified), ConsoleFormat.ChinaOffset)
            : null;

    /// <summary>
    /// A moment as a datetime-local value in China Standard Time, in HTML's normalized form: seconds are left out when
    /// they are zero, as browsers write the value back (a value with ":00" reads back different from what was set).
    /// </summary>
    public static string ChinaValue(DateTimeOffset at)
    {
        var local = at.ToOffset(ConsoleFormat.ChinaOffset);
        return local.ToString(local.Second == 0 ? "yyyy-MM-ddTHH:mm" : "yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture);
    }

    private async Task LoadAsync(CancellationToken ct) =>
        Endpoints = MerchantId is { } m ? [.. (await endpoints.ListAsync(m, ct)).Where(e => e.Enabled)] : [];
}
