using Hutong.Server.Features.Merchants;
using Microsoft.AspNetCore.Mvc;

namespace Hutong.Server.Features.Console.Pages;

/// <summary>
/// Revoking a key in two steps (this page asks, its POST revokes) through MerchantStore.RevokeKeyAsync, the admin API's
/// path (the other hub instances forget the key when it commits), with the audit line in the same transaction.
/// Another merchant's key is 404; an already revoked key is a 409 problem, not a silent success.
/// </summary>
[Requires(ConsolePermission.KeysRead)]
[Requires(ConsolePermission.KeysManage)]
public sealed class RevokeKeyModel(ConsoleOpsQueries queries, MerchantStore merchants, TimeProvider time) : ConsoleOpsPageModel
{
    public override string Title => L.T("吊销 API 密钥", "Revoke an API key");

    [BindProperty(SupportsGet = true)]
    public string Id { get; set; } = string.Empty;

    [BindProperty]
    public string? Key { get; set; }

    public ApiKeyRow? Row { get; private set; }

    public async Task<IActionResult> OnGetAsync(CancellationToken ct)
    {
        Row = await queries.KeyAsync(Me.Scope, Id, ct);
        return Row is null ? NotFoundPage() : Page();
    }

    public async Task<IActionResult> OnPostAsync(CancellationToken ct)
    {
        Row = await queries.KeyAsync(Me.Scope, Id, ct);
        if (Row is null)
        {
            return NotFoundPage();
        }

        var actor = Actor("api_key.revoked", Row.MerchantId, Row.Id);
        var revoked = await merchants.RevokeKeyAsync(Row.Id, ct,
            (c, t) => ConsoleStore.AuditAsync(c, t, actor, time.GetUtcNow().ToUnixTimeMilliseconds()));
        if (!revoked)
        {
            Problem = new ConsoleProblem(409, "already_revoked", L.T("这个密钥已经吊销", "This key was revoked already"), null);
            return Page();
        }

        return LocalRedirect("/console/developers/keys?done=key-revoked" + (Me.Scope is null ? "&merchant=" + Uri.EscapeDataString(Row.MerchantId) : string.Empty));
    }
}
