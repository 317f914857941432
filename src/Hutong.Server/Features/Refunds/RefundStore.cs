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
}

/// <summary>A refund as merchants see it (API and refund.* webhooks).</summary>
public sealed record RefundDto(
    string Id, string Object, string Payment, long Amount, string Currency, string Status, string Reason, string InitiatedBy,
    string? WalletRefundId, PaymentFailure? Failure, DateTimeOffset CreatedAt)
{
    public static RefundDto Of(RefundRow r) => new(r.Id, "refund", r.PaymentId, r.Amount, r.Currency, r.Status, r.Reason, r.InitiatedBy,
        r.WalletRefundId, r.ErrorCode is null ? null : new PaymentFailure(r.ErrorCode, r.ErrorMessage ?? string.Empty),
        DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt));
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
        await InsertAsync(c, t, NewRow(payment, attempt.Id, attempt.WalletMoney(payment).Minor, reason, "system", now), now); // what that wallet order captured

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

    /// <summary>The platform's share of the merchant refunds of a payment that are done or under way (failed refunds give it back).</summary>
    public Task<long> CommittedSubsidyAsync(DbConnection c, DbTransaction t, string paymentId) => c.ExecuteScalarAsync<long>(
        "SELECT COALESCE(SUM(subsidy_amount), 0) FROM refunds WHERE payment_id = @paymentId AND initiated_by = 'merchant' AND status <> 'failed'",
        new { paymentId }, t);

    public Task<RefundRow?> GetAsync(string merchantId, string id, CancellationToken ct) =>
        db.ReadAsync(c => c.QuerySingleOrDefaultAsync<RefundRow?>("SELECT * FROM refunds WHERE id = @id AND merchant_id = @merchantId", new { id, merchantId }), ct);

    /// <summary>Refunds due a wallet call that no hub holds; each is claimed (<see cref="Leases"/>) before it is worked on.</summary>
    public async Task<IReadOnlyList<RefundRow>> DueAsync(long now, int limit, CancellationToken ct) =>
        (await db.ReadAsync(c => c.QueryAsync<RefundRow>(
            """
            SELECT * FROM refunds WHERE status IN ('pending', 'processing', 'unknown') AND next_check_at <= @now
                AND (lease_until IS NULL OR lease_until <= @now)
            ORDER BY next_check_at LIMIT @limit
            """, new { now, limit }), ct)).ToList();

    public async Task<IReadOnlyList<RefundRow>> OfPaymentAsync(string merchantId, string paymentId, CancellationToken ct) =>
        (await db.ReadAsync(c => c.QueryAsync<RefundRow>(
            "SELECT * FROM refunds WHERE merchant_id = @merchantId AND payment_id = @paymentId ORDER BY id", new { merchantId, paymentId }), ct)).ToList();

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
