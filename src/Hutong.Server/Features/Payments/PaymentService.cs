using System.Data.Common;
using System.Text.Json;
using Dapper;
using Hutong.Connectors.Abstractions;
using Hutong.Domain;
using Hutong.Domain.Payments;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Observability;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Payments;

/// <summary>
/// Payment use cases. Each state change goes through <see cref="PaymentStates"/> and commits with its outbox event;
/// wallet calls happen between transactions, never inside one. Starting attempts lives in <see cref="PaymentConfirmation"/>,
/// following wallet orders in <see cref="WalletOrders"/>, and what wallets' answers mean in <see cref="PaymentOutcomes"/>
/// (decided by <see cref="WalletOutcomeDecider"/>); this class keeps the entry points the endpoints and workers call.
/// </summary>
public sealed class PaymentService(
    Db db,
    PaymentStore store,
    PaymentConfirmation confirmation,
    WalletOrders orders,
    PaymentOutcomes outcomes,
    PaymentDtos dtos,
    IPaymentSplits profitSharing,
    WalletRegistry wallets,
    IOptions<HubOptions> options,
    TimeProvider time)
{
    /// <summary>An attempt's error_code once its wallet reported it paid with another amount than the payment's.</summary>
    public const string AmountMismatchCode = WalletDecision.AmountMismatchCode;

    public const string CurrencyMismatchCode = WalletDecision.CurrencyMismatchCode;

    private HubOptions Options => options.Value;

    public async Task<Outcome<PaymentDto>> CreateAsync(string merchantId, CreatePaymentRequest r, IdempotencyContext? idem, CancellationToken ct)
    {
        var errors = PaymentValidation.Validate(r);
        if (errors.Count == 0 && await NoWalletTakesAsync(Currency.Parse(r.Currency!).Code, ct) is { } refusal)
        {
            errors = new() { ["currency"] = [refusal] };
        }

        if (errors.Count == 0 && r.ProfitSharing?.Splits is { Count: > 0 } rules)
        {
            errors = await profitSharing.ValidateRulesAsync(merchantId, r.Amount!.Value, rules, ct);
        }

        if (errors.Count > 0)
        {
            return Failure.Validation(errors);
        }

        var now = time.GetUtcNow();
        var row = new PaymentRow
        {
            Id = Ids.New(Ids.Payment, now),
            MerchantId = merchantId,
            Amount = r.Amount!.Value,
            Currency = Currency.Parse(r.Currency!).Code,
            Status = PaymentStatus.Created.ToWire(),
            Description = r.Description!,
            MerchantOrderId = r.MerchantOrderId!,
            Metadata = r.Metadata is null ? null : JsonSerializer.Serialize(r.Metadata),
            CheckoutToken = Ids.OrderedToken(now),
            BuyerId = r.BuyerId,
            ProductCategory = r.ProductCategory,
            ReturnUrl = r.ReturnUrl is null ? null : PaymentValidation.NormalizeReturnUrl(r.ReturnUrl),
            ProfitSharing = r.ProfitSharing is null ? null : JsonSerializer.Serialize(r.ProfitSharing.Splits ?? []),
            ExpiresAt = now.AddSeconds(r.ExpiresInSeconds ?? Options.DefaultExpirySeconds).ToUnixTimeMilliseconds(),
            CreatedAt = now.ToUnixTimeMilliseconds(),
            UpdatedAt = now.ToUnixTimeMilliseconds(),
            Version = 1,
            TraceParent = HubTelemetry.CurrentTraceParent(),
        };

        // Everything but the inserts happens here, off the store's single writer: the response and the event are built first.
        var dto = ToDto(row);
        var created = Outcome.Created(dto);
        System.Diagnostics.Activity.Current?.SetTag(HubTelemetry.PaymentIdTag, row.Id);
        var evt = Outbox.Prepare(merchantId, "payment.created", dto, now, row.TraceParent);
        try
        {
            // Statements only, so concurrent creates commit in groups on either store (four prepared statements on SQLite's
            // writer; one round trip for a whole group on PostgreSQL). A key answered elsewhere meanwhile rolls this one back.
            // The event is fanned out as it is inserted: no fan-out write, no second write of its row.
            var write = new WriteBatch(4);
            write.Add(PaymentStore.Insert(row));
            Outbox.AddHandedOver(write, evt, db.IsPostgres);
            var answer = idem is null ? default : write.Add(idem.Completion(created), IdempotencyContext.EnsureFirstAnswer);
            await db.WriteAsync(write, ct);
            idem?.Confirm(answer.Rows);
            return created;
        }
        catch (DbException e) when (Db.IsUniqueViolation(e))
        {
            return Failure.Conflict("duplicate_merchant_order_id", "A payment with this merchant_order_id already exists.",
                "merchant_order_id must be unique per merchant.", param: "merchant_order_id");
        }
    }

    public async Task<Outcome<PaymentDto>> GetAsync(string merchantId, string id, CancellationToken ct) =>
        await store.GetAsync(merchantId, id, ct) is { } p ? Outcome.Ok(ToDto(p)) : Failure.NotFound("payment");

    public async Task<Outcome<PaymentList>> ListAsync(string merchantId, int? limit, string? startingAfter, string? status, CancellationToken ct)
    {
        var (take, pageProblem) = ListPage.Check(limit, startingAfter, Ids.Payment, "a payment id");
        if (pageProblem is not null)
        {
            return pageProblem;
        }

        if (status is not null && !Enum.GetValues<PaymentStatus>().Any(s => s.ToWire() == status))
        {
            return Failure.Invalid("status", "Unknown status.");
        }

        // A cursor is a place in this merchant's list: another merchant's payment, or none, would silently start the page
        // somewhere (payments are never deleted, so a cursor the hub gave out stays valid).
        if (startingAfter is not null && await store.GetAsync(merchantId, startingAfter, ct) is null)
        {
            return Failure.Invalid("starting_after", "starting_after must be one of your payments (the next_cursor of an earlier page).");
        }

        var (rows, hasMore) = await store.ListAsync(merchantId, take, startingAfter, status, ct);
        var data = rows.Select(ToDto).ToList();
        return Outcome.Ok(new PaymentList("list", data, hasMore, hasMore ? data[^1].Id : null));
    }

    /// <inheritdoc cref="PaymentConfirmation.ConfirmAsync"/>
    public Task<Outcome<PaymentDto>> ConfirmAsync(PaymentRow payment, string? wallet, CancellationToken ct, PayerContext? payer = null) =>
        confirmation.ConfirmAsync(payment, wallet, ct, payer);

    /// <summary>
    /// Why a payment in <paramref name="currency"/> could never be paid here (no wallet this hub takes accepts it), or
    /// null. Refused at creation rather than at every confirm, so the cashier never offers wallets that must refuse it.
    /// </summary>
    private async Task<string?> NoWalletTakesAsync(string currency, CancellationToken ct)
    {
        var enabled = await wallets.WalletsAsync(ct);
        // A hub with no wallet set up yet refuses every confirm anyway (no_channel); its payments are not the currency's fault.
        if (enabled.Count == 0 || enabled.Values.Any(w => w.Capabilities.Currencies.Contains(currency)))
        {
            return null;
        }

        var accepted = enabled.Values.SelectMany(w => w.Capabilities.Currencies).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        return $"No wallet this hub takes accepts {currency}; accepted: {string.Join(", ", accepted)} (see GET /v1/capabilities).";
    }

    /// <summary>Cancels: an unpaid payment with an open wallet order has that order closed first.</summary>
    public async Task<Outcome<PaymentDto>> CancelAsync(string merchantId, string id, IdempotencyContext? idem, CancellationToken ct)
    {
        var payment = await store.GetAsync(merchantId, id, ct);
        if (payment is null)
        {
            return Failure.NotFound("payment");
        }

        if (payment.State == PaymentStatus.Unknown)
        {
            return Failure.Conflict("payment_outcome_unknown", "The wallet has not yet confirmed whether the buyer paid; try again once it is resolved.");
        }

        if (!PaymentStates.Machine.CanApply(payment.State, PaymentEvent.Cancel))
        {
            return Failure.Conflict("payment_not_cancelable", $"A {payment.Status} payment cannot be canceled.");
        }

        var closed = await orders.CloseAtWalletAsync(payment, ct);
        if (closed is not null)
        {
            return closed;
        }

        var now = time.GetUtcNow();
        return await db.WriteAsync<Outcome<PaymentDto>>(async (c, t) =>
        {
            var current = await store.LockAsync(c, t, id);
            if (current is null || !PaymentStates.Machine.CanApply(current.State, PaymentEvent.Cancel))
            {
                return Failure.Conflict("payment_not_cancelable", $"A {current?.Status} payment cannot be canceled.");
            }

            var next = await outcomes.TransitionAsync(c, t, current, PaymentEvent.Cancel, now, _ => { });
            var result = Outcome.Ok(ToDto(next));
            if (idem is not null)
            {
                await idem.CompleteAsync(c, t, result);
            }

            return result;
        }, ct);
    }


    /// <summary>
    /// Revokes a friend-pay link: that friend's open wallet orders are closed first (a refused close that finds the order
    /// paid applies the payment: the friend paid before the revoke), then, under the payment's lock, the link is revoked,
    /// the payer claim it holds is released and its attempt stops being the payment's, so the buyer can pay at once. An
    /// order the wallet cannot close (UnionPay) is watched like any superseded order until it lapses, and a capture on
    /// it is refunded. <paramref name="revoke"/> marks the link revoked in that transaction and gives the answer.
    /// </summary>
    public async Task<Outcome<T>> WithdrawFriendLinkAsync<T>(string paymentId, string linkId, Func<DbConnection, DbTransaction, Task<Outcome<T>>> revoke, CancellationToken ct)
    {
        if (await store.GetByIdAsync(paymentId, ct) is { State: PaymentStatus.Unknown })
        {
            return Failure.Conflict("payment_outcome_unknown", "The wallet has not yet confirmed whether the friend paid; try again once it is resolved.");
        }

        var open = await db.ReadAsync(async c => (await c.QueryAsync<AttemptRow>(
            "SELECT * FROM payment_attempts WHERE payment_id = @paymentId AND friend_link_id = @linkId AND status IN ('requested','open')",
            new { paymentId, linkId })).ToList(), ct);
        foreach (var attempt in open)
        {
            if (await orders.CloseAttemptAtWalletAsync(attempt, ct) is { Kind: not FailureKind.Conflict } problem)
            {
                return problem; // the wallet did not answer: nothing was changed
            }
        }

        var now = time.GetUtcNow();
        return await db.WriteAsync(async (c, t) =>
        {
            var p = await store.LockAsync(c, t, paymentId);
            var result = await revoke(c, t);
            await store.ReleaseFriendLinkClaimAsync(c, t, paymentId, linkId);
            if (p is { State: PaymentStatus.Pending, CurrentAttemptId: { } currentId } && (await store.GetAttemptAsync(c, t, currentId))?.FriendLinkId == linkId)
            {
                // Pending with no current attempt: the buyer's next choice starts a fresh one (see PaymentConfirmation).
                await outcomes.UpdateAsync(c, t, p, now, next =>
                {
                    next.CurrentAttemptId = null;
                    next.Wallet = null;
                });
            }

            return result;
        }, ct);
    }

    /// <summary>
    /// Applies what a wallet says about one order (verified notification or query). Idempotent:
    /// a duplicate success changes nothing. Returns false when the order is not ours.
    /// </summary>
    public Task<bool> ApplyWalletTransactionAsync(WalletTransaction tx, string source, CancellationToken ct) =>
        outcomes.ApplyWalletTransactionAsync(tx, source, ct);

    /// <summary>The same, inside the caller's transaction (a notification records itself with the change it brings).</summary>
    /// <param name="channel">The channel the news came through (a notification's endpoint): it applies only to that channel's attempts.</param>
    public Task<bool> ApplyWalletTransactionAsync(DbConnection c, DbTransaction t, WalletTransaction tx, string source, string? channel = null) =>
        outcomes.ApplyWalletTransactionAsync(c, t, tx, source, channel);

    /// <inheritdoc cref="WalletOrders.ResolveUnknownAsync"/>
    public Task ResolveUnknownAsync(AttemptRow attempt, CancellationToken ct) => orders.ResolveUnknownAsync(attempt, ct);

    /// <inheritdoc cref="WalletOrders.CloseStrayAttemptAsync"/>
    public Task CloseStrayAttemptAsync(AttemptRow attempt, CancellationToken ct) => orders.CloseStrayAttemptAsync(attempt, ct);

    /// <inheritdoc cref="WalletOrders.ExpireAsync"/>
    public Task ExpireAsync(PaymentRow payment, CancellationToken ct) => orders.ExpireAsync(payment, ct);

    /// <inheritdoc cref="WalletOrders.PollOpenAsync"/>
    public Task PollOpenAsync(AttemptRow attempt, CancellationToken ct) => orders.PollOpenAsync(attempt, ct);

    public PaymentDto ToDto(PaymentRow p) => dtos.ToDto(p);
}
