using Hutong.Server.Features.Webhooks;
using Microsoft.AspNetCore.Mvc;

namespace Hutong.Server.Features.Console.Pages;

/// <summary>The merchant's event log through EventService.ListAsync (the API's read), 50 a page, by type or object.</summary>
[Requires(ConsolePermission.EventsRead)]
public sealed class EventsModel(EventService events) : ConsoleOpsPageModel
{
    public override string Title => L.T("事件与通知", "Events and webhooks");

    [BindProperty(SupportsGet = true)]
    public string? Type { get; set; }

    [BindProperty(SupportsGet = true, Name = "object")]
    public string? ObjectId { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? After { get; set; }

    public IReadOnlyList<EventDto> Events { get; private set; } = [];

    public string? Next { get; private set; }

    public async Task OnGetAsync(CancellationToken ct)
    {
        if (MerchantId is not { } merchant)
        {
            return;
        }

        var list = await events.ListAsync(merchant, 50, Blank(After), Blank(Type), Blank(ObjectId), ct);
        if (list.Failure is { } failure)
        {
            Problem = ProblemOf(failure);
            return;
        }

        Events = list.Value!.Data;
        Next = list.Value.HasMore ? list.Value.NextCursor : null;
    }

    private static string? Blank(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim();
}
