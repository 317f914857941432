using Hutong.Domain;
using Hutong.Server.Features.Checkout;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Payments;
using Hutong.Server.Features.Webhooks;
using Microsoft.AspNetCore.Mvc;

namespace Hutong.Server.Features.Console.Pages;

/// <summary>
/// A payment with its whole timeline, and the actions on it. The actions call the same services as the REST API
/// (PaymentService.CancelAsync, EventService.ResendAsync) with an Idempotency-Key made when the page was shown, so a
/// form sent twice acts once. Another merchant's payment is 404, as if it did not exist.
/// </summary>
[Requires(ConsolePermission.PaymentsRead)]
public sealed class PaymentModel(ConsolePaymentQueries queries, ConsoleStore store, TimeProvider time) : ConsolePageModel
{
    public override string Title => L.T("支付详情", "Payment");

    [BindProperty(SupportsGet = true)]
    public string Id { get; set; } = string.Empty;

    public PaymentTimeline? Timeline { get; private set; }

    /// <summary>A fresh Idempotency-Key for each form on the page.</summary>
    public string NewKey => "console-" + Ids.Token(12);

    public async Task<IActionResult> OnGetAsync(CancellationToken ct)
    {
        Timeline = await queries.TimelineAsync(Me.Scope, Id, ct);
        return Timeline is null ? NotFoundPage() : Page();
    }

    [Requires(ConsolePermission.PaymentsCancel)]
    public async Task<IActionResult> OnPostCancelAsync(string? key, [FromServices] PaymentService payments, CancellationToken ct)
    {
        if (await queries.TimelineAsync(Me.Scope, Id, ct) is not { } found)
        {
            return NotFoundPage();
        }

        var merchant = found.Payment.MerchantId;
        var outcome = await ConsoleActions.RunAsync(store, merchant, key, $"cancel:{Id}", time, idem => payments.CancelAsync(merchant, Id, idem, ct), ct);
        return await AfterAsync(outcome, merchant, "payment.canceled", "canceled", ct);
    }

    [Requires(ConsolePermission.WebhooksResend)]
    public async Task<IActionResult> OnPostResendAsync(string? key, string? eventId, [FromServices] EventService events, CancellationToken ct)
    {
        if (await queries.TimelineAsync(Me.Scope, Id, ct) is not { } found || found.Events.All(e => e.Id != eventId))
        {
            return NotFoundPage();
        }

        var merchant = found.Payment.MerchantId;
        var outcome = await ConsoleActions.RunAsync(store, merchant, key, $"resend:{eventId}", time, idem => events.ResendAsync(merchant, eventId!, null, idem, ct), ct);
        return await AfterAsync(outcome, merchant, "webhook.resent", "resent", ct, eventId);
    }

    private async Task<IActionResult> AfterAsync<T>(ConsoleActionResult<T> outcome, string merchant, string action, string done, CancellationToken ct, string? detail = null)
    {
        if (outcome.Repeated)
        {
            return LocalRedirect($"/console/payments/{Id}?done=repeat");
        }

        if (outcome.Outcome.Failure is { } failure)
        {
            await store.AuditAsync(Actor(action + ".refused", merchant, Id, failure.Code), time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
            Problem = ProblemOf(failure);
            Timeline = await queries.TimelineAsync(Me.Scope, Id, ct);
            return Timeline is null ? NotFoundPage() : Page();
        }

        await store.AuditAsync(Actor(action, merchant, Id, detail), time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
        return LocalRedirect($"/console/payments/{Id}?done={done}");
    }

    public static string KindName(Lang l, string kind) => kind switch
    {
        "created" => l.T("创建", "created"),
        "attempt" => l.T("钱包下单", "wallet order"),
        "notification" => l.T("钱包通知", "wallet notification"),
        "refund" => l.T("退款", "refund"),
        "split" => l.T("分账", "split"),
        "ledger" => l.T("记账", "ledger"),
        "event" => l.T("商户事件", "event"),
        "delivery" => l.T("通知投递", "webhook delivery"),
        _ => kind,
    };
}
