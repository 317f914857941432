using Dapper;
using Hutong.Domain;
using Hutong.Domain.Payments;
using Hutong.Domain.Text;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Payments;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.FriendPay;

public sealed class FriendPayLinkRow
{
    public string Id { get; set; } = string.Empty;

    public string MerchantId { get; set; } = string.Empty;

    public string PaymentId { get; set; } = string.Empty;

    public string Token { get; set; } = string.Empty;

    public string RequesterName { get; set; } = string.Empty;

    public string? Note { get; set; }

    public string Status { get; set; } = string.Empty;

    public long CreatedAt { get; set; }

    public long? RevokedAt { get; set; }
}

/// <summary>POST /v1/payments/{id}/friend_pay_links: who asks (a display name the buyer chooses) and an optional note.</summary>
public sealed record CreateFriendPayLinkRequest(string? RequesterName, string? Note);

public sealed record FriendPayLinkDto(
    string Id, string Object, string Payment, string Url, string QrPngUrl, string RequesterName, string? Note, string Status,
    DateTimeOffset ExpiresAt, DateTimeOffset CreatedAt);

/// <summary>
/// Ask a friend to pay (代付): a capability link (≥128-bit token) to one unpaid payment. The friend sees the amount,
/// the item, the merchant and who asked — nothing else about the buyer — and pays with any offered wallet. The link
/// lives as long as the payment and can be revoked. Exactly one payer wins through the payment's payer claim.
/// </summary>
public sealed class FriendPayService(Db db, PaymentStore payments, PaymentService paymentService, IOptions<HubOptions> options, TimeProvider time)
{
    public const string IdPrefix = Ids.FriendPayLink;

    public async Task<Outcome<FriendPayLinkDto>> CreateAsync(string merchantId, string paymentId, CreateFriendPayLinkRequest r, IdempotencyContext? idem, CancellationToken ct)
    {
        var name = r.RequesterName?.Trim();
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrEmpty(name) || name.Length > 32)
        {
            errors["requester_name"] = ["requester_name is required, at most 32 characters: the name the friend sees."];
        }
        else if (!PlainText.IsPrintable(name))
        {
            // The friend's page shows it; the cashier's form reaches here without the API's JSON rule against NUL.
            errors["requester_name"] = ["requester_name " + PlainText.Refusal];
        }

        if (r.Note is { Length: > 140 })
        {
            errors["note"] = ["note is at most 140 characters."];
        }
        else if (r.Note is not null && !PlainText.IsPrintable(r.Note))
        {
            errors["note"] = ["note " + PlainText.Refusal];
        }

        if (errors.Count > 0)
        {
            return Failure.Validation(errors);
        }

        var now = time.GetUtcNow();
        return await db.WriteAsync<Outcome<FriendPayLinkDto>>(async (c, t) =>
        {
            var p = await c.QuerySingleOrDefaultAsync<PaymentRow?>(
                "SELECT * FROM payments WHERE id = @paymentId AND merchant_id = @merchantId", new { paymentId, merchantId }, t);
            if (p is null)
            {
                return Failure.NotFound("payment");
            }

            if (p.State is not (PaymentStatus.Created or PaymentStatus.Pending or PaymentStatus.Failed) || p.ExpiresAt <= now.ToUnixTimeMilliseconds())
            {
                return Failure.Conflict("payment_not_payable", $"A {p.Status} payment cannot be shared for a friend to pay.");
            }

            var row = new FriendPayLinkRow
            {
                Id = Ids.New(IdPrefix, now),
                MerchantId = merchantId,
                PaymentId = paymentId,
                Token = Ids.Token(), // 192 random bits
                RequesterName = name!,
                Note = string.IsNullOrWhiteSpace(r.Note) ? null : r.Note.Trim(),
                Status = "active",
                CreatedAt = now.ToUnixTimeMilliseconds(),
            };
            await c.ExecuteAsync(
                """
                INSERT INTO friend_pay_links (id, merchant_id, payment_id, token, requester_name, note, status, created_at)
                VALUES (@Id, @MerchantId, @PaymentId, @Token, @RequesterName, @Note, @Status, @CreatedAt)
                """, row, t);
            var dto = ToDto(row, p.ExpiresAt);
            await Outbox.AddAsync(c, t, merchantId, "friend_pay_link.created", dto, now);
            var result = Outcome.Created(dto);
            if (idem is not null)
            {
                await idem.CompleteAsync(c, t, result);
            }

            return result;
        }, ct);
    }

    public async Task<Outcome<object>> ListAsync(string merchantId, string paymentId, CancellationToken ct)
    {
        var p = await payments.GetAsync(merchantId, paymentId, ct);
        if (p is null)
        {
            return Failure.NotFound("payment");
        }

        var rows = await db.ReadAsync(c => c.QueryAsync<FriendPayLinkRow>(
            "SELECT * FROM friend_pay_links WHERE payment_id = @paymentId AND merchant_id = @merchantId ORDER BY id", new { paymentId, merchantId }), ct);
        return Outcome.Ok<object>(new { @object = "list", data = rows.Select(r => ToDto(r, p.ExpiresAt)).ToList() });
    }

    /// <summary>
    /// Revokes a link. The friend it let in loses the payment with it: their open wallet order is closed and the payer
    /// claim they hold released (see <see cref="PaymentService.WithdrawFriendLinkAsync"/>).
    /// </summary>
    public async Task<Outcome<FriendPayLinkDto>> RevokeAsync(string merchantId, string linkId, IdempotencyContext? idem, CancellationToken ct)
    {
        var link = await db.ReadAsync(c => c.QuerySingleOrDefaultAsync<FriendPayLinkRow?>(
            "SELECT * FROM friend_pay_links WHERE id = @linkId AND merchant_id = @merchantId", new { linkId, merchantId }), ct);
        if (link is null)
        {
            return Failure.NotFound("friend_pay_link");
        }

        var now = time.GetUtcNow();
        return await paymentService.WithdrawFriendLinkAsync(link.PaymentId, linkId, async (c, t) =>
        {
            var row = (await c.QuerySingleAsync<FriendPayLinkRow>("SELECT * FROM friend_pay_links WHERE id = @linkId", new { linkId }, t))!;
            var expiresAt = await c.ExecuteScalarAsync<long>("SELECT expires_at FROM payments WHERE id = @PaymentId", new { row.PaymentId }, t);
            if (row.Status == "active")
            {
                row.Status = "revoked";
                row.RevokedAt = now.ToUnixTimeMilliseconds();
                await c.ExecuteAsync("UPDATE friend_pay_links SET status = 'revoked', revoked_at = @RevokedAt WHERE id = @Id", row, t);
                await Outbox.AddAsync(c, t, merchantId, "friend_pay_link.revoked", ToDto(row, expiresAt), now);
            }

            var result = Outcome.Ok(ToDto(row, expiresAt));
            if (idem is not null)
            {
                await idem.CompleteAsync(c, t, result);
            }

            return result;
        }, ct);
    }

    /// <summary>The buyer's own links, for the cashier's share page (the checkout token already proves who they are).</summary>
    public async Task<IReadOnlyList<FriendPayLinkRow>> ActiveOfPaymentAsync(string paymentId, CancellationToken ct) =>
        (await db.ReadAsync(c => c.QueryAsync<FriendPayLinkRow>(
            "SELECT * FROM friend_pay_links WHERE payment_id = @paymentId AND status = 'active' ORDER BY id", new { paymentId }), ct)).ToList();

    public Task<FriendPayLinkRow?> GetByTokenAsync(string token, CancellationToken ct) =>
        db.ReadAsync(c => c.QuerySingleOrDefaultAsync<FriendPayLinkRow?>("SELECT * FROM friend_pay_links WHERE token = @token", new { token }), ct);

    public string Url(string token) => $"{options.Value.PublicBaseUrl.TrimEnd('/')}/f/{token}";

    public FriendPayLinkDto ToDto(FriendPayLinkRow r, long paymentExpiresAt) => new(
        r.Id, "friend_pay_link", r.PaymentId, Url(r.Token), Url(r.Token) + "/link.png", r.RequesterName, r.Note, r.Status,
        DateTimeOffset.FromUnixTimeMilliseconds(paymentExpiresAt), DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt));
}
