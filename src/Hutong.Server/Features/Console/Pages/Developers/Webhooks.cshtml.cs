using Hutong.Domain;
using Hutong.Server.Features.Webhooks;
using Microsoft.AspNetCore.Mvc;

namespace Hutong.Server.Features.Console.Pages;

/// <summary>
/// The merchant's webhook endpoints: list (anyone who reads events), add (the signing secret shown once, on the answer
/// to the POST; the idempotent answer and the audit line never hold it) and links to disable or enable each after a
/// confirmation. Everything goes through WebhookEndpointService, the REST API's path, under the form's Idempotency-Key.
/// </summary>
[Requires(ConsolePermission.EventsRead)]
public sealed class WebhooksModel(WebhookEndpointService endpoints, ConsoleOpsQueries queries, ConsoleStore store, TimeProvider time) : ConsoleOpsPageModel
{
    public override string Title => L.T("Webhook 端点", "Webhook endpoints");

    public IReadOnlyList<WebhookEndpointDto> Endpoints { get; private set; } = [];

    public WebhookEndpointDto? Issued { get; private set; }

    [BindProperty]
    public string? Key { get; set; }

    [BindProperty(Name = "url")]
    public string? ReceiverUrl { get; set; }

    [BindProperty(Name = "events")]
    public string? EventTypes { get; set; }

    public async Task OnGetAsync(CancellationToken ct) => await LoadAsync(ct);

    [Requires(ConsolePermission.WebhookEndpointsManage)]
    public async Task<IActionResult> OnPostCreateAsync(CancellationToken ct)
    {
        if (MerchantId is not { } merchant || !await queries.MerchantExistsAsync(merchant, ct))
        {
            return NotFoundPage();
        }

        var types = string.IsNullOrWhiteSpace(EventTypes) ? null
            : EventTypes.Split([',', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var request = new CreateWebhookEndpointRequest(ReceiverUrl?.Trim(), types);
        var actor = Actor("webhook_endpoint.created", merchant, detail: ReceiverUrl?.Trim());
        var result = await ConsoleActions.RunAsync(store, merchant, Key, $"webhook_endpoint.create:{request.Url}:{EventTypes}", time, idem =>
            endpoints.CreateAsync(merchant, request, idem, ct,
                (c, t, e) => ConsoleStore.AuditAsync(c, t, actor with { Target = e.Id }, time.GetUtcNow().ToUnixTimeMilliseconds())), ct);
        if (result.Repeated)
        {
            return LocalRedirect(DoneUrl("repeat"));
        }

        if (result.Outcome.Failure is { } failure)
        {
            await store.AuditAsync(actor with { Action = "webhook_endpoint.refused", Detail = failure.Code }, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
            Problem = ProblemOf(failure) with { Detail = Detail(failure) };
        }
        else
        {
            Issued = result.Outcome.Value;
            ReceiverUrl = null;
            EventTypes = null;
        }

        await LoadAsync(ct);
        return Page();
    }

    public string StatusText(string? reason) => reason switch
    {
        WebhookEndpointService.DisabledByMerchant => L.T("已停用", "disabled"),
        "deleted" => L.T("已删除", "deleted"),
        "gone" => L.T("已停用（接收方返回 410）", "disabled (the receiver answered 410 Gone)"),
        _ => L.T("已停用", "disabled") + (reason is null ? string.Empty : $" ({reason})"),
    };

    /// <summary>A validation failure's field messages (which field, why) as the problem's detail.</summary>
    public static string? Detail(Failure f) => f.Errors is { Count: > 0 } errors ? string.Join(" ", errors.SelectMany(e => e.Value)) : f.Detail;

    private async Task LoadAsync(CancellationToken ct) => Endpoints = MerchantId is { } m ? await endpoints.ListAsync(m, ct) : [];

    private string DoneUrl(string done) => "/console/developers/webhooks?done=" + done + (MerchantQuery.Length > 0 ? "&" + MerchantQuery : string.Empty);
}
