using System.Data.Common;
using System.Reflection;
using Dapper;
using Hutong.Connectors.Abstractions;
using Hutong.Domain.Payments;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.Payments;

/// <summary>SQL for payments and attempts. Every merchant-facing read takes the merchant id.</summary>
public sealed class PaymentStore(Db db)
{
    // The flow column is read into StoredFlow, never straight into the PayFlow property (whose names are not the wire's).
    static PaymentStore() => SqlMapper.SetTypeMap(typeof(AttemptRow), new FlowColumnMap(typeof(AttemptRow)));

    // The current attempt is joined on its primary key alone and its QR taken only while it is open. With the status in the
    // join condition PostgreSQL, its statistics behind a growing table, read every open attempt through the partial poll
    // index and filtered them on the id (641 rows, 78 ms for one payment, seen under the end-to-end benchmark).
    private const string SelectPayment =
        "SELECT p.*, CASE WHEN a.status = 'open' THEN a.code_url END AS code_url, CASE WHEN a.status = 'open' THEN a.flow END AS stored_flow " +
        "FROM payments p LEFT JOIN payment_attempts a ON a.id = p.current_attempt_id ";

    /// <summary>Row lock on PostgreSQL; SQLite's single writer already excludes others.</summary>
    private string ForUpdate => db.IsPostgres ? " FOR UPDATE OF p" : string.Empty;

    /// <summary>The payment's insert, for a write that batches it with its event and idempotency answer.</summary>
    public static Statement Insert(PaymentRow p) => new(
        """
        INSERT INTO payments (id, merchant_id, amount, currency, status, description, merchant_order_id, metadata, checkout_token,
                              buyer_id, product_category, expires_at, created_at, updated_at, version, profit_sharing, trace_parent, return_url)
        VALUES (@Id, @MerchantId, @Amount, @Currency, @Status, @Description, @MerchantOrderId, @Metadata, @CheckoutToken,
                @BuyerId, @ProductCategory, @ExpiresAt, @CreatedAt, @UpdatedAt, @Version, @ProfitSharing, @TraceParent, @ReturnUrl)
        """, p);

    /// <remarks>
    /// Read by its primary key alone, the merchant compared here: given both, PostgreSQL with stale statistics walked the
    /// merchant's payments by (merchant_id, amount, created_at) and filtered on the id (539 rows, 31 ms for one payment).
    /// </remarks>
    public async Task<PaymentRow?> GetAsync(string merchantId, string id, CancellationToken ct) =>
        await GetByIdAsync(id, ct) is { } p && p.MerchantId == merchantId ? p : null;

    public Task<PaymentRow?> GetByIdAsync(string id, CancellationToken ct) =>
        db.ReadAsync(c => c.QuerySingleOrDefaultAsync<PaymentRow?>(SelectPayment + "WHERE p.id = @id", new { id }), ct);

    public Task<PaymentRow?> GetByCheckoutTokenAsync(string token, CancellationToken ct) =>
        db.ReadAsync(c => c.QuerySingleOrDefaultAsync<PaymentRow?>(SelectPayment + "WHERE p.checkout_token = @token", new { token }), ct);

    /// <summary>
    /// Records the first time the hosted checkout page was served for the payment: one conditional UPDATE that sets
    /// only the time and only while unset (no state change, no event, no buyer data).
    /// </summary>
    public Task MarkCashierOpenedAsync(string id, long now, CancellationToken ct) => db.WriteAsync(
        (c, t) => c.ExecuteAsync("UPDATE payments SET cashier_opened_at = @now WHERE id = @id AND cashier_opened_at IS NULL", new { id, now }, t), ct);

    public Task<PaymentRow?> LockAsync(DbConnection c, DbTransaction t, string id) =>
        c.QuerySingleOrDefaultAsync<PaymentRow?>(SelectPayment + "WHERE p.id = @id" + ForUpdate, new { id }, t);

    public Task<PaymentRow?> FindByMerchantOrderIdAsync(DbConnection c, DbTransaction t, string merchantId, string merchantOrderId) =>
        c.QuerySingleOrDefaultAsync<PaymentRow?>(SelectPayment + "WHERE p.merchant_id = @merchantId AND p.merchant_order_id = @merchantOrderId",
            new { merchantId, merchantOrderId }, t);

    public async Task<(IReadOnlyList<PaymentRow> Rows, bool HasMore)> ListAsync(string merchantId, int limit, string? startingAfter, string? status, CancellationToken ct)
    {
        var sql = SelectPayment + "WHERE p.merchant_id = @merchantId"
            + (startingAfter is null ? string.Empty : " AND p.id < @startingAfter")
            + (status is null ? string.Empty : " AND p.status = @status")
            + " ORDER BY p.id DESC LIMIT @take";
        // A list may lag the primary (a standby serves it, if configured); GET /v1/payments/{id} reads the primary.
        var rows = (await db.ReadReplicaAsync(c => c.QueryAsync<PaymentRow>(sql, new { merchantId, startingAfter, status, take = limit + 1 }), ct)).ToList();
        var hasMore = rows.Count > limit;
        return (hasMore ? rows.Take(limit).ToList() : rows, hasMore);
    }

    /// <summary>Writes the new state if nobody else changed the row since it was read (optimistic guard).</summary>
    public async Task<bool> UpdateAsync(DbConnection c, DbTransaction t, PaymentRow next, int expectedVersion)
    {
        var n = await c.ExecuteAsync(
            """
            UPDATE payments SET status = @Status, wallet = @Wallet, current_attempt_id = @CurrentAttemptId, payer_id = @PayerId,
                   wallet_transaction_id = @WalletTransactionId, failure_code = @FailureCode, failure_message = @FailureMessage,
                   succeeded_at = @SucceededAt, paid_via = @PaidVia, friend_link_id = @FriendLinkId, updated_at = @UpdatedAt, version = @Version,
                   buyer_paid = @BuyerPaid, wallet_discount = @WalletDiscount, merchant_discount = @MerchantDiscount
            WHERE id = @Id AND version = @ExpectedVersion
            """,
            new
            {
                next.Status, next.Wallet, next.CurrentAttemptId, next.PayerId, next.WalletTransactionId, next.FailureCode,
                next.FailureMessage, next.SucceededAt, next.PaidVia, next.FriendLinkId, next.UpdatedAt, next.Version, next.Id, ExpectedVersion = expectedVersion,
                next.BuyerPaid, next.WalletDiscount, next.MerchantDiscount,
            }, t);
        return n == 1;
    }

    public Task InsertAttemptAsync(DbConnection c, DbTransaction t, AttemptRow a) => c.ExecuteAsync(
        """
        INSERT INTO payment_attempts (id, payment_id, wallet, channel, out_trade_no, status, code_url, checks, next_check_at, created_at, updated_at,
                                      via, payer_claim, friend_link_id, notify_url, flow, payer_ref, subsidy_amount, subsidy_campaign_id)
        VALUES (@Id, @PaymentId, @Wallet, @Channel, @OutTradeNo, @Status, @CodeUrl, @Checks, @NextCheckAt, @CreatedAt, @UpdatedAt,
                @Via, @PayerClaim, @FriendLinkId, @NotifyUrl, @StoredFlow, @PayerRef, @SubsidyAmount, @SubsidyCampaignId)
        """, a, t);

    /// <summary>Writes the attempt's new state if its status is still <paramref name="expectedStatus"/>, the one it was decided on.</summary>
    public async Task<bool> UpdateAttemptAsync(DbConnection c, DbTransaction t, AttemptRow a, AttemptStatus expectedStatus) =>
        await c.ExecuteAsync(
            """
            UPDATE payment_attempts SET status = @Status, code_url = @CodeUrl, wallet_transaction_id = @WalletTransactionId,
                   error_code = @ErrorCode, error_message = @ErrorMessage, checks = @Checks, next_check_at = @NextCheckAt, poll_at = @PollAt, updated_at = @UpdatedAt
            WHERE id = @Id AND status = @ExpectedStatus
            """,
            new
            {
                a.Status, a.CodeUrl, a.WalletTransactionId, a.ErrorCode, a.ErrorMessage, a.Checks, a.NextCheckAt, a.PollAt, a.UpdatedAt, a.Id,
                ExpectedStatus = expectedStatus.ToWire(),
            }, t) == 1;

    public Task<AttemptRow?> GetAttemptAsync(DbConnection c, DbTransaction? t, string id) =>
        c.QuerySingleOrDefaultAsync<AttemptRow?>("SELECT * FROM payment_attempts WHERE id = @id", new { id }, t);

    /// <summary>
    /// Takes (or renews) the payer claim for <paramref name="session"/>: succeeds when nobody holds it, this session
    /// already does, the holder's lease ran out, or the holder's attempt failed. One conditional UPDATE, so of two
    /// friends racing exactly one wins.
    /// </summary>
    public async Task<bool> TryClaimAsync(DbConnection c, DbTransaction t, string paymentId, string session, long now, long until) =>
        await c.ExecuteAsync(
            """
            UPDATE payments SET payer_claim = @session, payer_claim_until = @until
            WHERE id = @paymentId AND status IN ('created', 'pending', 'failed')
              AND (payer_claim IS NULL OR payer_claim = @session OR payer_claim_until < @now OR status = 'failed')
            """,
            new { paymentId, session, now, until }, t) == 1;

    /// <summary>Lets go of the payer claim <paramref name="payerClaim"/> holds on the payment (nothing when another holds it by now).</summary>
    public Task ReleaseClaimAsync(DbConnection c, DbTransaction t, string paymentId, string? payerClaim) =>
        c.ExecuteAsync("UPDATE payments SET payer_claim = NULL, payer_claim_until = NULL WHERE id = @paymentId AND payer_claim = @payerClaim",
            new { paymentId, payerClaim }, t);

    /// <summary>Lets go of the payer claim if one of the friend-pay link's attempts holds it.</summary>
    public Task ReleaseFriendLinkClaimAsync(DbConnection c, DbTransaction t, string paymentId, string linkId) => c.ExecuteAsync(
        """
        UPDATE payments SET payer_claim = NULL, payer_claim_until = NULL
        WHERE id = @paymentId AND payer_claim IN (SELECT payer_claim FROM payment_attempts WHERE payment_id = @paymentId AND friend_link_id = @linkId)
        """, new { paymentId, linkId }, t);

    /// <summary>Sets what merchant refunds returned of a payment, under the payment's row lock (the caller computed it from the locked row).</summary>
    public Task SetRefundedAsync(DbConnection c, DbTransaction t, string paymentId, long amountRefunded) =>
        c.ExecuteAsync("UPDATE payments SET amount_refunded = @amountRefunded WHERE id = @paymentId", new { amountRefunded, paymentId }, t);

    /// <summary>Adds what a succeeded refund handed back to the platform of the payment's subsidy (under the payment's row lock).</summary>
    public Task AddSubsidyReturnedAsync(DbConnection c, DbTransaction t, string paymentId, long amount) =>
        c.ExecuteAsync("UPDATE payments SET subsidy_returned = subsidy_returned + @amount WHERE id = @paymentId", new { amount, paymentId }, t);

    public async Task<AttemptRow?> CurrentAttemptAsync(PaymentRow p, CancellationToken ct) =>
        p.CurrentAttemptId is null ? null : await db.ReadAsync(c => GetAttemptAsync(c, null, p.CurrentAttemptId), ct);

    public Task<AttemptRow?> GetAttemptByOutTradeNoAsync(DbConnection c, DbTransaction? t, string outTradeNo) =>
        c.QuerySingleOrDefaultAsync<AttemptRow?>("SELECT * FROM payment_attempts WHERE out_trade_no = @outTradeNo", new { outTradeNo }, t);

    public Task<IEnumerable<AttemptRow>> AttemptsOfAsync(DbConnection c, DbTransaction t, string paymentId) =>
        c.QueryAsync<AttemptRow>("SELECT * FROM payment_attempts WHERE payment_id = @paymentId ORDER BY id", new { paymentId }, t);

    /// <summary>payment_attempts.flow as stored: NULL for the Native QR (and rows from before flows), else the flow's wire name.</summary>
    public static string? StoredFlow(PayFlow flow) => flow == PayFlow.Native ? null : PayFlows.Wire(flow);

    /// <summary>The flow a stored payment_attempts.flow names.</summary>
    public static PayFlow FlowOf(string? stored) => PayFlows.Parse(stored);

    /// <summary>Dapper's default (snake_case) map, except that the flow column goes to StoredFlow.</summary>
    private sealed class FlowColumnMap(Type type) : SqlMapper.ITypeMap
    {
        private readonly DefaultTypeMap _default = new(type);

        public ConstructorInfo? FindConstructor(string[] names, Type[] types) => _default.FindConstructor(names, types);

        public ConstructorInfo? FindExplicitConstructor() => _default.FindExplicitConstructor();

        public SqlMapper.IMemberMap? GetConstructorParameter(ConstructorInfo constructor, string columnName) => _default.GetConstructorParameter(constructor, columnName);

        public SqlMapper.IMemberMap? GetMember(string columnName) =>
            _default.GetMember(string.Equals(columnName, "flow", StringComparison.OrdinalIgnoreCase) ? nameof(AttemptRow.StoredFlow) : columnName);
    }
}
