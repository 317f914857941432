using System.Data;
using System.Data.Common;
using System.Text.Json;
using Dapper;
using Hutong.Connectors.Abstractions;
using Hutong.Domain;
using Hutong.Domain.Payments;
using Hutong.Server.Features.Channels;
using Hutong.Domain.Ledger;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Ledger;
using Hutong.Server.Features.Refunds;
using Hutong.Server.Features.Rollout;
using Hutong.Server.Http;
using Hutong.Server.Observability;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Payments;

/// <summary>
/// Payment use cases. Each state change goes through <see cref="PaymentStateMachine"/> and commits with
/// its outbox event; wallet calls happen between transactions, never inside one.
/// </summary>
public sealed partial class PaymentService(
    Db db,
    PaymentStore store,
    WalletRegistry wallets,
    RolloutService rollout,
    RoutingService routing,
    RefundStore refunds,
    LedgerStore ledger,
    ProfitSharing.ProfitSharingService profitSharing,
    IOptions<HubOptions> options,
    TimeProvider time,
    HubMetrics metrics,
    ILogger<PaymentService> log)
{
    /// <summary>An attempt's error_code once its wallet reported it paid with another amount than the payment's.</summary>
    public const string AmountMismatchCode = "amount_mismatch";

    public const string CurrencyMismatchCode = "currency_mismatch";

    private HubOptions Options => options.Value;

    public async Task<ApiResult> CreateAsync(string merchantId, CreatePaymentRequest r, IdempotencyContext? idem, CancellationToken ct)
    {
        var errors = PaymentValidation.Validate(r);
        if (errors.Count == 0 && r.ProfitSharing?.Splits is { Count: > 0 } rules)
        {
            errors = await profitSharing.ValidateRulesAsync(merchantId, r.Amount!.Value, rules, ct);
        }

        if (errors.Count > 0)
        {
            return Problems.Validation(errors);
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
        var created = ApiResult.Created(dto);
        System.Diagnostics.Activity.Current?.SetTag(HubTelemetry.PaymentIdTag, row.Id);
        var evt = Outbox.Prepare(merchantId, "payment.created", dto, now, row.TraceParent);
        try
        {
            // Statements only, so concurrent creates commit in groups on either store (three prepared statements on SQLite's
            // writer; one round trip for a whole group on PostgreSQL). A key answered elsewhere meanwhile rolls this one back.
            var affected = await db.WriteStatementsAsync(idem is null
                ? [PaymentStore.Insert(row), Outbox.Insert(evt)]
                : [PaymentStore.Insert(row), Outbox.Insert(evt), idem.Completion(created)],
                idem is null ? null : a => IdempotencyContext.EnsureFirstAnswer(a[2]), ct);
            idem?.Confirm(affected[2]);
            return created;
        }
        catch (DbException e) when (Db.IsUniqueViolation(e))
        {
            return ApiResult.Problem(409, "duplicate_merchant_order_id", "A payment with this merchant_order_id already exists.",
                "merchant_order_id must be unique per merchant.", param: "merchant_order_id");
        }
    }

    public async Task<ApiResult> GetAsync(string merchantId, string id, CancellationToken ct) =>
        await store.GetAsync(merchantId, id, ct) is { } p ? ApiResult.Ok(ToDto(p)) : Problems.NotFound("payment");

    public async Task<ApiResult> ListAsync(string merchantId, int? limit, string? startingAfter, string? status, CancellationToken ct)
    {
        var take = limit ?? 10;
        if (take is < 1 or > 100)
        {
            return Problems.Invalid("limit", "limit must be between 1 and 100.");
        }

        if (startingAfter is not null && !Ids.HasPrefix(startingAfter, Ids.Payment))
        {
            return Problems.Invalid("starting_after", "starting_after must be a payment id.");
        }

        if (status is not null && !Enum.GetValues<PaymentStatus>().Any(s => s.ToWire() == status))
        {
            return Problems.Invalid("status", "Unknown status.");
        }

        var (rows, hasMore) = await store.ListAsync(merchantId, take, startingAfter, status, ct);
        var data = rows.Select(ToDto).ToList();
        return ApiResult.Ok(new PaymentList("list", data, hasMore, hasMore ? data[^1].Id : null));
    }

    /// <summary>
    /// Starts an attempt at <paramref name="wallet"/>, or returns the open one. The attempt row (with its own
    /// out_trade_no) commits before the wallet is called, so a crash mid-call leaves a record to re-query.
    /// A pending payment may switch wallet (or, from a public page, pass to another payer whose claim it now is):
    /// the open wallet order is closed first, so the QR shown before can no longer take money.
    /// </summary>
    /// <param name="payer">Set by the cashier and friend-pay pages: the browser session must hold the payer claim.</param>
    public async Task<ApiResult> ConfirmAsync(PaymentRow payment, string? wallet, CancellationToken ct, PayerContext? payer = null)
    {
        System.Diagnostics.Activity.Current?.SetTag(HubTelemetry.PaymentIdTag, payment.Id);
        var enabled = await wallets.WalletsAsync(ct);
        if (wallet is null || !enabled.TryGetValue(wallet, out var connector))
        {
            return Problems.Invalid("wallet", $"wallet must be one of: {string.Join(", ", enabled.Keys.Order(StringComparer.Ordinal))}.");
        }

        if (payment.ProfitSharing is not null && connector is not IProfitSharingConnector)
        {
            return Problems.Invalid("wallet", $"This payment is split among receivers, and {wallet} does not split payments.");
        }

        var now = time.GetUtcNow();
        if (payer is not null)
        {
            var claimed = await db.WriteAsync((c, t) => store.TryClaimAsync(c, t, payment.Id, payer.Session,
                now.ToUnixTimeMilliseconds(), (now + Options.PayerClaim).ToUnixTimeMilliseconds()), ct);
            payment = await store.GetByIdAsync(payment.Id, ct) ?? payment;
            if (!claimed && payment.State is PaymentStatus.Created or PaymentStatus.Pending or PaymentStatus.Failed)
            {
                return ClaimedProblem();
            }
        }

        // Only a pending payment has an open attempt to return or replace.
        var current = payment.State == PaymentStatus.Pending ? await store.CurrentAttemptAsync(payment, ct) : null;
        var samePayer = payer is null || current?.PayerClaim == payer.Session;
        if (payment.State is PaymentStatus.Pending && payment.Wallet == wallet && samePayer
            && (payment.CodeUrl is not null || current?.Status == "requested"))
        {
            return ApiResult.Ok(ToDto(payment)); // the open attempt (or the one being opened right now)
        }

        if (ClaimedByOther(payment, payer, now.ToUnixTimeMilliseconds()))
        {
            return ClaimedProblem(); // the merchant's server may not replace the order of the payer who holds the payment
        }

        AttemptRow? replacing = null;
        if (payment.State is PaymentStatus.Pending && current is not null)
        {
            if (payment.ExpiresAt <= now.ToUnixTimeMilliseconds())
            {
                return Problems.Conflict("payment_expired", "The payment has expired.");
            }

            var closed = await CloseAttemptAtWalletAsync(current, ct);
            if (closed is not null)
            {
                return closed;
            }

            replacing = current;
        }
        else if (!PaymentStateMachine.CanApply(payment.State, PaymentEvent.AttemptStarted) && !(payment.State is PaymentStatus.Pending && payment.CurrentAttemptId is null))
        {
            return Problems.Conflict("payment_not_confirmable", $"A {payment.Status} payment cannot start a wallet attempt.");
        }

        if (payment.ExpiresAt <= now.ToUnixTimeMilliseconds())
        {
            return Problems.Conflict("payment_expired", "The payment has expired.");
        }

        if (!connector.Capabilities.Currencies.Contains(payment.Currency))
        {
            return Problems.Invalid("wallet", $"{wallet} does not accept {payment.Currency}.");
        }

        var offer = await rollout.DecideAsync(payment.MerchantId, wallet, payment.BuyerId, payment.ProductCategory, ct);
        if (!offer.Offered)
        {
            return ApiResult.Problem(403, "wallet_not_offered", $"{wallet} is not offered to this buyer.",
                RolloutService.Explain(wallet, offer, payment.BuyerId, payment.ProductCategory), param: "wallet");
        }

        var channels = await routing.ChannelsAsync(payment, wallet, ct);
        var previous = replacing;
        for (var i = 0; i < channels.Count; i++)
        {
            var channel = channels[i];
            var channelConnector = await wallets.ChannelAsync(channel, ct);
            if (channelConnector is null || channelConnector.Wallet != wallet)
            {
                LogBadRoute(log, payment.MerchantId, wallet, channel);
                continue;
            }

            var attempt = NewAttempt(payment.Id, wallet, channel, time.GetUtcNow(), payer);
            var started = await StartAttemptAsync(payment.Id, wallet, attempt, previous, ct);
            if (started is null)
            {
                return await store.GetAsync(payment.MerchantId, payment.Id, ct) is not { } latest ? Problems.NotFound("payment")
                    : ClaimedByOther(latest, payer, time.GetUtcNow().ToUnixTimeMilliseconds()) ? ClaimedProblem()
                    : latest.State == PaymentStatus.Pending && latest.Wallet == wallet ? ApiResult.Ok(ToDto(latest))
                    : Problems.Conflict("payment_not_confirmable", $"A {latest.Status} payment cannot start a wallet attempt.");
            }

            var result = await channelConnector.CreateQrOrderAsync(
                new CreateOrderRequest(attempt.OutTradeNo, payment.Money, payment.Description, DateTimeOffset.FromUnixTimeMilliseconds(payment.ExpiresAt),
                    wallets.NotifyUrl(channel), payment.Id, ProfitSharing: payment.ProfitSharing is not null),
                CancellationToken.None); // the wallet may act on it: never abandon the answer half way

            if (result.Outcome == WalletCallOutcome.Ok)
            {
                routing.RecordSuccess(channel);
            }
            else
            {
                routing.RecordFailure(channel);
                if (i < channels.Count - 1)
                {
                    // Fail over. The unanswered attempt stays 'requested' and is no longer current, so the worker closes
                    // its wallet order (or records it if the buyer somehow paid it): the buyer pays once.
                    LogFailover(log, payment.Id, channel, channels[i + 1], result.Error?.Code ?? "-");
                    if (result.Outcome == WalletCallOutcome.Rejected)
                    {
                        await RecordAttemptFailedAsync(attempt, result.Error!, CancellationToken.None);
                    }

                    previous = attempt;
                    continue;
                }
            }

            var after = await RecordCreateOutcomeAsync(attempt, result, CancellationToken.None);
            return after is null ? Problems.NotFound("payment") : ApiResult.Ok(ToDto(after));
        }

        return ApiResult.Problem(503, "no_channel", $"No working channel reaches {wallet} for this merchant.", "Check the merchant's routes.");
    }

    /// <summary>
    /// Whether a payer other than <paramref name="payer"/> holds the payment now. The merchant's own call (no payer)
    /// defers to any live claim, so exactly one payer holds on every path: cashier, friend page, aggregated QR, API.
    /// </summary>
    private static bool ClaimedByOther(PaymentRow p, PayerContext? payer, long nowMs) =>
        p.PayerClaim is not null && p.PayerClaimUntil > nowMs && p.State is PaymentStatus.Created or PaymentStatus.Pending
        && p.PayerClaim != payer?.Session;

    private static ApiResult ClaimedProblem() => ApiResult.Problem(409, "payment_claimed", "Someone else is paying this payment right now.",
        "Only one payer at a time; try again when their claim lapses.");

    private static AttemptRow NewAttempt(string paymentId, string wallet, string channel, DateTimeOffset now, PayerContext? payer)
    {
        var attemptId = Ids.MonotonicV7(now);
        return new AttemptRow
        {
            Id = $"{Ids.Attempt}_{attemptId:N}",
            PaymentId = paymentId,
            Wallet = wallet,
            Channel = channel,
            OutTradeNo = attemptId.ToString("N"), // 32 chars: WeChat's out_trade_no limit
            Status = "requested",
            CreatedAt = now.ToUnixTimeMilliseconds(),
            UpdatedAt = now.ToUnixTimeMilliseconds(),
            Via = payer?.Via ?? "api",
            PayerClaim = payer?.Session,
            FriendLinkId = payer?.FriendLinkId,
        };
    }

    /// <summary>
    /// Commits the attempt before the wallet is called. The first attempt moves the payment to pending; a failover
    /// or switch attempt replaces the current one on the already-pending payment.
    /// </summary>
    private Task<PaymentRow?> StartAttemptAsync(string paymentId, string wallet, AttemptRow attempt, AttemptRow? previous, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        return db.WriteAsync(async (c, t) =>
        {
            var current = await store.LockAsync(c, t, paymentId);
            if (current is null || ClaimedByOther(current, attempt.PayerClaim is null ? null : new PayerContext(attempt.Via ?? "api", attempt.PayerClaim), now.ToUnixTimeMilliseconds()))
            {
                return null; // another payer took the payment between our claim and now
            }

            if (attempt.FriendLinkId is not null
                && await c.ExecuteScalarAsync<string?>("SELECT status FROM friend_pay_links WHERE id = @FriendLinkId", new { attempt.FriendLinkId }, t) != "active")
            {
                // Revoked while this friend's click was on its way: no order, and the claim it just took is let go.
                await c.ExecuteAsync("UPDATE payments SET payer_claim = NULL, payer_claim_until = NULL WHERE id = @paymentId AND payer_claim = @PayerClaim",
                    new { paymentId, attempt.PayerClaim }, t);
                return null;
            }

            if (previous is not null || (current.State == PaymentStatus.Pending && current.CurrentAttemptId is null))
            {
                if (current.State != PaymentStatus.Pending || current.CurrentAttemptId != previous?.Id)
                {
                    return null; // something else settled the payment meanwhile
                }

                await store.InsertAttemptAsync(c, t, attempt);
                await c.ExecuteAsync("UPDATE payments SET current_attempt_id = @Id, wallet = @wallet, updated_at = @now WHERE id = @paymentId",
                    new { attempt.Id, wallet, now = now.ToUnixTimeMilliseconds(), paymentId }, t);
                current.CurrentAttemptId = attempt.Id;
                current.Wallet = wallet;
                current.CodeUrl = null;
                return current;
            }

            if (!PaymentStateMachine.CanApply(current.State, PaymentEvent.AttemptStarted))
            {
                return null;
            }

            await store.InsertAttemptAsync(c, t, attempt);
            return await TransitionAsync(c, t, current, PaymentEvent.AttemptStarted, now, p =>
            {
                p.Wallet = wallet;
                p.CurrentAttemptId = attempt.Id;
                p.FailureCode = null;
                p.FailureMessage = null;
            });
        }, ct);
    }

    private Task RecordAttemptFailedAsync(AttemptRow attempt, WalletError error, CancellationToken ct) =>
        db.WriteAsync(async (c, t) =>
        {
            attempt.Status = "failed";
            attempt.ErrorCode = error.Code;
            attempt.ErrorMessage = error.Message;
            attempt.UpdatedAt = time.GetUtcNow().ToUnixTimeMilliseconds();
            await store.UpdateAttemptAsync(c, t, attempt);
        }, ct);

    /// <summary>Cancels: an unpaid payment with an open wallet order has that order closed first.</summary>
    public async Task<ApiResult> CancelAsync(string merchantId, string id, IdempotencyContext? idem, CancellationToken ct)
    {
        var payment = await store.GetAsync(merchantId, id, ct);
        if (payment is null)
        {
            return Problems.NotFound("payment");
        }

        if (payment.State == PaymentStatus.Unknown)
        {
            return Problems.Conflict("payment_outcome_unknown", "The wallet has not yet confirmed whether the buyer paid; try again once it is resolved.");
        }

        if (!PaymentStateMachine.CanApply(payment.State, PaymentEvent.Cancel))
        {
            return Problems.Conflict("payment_not_cancelable", $"A {payment.Status} payment cannot be canceled.");
        }

        var closed = await CloseAtWalletAsync(payment, ct);
        if (closed is not null)
        {
            return closed;
        }

        var now = time.GetUtcNow();
        return await db.WriteAsync(async (c, t) =>
        {
            var current = await store.LockAsync(c, t, id);
            if (current is null || !PaymentStateMachine.CanApply(current.State, PaymentEvent.Cancel))
            {
                return Problems.Conflict("payment_not_cancelable", $"A {current?.Status} payment cannot be canceled.");
            }

            var next = await TransitionAsync(c, t, current, PaymentEvent.Cancel, now, _ => { });
            var result = ApiResult.Ok(ToDto(next));
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
    public async Task<ApiResult> WithdrawFriendLinkAsync(string paymentId, string linkId, Func<DbConnection, DbTransaction, Task<ApiResult>> revoke, CancellationToken ct)
    {
        if (await store.GetByIdAsync(paymentId, ct) is { State: PaymentStatus.Unknown })
        {
            return Problems.Conflict("payment_outcome_unknown", "The wallet has not yet confirmed whether the friend paid; try again once it is resolved.");
        }

        var open = await db.ReadAsync(async c => (await c.QueryAsync<AttemptRow>(
            "SELECT * FROM payment_attempts WHERE payment_id = @paymentId AND friend_link_id = @linkId AND status IN ('requested','open')",
            new { paymentId, linkId })).ToList(), ct);
        foreach (var attempt in open)
        {
            if (await CloseAttemptAtWalletAsync(attempt, ct) is { Status: not 409 } problem)
            {
                return problem; // the wallet did not answer: nothing was changed
            }
        }

        var now = time.GetUtcNow();
        return await db.WriteAsync(async (c, t) =>
        {
            var p = await store.LockAsync(c, t, paymentId);
            var result = await revoke(c, t);
            await c.ExecuteAsync(
                """
                UPDATE payments SET payer_claim = NULL, payer_claim_until = NULL
                WHERE id = @paymentId AND payer_claim IN (SELECT payer_claim FROM payment_attempts WHERE payment_id = @paymentId AND friend_link_id = @linkId)
                """, new { paymentId, linkId }, t);
            if (p is { State: PaymentStatus.Pending, CurrentAttemptId: { } currentId } && (await store.GetAttemptAsync(c, t, currentId))?.FriendLinkId == linkId)
            {
                // Pending with no current attempt: the buyer's next choice starts a fresh one (see StartAttemptAsync).
                await c.ExecuteAsync("UPDATE payments SET current_attempt_id = NULL, wallet = NULL, updated_at = @now WHERE id = @paymentId",
                    new { paymentId, now = now.ToUnixTimeMilliseconds() }, t);
            }

            return result;
        }, ct);
    }

    /// <summary>Closes every non-final attempt of the payment at its wallet. Returns a problem when that cannot be done now.</summary>
    private async Task<ApiResult?> CloseAtWalletAsync(PaymentRow payment, CancellationToken ct)
    {
        var attempts = await db.ReadAsync(async c => (await c.QueryAsync<AttemptRow>(
            "SELECT * FROM payment_attempts WHERE payment_id = @Id AND status IN ('requested','open')", new { payment.Id })).ToList(), ct);
        foreach (var attempt in attempts)
        {
            if (await CloseAttemptAtWalletAsync(attempt, ct) is { } problem)
            {
                return problem;
            }
        }

        return null;
    }

    /// <summary>Closes one attempt's wallet order; a refused close is checked by query, and a payment found there is applied.</summary>
    private async Task<ApiResult?> CloseAttemptAtWalletAsync(AttemptRow attempt, CancellationToken ct)
    {
        if (attempt.Status is not ("requested" or "open"))
        {
            return null;
        }

        var connector = await ConnectorOfAsync(attempt, ct);
        var close = await connector.CloseAsync(attempt.OutTradeNo, ct);
        if (close.Outcome == WalletCallOutcome.Unknown)
        {
            return WalletUnavailable();
        }

        if (close.Outcome == WalletCallOutcome.Rejected)
        {
            // A refused close usually means the buyer paid a moment ago: ask, and believe the answer.
            var query = await connector.QueryAsync(attempt.OutTradeNo, ct);
            if (query.Outcome != WalletCallOutcome.Ok)
            {
                return WalletUnavailable();
            }

            await ApplyWalletTransactionAsync(query.Transaction!, "query", ct);
            if (query.Transaction!.Status is WalletStatus.Succeeded or WalletStatus.Paying)
            {
                return Problems.Conflict("payment_already_paid", "The buyer has already paid this payment at the wallet.");
            }
        }

        await MarkClosedAsync(attempt, connector, ct);
        return null;
    }

    /// <summary>A wallet order may still be paid this long after the payment's expiry (clock skew, a payment in flight).</summary>
    private static readonly TimeSpan LapseMargin = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Records that an order can no longer be paid. A wallet that cannot close orders (UnionPay's QR codes lapse at their
    /// payTimeout, the payment's expiry) leaves it payable until then: the attempt stays open and is re-queried at the
    /// janitor's first interval until it lapses, so a payment made meanwhile is found — and refunded — even if its notification is lost.
    /// </summary>
    private async Task MarkClosedAsync(AttemptRow attempt, IWalletConnector connector, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var lapsesAt = (await store.GetByIdAsync(attempt.PaymentId, ct))?.ExpiresAt + (long)LapseMargin.TotalMilliseconds ?? 0;
        var stillPayable = !connector.Capabilities.Close && now.ToUnixTimeMilliseconds() < lapsesAt;
        await db.WriteAsync(async (c, t) =>
        {
            attempt.Status = stillPayable ? attempt.Status : "closed";
            attempt.NextCheckAt = stillPayable ? Math.Min((now + Options.UnknownRecheckSchedule[0]).ToUnixTimeMilliseconds(), lapsesAt) : null;
            attempt.UpdatedAt = now.ToUnixTimeMilliseconds();
            await store.UpdateAttemptAsync(c, t, attempt);
        }, ct);
    }

    private async Task<IWalletConnector> ConnectorOfAsync(AttemptRow attempt, CancellationToken ct) =>
        await wallets.ChannelAsync(attempt.Channel ?? attempt.Wallet, ct)
        ?? throw new InvalidOperationException($"Channel {attempt.Channel ?? attempt.Wallet} of attempt {attempt.Id} no longer exists.");

    private static ApiResult WalletUnavailable() =>
        ApiResult.Problem(503, "wallet_unavailable", "The wallet did not answer; nothing was changed.", "Retry the request.");

    /// <summary>
    /// Applies what a wallet says about one order (verified notification or query). Idempotent:
    /// a duplicate success changes nothing. Returns false when the order is not ours.
    /// </summary>
    public Task<bool> ApplyWalletTransactionAsync(WalletTransaction tx, string source, CancellationToken ct) =>
        db.WriteAsync((c, t) => ApplyWalletTransactionAsync(c, t, tx, source), ct);

    /// <summary>The same, inside the caller's transaction (a notification records itself with the change it brings).</summary>
    /// <param name="channel">The channel the news came through (a notification's endpoint): it applies only to that channel's attempts.</param>
    public async Task<bool> ApplyWalletTransactionAsync(DbConnection c, DbTransaction t, WalletTransaction tx, string source, string? channel = null)
    {
        var now = time.GetUtcNow();
        var attempt = await store.GetAttemptByOutTradeNoAsync(c, t, tx.OutTradeNo);
        if (attempt is null)
        {
            LogUnknownOrder(log, tx.OutTradeNo, source);
            return false;
        }

        if (channel is not null && (attempt.Channel ?? attempt.Wallet) != channel)
        {
            // out_trade_no is only unique within the hub: news from one channel never settles another channel's order.
            LogForeignOrder(log, tx.OutTradeNo, channel, attempt.Channel ?? attempt.Wallet);
            return false;
        }

        var payment = (await store.LockAsync(c, t, attempt.PaymentId))!;
        attempt = (await store.GetAttemptAsync(c, t, attempt.Id))!; // re-read under the payment's lock
        if (attempt.Status == "succeeded" && tx.Status == WalletStatus.Succeeded)
        {
            return true; // this success was already applied (duplicate notification, concurrent re-query)
        }

        if (tx.Status != WalletStatus.Succeeded)
        {
            if (tx.Status == WalletStatus.Failed && attempt.Id == payment.CurrentAttemptId && PaymentStateMachine.CanApply(payment.State, PaymentEvent.WalletFailed))
            {
                attempt.Status = "failed";
                attempt.ErrorCode = tx.RawStatus;
                attempt.UpdatedAt = now.ToUnixTimeMilliseconds();
                await store.UpdateAttemptAsync(c, t, attempt);
                await TransitionAsync(c, t, payment, PaymentEvent.WalletFailed, now, p =>
                {
                    p.FailureCode = "wallet_payment_failed";
                    p.FailureMessage = $"{attempt.Wallet} reported {tx.RawStatus}.";
                });
            }

            return true;
        }

        if (tx.AmountMinor != payment.Amount || (tx.Currency is not null && tx.Currency != payment.Currency))
        {
            // Never mark paid on a mismatched amount; this needs a human (and reconciliation will flag it). The attempt
            // records it, so the alert is raised once however often a re-query or the wallet repeats it.
            var currencyDiffers = tx.AmountMinor == payment.Amount;
            var code = currencyDiffers ? CurrencyMismatchCode : AmountMismatchCode;
            if (attempt.ErrorCode != code)
            {
                attempt.ErrorCode = code;
                attempt.ErrorMessage = $"wallet reports {tx.AmountMinor?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "no amount"} {tx.Currency}, payment is {payment.Amount} {payment.Currency}";
                await store.UpdateAttemptAsync(c, t, attempt);
                if (currencyDiffers)
                {
                    LogCurrencyMismatch(log, payment.Id, tx.OutTradeNo, payment.Currency, tx.Currency!);
                    metrics.CurrencyMismatch();
                }
                else
                {
                    LogAmountMismatch(log, payment.Id, tx.OutTradeNo, payment.Amount, tx.AmountMinor ?? -1);
                    metrics.AmountMismatch();
                }
            }

            return true;
        }

        attempt.Status = "succeeded";
        attempt.WalletTransactionId = tx.TransactionId;
        attempt.NextCheckAt = null;
        attempt.UpdatedAt = now.ToUnixTimeMilliseconds();
        await store.UpdateAttemptAsync(c, t, attempt);

        if (payment.State == PaymentStatus.Succeeded)
        {
            if (payment.CurrentAttemptId != attempt.Id)
            {
                // Two attempts of one payment both paid (two friends raced on a wallet whose order cannot be closed):
                // the payment keeps the first, and the second is refunded in full, in this same transaction's intent.
                LogDoubleCapture(log, payment.Id, tx.OutTradeNo);
                metrics.DoubleCapture();
                await ledger.AppendAsync(c, t, "capture_to_suspense", attempt.Id, payment.MerchantId,
                    Postings.CapturedToSuspense(attempt.Wallet, payment.MerchantId, payment.Money), now);
                await refunds.AddSystemRefundAsync(c, t, payment, attempt, "duplicate_payment", now);
            }

            return true;
        }

        // Paid after the payment was canceled or expired, or through a friend-pay link the buyer had withdrawn (its order
        // was closed, or — UnionPay — could not be): the payment is not theirs to settle, so the money goes back.
        var withdrawn = attempt.FriendLinkId is not null
            && await c.ExecuteScalarAsync<string?>("SELECT status FROM friend_pay_links WHERE id = @FriendLinkId", new { attempt.FriendLinkId }, t) == "revoked";
        if (!PaymentStateMachine.CanApply(payment.State, PaymentEvent.WalletSucceeded) || withdrawn)
        {
            LogLateSuccess(log, payment.Id, withdrawn ? "friend_pay_link_revoked" : payment.Status, tx.OutTradeNo);
            metrics.LateSuccess();
            await ledger.AppendAsync(c, t, "capture_to_suspense", attempt.Id, payment.MerchantId,
                Postings.CapturedToSuspense(attempt.Wallet, payment.MerchantId, payment.Money), now);
            await refunds.AddSystemRefundAsync(c, t, payment, attempt, withdrawn ? "friend_pay_link_revoked" : "payment_" + payment.Status, now);
            return true;
        }

        await TransitionAsync(c, t, payment, PaymentEvent.WalletSucceeded, now, p =>
        {
            p.CurrentAttemptId = attempt.Id;
            p.Wallet = attempt.Wallet;
            p.PayerId = tx.PayerId;
            p.PaidVia = attempt.Via ?? "api";
            p.FriendLinkId = attempt.FriendLinkId;
            p.WalletTransactionId = tx.TransactionId;
            p.SucceededAt = (tx.SucceededAt ?? now).ToUnixTimeMilliseconds();
            p.FailureCode = null;
            p.FailureMessage = null;
        });
        // The money, in the same transaction as the state change: captured, less the wallet's fee.
        await ledger.AppendAsync(c, t, "payment_captured", payment.Id, payment.MerchantId, Postings.Captured(attempt.Wallet, payment.MerchantId, payment.Money), now);
        var fee = Postings.Fee(payment.Money, Options.WalletFeeBasisPoints.GetValueOrDefault(attempt.Wallet));
        if (fee.Minor > 0)
        {
            await ledger.AppendAsync(c, t, "wallet_fee", payment.Id, payment.MerchantId, Postings.WalletFee(attempt.Wallet, payment.MerchantId, fee), now);
        }

        await profitSharing.ScheduleRulesAsync(c, t, payment, attempt.Id, now);

        metrics.Succeeded();
        return true;
    }

    /// <summary>One janitor step for an attempt whose create call went unanswered.</summary>
    public async Task ResolveUnknownAsync(AttemptRow attempt, CancellationToken ct)
    {
        if (await store.GetByIdAsync(attempt.PaymentId, ct) is { } owner && owner.CurrentAttemptId != attempt.Id)
        {
            await CloseStrayAttemptAsync(attempt, ct); // superseded (failover): close it, never revive it
            return;
        }

        var connector = await ConnectorOfAsync(attempt, ct);
        var query = await connector.QueryAsync(attempt.OutTradeNo, ct);
        if (query.Outcome == WalletCallOutcome.Ok)
        {
            var tx = query.Transaction!;
            switch (tx.Status)
            {
                case WalletStatus.Succeeded:
                case WalletStatus.Failed:
                    await ApplyWalletTransactionAsync(tx, "janitor", ct);
                    return;
                case WalletStatus.Closed:
                    await RecordCreateOutcomeAsync(attempt, CreateOrderResult.Rejected(new WalletError(tx.RawStatus, "order closed at the wallet")), ct);
                    return;
                case WalletStatus.NotPaid:
                case WalletStatus.Paying:
                case WalletStatus.NotFound:
                    // The order exists unpaid (we need its code_url back) or never arrived: re-send the very same
                    // order. Wallets treat an identical order under the same out_trade_no as the same order.
                    var payment = await store.GetByIdAsync(attempt.PaymentId, ct);
                    if (payment is null)
                    {
                        return;
                    }

                    var again = await connector.CreateQrOrderAsync(
                        new CreateOrderRequest(attempt.OutTradeNo, payment.Money, payment.Description,
                            DateTimeOffset.FromUnixTimeMilliseconds(payment.ExpiresAt), wallets.NotifyUrl(attempt.Channel ?? attempt.Wallet), payment.Id,
                            ProfitSharing: payment.ProfitSharing is not null), ct);
                    if (again.Outcome != WalletCallOutcome.Unknown)
                    {
                        await RecordCreateOutcomeAsync(attempt, again, ct);
                        return;
                    }

                    break;
            }
        }

        await ScheduleNextCheckAsync(attempt, ct);
    }

    /// <summary>
    /// Closes a wallet order that can no longer be the payment's (another attempt paid, or the payment was closed),
    /// so the buyer cannot pay twice. If it turns out to be paid, that is recorded (and alerted) as a double capture.
    /// </summary>
    public async Task CloseStrayAttemptAsync(AttemptRow attempt, CancellationToken ct)
    {
        var connector = await ConnectorOfAsync(attempt, ct);
        var close = await connector.CloseAsync(attempt.OutTradeNo, ct);
        if (close.Outcome == WalletCallOutcome.Unknown)
        {
            return; // next pass
        }

        if (close.Outcome == WalletCallOutcome.Rejected)
        {
            var query = await connector.QueryAsync(attempt.OutTradeNo, ct);
            if (query.Outcome != WalletCallOutcome.Ok)
            {
                return;
            }

            if (query.Transaction!.Status == WalletStatus.Succeeded)
            {
                await ApplyWalletTransactionAsync(query.Transaction, "stray-close", ct);
                return;
            }
        }

        await MarkClosedAsync(attempt, connector, ct);
    }

    private async Task ScheduleNextCheckAsync(AttemptRow attempt, CancellationToken ct)
    {
        var schedule = Options.UnknownRecheckSchedule;
        var now = time.GetUtcNow();
        attempt.Checks++;
        attempt.UpdatedAt = now.ToUnixTimeMilliseconds();
        if (attempt.Checks >= schedule.Count)
        {
            attempt.Status = "stuck";
            attempt.NextCheckAt = null;
            LogUnresolved(log, attempt.PaymentId, attempt.OutTradeNo, attempt.Checks);
            metrics.UnknownUnresolved();
        }
        else
        {
            attempt.NextCheckAt = (now + schedule[attempt.Checks]).ToUnixTimeMilliseconds();
        }

        await db.WriteAsync((c, t) => store.UpdateAttemptAsync(c, t, attempt), ct);
    }

    /// <summary>Expires a payment past its time: what the wallet says wins, and an open order is closed first.</summary>
    public async Task ExpireAsync(PaymentRow payment, CancellationToken ct)
    {
        var closed = await CloseAtWalletAsync(payment, ct);
        if (closed is not null)
        {
            return; // wallet unreachable or already paid: retried on the next pass or resolved by the success
        }

        var now = time.GetUtcNow();
        await db.WriteAsync(async (c, t) =>
        {
            var current = await store.LockAsync(c, t, payment.Id);
            if (current is not null && PaymentStateMachine.CanApply(current.State, PaymentEvent.Expire) && current.ExpiresAt <= now.ToUnixTimeMilliseconds())
            {
                await TransitionAsync(c, t, current, PaymentEvent.Expire, now, _ => { });
            }
        }, ct);
    }

    private async Task<PaymentRow?> RecordCreateOutcomeAsync(AttemptRow attempt, CreateOrderResult result, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        return await db.WriteAsync(async (c, t) =>
        {
            var payment = await store.LockAsync(c, t, attempt.PaymentId);
            if (payment is null)
            {
                return null;
            }

            attempt.UpdatedAt = now.ToUnixTimeMilliseconds();
            var isCurrent = payment.CurrentAttemptId == attempt.Id;
            switch (result.Outcome)
            {
                case WalletCallOutcome.Ok:
                    attempt.Status = "open";
                    attempt.CodeUrl = result.CodeUrl;
                    attempt.NextCheckAt = null;
                    await store.UpdateAttemptAsync(c, t, attempt);
                    if (isCurrent && payment.State == PaymentStatus.Unknown)
                    {
                        payment = await TransitionAsync(c, t, payment, PaymentEvent.WalletStillUnpaid, now, _ => { });
                    }

                    break;
                case WalletCallOutcome.Rejected:
                    attempt.Status = "failed";
                    attempt.ErrorCode = result.Error!.Code;
                    attempt.ErrorMessage = result.Error.Message;
                    attempt.NextCheckAt = null;
                    await store.UpdateAttemptAsync(c, t, attempt);
                    if (isCurrent && PaymentStateMachine.CanApply(payment.State, PaymentEvent.WalletFailed))
                    {
                        payment = await TransitionAsync(c, t, payment, PaymentEvent.WalletFailed, now, p =>
                        {
                            p.FailureCode = "wallet_rejected";
                            p.FailureMessage = $"{attempt.Wallet}: {result.Error.Code} {result.Error.Message}";
                        });
                    }

                    break;
                default:
                    attempt.Status = "unknown";
                    attempt.NextCheckAt = (now + Options.UnknownRecheckSchedule[0]).ToUnixTimeMilliseconds();
                    await store.UpdateAttemptAsync(c, t, attempt);
                    if (isCurrent && PaymentStateMachine.CanApply(payment.State, PaymentEvent.WalletTimedOut))
                    {
                        payment = await TransitionAsync(c, t, payment, PaymentEvent.WalletTimedOut, now, _ => { });
                        metrics.WentUnknown();
                    }

                    break;
            }

            payment.CodeUrl = attempt.Status == "open" && isCurrent ? attempt.CodeUrl : payment.CodeUrl;
            return payment;
        }, ct);
    }

    /// <summary>The single path for a payment state change: legal per the table, guarded by version, with its outbox event.</summary>
    private async Task<PaymentRow> TransitionAsync(DbConnection c, DbTransaction t, PaymentRow current, PaymentEvent e, DateTimeOffset now, Action<PaymentRow> change)
    {
        var to = PaymentStateMachine.Apply(current.State, e).ToOrThrow();
        var next = current.Copy();
        change(next);
        next.Status = to.ToWire();
        next.UpdatedAt = now.ToUnixTimeMilliseconds();
        next.Version = current.Version + 1;
        if (!await store.UpdateAsync(c, t, next, current.Version))
        {
            throw new DBConcurrencyException($"Payment {current.Id} changed concurrently.");
        }

        if (to != PaymentStatus.Pending)
        {
            next.CodeUrl = null; // a QR is only offered while the payment is pending
        }

        await Outbox.AddAsync(c, t, next.MerchantId, "payment." + to.ToWire(), ToDto(next), now, next.TraceParent);
        return next;
    }

    public PaymentDto ToDto(PaymentRow p)
    {
        var baseUrl = Options.PublicBaseUrl.TrimEnd('/');
        var checkoutUrl = $"{baseUrl}/pay/{p.CheckoutToken}";
        var state = p.State;
        return new PaymentDto(
            p.Id,
            "payment",
            p.Amount,
            p.Currency,
            p.Status,
            p.Description,
            p.MerchantOrderId,
            p.Metadata is null ? null : JsonSerializer.Deserialize<Dictionary<string, string>>(p.Metadata),
            p.BuyerId,
            p.ProductCategory,
            checkoutUrl,
            p.ReturnUrl,
            p.Wallet,
            state == PaymentStatus.Pending && p.CodeUrl is not null ? new NextAction("scan_qr", p.CodeUrl, checkoutUrl + "/qr.png", checkoutUrl + "/qr.svg") : null,
            (p.PayerId is not null || state == PaymentStatus.Succeeded) && p.Wallet is not null
                ? new PaymentPayer(p.Wallet, p.PayerId, p.PaidVia ?? "api", p.FriendLinkId)
                : null,
            p.WalletTransactionId,
            p.FailureCode is null ? null : new PaymentFailure(p.FailureCode, p.FailureMessage ?? string.Empty),
            p.AmountRefunded,
            p.ProfitSharing is null ? null : JsonSerializer.Deserialize<List<SplitRuleRequest>>(p.ProfitSharing),
            DateTimeOffset.FromUnixTimeMilliseconds(p.ExpiresAt),
            DateTimeOffset.FromUnixTimeMilliseconds(p.CreatedAt),
            p.SucceededAt is { } s ? DateTimeOffset.FromUnixTimeMilliseconds(s) : null);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Merchant {MerchantId} routes {Wallet} to channel {Channel}, which does not exist or is another wallet's")]
    private static partial void LogBadRoute(ILogger logger, string merchantId, string wallet, string channel);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Payment {PaymentId}: channel {Failed} did not take the order ({Code}); failing over to {Next}")]
    private static partial void LogFailover(ILogger logger, string paymentId, string failed, string next, string code);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Wallet order {OutTradeNo} from {Source} matches no attempt")]
    private static partial void LogUnknownOrder(ILogger logger, string outTradeNo, string source);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Wallet order {OutTradeNo} arrived through channel {Channel} but belongs to channel {Owner}; ignored")]
    private static partial void LogForeignOrder(ILogger logger, string outTradeNo, string channel, string owner);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Currency mismatch on payment {PaymentId} order {OutTradeNo}: expected {Expected}, wallet says {Actual}; not marked paid")]
    private static partial void LogCurrencyMismatch(ILogger logger, string paymentId, string outTradeNo, string expected, string actual);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Amount mismatch on payment {PaymentId} order {OutTradeNo}: expected {Expected}, wallet says {Actual}; not marked paid")]
    private static partial void LogAmountMismatch(ILogger logger, string paymentId, string outTradeNo, long expected, long actual);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Payment {PaymentId} was already paid and order {OutTradeNo} also succeeded: refunding it automatically")]
    private static partial void LogDoubleCapture(ILogger logger, string paymentId, string outTradeNo);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Payment {PaymentId} is {Status} but order {OutTradeNo} succeeded at the wallet: refunding it automatically")]
    private static partial void LogLateSuccess(ILogger logger, string paymentId, string status, string outTradeNo);

    [LoggerMessage(Level = LogLevel.Critical, Message = "ALERT: payment {PaymentId} order {OutTradeNo} still UNKNOWN after {Checks} re-queries; schedule exhausted")]
    private static partial void LogUnresolved(ILogger logger, string paymentId, string outTradeNo, int checks);
}
