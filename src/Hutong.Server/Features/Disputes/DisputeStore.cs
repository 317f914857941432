using System.Data.Common;
using System.Text.Json;
using Dapper;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.Disputes;

public sealed class DisputeRow
{
    public string Id { get; set; } = string.Empty;

    public string MerchantId { get; set; } = string.Empty;

    public string PaymentId { get; set; } = string.Empty;

    public string Wallet { get; set; } = string.Empty;

    public string Channel { get; set; } = string.Empty;

    public string WalletDisputeId { get; set; } = string.Empty;

    /// <summary>needs_response, under_review, closed (<see cref="Hutong.Domain.Disputes.DisputeState"/>).</summary>
    public string Status { get; set; } = string.Empty;

    public string WalletStatus { get; set; } = string.Empty;

    public string? Reason { get; set; }

    public string? ProblemType { get; set; }

    public string Detail { get; set; } = string.Empty;

    public long? Amount { get; set; }

    public long? RequestedRefund { get; set; }

    public string Currency { get; set; } = "CNY";

    public string? OutTradeNo { get; set; }

    public string? WalletTransactionId { get; set; }

    /// <summary>1 when the wallet says the order was refunded in full.</summary>
    public int FullRefunded { get; set; }

    /// <summary>1 while a buyer's message waits for the merchant's answer.</summary>
    public int AwaitingMerchant { get; set; }

    public int ComplaintTimes { get; set; }

    public string? RefundId { get; set; }

    /// <summary>1 once the wallet was told of the refund made from the dispute.</summary>
    public int RefundReported { get; set; }

    public string History { get; set; } = "[]";

    public long FiledAt { get; set; }

    public long RespondBy { get; set; }

    public long ResolveBy { get; set; }

    public long? ApproachingAlertedAt { get; set; }

    public long? OverdueAlertedAt { get; set; }

    public int Version { get; set; }

    public long CreatedAt { get; set; }

    public long UpdatedAt { get; set; }
}

/// <summary>One step of the negotiation as merchants see it.</summary>
public sealed record DisputeHistoryDto(string Actor, string Kind, DateTimeOffset At, string? Text, IReadOnlyList<string> Images);

/// <summary>The payment a dispute is about.</summary>
public sealed record DisputePaymentDto(string Id, string? OutTradeNo, string? WalletTransactionId);

/// <summary>A dispute as merchants see it (API and dispute.* webhooks). Never the buyer's phone or id.</summary>
public sealed record DisputeDto(
    string Id, string Object, string Wallet, string WalletDisputeId, string Status, string WalletStatus, string? Reason, string? ProblemType, string Detail,
    long? Amount, long? RequestedRefund, string Currency, DisputePaymentDto Payment, bool FullyRefunded, bool AwaitingMerchant, int ComplaintTimes,
    string? RefundId, DateTimeOffset FiledAt, DateTimeOffset RespondBy, DateTimeOffset ResolveBy, IReadOnlyList<DisputeHistoryDto> History,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public static DisputeDto Of(DisputeRow r) => new(
        r.Id, "dispute", r.Wallet, r.WalletDisputeId, r.Status, r.WalletStatus, r.Reason, r.ProblemType, r.Detail, r.Amount, r.RequestedRefund, r.Currency,
        new DisputePaymentDto(r.PaymentId, r.OutTradeNo, r.WalletTransactionId), r.FullRefunded != 0, r.AwaitingMerchant != 0, r.ComplaintTimes, r.RefundId,
        At(r.FiledAt), At(r.RespondBy), At(r.ResolveBy), JsonSerializer.Deserialize<List<DisputeHistoryDto>>(r.History, HistoryJson) ?? [], At(r.CreatedAt), At(r.UpdatedAt));

    internal static readonly JsonSerializerOptions HistoryJson = new(JsonSerializerDefaults.Web);

    private static DateTimeOffset At(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);
}

public sealed record DisputeList(string Object, IReadOnlyList<DisputeDto> Data, bool HasMore, string? NextCursor);

/// <summary>The disputes table's one writer: inserts, and updates conditional on the version that was read.</summary>
public sealed class DisputeStore(Db db)
{
    public Task<DisputeRow?> ByWalletIdAsync(DbConnection c, DbTransaction? t, string wallet, string walletDisputeId) =>
        c.QuerySingleOrDefaultAsync<DisputeRow?>("SELECT * FROM disputes WHERE wallet = @wallet AND wallet_dispute_id = @walletDisputeId", new { wallet, walletDisputeId }, t);

    public Task<DisputeRow?> ByWalletIdAsync(string wallet, string walletDisputeId, CancellationToken ct) =>
        db.ReadAsync(c => ByWalletIdAsync(c, null, wallet, walletDisputeId), ct);

    public Task<DisputeRow?> GetAsync(string merchantId, string id, CancellationToken ct) =>
        db.ReadAsync(c => c.QuerySingleOrDefaultAsync<DisputeRow?>("SELECT * FROM disputes WHERE id = @id AND merchant_id = @merchantId", new { id, merchantId }), ct);

    /// <summary>Inserts the dispute unless its complaint is already one; the rows inserted (0 or 1).</summary>
    public Task<int> InsertAsync(DbConnection c, DbTransaction t, DisputeRow r) => c.ExecuteAsync(
        """
        INSERT INTO disputes (id, merchant_id, payment_id, wallet, channel, wallet_dispute_id, status, wallet_status, reason, problem_type, detail,
                              amount, requested_refund, currency, out_trade_no, wallet_transaction_id, full_refunded, awaiting_merchant, complaint_times,
                              refund_id, refund_reported, history, filed_at, respond_by, resolve_by, version, created_at, updated_at)
        VALUES (@Id, @MerchantId, @PaymentId, @Wallet, @Channel, @WalletDisputeId, @Status, @WalletStatus, @Reason, @ProblemType, @Detail,
                @Amount, @RequestedRefund, @Currency, @OutTradeNo, @WalletTransactionId, @FullRefunded, @AwaitingMerchant, @ComplaintTimes,
                @RefundId, @RefundReported, @History, @FiledAt, @RespondBy, @ResolveBy, 0, @CreatedAt, @UpdatedAt)
        ON CONFLICT (wallet, wallet_dispute_id) DO NOTHING
        """, r, t);

    /// <summary>Applies the row only if nobody changed it since it was read (its version); false: another hub got there first.</summary>
    public async Task<bool> UpdateAsync(DbConnection c, DbTransaction t, DisputeRow r, int readVersion) => await c.ExecuteAsync(
        """
        UPDATE disputes SET status = @Status, wallet_status = @WalletStatus, reason = @Reason, problem_type = @ProblemType, detail = @Detail,
               requested_refund = @RequestedRefund, full_refunded = @FullRefunded, awaiting_merchant = @AwaitingMerchant, complaint_times = @ComplaintTimes,
               refund_id = @RefundId, refund_reported = @RefundReported, history = @History, version = version + 1, updated_at = @UpdatedAt
        WHERE id = @Id AND version = @readVersion
        """, new { r.Status, r.WalletStatus, r.Reason, r.ProblemType, r.Detail, r.RequestedRefund, r.FullRefunded, r.AwaitingMerchant, r.ComplaintTimes,
            r.RefundId, r.RefundReported, r.History, r.UpdatedAt, r.Id, readVersion }, t) == 1;

    public async Task<(IReadOnlyList<DisputeRow> Rows, bool HasMore)> ListAsync(
        string merchantId, int limit, string? startingAfter, string? status, string? wallet, string? paymentId, CancellationToken ct)
    {
        var sql = "SELECT * FROM disputes WHERE merchant_id = @merchantId"
            + (startingAfter is null ? string.Empty : " AND id < @startingAfter")
            + (status is null ? string.Empty : " AND status = @status")
            + (wallet is null ? string.Empty : " AND wallet = @wallet")
            + (paymentId is null ? string.Empty : " AND payment_id = @paymentId")
            + " ORDER BY id DESC LIMIT @take";
        var rows = (await db.ReadAsync(c => c.QueryAsync<DisputeRow>(sql, new { merchantId, startingAfter, status, wallet, paymentId, take = limit + 1 }), ct)).ToList();
        var hasMore = rows.Count > limit;
        return (hasMore ? rows.Take(limit).ToList() : rows, hasMore);
    }

    /// <summary>Disputes waiting on the merchant whose window closes before <paramref name="horizon"/> and that still owe an alert.</summary>
    public async Task<IReadOnlyList<DisputeRow>> DeadlineDueAsync(long now, long horizon, int limit, CancellationToken ct) =>
        (await db.ReadAsync(c => c.QueryAsync<DisputeRow>(
            """
            SELECT * FROM disputes WHERE status = 'needs_response' AND respond_by <= @horizon
                AND (approaching_alerted_at IS NULL OR (overdue_alerted_at IS NULL AND respond_by <= @now))
            ORDER BY respond_by LIMIT @limit
            """, new { now, horizon, limit }), ct)).ToList();

    /// <summary>Stamps one alert once: true only for the hub whose update took it (the event goes with it).</summary>
    public async Task<bool> StampAlertAsync(DbConnection c, DbTransaction t, string id, bool overdue, long now) => await c.ExecuteAsync(
        overdue
            ? "UPDATE disputes SET overdue_alerted_at = @now, approaching_alerted_at = COALESCE(approaching_alerted_at, @now) WHERE id = @id AND overdue_alerted_at IS NULL AND status = 'needs_response'"
            : "UPDATE disputes SET approaching_alerted_at = @now WHERE id = @id AND approaching_alerted_at IS NULL AND status = 'needs_response'",
        new { id, now }, t) == 1;

    /// <summary>Refunds made from a dispute whose approval the wallet has not yet been told of.</summary>
    public async Task<IReadOnlyList<DisputeRow>> UnreportedRefundsAsync(int limit, CancellationToken ct) =>
        (await db.ReadAsync(c => c.QueryAsync<DisputeRow>(
            "SELECT * FROM disputes WHERE refund_id IS NOT NULL AND refund_reported = 0 ORDER BY updated_at LIMIT @limit", new { limit }), ct)).ToList();

    /// <summary>The payment a wallet's order number belongs to, with the channel its attempt went through.</summary>
    public Task<(string PaymentId, string MerchantId, string Currency, string? Channel)?> PaymentOfAsync(DbConnection c, DbTransaction t, string wallet, string outTradeNo) =>
        c.QuerySingleOrDefaultAsync<(string PaymentId, string MerchantId, string Currency, string? Channel)?>(
            """
            SELECT p.id, p.merchant_id, p.currency, a.channel FROM payment_attempts a JOIN payments p ON p.id = a.payment_id
            WHERE a.out_trade_no = @outTradeNo AND a.wallet = @wallet
            """, new { outTradeNo, wallet }, t);
}
