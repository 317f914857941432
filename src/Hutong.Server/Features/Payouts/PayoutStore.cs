using System.Data.Common;
using System.Text.Json;
using Dapper;
using Hutong.Domain.Payouts;
using Hutong.Server.Features.Payments;
using Hutong.Server.Features.Workers;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Payouts;

public sealed class PayoutRow
{
    public string Id { get; set; } = string.Empty;

    public string MerchantId { get; set; } = string.Empty;

    public string Wallet { get; set; } = string.Empty;

    public long Amount { get; set; }

    public string Currency { get; set; } = string.Empty;

    /// <summary>The payee's identity kind at the wallet (Alipay: ALIPAY_USER_ID, ALIPAY_LOGON_ID).</summary>
    public string PayeeType { get; set; } = string.Empty;

    public string PayeeIdentity { get; set; } = string.Empty;

    public string? PayeeName { get; set; }

    public string Description { get; set; } = string.Empty;

    /// <summary>The merchant's metadata as JSON (at most 20 keys).</summary>
    public string? Metadata { get; set; }

    /// <summary>The transfer's number at the wallet (a UUIDv7, 32 hex digits): what makes a re-send the same transfer.</summary>
    public string OutBizNo { get; set; } = string.Empty;

    /// <summary>pending (not yet sent), processing, unknown (no answer), succeeded, failed.</summary>
    public string Status { get; set; } = string.Empty;

    public string? WalletOrderId { get; set; }

    public string? ErrorCode { get; set; }

    public string? ErrorMessage { get; set; }

    public int Checks { get; set; }

    public long? NextCheckAt { get; set; }

    /// <summary>When a hub first claimed it to make its wallet call: the wallet may have it, so it is queried before any send.</summary>
    public long? SentAt { get; set; }

    public long CreatedAt { get; set; }

    public long UpdatedAt { get; set; }

    /// <summary>
    /// While the payee must accept the transfer in the wallet's app: what the merchant's app needs to open the page, as
    /// JSON (<see cref="PayoutConfirmation"/>: WeChat Pay mch_id, appid, package_info). Kept once set.
    /// </summary>
    public string? ConfirmationPackage { get; set; }

    /// <summary>When the merchant asked to cancel it (POST /v1/payouts/{id}/cancel): the wallet is then asked to withdraw it.</summary>
    public long? CancelRequestedAt { get; set; }

    /// <summary>The host statement this payout pays (POST …/statements/{month}/pay), if any: it follows the payout's outcome.</summary>
    public string? HostStatementId { get; set; }

    /// <summary>The part of the amount asked for that settled the payee's split clawback instead of being sent (0033): amount is what is sent.</summary>
    public long ClawbackOffset { get; set; }

    /// <summary>The split receiver (the same payee at the same wallet) whose clawback the payout netted.</summary>
    public string? ClawbackReceiverId { get; set; }
}

/// <summary>What a merchant's app passes to WeChat's wx.requestMerchantTransfer (mchId, appId, package) so the payee can accept.</summary>
/// <param name="SubMchId">A service provider's sub-merchant (wx.requestMerchantTransfer subMchId, 服务商模式下必填); null for a direct merchant.</param>
public sealed record PayoutConfirmation(string MchId, string AppId, string? PackageInfo, string? SubMchId = null);

/// <summary>What the merchant does next for a payout awaiting the payee (type <c>wechat_merchant_transfer</c>).</summary>
public sealed record PayoutNextAction(string Type, PayoutConfirmation Wechat);

/// <summary>A payout's payee as merchants see it.</summary>
public sealed record PayoutPayeeDto(string Type, string Identity, string? Name);

/// <summary>A payout as merchants see it (API and payout.* webhooks).</summary>
public sealed record PayoutDto(
    string Id, string Object, string Wallet, long Amount, string Currency, string Status, PayoutPayeeDto Payee, string Description,
    IReadOnlyDictionary<string, string>? Metadata, string? WalletOrderId, PaymentFailure? Failure, DateTimeOffset CreatedAt,
    PayoutNextAction? NextAction = null, bool CancelRequested = false, long ClawbackOffset = 0, string? ClawbackReceiver = null)
{
    public static PayoutDto Of(PayoutRow r) => new(
        r.Id, "payout", r.Wallet, r.Amount, r.Currency, r.Status, new PayoutPayeeDto(r.PayeeType, r.PayeeIdentity, r.PayeeName), r.Description,
        r.Metadata is null ? null : JsonSerializer.Deserialize<Dictionary<string, string>>(r.Metadata), r.WalletOrderId,
        r.ErrorCode is null ? null : new PaymentFailure(r.ErrorCode, r.ErrorMessage ?? string.Empty), DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt),
        // Only while the payee can still accept it: afterwards the package opens nothing.
        r.ConfirmationPackage is not null && r.Status == PayoutState.AwaitingConfirmation.ToWire() && r.CancelRequestedAt is null
            ? new PayoutNextAction("wechat_merchant_transfer", JsonSerializer.Deserialize<PayoutConfirmation>(r.ConfirmationPackage)!)
            : null,
        r.CancelRequestedAt is not null, r.ClawbackOffset, r.ClawbackReceiverId);
}

public sealed record PayoutList(string Object, IReadOnlyList<PayoutDto> Data, bool HasMore, string? NextCursor);

/// <summary>The payouts table's one writer.</summary>
public sealed class PayoutStore(Db db, IOptions<HubOptions> options, TimeProvider time)
{
    /// <summary>This hub's claims on payouts it follows (several hubs may share the database).</summary>
    public FollowUpLeases Leases { get; } = new(db, options.Value.Workers, time);

    public Task InsertAsync(DbConnection c, DbTransaction t, PayoutRow r) => c.ExecuteAsync(
        """
        INSERT INTO payouts (id, merchant_id, wallet, amount, currency, payee_type, payee_identity, payee_name, description, metadata,
                             out_biz_no, status, checks, next_check_at, created_at, updated_at, host_statement_id,
                             clawback_offset, clawback_receiver_id)
        VALUES (@Id, @MerchantId, @Wallet, @Amount, @Currency, @PayeeType, @PayeeIdentity, @PayeeName, @Description, @Metadata,
                @OutBizNo, @Status, 0, @NextCheckAt, @CreatedAt, @UpdatedAt, @HostStatementId, @ClawbackOffset, @ClawbackReceiverId)
        """, r, t);

    /// <summary>What the merchant sent or is sending since <paramref name="since"/> (failed payouts gave theirs back): in all, and to this payee.</summary>
    public async Task<(long Merchant, long Payee)> SentSinceAsync(DbConnection c, DbTransaction t, string merchantId, string currency, string payeeIdentity, long since)
    {
        var row = await c.QuerySingleAsync<(long Merchant, long Payee)>(
            """
            SELECT COALESCE(SUM(amount), 0), COALESCE(SUM(CASE WHEN payee_identity = @payeeIdentity THEN amount ELSE 0 END), 0)
            FROM payouts WHERE merchant_id = @merchantId AND currency = @currency AND created_at >= @since AND status NOT IN ('failed', 'canceled')
            """, new { merchantId, currency, payeeIdentity, since }, t);
        return row;
    }

    public Task<PayoutRow?> GetAsync(string merchantId, string id, CancellationToken ct) =>
        db.ReadAsync(c => c.QuerySingleOrDefaultAsync<PayoutRow?>("SELECT * FROM payouts WHERE id = @id AND merchant_id = @merchantId", new { id, merchantId }), ct);

    public async Task<(IReadOnlyList<PayoutRow> Rows, bool HasMore)> ListAsync(string merchantId, int limit, string? startingAfter, CancellationToken ct)
    {
        var sql = "SELECT * FROM payouts WHERE merchant_id = @merchantId"
            + (startingAfter is null ? string.Empty : " AND id < @startingAfter")
            + " ORDER BY id DESC LIMIT @take";
        var rows = (await db.ReadAsync(c => c.QueryAsync<PayoutRow>(sql, new { merchantId, startingAfter, take = limit + 1 }), ct)).ToList();
        var hasMore = rows.Count > limit;
        return (hasMore ? rows.Take(limit).ToList() : rows, hasMore);
    }

    /// <summary>Payouts due a wallet call that no hub holds; each is claimed (<see cref="Leases"/>) before it is worked on.</summary>
    public async Task<IReadOnlyList<PayoutRow>> DueAsync(long now, int limit, CancellationToken ct) =>
        (await db.ReadAsync(c => c.QueryAsync<PayoutRow>(
            """
            SELECT * FROM payouts WHERE status IN ('pending', 'processing', 'unknown', 'awaiting_confirmation', 'canceling') AND next_check_at <= @now
                AND (lease_until IS NULL OR lease_until <= @now)
            ORDER BY next_check_at LIMIT @limit
            """, new { now, limit }), ct)).ToList();

    /// <summary>
    /// Applies an outcome only if the payout is still in the status it was read in and this hub's claim is still its own;
    /// clears the claim. False: another hub got there first — nothing else may happen then.
    /// </summary>
    /// <remarks>A cancel request that arrived after the row was read (cancel_requested_at set, not seen) makes it due now.</remarks>
    public async Task<bool> ApplyAsync(DbConnection c, DbTransaction t, PayoutRow r, string readStatus) => await c.ExecuteAsync(
        """
        UPDATE payouts SET status = @Status, wallet_order_id = @WalletOrderId, error_code = @ErrorCode, error_message = @ErrorMessage,
               checks = @Checks, updated_at = @UpdatedAt, lease_until = NULL, leased_by = NULL,
               confirmation_package = COALESCE(@ConfirmationPackage, confirmation_package),
               next_check_at = CASE WHEN cancel_requested_at IS NOT NULL AND @cancelSeen = 0 AND @NextCheckAt IS NOT NULL THEN @UpdatedAt ELSE @NextCheckAt END
        WHERE id = @Id AND status = @readStatus AND leased_by = @Instance
        """, new
        {
            r.Status, r.WalletOrderId, r.ErrorCode, r.ErrorMessage, r.Checks, r.NextCheckAt, r.UpdatedAt, r.ConfirmationPackage, r.Id, readStatus, Leases.Instance,
            cancelSeen = r.CancelRequestedAt is null ? 0 : 1,
        }, t) == 1;

    /// <summary>
    /// Records the merchant's request to cancel a payout still awaiting the payee, and makes it due now. False: it is not
    /// (or no longer) awaiting the payee, or its cancel was asked for already — the caller reads it again to answer.
    /// </summary>
    public async Task<bool> RequestCancelAsync(DbConnection c, DbTransaction t, string merchantId, string id, long now) => await c.ExecuteAsync(
        """
        UPDATE payouts SET cancel_requested_at = @now, next_check_at = @now, updated_at = @now
        WHERE id = @id AND merchant_id = @merchantId AND status = 'awaiting_confirmation' AND cancel_requested_at IS NULL
        """, new { id, merchantId, now }, t) == 1; // once: asking again (another key) sends no second cancel to the wallet

    public Task<PayoutRow?> GetLockedAsync(DbConnection c, DbTransaction t, string merchantId, string id) =>
        c.QuerySingleOrDefaultAsync<PayoutRow?>("SELECT * FROM payouts WHERE id = @id AND merchant_id = @merchantId", new { id, merchantId }, t);

    /// <summary>A wallet's notification about this transfer: an open payout is checked on the next pass.</summary>
    public Task<int> MakeDueAsync(string outBizNo, long now, CancellationToken ct) => db.WriteAsync((c, t) => c.ExecuteAsync(
        """
        UPDATE payouts SET next_check_at = @now
        WHERE out_biz_no = @outBizNo AND status IN ('pending', 'processing', 'unknown', 'awaiting_confirmation', 'canceling')
        """, new { outBizNo, now }, t), ct);
}
