using Hutong.Server.Features.Links;
using Microsoft.AspNetCore.Mvc;

namespace Hutong.Server.Features.Console.Pages;

/// <summary>
/// The merchant's newest links with their clicks per platform (a chart and a table), their share codes with how often
/// each was pasted and resolved, and for LinksManage (owner, developer) the share-code actions of the REST API: create a
/// share code for a live link (LinkService.CreateShareCodeAsync, POST /v1/share_codes' path, under the form's
/// Idempotency-Key) and revoke one after a confirmation (LinkService.RevokeShareCodeAsync). The audit line commits with
/// the change; another merchant's link or code is 404; a code no longer active is a 409 problem, not a silent success.
/// </summary>
[Requires(ConsolePermission.OperationsRead)]
public sealed class LinksModel(ConsoleOpsQueries queries, LinkService links, ConsoleStore store, TimeProvider time) : ConsoleOpsPageModel
{
    public sealed record LinkSummary(string Id, string MerchantId, string Code, string Title, string Status, long CreatedAt, long ShareCodes, long Resolves,
        IReadOnlyDictionary<string, long> Clicks);

    public override string Title => L.T("链接与口令", "Links and share codes");

    public IReadOnlyList<LinkSummary> Links { get; private set; } = [];

    public IReadOnlyList<ShareCodeListRow> Codes { get; private set; } = [];

    /// <summary>?revoke=sc_…: the share code whose revocation the page asks to confirm.</summary>
    [BindProperty(SupportsGet = true)]
    public string? Revoke { get; set; }

    public ShareCodeListRow? Revoking { get; private set; }

    [BindProperty]
    public string? Key { get; set; }

    [BindProperty]
    public string? Link { get; set; }

    [BindProperty]
    public int? Days { get; set; }

    [BindProperty]
    public string? Code { get; set; }

    public async Task<IActionResult> OnGetAsync(CancellationToken ct)
    {
        if (Revoke is { } id)
        {
            Revoking = await queries.ShareCodeAsync(Me.Scope, id, ct);
            if (Revoking is null)
            {
                return NotFoundPage();
            }
        }

        await LoadAsync(ct);
        return Page();
    }

    [Requires(ConsolePermission.LinksManage)]
    public async Task<IActionResult> OnPostCreateAsync(CancellationToken ct)
    {
        if (Link is not { Length: > 0 and <= 64 } linkId || await queries.LinkMerchantAsync(Me.Scope, linkId, ct) is not { } merchant)
        {
            return NotFoundPage();
        }

        var actor = Actor("share_code.created", merchant, linkId, $"{Days} days");
        if (Days is not (>= 1 and <= 366))
        {
            await store.AuditAsync(actor with { Action = "share_code.refused", Detail = "validation_error" }, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
            Problem = new ConsoleProblem(400, "validation_error", L.T("有效期为 1 到 366 天", "The lifetime is 1 to 366 days"), null);
            await LoadAsync(ct);
            return Page();
        }

        var result = await ConsoleActions.RunAsync(store, merchant, Key, $"share-code:{linkId}:{Days}", time, idem =>
            links.CreateShareCodeAsync(merchant, new CreateShareCodeRequest(linkId, null, null, Days.Value * 86_400L), idem, ct,
                (c, t, codeId) => ConsoleStore.AuditAsync(c, t, actor with { Target = codeId, Detail = $"{linkId} {Days} days" }, time.GetUtcNow().ToUnixTimeMilliseconds())), ct);
        return await AfterAsync(result, actor, "share-code-created", ct);
    }

    [Requires(ConsolePermission.LinksManage)]
    public async Task<IActionResult> OnPostRevokeAsync(CancellationToken ct)
    {
        if (Code is not { Length: > 0 and <= 64 } codeId || await queries.ShareCodeAsync(Me.Scope, codeId, ct) is not { } row)
        {
            return NotFoundPage();
        }

        var actor = Actor("share_code.revoked", row.MerchantId, row.Id);
        if (row.Status != "active" || row.ExpiresAt <= time.GetUtcNow().ToUnixTimeMilliseconds())
        {
            await store.AuditAsync(actor with { Action = "share_code.refused", Detail = "share_code_not_active" }, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
            Problem = new ConsoleProblem(409, "share_code_not_active", L.T("这个口令已吊销或已过期", "This share code is revoked or expired already"), null);
            await LoadAsync(ct);
            return Page();
        }

        var result = await ConsoleActions.RunAsync(store, row.MerchantId, Key, $"share-code-revoke:{row.Id}", time, idem =>
            links.RevokeShareCodeAsync(row.MerchantId, row.Id, idem, ct, (c, t) => ConsoleStore.AuditAsync(c, t, actor, time.GetUtcNow().ToUnixTimeMilliseconds())), ct);
        return await AfterAsync(result, actor, "share-code-revoked", ct);
    }

    private async Task<IActionResult> AfterAsync(ConsoleActionResult<ShareCodeDto> result, ConsoleAuditEntry actor, string done, CancellationToken ct)
    {
        if (result.Outcome.Failure is { } failure && !result.Repeated)
        {
            await store.AuditAsync(actor with { Action = "share_code.refused", Detail = failure.Code }, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
            Problem = ProblemOf(failure);
            await LoadAsync(ct);
            return Page();
        }

        return LocalRedirect("/console/operations/links?done=" + (result.Repeated ? "repeat" : done) + (MerchantQuery.Length > 0 ? "&" + MerchantQuery : string.Empty));
    }

    private async Task LoadAsync(CancellationToken ct)
    {
        Links = (await queries.LinksAsync(MerchantId, ct))
            .GroupBy(r => r.Id)
            .Select(g => new LinkSummary(g.Key, g.First().MerchantId, g.First().Code, g.First().Title, g.First().Status, g.First().CreatedAt, g.First().ShareCodes, g.First().Resolves,
                g.Where(r => r.Platform is not null).ToDictionary(r => r.Platform!, r => r.Clicks ?? 0, StringComparer.Ordinal)))
            .ToList();
        Codes = await queries.ShareCodesAsync(MerchantId, ct);
    }

    public string CodeStatus(ShareCodeListRow c) =>
        c.Status == "active" && c.ExpiresAt <= time.GetUtcNow().ToUnixTimeMilliseconds() ? "expired" : c.Status;
}
