using Hutong.Domain;
using Hutong.Server.Features.Refunds;
using Microsoft.AspNetCore.Mvc;

namespace Hutong.Server.Features.Console.Pages;

/// <summary>
/// A refund in two steps: the amount, then a confirmation page whose POST calls RefundService.CreateAsync — the REST
/// API's path (validation, the captured-amount cap under the payment's lock, the wallet call after commit) — with the
/// audit line written in the refund's own transaction.
/// </summary>
[Requires(ConsolePermission.PaymentsRead)]
[Requires(ConsolePermission.PaymentsRefund)]
public sealed class RefundModel(ConsolePaymentQueries queries, ConsoleStore store, RefundService refunds, TimeProvider time) : ConsolePageModel
{
    public override string Title => L.T("退款", "Refund");

    [BindProperty(SupportsGet = true)]
    public string Id { get; set; } = string.Empty;

    [BindProperty(SupportsGet = true)]
    public string? Amount { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? Reason { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? Confirm { get; set; }

    [BindProperty]
    public string? Key { get; set; }

    public PaymentTimeline? Timeline { get; private set; }

    public long Refundable => Timeline is null ? 0 : Timeline.Payment.Amount - Timeline.Refunded;

    public long? AmountFen => ConsoleFormat.Fen(Amount);

    public bool Confirming { get; private set; }

    public string NewKey => "console-" + Ids.Token(12);

    public async Task<IActionResult> OnGetAsync(CancellationToken ct)
    {
        Timeline = await queries.TimelineAsync(Me.Scope, Id, ct);
        if (Timeline is null)
        {
            return NotFoundPage();
        }

        Amount ??= (Refundable / 100m).ToString("0.00", System.Globalization.CultureInfo.InvariantCulture);
        if (Confirm == "1")
        {
            if (AmountFen is not { } fen || fen > Refundable)
            {
                Problem = new ConsoleProblem(400, "validation_error", L.T("金额不对", "The amount is not valid"),
                    L.T("金额须大于 0 且不超过可退金额。", "It must be more than 0 and at most the refundable amount."));
            }
            else
            {
                Confirming = true;
            }
        }

        return Page();
    }

    public async Task<IActionResult> OnPostAsync(CancellationToken ct)
    {
        Timeline = await queries.TimelineAsync(Me.Scope, Id, ct);
        if (Timeline is null)
        {
            return NotFoundPage();
        }

        var merchant = Timeline.Payment.MerchantId;
        var reason = string.IsNullOrWhiteSpace(Reason) ? null : Reason.Trim();
        var actor = Actor("refund.created", merchant, Id, $"{AmountFen} fen");
        var result = await ConsoleActions.RunAsync(store, merchant, Key, $"refund:{Id}:{AmountFen}:{reason}", time, idem =>
            refunds.CreateAsync(merchant, Id, new CreateRefundRequest(AmountFen ?? 0, reason), idem, ct,
                alsoInTransaction: (c, t, refundId) => ConsoleStore.AuditAsync(c, t, actor with { Detail = $"{refundId} {AmountFen} fen" }, time.GetUtcNow().ToUnixTimeMilliseconds())), ct);
        if (result.Repeated)
        {
            return LocalRedirect($"/console/payments/{Id}?done=repeat");
        }

        if (result.Outcome.Failure is { } failure)
        {
            await store.AuditAsync(actor with { Action = "refund.refused", Detail = failure.Code }, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
            Problem = ProblemOf(failure);
            return Page();
        }

        return LocalRedirect($"/console/payments/{Id}?done=refunded");
    }
}
