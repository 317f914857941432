using System.Data.Common;
using Dapper;
using Hutong.Domain;
using Hutong.Server.Features.Workers;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.ProfitSharing;

public sealed class SplitReceiverRow
{
    public string Id { get; set; } = string.Empty;

    public string MerchantId { get; set; } = string.Empty;

    public string Wallet { get; set; } = string.Empty;

    public string Role { get; set; } = string.Empty;

    public string Type { get; set; } = string.Empty;

    public string Account { get; set; } = string.Empty;

    public string? Name { get; set; }

    public string? HostId { get; set; }

    /// <summary>What it owes the merchant back that no netting has taken yet (0033).</summary>
    public long ClawbackOutstanding { get; set; }

    public long CreatedAt { get; set; }
}

public sealed class SplitRow
{
    public string Id { get; set; } = string.Empty;

    public string MerchantId { get; set; } = string.Empty;

    public string PaymentId { get; set; } = string.Empty;

    public string AttemptId { get; set; } = string.Empty;

    public string OutOrderNo { get; set; } = string.Empty;

    /// <summary>rules (the payment's own, split automatically) or api (POST /v1/payments/{id}/splits).</summary>
    public string InitiatedBy { get; set; } = string.Empty;

    public string Rules { get; set; } = "[]";

    public int Final { get; set; }

    /// <summary>scheduled (rules waiting for the wallet's delay) → pending → processing/unknown → succeeded/failed.</summary>
    public string Status { get; set; } = string.Empty;

    public long Amount { get; set; }

    public string Currency { get; set; } = string.Empty;

    public string? WalletOrderId { get; set; }

    public string? ErrorCode { get; set; }

    public string? ErrorMessage { get; set; }

    public int Checks { get; set; }

    /// <summary>When a hub first claimed it to make its wallet call (0017); set when read: queried before any send.</summary>
    public long? SentAt { get; set; }

    public long? NextCheckAt { get; set; }

    public long CreatedAt { get; set; }

    public long UpdatedAt { get; set; }
}

public sealed class SplitLineRow
{
    public string SplitId { get; set; } = string.Empty;

    public string ReceiverId { get; set; } = string.Empty;

    public long Amount { get; set; }

    public string Result { get; set; } = string.Empty;

    public long Returned { get; set; }

    public string? FailReason { get; set; }

    /// <summary>The part of the share kept to settle the receiver's clawback: the wallet is sent amount − clawback_offset (0033).</summary>
    public long ClawbackOffset { get; set; }

    // Joined from split_receivers.
    public string Type { get; set; } = string.Empty;

    public string Account { get; set; } = string.Empty;

    public string? Name { get; set; }

    public string Role { get; set; } = string.Empty;
}

public sealed class SplitReturnRow
{
    public string Id { get; set; } = string.Empty;

    public string MerchantId { get; set; } = string.Empty;

    public string PaymentId { get; set; } = string.Empty;

    public string RefundId { get; set; } = string.Empty;

    public string SplitId { get; set; } = string.Empty;

    public string ReceiverId { get; set; } = string.Empty;

    public string OutReturnNo { get; set; } = string.Empty;

    public long Amount { get; set; }

    /// <summary>return_order (WeChat, merchant receivers), with_refund (Alipay) or clawback (the wallet cannot take it back).</summary>
    public string Mode { get; set; } = string.Empty;

    public string Status { get; set; } = string.Empty;

    public string? ErrorCode { get; set; }

    public int Checks { get; set; }

    /// <summary>When a hub first claimed it to make its wallet call (0017); set when read: queried before any send.</summary>
    public long? SentAt { get; set; }

    public long? NextCheckAt { get; set; }

    public long CreatedAt { get; set; }

    public long UpdatedAt { get; set; }
}

/// <summary>SQL for receivers, splits, their lines and returns. Merchant-facing reads take the merchant id.</summary>
public sealed class SplitStore(Db db, IOptions<HubOptions> options, TimeProvider time)
{
    /// <summary>This hub's claims on the splits and split returns it follows (several hubs may share the database).</summary>
    public FollowUpLeases Leases { get; } = new(db, options.Value.Workers, time);

    public const string ReceiverPrefix = Ids.SplitReceiver;
    public const string SplitPrefix = "spl";
    public const string ReturnPrefix = "sret";

    private const string SelectLines =
        "SELECT l.*, r.type, r.account, r.name, r.role FROM split_lines l JOIN split_receivers r ON r.id = l.receiver_id ";

    public Task<SplitReceiverRow?> GetReceiverAsync(string merchantId, string id, CancellationToken ct) =>
        db.ReadAsync(c => c.QuerySingleOrDefaultAsync<SplitReceiverRow?>("SELECT * FROM split_receivers WHERE id = @id AND merchant_id = @merchantId", new { id, merchantId }), ct);

    /// <summary>The merchant's receivers: all of them, or those with the given ids.</summary>
    public async Task<IReadOnlyList<SplitReceiverRow>> ReceiversAsync(string merchantId, IEnumerable<string>? ids, CancellationToken ct)
    {
        var list = ids?.Distinct(StringComparer.Ordinal).ToArray();
        var sql = list is null
            ? "SELECT * FROM split_receivers WHERE merchant_id = @merchantId ORDER BY id"
            : "SELECT * FROM split_receivers WHERE merchant_id = @merchantId AND " + (db.IsPostgres ? "id = ANY(@list)" : "id IN @list"); // Dapper expands the list for SQLite; PostgreSQL takes an array
        return (await db.ReadAsync(c => c.QueryAsync<SplitReceiverRow>(sql, new { merchantId, list }), ct)).ToList();
    }

    /// <summary>A page of the merchant's receivers, newest first (ids are UUIDv7: time-ordered), and whether more follow.</summary>
    public async Task<(IReadOnlyList<SplitReceiverRow> Rows, bool HasMore)> ReceiversPageAsync(string merchantId, int limit, string? startingAfter, CancellationToken ct, bool owingOnly = false)
    {
        var sql = "SELECT * FROM split_receivers WHERE merchant_id = @merchantId"
            + (owingOnly ? " AND clawback_outstanding > 0" : string.Empty)
            + (startingAfter is null ? string.Empty : " AND id < @startingAfter")
            + " ORDER BY id DESC LIMIT @take";
        var rows = (await db.ReadAsync(c => c.QueryAsync<SplitReceiverRow>(sql, new { merchantId, startingAfter, take = limit + 1 }), ct)).ToList();
        var hasMore = rows.Count > limit;
        return (hasMore ? rows.Take(limit).ToList() : rows, hasMore);
    }

    public async Task<SplitReceiverRow> InsertReceiverAsync(SplitReceiverRow row, CancellationToken ct)
    {
        await db.WriteAsync((c, t) => c.ExecuteAsync(
            """
            INSERT INTO split_receivers (id, merchant_id, wallet, role, type, account, name, host_id, created_at)
            VALUES (@Id, @MerchantId, @Wallet, @Role, @Type, @Account, @Name, @HostId, @CreatedAt)
            ON CONFLICT (merchant_id, wallet, type, account) DO NOTHING
            """, row, t), ct);
        return await db.ReadAsync(c => c.QuerySingleAsync<SplitReceiverRow>(
            "SELECT * FROM split_receivers WHERE merchant_id = @MerchantId AND wallet = @Wallet AND type = @Type AND account = @Account", row), ct);
    }

    /// <summary>Whether a host receiver's host_id names one of the merchant's own hosts (read here; Hosts owns the table).</summary>
    public async Task<bool> IsMerchantsHostAsync(string merchantId, string hostId, CancellationToken ct) =>
        await db.ReadAsync(c => c.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM hosts WHERE id = @hostId AND merchant_id = @merchantId", new { hostId, merchantId }), ct) > 0;

    public Task<string?> AccountOfAsync(DbConnection c, string receiverId) =>
        c.ExecuteScalarAsync<string>("SELECT account FROM split_receivers WHERE id = @receiverId", new { receiverId });

    public Task<bool> IsBoundAsync(string receiverId, string channel, CancellationToken ct) =>
        db.ReadAsync(async c => await c.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM split_receiver_bindings WHERE receiver_id = @receiverId AND channel = @channel", new { receiverId, channel }) > 0, ct);

    public Task BindAsync(string receiverId, string channel, long now, CancellationToken ct) =>
        db.WriteAsync((c, t) => c.ExecuteAsync(
            "INSERT INTO split_receiver_bindings (receiver_id, channel, bound_at) VALUES (@receiverId, @channel, @now) ON CONFLICT DO NOTHING",
            new { receiverId, channel, now }, t), ct);

    public Task InsertSplitAsync(DbConnection c, DbTransaction t, SplitRow s) => c.ExecuteAsync(
        """
        INSERT INTO splits (id, merchant_id, payment_id, attempt_id, out_order_no, initiated_by, rules, final, status, amount, currency,
                            checks, next_check_at, created_at, updated_at)
        VALUES (@Id, @MerchantId, @PaymentId, @AttemptId, @OutOrderNo, @InitiatedBy, @Rules, @Final, @Status, @Amount, @Currency,
                0, @NextCheckAt, @CreatedAt, @UpdatedAt)
        ON CONFLICT DO NOTHING
        """, s, t);

    public Task InsertLineAsync(DbConnection c, DbTransaction t, string splitId, string receiverId, long amount, long clawbackOffset = 0) => c.ExecuteAsync(
        "INSERT INTO split_lines (split_id, receiver_id, amount, result, returned, clawback_offset) VALUES (@splitId, @receiverId, @amount, 'pending', 0, @clawbackOffset)",
        new { splitId, receiverId, amount, clawbackOffset }, t);

    /// <summary>What the receiver owes back that no netting has taken yet, as of this transaction.</summary>
    public Task<long> ClawbackOutstandingAsync(DbConnection c, DbTransaction t, string receiverId) => c.ExecuteScalarAsync<long>(
        "SELECT clawback_outstanding FROM split_receivers WHERE id = @receiverId", new { receiverId }, t);

    /// <summary>
    /// Takes <paramref name="amount"/> of the receiver's clawback only if it still stands at <paramref name="read"/>: two hubs
    /// netting the same clawback cannot both take it (the second finds the value moved, re-reads and decides again).
    /// </summary>
    public async Task<bool> TakeClawbackAsync(DbConnection c, DbTransaction t, string receiverId, long amount, long read) => await c.ExecuteAsync(
        "UPDATE split_receivers SET clawback_outstanding = clawback_outstanding - @amount WHERE id = @receiverId AND clawback_outstanding = @read AND @amount <= @read",
        new { receiverId, amount, read }, t) == 1;

    /// <summary>A clawback recorded, or a netting given back (its split line or payout failed).</summary>
    public Task AddClawbackAsync(DbConnection c, DbTransaction t, string receiverId, long amount) => c.ExecuteAsync(
        "UPDATE split_receivers SET clawback_outstanding = clawback_outstanding + @amount WHERE id = @receiverId", new { receiverId, amount }, t);

    /// <summary>Clears a line's netting once (conditional on the offset read): true when this call cleared it and must give it back.</summary>
    public async Task<bool> ClearLineOffsetAsync(DbConnection c, DbTransaction t, string splitId, string receiverId, long read) => read > 0 && await c.ExecuteAsync(
        "UPDATE split_lines SET clawback_offset = 0 WHERE split_id = @splitId AND receiver_id = @receiverId AND clawback_offset = @read",
        new { splitId, receiverId, read }, t) == 1;

    /// <summary>The merchant's receivers at <paramref name="wallet"/> known by <paramref name="account"/> that owe a clawback (a payout's payee).</summary>
    public async Task<IReadOnlyList<SplitReceiverRow>> OwingPayeesAsync(DbConnection c, DbTransaction t, string merchantId, string wallet, string account) =>
        (await c.QueryAsync<SplitReceiverRow>(
            "SELECT * FROM split_receivers WHERE merchant_id = @merchantId AND wallet = @wallet AND account = @account AND clawback_outstanding > 0 ORDER BY id",
            new { merchantId, wallet, account }, t)).ToList();

    public Task<SplitReceiverRow?> GetReceiverAsync(DbConnection c, DbTransaction t, string merchantId, string id) =>
        c.QuerySingleOrDefaultAsync<SplitReceiverRow?>("SELECT * FROM split_receivers WHERE id = @id AND merchant_id = @merchantId", new { id, merchantId }, t);

    /// <summary>
    /// Applies a split's new state only if it is still in the status it was read in and this hub holds its claim; clears the
    /// claim unless <paramref name="keepLease"/> (planned, about to be sent). False: another hub got there first — nothing
    /// else may happen then.
    /// </summary>
    public async Task<bool> ApplySplitAsync(DbConnection c, DbTransaction t, SplitRow s, string readStatus, bool keepLease = false) => await c.ExecuteAsync(
        $"""
        UPDATE splits SET status = @Status, amount = @Amount, wallet_order_id = @WalletOrderId, error_code = @ErrorCode, error_message = @ErrorMessage,
               checks = @Checks, next_check_at = @NextCheckAt, updated_at = @UpdatedAt{(keepLease ? string.Empty : ", lease_until = NULL, leased_by = NULL")}
        WHERE id = @Id AND status = @readStatus AND leased_by = @Instance
        """, new { s.Status, s.Amount, s.WalletOrderId, s.ErrorCode, s.ErrorMessage, s.Checks, s.NextCheckAt, s.UpdatedAt, s.Id, readStatus, Leases.Instance }, t) == 1;

    public Task SetLineResultAsync(DbConnection c, DbTransaction t, string splitId, string receiverId, string result, string? failReason) => c.ExecuteAsync(
        "UPDATE split_lines SET result = @result, fail_reason = @failReason WHERE split_id = @splitId AND receiver_id = @receiverId",
        new { splitId, receiverId, result, failReason }, t);

    public Task<SplitRow?> GetSplitAsync(DbConnection c, DbTransaction? t, string id) =>
        c.QuerySingleOrDefaultAsync<SplitRow?>("SELECT * FROM splits WHERE id = @id", new { id }, t);

    public Task<SplitRow?> GetSplitAsync(string merchantId, string id, CancellationToken ct) =>
        db.ReadAsync(c => c.QuerySingleOrDefaultAsync<SplitRow?>("SELECT * FROM splits WHERE id = @id AND merchant_id = @merchantId", new { id, merchantId }), ct);

    public async Task<IReadOnlyList<SplitRow>> SplitsOfPaymentAsync(DbConnection c, DbTransaction? t, string paymentId) =>
        (await c.QueryAsync<SplitRow>("SELECT * FROM splits WHERE payment_id = @paymentId ORDER BY id", new { paymentId }, t)).ToList();

    public async Task<IReadOnlyList<SplitLineRow>> LinesAsync(DbConnection c, DbTransaction? t, string splitId) =>
        (await c.QueryAsync<SplitLineRow>(SelectLines + "WHERE l.split_id = @splitId ORDER BY l.receiver_id", new { splitId }, t)).ToList();

    public async Task<IReadOnlyList<SplitLineRow>> LinesOfPaymentAsync(DbConnection c, DbTransaction? t, string paymentId) =>
        (await c.QueryAsync<SplitLineRow>(SelectLines + "JOIN splits s ON s.id = l.split_id WHERE s.payment_id = @paymentId ORDER BY l.split_id, l.receiver_id",
            new { paymentId }, t)).ToList();

    /// <summary>What merchant refunds not failed take of the payment (read here; Refunds owns the table): splits may not exceed the rest.</summary>
    public Task<long> MerchantRefundedAsync(DbConnection c, DbTransaction t, string paymentId) => c.ExecuteScalarAsync<long>(
        "SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE payment_id = @paymentId AND initiated_by = 'merchant' AND status <> 'failed'", new { paymentId }, t);

    /// <summary>Splits due that no hub holds; each is claimed (<see cref="Leases"/>) before it is worked on.</summary>
    /// <summary>Brings an open split (sent, not final) and its open return orders forward to now; final ones stay as they are.</summary>
    public Task MakeDueAsync(string outOrderNo, long now, CancellationToken ct) => db.WriteAsync(async (c, t) =>
    {
        await c.ExecuteAsync(
            "UPDATE splits SET next_check_at = @now WHERE out_order_no = @outOrderNo AND status IN ('pending', 'processing', 'unknown') AND next_check_at > @now",
            new { outOrderNo, now }, t);
        await c.ExecuteAsync(
            """
            UPDATE split_returns SET next_check_at = @now
            WHERE split_id IN (SELECT id FROM splits WHERE out_order_no = @outOrderNo) AND status IN ('pending', 'unknown') AND next_check_at > @now
            """, new { outOrderNo, now }, t);
        return true;
    }, ct);

    public async Task<IReadOnlyList<SplitRow>> DueSplitsAsync(long now, int limit, CancellationToken ct) =>
        (await db.ReadAsync(c => c.QueryAsync<SplitRow>(
            """
            SELECT * FROM splits WHERE status IN ('scheduled', 'pending', 'processing', 'unknown') AND next_check_at <= @now
                AND (lease_until IS NULL OR lease_until <= @now)
            ORDER BY next_check_at LIMIT @limit
            """, new { now, limit }), ct)).ToList();

    public Task InsertReturnAsync(DbConnection c, DbTransaction t, SplitReturnRow r) => c.ExecuteAsync(
        """
        INSERT INTO split_returns (id, merchant_id, payment_id, refund_id, split_id, receiver_id, out_return_no, amount, mode, status, checks, next_check_at, created_at, updated_at)
        VALUES (@Id, @MerchantId, @PaymentId, @RefundId, @SplitId, @ReceiverId, @OutReturnNo, @Amount, @Mode, @Status, 0, @NextCheckAt, @CreatedAt, @UpdatedAt)
        """, r, t);

    public async Task<IReadOnlyList<SplitReturnRow>> ReturnsOfRefundAsync(DbConnection c, DbTransaction? t, string refundId) =>
        (await c.QueryAsync<SplitReturnRow>("SELECT * FROM split_returns WHERE refund_id = @refundId ORDER BY id", new { refundId }, t)).ToList();

    /// <summary>The payment's returns not yet settled either way: their amounts are no longer held by the receivers.</summary>
    public async Task<IReadOnlyList<(string SplitId, string ReceiverId, long Amount)>> OutstandingReturnsAsync(DbConnection c, DbTransaction t, string paymentId) =>
        (await c.QueryAsync<(string SplitId, string ReceiverId, long Amount)>(
            "SELECT split_id, receiver_id, amount FROM split_returns WHERE payment_id = @paymentId AND status IN ('awaiting_refund', 'pending', 'unknown')", new { paymentId }, t)).ToList();

    /// <summary>The refund's returns that go back with it (Alipay), with their receivers.</summary>
    public async Task<IReadOnlyList<(string Type, string Account, string Role, long Amount)>> WithRefundReturnsAsync(string refundId, CancellationToken ct) =>
        (await db.ReadAsync(c => c.QueryAsync<(string Type, string Account, string Role, long Amount)>(
            """
            SELECT r.type, r.account, r.role, x.amount FROM split_returns x JOIN split_receivers r ON r.id = x.receiver_id
            WHERE x.refund_id = @refundId AND x.mode = 'with_refund' AND x.status = 'awaiting_refund' ORDER BY x.id
            """, new { refundId }), ct)).ToList();

    public async Task<IReadOnlyList<SplitReturnRow>> ReturnsOfPaymentAsync(string merchantId, string paymentId, CancellationToken ct) =>
        (await db.ReadAsync(c => c.QueryAsync<SplitReturnRow>(
            "SELECT * FROM split_returns WHERE merchant_id = @merchantId AND payment_id = @paymentId ORDER BY id", new { merchantId, paymentId }), ct)).ToList();

    /// <summary>Return orders due that no hub holds; each is claimed (<see cref="Leases"/>) before it is worked on.</summary>
    public async Task<IReadOnlyList<SplitReturnRow>> DueReturnsAsync(long now, int limit, CancellationToken ct) =>
        (await db.ReadAsync(c => c.QueryAsync<SplitReturnRow>(
            """
            SELECT * FROM split_returns WHERE status IN ('pending', 'unknown') AND next_check_at <= @now
                AND (lease_until IS NULL OR lease_until <= @now)
            ORDER BY next_check_at LIMIT @limit
            """, new { now, limit }), ct)).ToList();

    /// <summary>
    /// Applies a return's new state only if it is still in the status it was read in — and, for a return order this hub
    /// claimed (<paramref name="leased"/>), only under its own claim, which it clears. False: someone got there first.
    /// </summary>
    public async Task<bool> ApplyReturnAsync(DbConnection c, DbTransaction t, SplitReturnRow r, string readStatus, bool leased) => await c.ExecuteAsync(
        $"""
        UPDATE split_returns SET status = @Status, error_code = @ErrorCode, checks = @Checks, next_check_at = @NextCheckAt, updated_at = @UpdatedAt,
               lease_until = NULL, leased_by = NULL
        WHERE id = @Id AND status = @readStatus{(leased ? " AND leased_by = @Instance" : string.Empty)}
        """, new { r.Status, r.ErrorCode, r.Checks, r.NextCheckAt, r.UpdatedAt, r.Id, readStatus, Leases.Instance }, t) == 1;

    public Task AddReturnedAsync(DbConnection c, DbTransaction t, string splitId, string receiverId, long amount) => c.ExecuteAsync(
        "UPDATE split_lines SET returned = returned + @amount WHERE split_id = @splitId AND receiver_id = @receiverId", new { splitId, receiverId, amount }, t);

    public static string NewId(string prefix, DateTimeOffset now) => $"{prefix}_{Ids.MonotonicV7(now):N}";

    /// <summary>The wallets' merchant numbers: letters and digits, at most 64 (WeChat out_order_no) — a UUIDv7 in hex is 32.</summary>
    public static string OutNo(string prefix, DateTimeOffset now) => prefix + Ids.MonotonicV7(now).ToString("N");
}
