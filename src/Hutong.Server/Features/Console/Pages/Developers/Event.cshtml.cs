using Hutong.Server.Features.Webhooks;
using Microsoft.AspNetCore.Mvc;

namespace Hutong.Server.Features.Console.Pages;

/// <summary>
/// One event with its deliveries and their attempts (EventService.GetAsync), and "send again" through
/// EventService.ResendAsync under the form's Idempotency-Key (the API's path and limits), audit-logged.
/// </summary>
[Requires(ConsolePermission.EventsRead)]
public sealed class EventModel(EventService events, ConsoleStore store, TimeProvider time) : ConsoleOpsPageModel
{
    public override string Title => L.T("事件", "Event");

    [BindProperty(SupportsGet = true)]
    public string Id { get; set; } = string.Empty;

    [BindProperty]
    public string? Key { get; set; }

    public EventDto? Event { get; private set; }

    public async Task<IActionResult> OnGetAsync(CancellationToken ct) => await LoadAsync(ct) ? Page() : NotFoundPage();

    [Requires(ConsolePermission.WebhooksResend)]
    public async Task<IActionResult> OnPostAsync(CancellationToken ct)
    {
        if (MerchantId is not { } merchant || !await LoadAsync(ct))
        {
            return NotFoundPage();
        }

        var actor = Actor("event.resent", merchant, Id);
        var result = await ConsoleActions.RunAsync(store, merchant, Key, $"event.resend:{Id}", time, idem => events.ResendAsync(merchant, Id, null, idem, ct), ct);
        var back = $"/console/developers/events/{Id}?done=" + (result.Repeated ? "repeat" : "event-resent") + (MerchantQuery.Length > 0 ? "&" + MerchantQuery : string.Empty);
        if (result.Repeated)
        {
            return LocalRedirect(back);
        }

        if (result.Outcome.Failure is { } failure)
        {
            await store.AuditAsync(actor with { Action = "event.resend_refused", Detail = failure.Code }, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
            Problem = ProblemOf(failure);
            return Page();
        }

        await store.AuditAsync(actor, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
        return LocalRedirect(back);
    }

    private async Task<bool> LoadAsync(CancellationToken ct)
    {
        if (MerchantId is not { } merchant)
        {
            return false;
        }

        var e = await events.GetAsync(merchant, Id, ct);
        Event = e.Value;
        return e.Failure is null && Event is not null;
    }
}
