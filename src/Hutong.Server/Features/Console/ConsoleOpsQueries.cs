using System.Globalization;
using Dapper;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.Console;

public sealed record BalanceRow(string Account, string Currency, long Balance);

public sealed record LedgerEntryRow(long Seq, string Id, string Kind, string Reference, string? MerchantId, long CreatedAt);

public sealed record LedgerEntryLine(string EntryId, string Account, string Currency, long Amount);

public sealed record LedgerPage(IReadOnlyList<LedgerEntryRow> Entries, ILookup<string, LedgerEntryLine> Lines, long? Next);

/// <summary>A share code as the links page lists it: its link's short code, and how often it was pasted and resolved.</summary>
public sealed class ShareCodeListRow
{
    public string Id { get; set; } = string.Empty;
    public string MerchantId { get; set; } = string.Empty;
    public string Code { get; set; } = string.Empty;
    public string Text { get; set; } = string.Empty;
    public string LinkId { get; set; } = string.Empty;
    public string LinkCode { get; set; } = string.Empty;
    public string Status { get; set; } = string.Empty;
    public long ExpiresAt { get; set; }
    public long Resolves { get; set; }
    public long CreatedAt { get; set; }
}

public sealed record ApiKeyRow(string Id, string MerchantId, string Prefix, long CreatedAt, long? RevokedAt);

/// <summary>One day (China time) and wallet of the payments chart: how many were made, how many paid, and the paid amount.</summary>
public sealed record WalletDayRow(string Day, string Wallet, long Payments, long Paid, long Volume);

/// <summary>
/// The checkout funnel the hub records: orders made, the hosted cashier opened (payments.cashier_opened_at), a wallet
/// chosen (a confirmation reached a wallet), paid.
/// </summary>
public sealed class FunnelRow
{
    public long Created { get; set; }
    public long CashierOpened { get; set; }
    public long WalletChosen { get; set; }
    public long Paid { get; set; }
}

public sealed record RefundDayRow(string Day, long Refunds, long Succeeded, long Amount);

/// <summary>A link's clicks on one platform (platform "" when it has none yet).</summary>
public sealed class LinkClicksRow
{
    public string Id { get; set; } = string.Empty;
    public string MerchantId { get; set; } = string.Empty;
    public string Code { get; set; } = string.Empty;
    public string Title { get; set; } = string.Empty;
    public string Status { get; set; } = string.Empty;
    public long CreatedAt { get; set; }
    public string? Platform { get; set; }
    public long? Clicks { get; set; }
    public long ShareCodes { get; set; }
    public long Resolves { get; set; }
}

/// <summary>A bill day's runs summed (a class: SQLite types aggregate columns by value, which records' constructors cannot take).</summary>
public sealed class ReconciliationDayRow
{
    public string BillDate { get; set; } = string.Empty;
    public long Runs { get; set; }
    public long BillLines { get; set; }
    public long Matched { get; set; }
    public long Discrepancies { get; set; }
    public long Repaired { get; set; }
    public long Failed { get; set; }
}

/// <summary>
/// The console's reads for the money, developer and operations pages over tables their own features write (ledger,
/// api_keys, payments, refunds, reconciliation_runs, events): scoped to one merchant, or hub-wide (null) for operators.
/// Lists are keyset pages; the charts group by China day with integer arithmetic that both stores run the same way.
/// </summary>
public sealed class ConsoleOpsQueries(Db db)
{
    public const int PageSize = 50;
    private const long DayMs = 86_400_000;
    private static readonly long ChinaMs = (long)ConsoleFormat.ChinaOffset.TotalMilliseconds;

    /// <summary>Balances per account: a merchant's accounts end with ":merchant id" (Accounts.MerchantPayable and the rest).</summary>
    public async Task<IReadOnlyList<BalanceRow>> BalancesAsync(string? scope, CancellationToken ct) => scope is null
        ? (await db.ReadAsync(c => c.QueryAsync<BalanceRow>("SELECT account, currency, balance FROM ledger_balances_current ORDER BY account, currency LIMIT 1000"), ct)).AsList()
        : (await db.ReadAsync(c => c.QueryAsync<BalanceRow>(
            "SELECT account, currency, balance FROM ledger_balances_current WHERE account LIKE @p ESCAPE '!' ORDER BY account, currency",
            new { p = "%:" + LikeEscape(scope) }), ct)).AsList();

    /// <summary>Ledger entries newest first, <see cref="PageSize"/> a page by keyset on seq, each with its lines.</summary>
    public async Task<LedgerPage> LedgerAsync(string? scope, long? before, CancellationToken ct) => await db.ReadReplicaAsync(async c =>
    {
        var entries = (await c.QueryAsync<LedgerEntryRow>(
            "SELECT seq, id, kind, reference, merchant_id, created_at FROM ledger_entries WHERE " +
            (scope is null ? "1 = 1" : "merchant_id = @scope") + (before is null ? string.Empty : " AND seq < @before") +
            " ORDER BY seq DESC LIMIT " + (PageSize + 1).ToString(CultureInfo.InvariantCulture), new { scope, before })).AsList();
        var page = entries.Take(PageSize).ToList();
        // The page's entries are the scope's entries in a seq range: their lines by that range (no IN list, which Npgsql
        // and Dapper would send as one array parameter).
        var lines = page.Count == 0 ? [] : (await c.QueryAsync<LedgerEntryLine>(
            "SELECT l.entry_id, l.account, l.currency, l.amount FROM ledger_entries e JOIN ledger_lines l ON l.entry_id = e.id " +
            "WHERE e.seq BETWEEN @low AND @high" + (scope is null ? string.Empty : " AND e.merchant_id = @scope") + " ORDER BY l.id",
            new { low = page[^1].Seq, high = page[0].Seq, scope })).AsList();
        return new LedgerPage(page, lines.ToLookup(l => l.EntryId), entries.Count > PageSize ? page[^1].Seq : null);
    }, ct);

    public async Task<IReadOnlyList<ApiKeyRow>> KeysAsync(string? scope, CancellationToken ct) => (await db.ReadAsync(c => c.QueryAsync<ApiKeyRow>(
        "SELECT id, merchant_id, prefix, created_at, revoked_at FROM api_keys WHERE (@scope IS NULL OR merchant_id = @scope) " +
        "ORDER BY CASE WHEN revoked_at IS NULL THEN 0 ELSE 1 END, created_at DESC LIMIT 500", new { scope }), ct)).AsList();

    /// <summary>One key if it is the merchant's (or any, for operators): another merchant's key is not found.</summary>
    public Task<ApiKeyRow?> KeyAsync(string? scope, string id, CancellationToken ct) => db.ReadAsync(c => c.QueryFirstOrDefaultAsync<ApiKeyRow>(
        "SELECT id, merchant_id, prefix, created_at, revoked_at FROM api_keys WHERE id = @id AND (@scope IS NULL OR merchant_id = @scope)", new { id, scope }), ct);

    public Task<bool> MerchantExistsAsync(string id, CancellationToken ct) => db.ReadAsync(
        async c => await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM merchants WHERE id = @id", new { id }) > 0, ct);

    /// <summary>Payments per China day and wallet since <paramref name="from"/> (unix ms): made, paid, and the paid amount.</summary>
    public async Task<IReadOnlyList<WalletDayRow>> WalletDaysAsync(string? scope, long from, CancellationToken ct)
    {
        var rows = await db.ReadReplicaAsync(c => c.QueryAsync<(long Day, string Wallet, long Payments, long Paid, long Volume)>(
            $"""
            SELECT (created_at + {ChinaMs}) / {DayMs} AS day, COALESCE(wallet, '') AS wallet, COUNT(*) AS payments,
                   SUM(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END) AS paid, SUM(CASE WHEN status = 'succeeded' THEN amount ELSE 0 END) AS volume
            FROM payments WHERE created_at >= @from {(scope is null ? string.Empty : "AND merchant_id = @scope")}
            GROUP BY (created_at + {ChinaMs}) / {DayMs}, COALESCE(wallet, '') ORDER BY 1, 2
            """, new { scope, from }), ct);
        return rows.Select(r => new WalletDayRow(Day(r.Day), r.Wallet, r.Payments, r.Paid, r.Volume)).ToList();
    }

    public Task<FunnelRow> FunnelAsync(string? scope, long from, CancellationToken ct) => db.ReadReplicaAsync(c => c.QuerySingleAsync<FunnelRow>(
        $"""
        SELECT COUNT(*) AS created, COALESCE(SUM(CASE WHEN cashier_opened_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS cashier_opened,
               COALESCE(SUM(CASE WHEN wallet IS NOT NULL THEN 1 ELSE 0 END), 0) AS wallet_chosen,
               COALESCE(SUM(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END), 0) AS paid
        FROM payments WHERE created_at >= @from {(scope is null ? string.Empty : "AND merchant_id = @scope")}
        """, new { scope, from }), ct);

    public async Task<IReadOnlyList<RefundDayRow>> RefundDaysAsync(string? scope, long from, CancellationToken ct)
    {
        var rows = await db.ReadReplicaAsync(c => c.QueryAsync<(long Day, long Refunds, long Succeeded, long Amount)>(
            $"""
            SELECT (created_at + {ChinaMs}) / {DayMs} AS day, COUNT(*) AS refunds, SUM(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END) AS succeeded,
                   SUM(CASE WHEN status = 'succeeded' THEN amount ELSE 0 END) AS amount
            FROM refunds WHERE created_at >= @from {(scope is null ? string.Empty : "AND merchant_id = @scope")}
            GROUP BY (created_at + {ChinaMs}) / {DayMs} ORDER BY 1
            """, new { scope, from }), ct);
        return rows.Select(r => new RefundDayRow(Day(r.Day), r.Refunds, r.Succeeded, r.Amount)).ToList();
    }

    /// <summary>Reconciliation runs per bill day (hub-wide: a channel's bill is the hub's), newest first.</summary>
    public async Task<IReadOnlyList<ReconciliationDayRow>> ReconciliationDaysAsync(int days, CancellationToken ct) => (await db.ReadAsync(c => c.QueryAsync<ReconciliationDayRow>(
        """
        SELECT bill_date, COUNT(*) AS runs, SUM(bill_lines) AS bill_lines, SUM(matched) AS matched, SUM(discrepancies) AS discrepancies,
               SUM(repaired) AS repaired, SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed
        FROM reconciliation_runs GROUP BY bill_date ORDER BY bill_date DESC LIMIT @days
        """, new { days }), ct)).AsList();

    /// <summary>The newest 50 links with their clicks per platform (link_clicks, counted by ClickCounter) and share codes.</summary>
    public async Task<IReadOnlyList<LinkClicksRow>> LinksAsync(string? scope, CancellationToken ct) => (await db.ReadAsync(c => c.QueryAsync<LinkClicksRow>(
        """
        SELECT l.id, l.merchant_id, l.code, l.title, l.status, l.created_at, k.platform, k.clicks,
               (SELECT COUNT(*) FROM share_codes s WHERE s.link_id = l.id) AS share_codes,
               (SELECT COALESCE(SUM(s.resolves), 0) FROM share_codes s WHERE s.link_id = l.id) AS resolves
        FROM (SELECT * FROM links WHERE (@scope IS NULL OR merchant_id = @scope) ORDER BY created_at DESC, id DESC LIMIT 50) l
        LEFT JOIN link_clicks k ON k.link_id = l.id
        ORDER BY l.created_at DESC, l.id DESC, k.platform
        """, new { scope }), ct)).AsList();

    /// <summary>The merchant a dispute belongs to if it is in scope (any, for operators): another merchant's dispute is not found.</summary>
    public Task<string?> DisputeMerchantAsync(string? scope, string id, CancellationToken ct) => db.ReadAsync(c => c.QueryFirstOrDefaultAsync<string?>(
        "SELECT merchant_id FROM disputes WHERE id = @id AND (@scope IS NULL OR merchant_id = @scope)", new { id, scope }), ct);

    /// <summary>The newest 100 share codes in scope with their links' short codes.</summary>
    public async Task<IReadOnlyList<ShareCodeListRow>> ShareCodesAsync(string? scope, CancellationToken ct) => (await db.ReadAsync(c => c.QueryAsync<ShareCodeListRow>(
        """
        SELECT s.id, s.merchant_id, s.code, s.text, s.link_id, l.code AS link_code, s.status, s.expires_at, s.resolves, s.created_at
        FROM share_codes s JOIN links l ON l.id = s.link_id
        WHERE (@scope IS NULL OR s.merchant_id = @scope) ORDER BY s.created_at DESC, s.id DESC LIMIT 100
        """, new { scope }), ct)).AsList();

    /// <summary>A share code if it is in scope (any, for operators): another merchant's code is not found.</summary>
    public Task<ShareCodeListRow?> ShareCodeAsync(string? scope, string id, CancellationToken ct) => db.ReadAsync(c => c.QueryFirstOrDefaultAsync<ShareCodeListRow>(
        """
        SELECT s.id, s.merchant_id, s.code, s.text, s.link_id, l.code AS link_code, s.status, s.expires_at, s.resolves, s.created_at
        FROM share_codes s JOIN links l ON l.id = s.link_id WHERE s.id = @id AND (@scope IS NULL OR s.merchant_id = @scope)
        """, new { id, scope }), ct);

    /// <summary>The merchant a link belongs to if it is in scope (any, for operators).</summary>
    public Task<string?> LinkMerchantAsync(string? scope, string id, CancellationToken ct) => db.ReadAsync(c => c.QueryFirstOrDefaultAsync<string?>(
        "SELECT merchant_id FROM links WHERE id = @id AND (@scope IS NULL OR merchant_id = @scope)", new { id, scope }), ct);

    /// <summary>The merchant a host contract belongs to if it is in scope (any, for operators).</summary>
    public Task<string?> HostContractMerchantAsync(string? scope, string id, CancellationToken ct) => db.ReadAsync(c => c.QueryFirstOrDefaultAsync<string?>(
        "SELECT merchant_id FROM host_contracts WHERE id = @id AND (@scope IS NULL OR merchant_id = @scope)", new { id, scope }), ct);

    public static string Day(long dayNumber) =>
        DateOnly.FromDayNumber((int)(dayNumber + DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private static string LikeEscape(string s) => s.Replace("!", "!!", StringComparison.Ordinal).Replace("%", "!%", StringComparison.Ordinal).Replace("_", "!_", StringComparison.Ordinal);
}
