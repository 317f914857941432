using Microsoft.AspNetCore.Mvc;

namespace Hutong.Server.Features.Console.Pages;

/// <summary>The payments search: exact filters and a date range (China time), 50 a page by keyset on (created_at, id).</summary>
[Requires(ConsolePermission.PaymentsRead)]
public sealed class PaymentsModel(ConsolePaymentQueries queries) : ConsolePageModel
{
    public static readonly string[] Statuses = ["created", "pending", "unknown", "succeeded", "failed", "canceled", "expired"];

    public sealed class SearchQuery
    {
        public string? Order { get; set; }
        public string? Payment { get; set; }
        public string? Buyer { get; set; }
        public string? Amount { get; set; }
        public string? Status { get; set; }
        public string? Wallet { get; set; }
        public string? From { get; set; }
        public string? To { get; set; }
        public string? After { get; set; }
    }

    public override string Title => L.T("支付", "Payments");

    [BindProperty(SupportsGet = true, Name = "")]
    public SearchQuery Query { get; set; } = new();

    public PaymentPage Result { get; private set; } = new([], null);

    public async Task OnGetAsync(CancellationToken ct)
    {
        var amount = ConsoleFormat.Fen(Query.Amount);
        if (Query.Amount is { Length: > 0 } && amount is null)
        {
            Problem = new ConsoleProblem(400, "validation_error", L.T("金额格式不对", "The amount is not valid"), L.T("例如 12.50", "For example 12.50"));
            return;
        }

        var filter = new PaymentFilter(Trim(Query.Order), Trim(Query.Payment), Trim(Query.Buyer), amount,
            Statuses.Contains(Query.Status) ? Query.Status : null, Trim(Query.Wallet),
            ConsoleFormat.DayStart(Query.From), ConsoleFormat.DayStart(Query.To) is { } to ? to + 86_400_000 : null);
        Result = await queries.SearchAsync(Me.Scope, filter, Query.After, ct);
    }

    public string NextUrl(string next)
    {
        var q = Request.Query.Where(kv => kv.Key != "after").Select(kv => $"{Uri.EscapeDataString(kv.Key)}={Uri.EscapeDataString(kv.Value.ToString())}");
        return "/console/payments?" + string.Join('&', q.Append("after=" + Uri.EscapeDataString(next)));
    }

    private static string? Trim(string? s) => s is { Length: > 0 and <= 200 } ? s.Trim() : null;
}
