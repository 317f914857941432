using Microsoft.AspNetCore.Mvc;

namespace Hutong.Server.Features.Console.Pages;

/// <summary>The ledger's entries with their lines, newest first, 50 a page by keyset on seq (?before=).</summary>
[Requires(ConsolePermission.MoneyRead)]
public sealed class LedgerModel(ConsoleOpsQueries queries) : ConsoleOpsPageModel
{
    public override string Title => L.T("账本分录", "Ledger entries");

    [BindProperty(SupportsGet = true)]
    public long? Before { get; set; }

    public LedgerPage? Result { get; private set; }

    public async Task OnGetAsync(CancellationToken ct) => Result = await queries.LedgerAsync(MerchantId, Before, ct);
}
