using Microsoft.AspNetCore.Mvc;

namespace Hutong.Server.Features.Console.Pages;

/// <summary>
/// Charts where people would rather look than read: paid volume per wallet per day, the success rate per wallet, the
/// checkout funnel as far as the hub records it, refunds per day. Server-drawn SVG (ConsoleCharts) with the same rows
/// in tables; one merchant's payments, or every merchant's (or one named) for an operator.
/// </summary>
[Requires(ConsolePermission.PaymentsRead)]
public sealed class ChartsModel(ConsoleOpsQueries queries, TimeProvider time) : ConsoleOpsPageModel
{
    public override string Title => L.T("图表", "Charts");

    [BindProperty(SupportsGet = true)]
    public int Days { get; set; } = 14;

    public string FromDay { get; private set; } = string.Empty;

    public IReadOnlyList<WalletDayRow> WalletDays { get; private set; } = [];

    public IReadOnlyList<ChartBar> Rates { get; private set; } = [];

    public IReadOnlyList<ChartBar> FunnelBars { get; private set; } = [];

    public IReadOnlyList<RefundDayRow> Refunds { get; private set; } = [];

    public async Task OnGetAsync(CancellationToken ct)
    {
        Days = Days is 7 or 14 or 30 or 90 ? Days : 14;
        var today = DateOnly.FromDateTime(time.GetUtcNow().ToOffset(ConsoleFormat.ChinaOffset).DateTime);
        var fromDay = today.AddDays(1 - Days);
        FromDay = fromDay.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var from = ConsoleFormat.DayStart(FromDay)!.Value;
        var scope = MerchantId;
        WalletDays = await queries.WalletDaysAsync(scope, from, ct);
        Rates = WalletDays.Where(r => r.Wallet.Length > 0).GroupBy(r => r.Wallet).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new ChartBar(L.WalletName(g.Key), g.Sum(r => r.Paid) * 10_000 / Math.Max(1, g.Sum(r => r.Payments)), g.Key)).ToList();
        var funnel = await queries.FunnelAsync(scope, from, ct);
        FunnelBars =
        [
            new ChartBar(L.T("创建订单", "Order made"), funnel.Created),
            new ChartBar(L.T("打开收银台", "Cashier opened"), funnel.CashierOpened),
            new ChartBar(L.T("选择钱包", "Wallet chosen"), funnel.WalletChosen),
            new ChartBar(L.T("支付成功", "Paid"), funnel.Paid),
        ];
        Refunds = await queries.RefundDaysAsync(scope, from, ct);
    }
}
