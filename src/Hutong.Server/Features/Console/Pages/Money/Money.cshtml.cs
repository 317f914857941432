using Hutong.Server.Features.Disputes;
using Hutong.Server.Features.Payouts;
using Microsoft.AspNetCore.Mvc;

namespace Hutong.Server.Features.Console.Pages;

/// <summary>
/// Money: the ledger's balances (a merchant's own accounts; every account for an operator), and for one merchant its
/// newest payouts and disputes through PayoutService.ListAsync and DisputeService.ListAsync, the API's reads.
/// </summary>
[Requires(ConsolePermission.MoneyRead)]
public sealed class MoneyModel(ConsoleOpsQueries queries, PayoutService payouts, DisputeService disputes) : ConsoleOpsPageModel
{
    public override string Title => L.T("资金", "Money");

    public IReadOnlyList<BalanceRow> Balances { get; private set; } = [];

    public IReadOnlyList<PayoutDto> Payouts { get; private set; } = [];

    public IReadOnlyList<DisputeDto> Disputes { get; private set; } = [];

    public async Task<IActionResult> OnGetAsync(CancellationToken ct)
    {
        if (MerchantId is { } merchant && !await queries.MerchantExistsAsync(merchant, ct))
        {
            return NotFoundPage();
        }

        Balances = await queries.BalancesAsync(MerchantId, ct);
        if (MerchantId is { } m)
        {
            var p = await payouts.ListAsync(m, 100, null, ct);
            Payouts = p.Value?.Data ?? [];
            var d = await disputes.ListAsync(m, 100, null, null, null, null, ct);
            Disputes = d.Value?.Data ?? [];
        }

        return Page();
    }
}
