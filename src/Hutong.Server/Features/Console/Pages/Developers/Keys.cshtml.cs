using Hutong.Domain;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Http;
using Microsoft.AspNetCore.Mvc;

namespace Hutong.Server.Features.Console.Pages;

/// <summary>
/// The merchant's API keys: list, create (the secret shown once, on the answer to the POST, never stored nor logged)
/// and a link to revoke each with a confirmation step. Creating goes through MerchantStore.CreateKeyAsync, the admin
/// API's path, with the audit line and the idempotent answer (without the secret) in the key's own transaction.
/// </summary>
[Requires(ConsolePermission.KeysRead)]
public sealed class KeysModel(ConsoleOpsQueries queries, MerchantStore merchants, ConsoleStore store, TimeProvider time) : ConsoleOpsPageModel
{
    public override string Title => L.T("API 密钥", "API keys");

    public IReadOnlyList<ApiKeyRow> Keys { get; private set; } = [];

    public IssuedKey? Issued { get; private set; }

    [BindProperty]
    public string? Key { get; set; }

    public async Task OnGetAsync(CancellationToken ct) => Keys = await queries.KeysAsync(Me.Scope ?? MerchantId, ct);

    [Requires(ConsolePermission.KeysManage)]
    public async Task<IActionResult> OnPostCreateAsync(CancellationToken ct)
    {
        if (MerchantId is not { } merchant || !await queries.MerchantExistsAsync(merchant, ct))
        {
            return NotFoundPage();
        }

        var actor = Actor("api_key.created", merchant);
        IssuedKey? issued = null;
        var result = await ConsoleActions.RunAsync(store, merchant, Key, "api_key.create", time, async idem =>
        {
            issued = await merchants.CreateKeyAsync(merchant, ct, async (c, t, k) =>
            {
                await idem.CompleteAsync(c, t, ApiResult.Created(new ApiKeyDto(k.Id, "api_key", k.MerchantId, k.Prefix, null)));
                await ConsoleStore.AuditAsync(c, t, actor with { Target = k.Id }, time.GetUtcNow().ToUnixTimeMilliseconds());
            });
            return issued is null ? Failure.NotFound("merchant") : Outcome.Ok(issued);
        }, ct);
        if (result.Repeated)
        {
            return LocalRedirect(DoneUrl("repeat"));
        }

        if (result.Outcome.Failure is { } failure)
        {
            await store.AuditAsync(actor with { Action = "api_key.refused", Detail = failure.Code }, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
            Problem = ProblemOf(failure);
        }
        else
        {
            Issued = issued;
        }

        Keys = await queries.KeysAsync(Me.Scope ?? MerchantId, ct);
        return Page();
    }

    private string DoneUrl(string done) => "/console/developers/keys?done=" + done + (MerchantQuery.Length > 0 ? "&" + MerchantQuery : string.Empty);
}
