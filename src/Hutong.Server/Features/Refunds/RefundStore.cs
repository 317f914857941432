using System.Data.Common;
using Dapper;
using Hutong.Domain;
using Hutong.Domain.Refunds;
using Hutong.Server.Features.Payments;
using Hutong.Server.Features.Workers;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Refunds;

public sealed class RefundRow
{
    public string Id { get; set; } = string.Empty;

    public string MerchantId { get; set; } = string.Empty;

    public string PaymentId { get; set; } = string.Empty;

    public string AttemptId { get; set; } = string.Empty;

    public long Amount { get; set; }

    /// <summary>The part of <see cref="Amount"/> that goes back to the platform (a subsidised payment); the wallet refunds the rest.</summary>
    public long SubsidyAmount { get; set; }

    public string Currency { get; set; } = string.Empty;

    public string Reason { get; set; } = string.Empty;

    /// <summary>merchant (the refunds API) or system (the hub returning a second or late capture).</summary>
    public string InitiatedBy { get; set; } = string.Empty;

    public string OutRefundNo { get; set; } = string.Empty;

    /// <summary>pending (not yet sent), processing (the wallet is on it), unknown (no answer), succeeded, failed.</summary>
    public string Status { get; set; } = string.Empty;

    public string? WalletRefundId { get; set; }

    public string? ErrorCode { get; set; }

    public string? ErrorMessage { get; set; }

    public int Checks { get; set; }

    /// <summary>When a hub first claimed it to make its wallet call (0017); set when read: the wallet may have it, so it is queried before any send.</summary>
    public long? SentAt { get; set; }

    public long? NextCheckAt { get; set; }

    public long CreatedAt { get; set; }

    public long UpdatedAt { get; set; }

    /// <summary>Not a refunds column: the wallet of the attempt (capture) refunded, when joined or known.</summary>
    public string? Wallet { get; set; }

    /// <summary>Not a refunds column: the wallet's transaction id of the capture refunded (as on its bill), when joined or known.</summary>
    public string? CaptureTransactionId { get; set; }

    /// <summary>The refund and the capture it refunds: the wallet and its transaction id set from the attempt.</summary>
    public RefundRow WithCapture(AttemptRow attempt)
    {
        Wallet = attempt.Wallet;
        CaptureTransactionId = attempt.WalletTransactionId;
        return this;
    }
}

/// <summary>
/// A refund as merchants see it (API and refund.* webhooks). <paramref name="Attempt"/>, <paramref name="Wallet"/> and
/// <paramref name="WalletTransactionId"/> say which capture it returns: the payment's own (a merchant refund), or — a
/// refund the hub made by itself (initiated_by system, reason duplicate_payment or a late capture) — a second capture that
/// was never the payment's money. <paramref name="CountsTowardAmountRefunded"/> is true only for the first kind: the
/// payment's amount_refunded is the sum of its succeeded refunds that count.
/// </summary>
/// <param name="Attempt">The payment attempt (att_…) whose capture this refund returns.</param>
/// <param name="Wallet">The wallet that capture was at (and that refunds it).</param>
/// <param name="WalletTransactionId">That wallet's transaction id of the capture (as on its bill); the payment's own wallet_transaction_id when the refund counts toward amount_refunded.</param>
/// <param name="CountsTowardAmountRefunded">Whether the refund, once succeeded, is part of the payment's amount_refunded (false for a system refund of a second capture).</param>
public sealed record RefundDto(
    string Id, string Object, string Payment, long Amount, string Currency, string Status, string Reason, string InitiatedBy,
    string? WalletRefundId, PaymentFailure? Failure, DateTimeOffset CreatedAt,
    string Attempt, string? Wallet, string? WalletTransactionId, bool CountsTowardAmountRefunded)
{
    /// <summary>initiated_by of a refund the hub makes by itself, of a capture that was not the payment's (it never counts toward amount_refunded).</summary>
    public const string System = "system";

    public static RefundDto Of(RefundRow r) => new(r.Id, "refund", r.PaymentId, r.Amount, r.Currency, r.Status, r.Reason, r.InitiatedBy,
        r.WalletRefundId, r.ErrorCode is null ? null : new PaymentFailure(r.ErrorCode, r.ErrorMessage ?? string.Empty),
        DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt), r.AttemptId, r.Wallet, r.CaptureTransactionId, r.InitiatedBy != System);
}

public sealed class RefundStore(Db db, IOptions<HubOptions> options, TimeProvider time)
{
    public const string IdPrefix = "re";

    /// <summary>This hub's claims on refunds it follows (several hubs may share the database).</summary>
    public FollowUpLeases Leases { get; } = new(db, options.Value.Workers, time);

    /// <summary>
    /// Records, inside the caller's transaction, that the hub must return one attempt's whole capture. At most one
    /// such refund per attempt (unique index), however many times the wallet reports the capture.
    /// </summary>
    public async Task AddSystemRefundAsync(DbConnection c, DbTransaction t, PaymentRow payment, AttemptRow attempt, string reason, DateTimeOffset now) =>
        await InsertAsync(c, t, NewRow(payment, attempt.Id, attempt.WalletMoney(payment).Minor, reason, RefundDto.System, now).WithCapture(attempt), now); // what that wallet order captured

    public static RefundRow NewRow(PaymentRow payment, string attemptId, long amount, string reason, string initiatedBy, DateTimeOffset now)
    {
        var uuid = Ids.MonotonicV7(now);
        return new RefundRow
        {
            Id = $"{IdPrefix}_{uuid:N}",
            MerchantId = payment.MerchantId,
            PaymentId = payment.Id,
            AttemptId = attemptId,
            Amount = amount,
            Currency = payment.Currency,
            Reason = reason,
            InitiatedBy = initiatedBy,
            OutRefundNo = uuid.ToString("N"), // a UUIDv7 like out_trade_no: 32 chars (WeChat), and UnionPay derives txnTime from it
            Status = RefundState.Pending.ToWire(),
            NextCheckAt = now.ToUnixTimeMilliseconds(),
            CreatedAt = now.ToUnixTimeMilliseconds(),
            UpdatedAt = now.ToUnixTimeMilliseconds(),
        };
    }

    /// <summary>
    /// Inserts the refund and its refund.created event. A system refund is unique per attempt (unique index), so a
    /// capture reported many times is refunded once; returns whether the row was new.
    /// </summary>
    public async Task<bool> InsertAsync(DbConnection c, DbTransaction t, RefundRow row, DateTimeOffset now)
    {
        var inserted = await c.ExecuteAsync(
            """
            INSERT INTO refunds (id, merchant_id, payment_id, attempt_id, amount, currency, reason, initiated_by, out_refund_no, status,
                                 checks, next_check_at, created_at, updated_at, subsidy_amount)
            VALUES (@Id, @MerchantId, @PaymentId, @AttemptId, @Amount, @Currency, @Reason, @InitiatedBy, @OutRefundNo, @Status,
                    0, @NextCheckAt, @CreatedAt, @UpdatedAt, @SubsidyAmount)
            ON CONFLICT DO NOTHING
            """, row, t);
        if (inserted == 1)
        {
            await Outbox.AddAsync(c, t, row.MerchantId, "refund.created", RefundDto.Of(row), now);
        }

        return inserted == 1;
    }

    /// <summary>What the merchant has refunded or is refunding of a payment (failed refunds give the room back).</summary>
    public Task<long> CommittedAsync(DbConnection c, DbTransaction t, string paymentId) => c.ExecuteScalarAsync<long>(
        "SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE payment_id = @paymentId AND initiated_by = 'merchant' AND status <> 'failed'",
        new { paymentId }, t);

    /// <summary>The refunds of a payment its wallet holds or will hold: every one but those that failed.</summary>
    public Task<int> CountAsync(DbConnection c, DbTransaction t, string paymentId) => c.ExecuteScalarAsync<int>(
        "SELECT COUNT(*) FROM refunds WHERE payment_id = @paymentId AND status <> 'failed'", new { paymentId }, t);

    /// <summary>The platform's share of the merchant refunds of a payment that are done or under way (failed refunds give it back).</summary>
    public Task<long> CommittedSubsidyAsync(DbConnection c, DbTransaction t, string paymentId) => c.ExecuteScalarAsync<long>(
        "SELECT COALESCE(SUM(subsidy_amount), 0) FROM refunds WHERE payment_id = @paymentId AND initiated_by = 'merchant' AND status <> 'failed'",
        new { paymentId }, t);

    /// <summary>A refund with the wallet and transaction id of the capture it refunds (<see cref="RefundRow.Wallet"/>).</summary>
    private const string SelectWithCapture =
        "SELECT r.*, a.wallet AS wallet, a.wallet_transaction_id AS capture_transaction_id FROM refunds r LEFT JOIN payment_attempts a ON a.id = r.attempt_id ";

    public Task<RefundRow?> GetAsync(string merchantId, string id, CancellationToken ct) =>
        db.ReadAsync(c => c.QuerySingleOrDefaultAsync<RefundRow?>(SelectWithCapture + "WHERE r.id = @id AND r.merchant_id = @merchantId", new { id, merchantId }), ct);

    /// <summary>Refunds due a wallet call that no hub holds; each is claimed (<see cref="Leases"/>) before it is worked on.</summary>
    public async Task<IReadOnlyList<RefundRow>> DueAsync(long now, int limit, CancellationToken ct) =>
        (await db.ReadAsync(c => c.QueryAsync<RefundRow>(
            """
            SELECT * FROM refunds WHERE status IN ('pending', 'processing', 'unknown') AND next_check_at <= @now
                AND (lease_until IS NULL OR lease_until <= @now)
            ORDER BY next_check_at LIMIT @limit
            """, new { now, limit }), ct)).ToList();

    /// <summary>
    /// A page of the payment's refunds, oldest first (ids are time-ordered): at most <paramref name="limit"/> after
    /// <paramref name="startingAfter"/>, and whether more follow. A payment's refunds are not bounded (partial refunds).
    /// </summary>
    public async Task<(IReadOnlyList<RefundRow> Rows, bool HasMore)> OfPaymentAsync(string merchantId, string paymentId, int limit, string? startingAfter, CancellationToken ct)
    {
        var sql = SelectWithCapture + "WHERE r.merchant_id = @merchantId AND r.payment_id = @paymentId"
            + (startingAfter is null ? string.Empty : " AND r.id > @startingAfter")
            + " ORDER BY r.id LIMIT @take";
        var rows = (await db.ReadAsync(c => c.QueryAsync<RefundRow>(sql, new { merchantId, paymentId, startingAfter, take = limit + 1 }), ct)).ToList();
        var hasMore = rows.Count > limit;
        return (hasMore ? rows.Take(limit).ToList() : rows, hasMore);
    }

    /// <summary>Makes an unsettled refund due now (its next check at once), whenever it was next to be followed.</summary>
    public Task MakeDueAsync(string outRefundNo, CancellationToken ct) => db.WriteAsync((c, t) => c.ExecuteAsync(
        "UPDATE refunds SET next_check_at = 0 WHERE out_refund_no = @outRefundNo AND status IN ('pending', 'processing', 'unknown')", new { outRefundNo }, t), ct);

    /// <summary>
    /// Applies an outcome only if the refund is still in the status it was read in and this hub's claim is still its own;
    /// clears the claim. False: another hub (whose lease this one's outlived) got there first — nothing else may happen then.
    /// </summary>
    public async Task<bool> ApplyAsync(DbConnection c, DbTransaction t, RefundRow r, string readStatus) => await c.ExecuteAsync(
        """
        UPDATE refunds SET status = @Status, wallet_refund_id = @WalletRefundId, error_code = @ErrorCode, error_message = @ErrorMessage,
               checks = @Checks, next_check_at = @NextCheckAt, updated_at = @UpdatedAt, lease_until = NULL, leased_by = NULL
        WHERE id = @Id AND status = @readStatus AND leased_by = @Instance
        """, new { r.Status, r.WalletRefundId, r.ErrorCode, r.ErrorMessage, r.Checks, r.NextCheckAt, r.UpdatedAt, r.Id, readStatus, Leases.Instance }, t) == 1;
}
