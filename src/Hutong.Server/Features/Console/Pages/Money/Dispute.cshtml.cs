using Hutong.Domain;
using Hutong.Domain.Disputes;
using Hutong.Server.Features.Disputes;
using Hutong.Server.Features.Files;
using Microsoft.AspNetCore.Mvc;

namespace Hutong.Server.Features.Console.Pages;

/// <summary>
/// A dispute with its timeline (the negotiation history the wallet holds), and for owner and finance (DisputesRespond) the
/// two answers the REST API gives: respond — the text the buyer reads at the wallet, with evidence images uploaded first
/// through FileService.CreateAsync (POST /v1/files' path, purpose dispute_evidence) and sent as <c>files</c> through
/// DisputeService.RespondAsync — and close (DisputeService.CloseAsync, after a confirmation page). Each runs under the
/// form's Idempotency-Key; the audit line commits with the stored answer; a refusal is shown as the API's problem and audited.
/// For the roles the payment page lets refund (PaymentsRefund: owner, finance, operator), a refund of the disputed payment:
/// an amount in yuan (exactly convertible to fen, at most what is left to refund), then a confirmation page whose POST
/// calls DisputeService.RefundAsync — POST /v1/disputes/{id}/refund's path, itself RefundService.CreateAsync's (the
/// captured-amount cap under the payment's lock, the wallet call after commit) — under the form's Idempotency-Key, so the
/// same form sent twice refunds once. Another merchant's dispute is 404.
/// </summary>
[Requires(ConsolePermission.MoneyRead)]
[RequestSizeLimit(MaxBodyBytes)]
[RequestFormLimits(MultipartBodyLengthLimit = MaxBodyBytes)]
public sealed class DisputeModel(ConsoleOpsQueries queries, ConsolePaymentQueries payments, DisputeService disputes, FileService files, ConsoleStore store, TimeProvider time) : ConsoleOpsPageModel
{
    /// <summary>At most 4 images (the wallets' maximum) of at most 2 MiB each, and the form around them.</summary>
    public const long MaxBodyBytes = 4 * FileEndpoints.MaxBodyBytes;

    public override string Title => L.T("投诉", "Dispute");

    [BindProperty(SupportsGet = true)]
    public string Id { get; set; } = string.Empty;

    [BindProperty(SupportsGet = true)]
    public string? Confirm { get; set; }

    [BindProperty]
    public string? Key { get; set; }

    [BindProperty]
    public string? Text { get; set; }

    [BindProperty]
    public bool Understood { get; set; }

    [BindProperty]
    public List<IFormFile> Evidence { get; set; } = [];

    public DisputeDto? Dispute { get; private set; }

    public bool Open => Dispute is { } d && DisputeStates.FromWire(d.Status) != DisputeState.Closed;

    public bool ConfirmingClose => Confirm == "close" && Open;

    public bool CanAct => Can(ConsolePermission.DisputesRespond) && Open;

    /// <summary>The refund's amount in yuan as typed (the form's GET step, then the confirmation's hidden field).</summary>
    [BindProperty(SupportsGet = true)]
    public string? Amount { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? Reason { get; set; }

    public long? AmountFen => ConsoleFormat.Fen(Amount);

    /// <summary>What is left to refund of the disputed payment (its amount less the refunds committed), 0 when it is not paid.</summary>
    public long Refundable { get; private set; }

    /// <summary>The refund form is offered: the role may refund (as on the payment page) and something is left to refund.</summary>
    public bool CanRefund => Can(ConsolePermission.PaymentsRefund) && Refundable > 0;

    public bool ConfirmingRefund { get; private set; }

    public async Task<IActionResult> OnGetAsync(CancellationToken ct)
    {
        if (!await LoadAsync(ct))
        {
            return NotFoundPage();
        }

        // The form starts at what the buyer asked for (when it can still be refunded), else all that is left; a POST
        // refunds only the amount its form names.
        Amount ??= ((Dispute!.RequestedRefund is { } asked && asked <= Refundable ? asked : Refundable) / 100m).ToString("0.00", System.Globalization.CultureInfo.InvariantCulture);
        if (Confirm == "refund" && CanRefund)
        {
            if (RefundAmountProblem() is { } bad)
            {
                Problem = bad;
            }
            else
            {
                ConfirmingRefund = true;
            }
        }

        return Page();
    }

    [Requires(ConsolePermission.PaymentsRefund)]
    public async Task<IActionResult> OnPostRefundAsync(CancellationToken ct)
    {
        if (!await LoadAsync(ct))
        {
            return NotFoundPage();
        }

        var merchant = DisputeMerchant!;
        var reason = string.IsNullOrWhiteSpace(Reason) ? null : Reason.Trim();
        var actor = Actor("refund.created", merchant, Id, $"{AmountFen} fen");

        // The form sent again after its refund: less is left now, so the amount check below would refuse it before
        // ConsoleActions could tell the repeat; it is a repeat.
        if (Key is { } sentKey && await store.FormAnsweredAsync(merchant, sentKey, ct))
        {
            return LocalRedirect(Back("repeat"));
        }

        if (RefundAmountProblem() is { } bad)
        {
            await store.AuditAsync(actor with { Action = "refund.refused", Detail = bad.Code }, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
            Problem = bad;
            Response.StatusCode = bad.Status;
            return Page();
        }

        var fen = AmountFen!.Value;
        var result = await ConsoleActions.RunAsync(store, merchant, Key, $"dispute-refund:{Id}:{fen}:{reason}", time, idem =>
            disputes.RefundAsync(merchant, Id, new DisputeRefundRequest(fen, reason), idem, ct,
                (c, t, refundId) => ConsoleStore.AuditAsync(c, t, actor with { Detail = $"{refundId} {fen} fen" }, time.GetUtcNow().ToUnixTimeMilliseconds())), ct);
        if (result.Repeated)
        {
            return LocalRedirect(Back("repeat"));
        }

        // The same form sent twice at once (the other submission refunded under this key first, and this one found less
        // left to refund) is Repeated too: ConsoleActions looks the key's answer up after a refusal.
        if (result.Outcome.Failure is { } failure)
        {
            await store.AuditAsync(actor with { Action = "refund.refused", Detail = failure.Code }, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
            Problem = ProblemOf(failure);
            Response.StatusCode = Problem.Status;
            await LoadAsync(ct);
            return Page();
        }

        return LocalRedirect(Back("dispute-refunded"));
    }

    /// <summary>The amount typed is not a whole number of fen above 0 and at most the refundable amount: the problem, or null.</summary>
    private ConsoleProblem? RefundAmountProblem() => AmountFen is { } fen && fen <= Refundable
        ? null
        : new ConsoleProblem(400, "validation_error", L.T("金额不对", "The amount is not valid"),
            L.T($"金额以元为单位，最多两位小数，须大于 0 且不超过可退金额 {Money(Refundable)}。",
                $"It is in yuan with at most two decimals, more than 0 and at most the refundable {Money(Refundable)}."));

    [Requires(ConsolePermission.DisputesRespond)]
    public async Task<IActionResult> OnPostRespondAsync(CancellationToken ct)
    {
        if (!await LoadAsync(ct))
        {
            return NotFoundPage();
        }

        var merchant = DisputeMerchant!;
        var text = Text?.Trim();
        var actor = Actor("dispute.responded", merchant, Id);
        if (!Understood)
        {
            await store.AuditAsync(actor with { Action = "dispute.refused", Detail = "not_confirmed" }, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
            Problem = new ConsoleProblem(400, "validation_error", L.T("请勾选确认", "Tick the confirmation"),
                L.T("回复会发给钱包并展示给买家，发出后无法修改。", "The answer goes to the wallet and the buyer reads it; it cannot be changed once sent."));
            return Page();
        }

        if (Evidence.Count > 4)
        {
            await store.AuditAsync(actor with { Action = "dispute.refused", Detail = "validation_error" }, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
            Problem = new ConsoleProblem(400, "validation_error", L.T("最多 4 张图片", "At most 4 images"), null);
            return Page();
        }

        // The images first, each as POST /v1/files stores it (type by content, size and daily quota checked), under a key
        // derived from the form's: the same form sent twice stores each image once.
        var fileIds = new List<string>();
        for (var i = 0; i < Evidence.Count; i++)
        {
            var f = Evidence[i];
            byte[] content;
            using (var ms = new MemoryStream())
            {
                await f.CopyToAsync(ms, ct);
                content = ms.ToArray();
            }

            var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(content));
            var uploaded = await ConsoleActions.RunAsync(store, merchant, Key is null ? null : $"{Key}-f{i}", $"file:{f.FileName}:{hash}", time, idem =>
                files.CreateAsync(merchant, FileService.DisputeEvidence, f.FileName, content, idem, ct), ct);
            if (uploaded.Outcome.Failure is { } bad)
            {
                await store.AuditAsync(actor with { Action = "dispute.refused", Detail = bad.Code }, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
                Problem = ProblemOf(bad) with { Detail = WebhooksModel.Detail(bad) }; // which image and why, not "see errors for each field"
                return Page();
            }

            fileIds.Add(uploaded.Outcome.Value!.Id);
        }

        var request = new RespondDisputeRequest(text, null, fileIds.Count == 0 ? null : fileIds);
        var result = await ConsoleActions.RunAsync(store, merchant, Key, $"dispute-respond:{Id}:{text}:{string.Join(",", fileIds)}", time, idem =>
            disputes.RespondAsync(merchant, Id, request, idem, ct,
                (c, t) => ConsoleStore.AuditAsync(c, t, actor with { Detail = fileIds.Count == 0 ? null : string.Join(" ", fileIds) }, time.GetUtcNow().ToUnixTimeMilliseconds())), ct);
        return await AfterAsync(result, actor, "dispute-responded", ct);
    }

    [Requires(ConsolePermission.DisputesRespond)]
    public async Task<IActionResult> OnPostCloseAsync(CancellationToken ct)
    {
        if (!await LoadAsync(ct))
        {
            return NotFoundPage();
        }

        var merchant = DisputeMerchant!;
        var actor = Actor("dispute.closed", merchant, Id);
        var result = await ConsoleActions.RunAsync(store, merchant, Key, $"dispute-close:{Id}", time, idem =>
            disputes.CloseAsync(merchant, Id, idem, ct, (c, t) => ConsoleStore.AuditAsync(c, t, actor, time.GetUtcNow().ToUnixTimeMilliseconds())), ct);
        return await AfterAsync(result, actor, "dispute-closed", ct);
    }

    /// <summary>The merchant the dispute belongs to (the signed-in user's own, or for an operator the dispute's).</summary>
    public string? DisputeMerchant { get; private set; }

    private string Back(string done) => $"/console/money/disputes/{Uri.EscapeDataString(Id)}?done={done}";

    private async Task<IActionResult> AfterAsync(ConsoleActionResult<DisputeDto> result, ConsoleAuditEntry actor, string done, CancellationToken ct)
    {
        if (result.Repeated)
        {
            return LocalRedirect(Back("repeat"));
        }

        if (result.Outcome.Failure is { } failure)
        {
            await store.AuditAsync(actor with { Action = "dispute.refused", Detail = $"{actor.Action} {failure.Code}" }, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
            Problem = ProblemOf(failure) with { Detail = WebhooksModel.Detail(failure) };
            await LoadAsync(ct);
            return Page();
        }

        return LocalRedirect(Back(done));
    }

    private async Task<bool> LoadAsync(CancellationToken ct)
    {
        if (!Ids.HasPrefix(Id, Ids.Dispute) || await queries.DisputeMerchantAsync(Me.Scope, Id, ct) is not { } merchant)
        {
            return false;
        }

        DisputeMerchant = merchant;
        Dispute = (await disputes.GetAsync(merchant, Id, ct)).Value;
        if (Dispute is null)
        {
            return false;
        }

        // The payment page's figure (its amount less the refunds that count against it), for the form and its bound.
        Refundable = await payments.TimelineAsync(merchant, Dispute.Payment.Id, ct) is { } timeline
            && Hutong.Domain.Payments.PaymentStatusNames.FromWire(timeline.Payment.Status) == Hutong.Domain.Payments.PaymentStatus.Succeeded
            ? timeline.Payment.Amount - timeline.Refunded
            : 0;
        return true;
    }

    public static string ActorName(Checkout.Lang l, string actor) => actor switch
    {
        "buyer" => l.T("买家", "Buyer"),
        "merchant" => l.T("商户", "Merchant"),
        _ => l.T("钱包", "Wallet"),
    };

    public static string StatusName(Checkout.Lang l, string status) => status switch
    {
        "needs_response" => l.T("待回复", "Needs a response"),
        "under_review" => l.T("处理中", "Under review"),
        "closed" => l.T("已完结", "Closed"),
        _ => status,
    };
}
