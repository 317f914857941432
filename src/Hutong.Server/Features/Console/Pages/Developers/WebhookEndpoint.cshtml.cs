using Hutong.Server.Features.Webhooks;
using Microsoft.AspNetCore.Mvc;

namespace Hutong.Server.Features.Console.Pages;

/// <summary>
/// Disabling or enabling one webhook endpoint in two steps (this page asks, its POST changes) through
/// WebhookEndpointService.SetEnabledAsync, with the audit line in the same transaction and the form's Idempotency-Key.
/// Another merchant's endpoint is 404; a change that does not apply (already disabled, deleted) is a 409 problem.
/// </summary>
[Requires(ConsolePermission.EventsRead)]
[Requires(ConsolePermission.WebhookEndpointsManage)]
public sealed class WebhookEndpointModel(WebhookEndpointService endpoints, ConsoleStore store, TimeProvider time) : ConsoleOpsPageModel
{
    public override string Title => Enable ? L.T("启用 Webhook 端点", "Enable a webhook endpoint") : L.T("停用 Webhook 端点", "Disable a webhook endpoint");

    [BindProperty(SupportsGet = true)]
    public string Id { get; set; } = string.Empty;

    [BindProperty(SupportsGet = true)]
    public string Change { get; set; } = string.Empty;

    [BindProperty]
    public string? Key { get; set; }

    public bool Enable => Change == "enable";

    public WebhookEndpointDto? Endpoint { get; private set; }

    public async Task<IActionResult> OnGetAsync(CancellationToken ct) =>
        MerchantId is { } m && (Endpoint = await endpoints.GetAsync(m, Id, ct)) is not null ? Page() : NotFoundPage();

    public async Task<IActionResult> OnPostAsync(CancellationToken ct)
    {
        if (MerchantId is not { } merchant || (Endpoint = await endpoints.GetAsync(merchant, Id, ct)) is null)
        {
            return NotFoundPage();
        }

        var actor = Actor(Enable ? "webhook_endpoint.enabled" : "webhook_endpoint.disabled", merchant, Id);
        var result = await ConsoleActions.RunAsync(store, merchant, Key, $"webhook_endpoint.{Change}:{Id}", time, idem =>
            endpoints.SetEnabledAsync(merchant, Id, Enable, idem, ct, (c, t) => ConsoleStore.AuditAsync(c, t, actor, time.GetUtcNow().ToUnixTimeMilliseconds())), ct);
        var back = "/console/developers/webhooks?done=" + (result.Repeated ? "repeat" : Enable ? "endpoint-enabled" : "endpoint-disabled")
            + (MerchantQuery.Length > 0 ? "&" + MerchantQuery : string.Empty);
        if (result.Repeated)
        {
            return LocalRedirect(back);
        }

        if (result.Outcome.Failure is { } failure)
        {
            await store.AuditAsync(actor with { Action = "webhook_endpoint.change_refused", Detail = failure.Code }, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
            Problem = ProblemOf(failure);
            return Page();
        }

        return LocalRedirect(back);
    }
}
