using System.Globalization;
using System.Text;
using Dapper;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.Console;

/// <summary>The payments search's filters; each set one narrows the result (all are exact matches but the date range).</summary>
public sealed record PaymentFilter(
    string? MerchantOrderId = null, string? PaymentId = null, string? BuyerId = null, long? Amount = null, string? Status = null,
    string? Wallet = null, long? From = null, long? To = null);

public sealed record PaymentListRow(string Id, string MerchantId, string MerchantOrderId, long Amount, string Currency, string Status, string? Wallet, string? PayerId, long CreatedAt);

public sealed record PaymentPage(IReadOnlyList<PaymentListRow> Rows, string? Next);

public sealed record PaymentDetailRow(
    string Id, string MerchantId, string MerchantOrderId, long Amount, string Currency, string Status, string Description, string? Wallet,
    string? PayerId, string? WalletTransactionId, string? FailureCode, string? FailureMessage, long ExpiresAt, long CreatedAt, long UpdatedAt, long? SucceededAt);

/// <summary>One line of a payment's timeline: when, what kind (attempt, notification, refund, split, ledger, event, delivery), what and how it ended.</summary>
public sealed record TimelineItem(long At, string Kind, string What, string? Outcome, string? Ref = null);

public sealed record LedgerLineRow(string EntryId, string Kind, string Reference, long CreatedAt, string Account, string Currency, long Amount);

public sealed record EventRow(string Id, string Type, long CreatedAt, long? DispatchedAt);

public sealed record PaymentTimeline(PaymentDetailRow Payment, IReadOnlyList<TimelineItem> Items, IReadOnlyList<LedgerLineRow> Ledger, IReadOnlyList<EventRow> Events, long Refunded);

/// <summary>
/// The console's reads over the payment tables (written by their own features): the search, with keyset pages on
/// (created_at, id) over ix_payments_merchant_created / ix_payments_created, and a payment's whole timeline. Every
/// query is scoped to the merchant (<c>scope</c>), or hub-wide for operators (null).
/// </summary>
public sealed class ConsolePaymentQueries(Db db)
{
    public const int PageSize = 50;

    public async Task<PaymentPage> SearchAsync(string? scope, PaymentFilter f, string? after, CancellationToken ct)
    {
        // Only the filters given appear in the SQL, so each plan can use the index that fits (a catch-all
        // "@x IS NULL OR col = @x" hides the predicates from the planner).
        var sql = new StringBuilder("SELECT id, merchant_id, merchant_order_id, amount, currency, status, wallet, payer_id, created_at FROM payments WHERE 1 = 1");
        var p = new DynamicParameters();
        void Add(string clause, string name, object value)
        {
            sql.Append(" AND ").Append(clause);
            p.Add(name, value);
        }

        if (scope is not null) Add("merchant_id = @scope", "scope", scope);
        if (f.MerchantOrderId is { Length: > 0 } order) Add("merchant_order_id = @order", "order", order);
        if (f.PaymentId is { Length: > 0 } id) Add("id = @id", "id", id);
        if (f.BuyerId is { Length: > 0 } buyer) Add("payer_id = @buyer", "buyer", buyer);
        if (f.Amount is { } amount) Add("amount = @amount", "amount", amount);
        if (f.Status is { Length: > 0 } status) Add("status = @status", "status", status);
        if (f.Wallet is { Length: > 0 } wallet) Add("wallet = @wallet", "wallet", wallet);
        if (f.From is { } from) Add("created_at >= @from", "from", from);
        if (f.To is { } to) Add("created_at < @to", "to", to);
        if (Cursor(after) is var (afterAt, afterId))
        {
            sql.Append(" AND (created_at < @afterAt OR (created_at = @afterAt AND id < @afterId))");
            p.Add("afterAt", afterAt);
            p.Add("afterId", afterId);
        }

        sql.Append(" ORDER BY created_at DESC, id DESC LIMIT ").Append(PageSize + 1);
        var rows = await db.ReadReplicaAsync(async c => (await c.QueryAsync<PaymentListRow>(sql.ToString(), p)).AsList(), ct);
        var next = rows.Count > PageSize ? $"{rows[PageSize - 1].CreatedAt.ToString(CultureInfo.InvariantCulture)}.{rows[PageSize - 1].Id}" : null;
        return new PaymentPage(rows.Take(PageSize).ToList(), next);
    }

    /// <summary>"(@in0, @in1, …)" with its parameters: the same SQL on both stores (Dapper sends a list to PostgreSQL as one array parameter).</summary>
    private static string In(IReadOnlyList<string> values, out DynamicParameters p)
    {
        p = new DynamicParameters();
        for (var i = 0; i < values.Count; i++)
        {
            p.Add($"in{i}", values[i]);
        }

        return "(" + string.Join(", ", values.Select((_, i) => $"@in{i}")) + ")";
    }

    private static DynamicParameters With(DynamicParameters p, string name, object value)
    {
        p.Add(name, value);
        return p;
    }

    private static (long, string)? Cursor(string? after)
    {
        var dot = after?.IndexOf('.', StringComparison.Ordinal) ?? -1;
        return dot > 0 && long.TryParse(after![..dot], NumberStyles.None, CultureInfo.InvariantCulture, out var at) && after.Length - dot - 1 is > 0 and < 100
            ? (at, after[(dot + 1)..])
            : null;
    }

    /// <summary>A payment and everything that happened to it, read from the tables that record it; null when it is not in <paramref name="scope"/>.</summary>
    public Task<PaymentTimeline?> TimelineAsync(string? scope, string paymentId, CancellationToken ct) => db.ReadAsync<PaymentTimeline?>(async c =>
    {
        var payment = await c.QueryFirstOrDefaultAsync<PaymentDetailRow>(
            """
            SELECT id, merchant_id, merchant_order_id, amount, currency, status, description, wallet, payer_id, wallet_transaction_id,
                   failure_code, failure_message, expires_at, created_at, updated_at, succeeded_at
            FROM payments WHERE id = @paymentId AND (@scope IS NULL OR merchant_id = @scope)
            """, new { paymentId, scope });
        if (payment is null)
        {
            return null;
        }

        var items = new List<TimelineItem> { new(payment.CreatedAt, "created", payment.MerchantOrderId, null) };
        var attempts = (await c.QueryAsync<(string Id, string Wallet, string OutTradeNo, string Status, string? ErrorCode, string? ErrorMessage, long Checks, long CreatedAt, long UpdatedAt)>(
            "SELECT id, wallet, out_trade_no, status, error_code, error_message, CAST(checks AS BIGINT) AS checks, created_at, updated_at FROM payment_attempts WHERE payment_id = @paymentId ORDER BY created_at, id",
            new { paymentId })).AsList();
        foreach (var a in attempts)
        {
            items.Add(new(a.CreatedAt, "attempt", $"{a.Wallet} · {a.OutTradeNo}", a.Status + (a.ErrorCode is null ? string.Empty : $" ({a.ErrorCode}: {a.ErrorMessage})")
                + (a.Checks > 0 ? $" · {a.Checks} queries" : string.Empty), a.Id));
        }

        var outTradeNos = attempts.Select(a => a.OutTradeNo).ToArray();
        if (outTradeNos.Length > 0)
        {
            foreach (var n in await c.QueryAsync<(string Id, string Wallet, string? EventType, long ReceivedAt, long? ProcessedAt)>(
                $"SELECT id, wallet, event_type, received_at, processed_at FROM wallet_notifications WHERE out_trade_no IN {In(outTradeNos, out var tradeNos)} ORDER BY received_at",
                tradeNos))
            {
                items.Add(new(n.ReceivedAt, "notification", $"{n.Wallet} · {n.EventType ?? "-"}", n.ProcessedAt is null ? "unprocessed" : "processed", n.Id));
            }
        }

        var refunds = (await c.QueryAsync<(string Id, long Amount, string Currency, string Status, string Reason, string InitiatedBy, string? ErrorCode, long CreatedAt)>(
            "SELECT id, amount, currency, status, reason, initiated_by, error_code, created_at FROM refunds WHERE payment_id = @paymentId ORDER BY created_at, id",
            new { paymentId })).AsList();
        foreach (var r in refunds)
        {
            items.Add(new(r.CreatedAt, "refund", $"{ConsoleFormat.Money(r.Amount, r.Currency)} · {r.Reason} ({r.InitiatedBy})", r.Status + (r.ErrorCode is null ? string.Empty : $" ({r.ErrorCode})"), r.Id));
        }

        var splits = (await c.QueryAsync<(string Id, long Amount, string Currency, string Status, string InitiatedBy, long CreatedAt)>(
            "SELECT id, amount, currency, status, initiated_by, created_at FROM splits WHERE payment_id = @paymentId ORDER BY created_at, id",
            new { paymentId })).AsList();
        foreach (var s in splits)
        {
            items.Add(new(s.CreatedAt, "split", $"{ConsoleFormat.Money(s.Amount, s.Currency)} ({s.InitiatedBy})", s.Status, s.Id));
        }

        string[] references = [paymentId, .. attempts.Select(a => a.Id), .. refunds.Select(r => r.Id), .. splits.Select(s => s.Id)];
        var ledger = (await c.QueryAsync<LedgerLineRow>(
            $"""
            SELECT e.id AS entry_id, e.kind, e.reference, e.created_at, l.account, l.currency, l.amount
            FROM ledger_entries e JOIN ledger_lines l ON l.entry_id = e.id WHERE e.reference IN {In(references, out var refs)} ORDER BY e.seq, l.id
            """, refs)).AsList();
        foreach (var entry in ledger.GroupBy(l => l.EntryId))
        {
            items.Add(new(entry.First().CreatedAt, "ledger", entry.First().Kind, string.Join(", ", entry.Select(l => $"{l.Account} {l.Amount:+#;-#;0}")), entry.Key));
        }

        string[] objects = [paymentId, .. refunds.Select(r => r.Id), .. splits.Select(s => s.Id)];
        var events = (await c.QueryAsync<EventRow>(
            $"SELECT id, type, created_at, dispatched_at FROM outbox WHERE merchant_id = @merchantId AND object_id IN {In(objects, out var objs)} ORDER BY seq",
            With(objs, "merchantId", payment.MerchantId))).AsList();
        foreach (var e in events)
        {
            items.Add(new(e.CreatedAt, "event", e.Type, e.DispatchedAt is null ? "queued" : "dispatched", e.Id));
        }

        var eventIds = events.Select(e => e.Id).ToArray();
        if (eventIds.Length > 0)
        {
            foreach (var a in await c.QueryAsync<(string EventId, string EndpointId, long Round, long Attempt, long? StatusCode, string? Error, long LatencyMs, long AttemptedAt)>(
                $"SELECT event_id, endpoint_id, CAST(round AS BIGINT), CAST(attempt AS BIGINT), CAST(status_code AS BIGINT), error, latency_ms, attempted_at FROM webhook_delivery_attempts WHERE event_id IN {In(eventIds, out var evs)} ORDER BY id",
                evs))
            {
                items.Add(new(a.AttemptedAt, "delivery", $"{a.EventId} → {a.EndpointId} (#{a.Round}.{a.Attempt})",
                    (a.StatusCode?.ToString(CultureInfo.InvariantCulture) ?? a.Error ?? "-") + $" · {a.LatencyMs} ms", a.EventId));
            }
        }

        var refunded = await c.ExecuteScalarAsync<long>(
            "SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE payment_id = @paymentId AND status <> 'failed'", new { paymentId });
        return new PaymentTimeline(payment, items.OrderBy(i => i.At).ToList(), ledger, events, refunded);
    }, ct);
}
