using System.Data.Common;
using System.Globalization;
using Hutong.Connectors.Abstractions;
using Hutong.Domain;
using Hutong.Domain.FollowUps;
using Hutong.Domain.Ledger;
using Hutong.Domain.Refunds;
using Hutong.Domain.Subsidies;
using Hutong.Domain.Text;
using Hutong.Server.Features.Ledger;
using Hutong.Domain.Payments;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Payments;
using Hutong.Server.Features.Workers;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Refunds;

/// <summary>POST /v1/payments/{id}/refunds: amount in minor units (default: all that is left), optional reason.</summary>
public sealed record CreateRefundRequest(long? Amount, string? Reason);

/// <summary>A page of a payment's refunds, oldest first; next_cursor (the last id) goes in starting_after for the next page.</summary>
public sealed record RefundList(string Object, IReadOnlyList<RefundDto> Data, bool HasMore, string? NextCursor);

/// <summary>
/// Sends due refunds to their wallet and follows them to a final state. A refund the wallet did not answer is
/// UNKNOWN and re-queried on the payment janitor's schedule (never re-created blind: out_refund_no makes a re-send
/// the same refund). Each state change commits with its refund.* event. Several hubs may share the database: a refund is
/// claimed before its wallet call, and its outcome applied only if it is still as it was read (see <see cref="RefundStore.ApplyAsync"/>).
/// </summary>
public sealed partial class RefundService(
    Db db, RefundStore refunds, PaymentStore payments, LedgerStore ledger, WalletRegistry wallets, IRefundSplitReturns profitSharing,
    IOptions<HubOptions> options, TimeProvider time, ILogger<RefundService> log)
{
    private readonly SemaphoreSlim _pass = new(1, 1); // one pass at a time: the worker's and a fresh refund's nudge never overlap

    /// <summary>
    /// POST /v1/payments/{id}/refunds. Under the payment's row lock, the merchant's refunds (pending, in flight and done)
    /// plus this one may not exceed the captured amount, so concurrent partial refunds cannot over-refund. The refund is
    /// then sent at once, off the request, and followed to a final state by the worker.
    /// </summary>
    /// <param name="alsoInTransaction">Run in the refund's own transaction once it is inserted (e.g. a dispute linking the
    /// refund it was made from), so the link commits with the refund and its stored idempotent answer, or neither does.</param>
    public async Task<Outcome<RefundDto>> CreateAsync(string merchantId, string paymentId, CreateRefundRequest r, IdempotencyContext? idem, CancellationToken ct,
        Func<DbConnection, DbTransaction, string, Task>? alsoInTransaction = null)
    {
        var errors = new Dictionary<string, string[]>();
        if (r.Amount is <= 0 or > Money.MaxAmount)
        {
            errors["amount"] = [$"amount must be 1-{Money.MaxAmount} minor units."];
        }

        if (r.Reason is { Length: > 80 })
        {
            errors["reason"] = ["reason is at most 80 characters (the wallets' limit)."];
        }
        else if (r.Reason is not null && !PlainText.IsPrintable(r.Reason))
        {
            errors["reason"] = ["reason " + PlainText.Refusal];
        }

        if (errors.Count > 0)
        {
            return Failure.Validation(errors);
        }

        var enabled = await wallets.WalletsAsync(ct);
        var now = time.GetUtcNow();
        var result = await db.WriteAsync<Outcome<RefundDto>>(async (c, t) =>
        {
            var payment = await payments.LockAsync(c, t, paymentId);
            if (payment is null || payment.MerchantId != merchantId)
            {
                return Failure.NotFound("payment");
            }

            if (payment.State != PaymentStatus.Succeeded || payment.CurrentAttemptId is null)
            {
                return Failure.Conflict("payment_not_refundable", $"A {payment.Status} payment has nothing to refund.");
            }

            var committed = await refunds.CommittedAsync(c, t, paymentId);
            var refundable = payment.Amount - committed;
            var amount = r.Amount ?? refundable;
            if (amount <= 0 || amount > refundable)
            {
                return Failure.Conflict("refund_exceeds_refundable", "The refund is more than what is left to refund.",
                    $"{refundable} of {payment.Amount} can still be refunded.", param: "amount");
            }

            if (amount < payment.Amount && payment.Wallet is { } w && enabled.TryGetValue(w, out var connector) && !connector.Capabilities.PartialRefund)
            {
                return Failure.Invalid("amount", $"{w} refunds only the whole amount.");
            }

            // Refused here rather than sent for the wallet to refuse: the payment is locked, so two concurrent refunds
            // cannot both take the last place.
            if (payment.Wallet is { } wallet && enabled.TryGetValue(wallet, out var refunder) && refunder.Capabilities is var rules
                && (rules.MaxRefundsPerPayment is not null || rules.RefundWindow is not null))
            {
                var count = rules.MaxRefundsPerPayment is null ? 0 : await refunds.CountAsync(c, t, paymentId);
                var paidAt = DateTimeOffset.FromUnixTimeMilliseconds(payment.SucceededAt ?? payment.CreatedAt);
                switch (RefundDecisions.WalletRules(count, rules.MaxRefundsPerPayment, paidAt, rules.RefundWindow, now))
                {
                    case RefundRefusal.LimitReached:
                        return Failure.Conflict("refund_limit_reached", $"{wallet} takes at most {rules.MaxRefundsPerPayment} refunds of one payment, and this payment has them.",
                            $"{refundable} of {payment.Amount} is left that {wallet} will not refund; return it to the buyer another way.");
                    case RefundRefusal.WindowClosed:
                        return Failure.Conflict("refund_window_closed", string.Create(CultureInfo.InvariantCulture, $"{wallet} refunds a payment only within {rules.RefundWindow!.Value.TotalDays:0} days of its success."),
                            string.Create(CultureInfo.InvariantCulture, $"This payment succeeded at {paidAt.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'}; return the {refundable} left to the buyer another way."));
                }
            }

            var row = RefundStore.NewRow(payment, payment.CurrentAttemptId, amount, r.Reason ?? "requested_by_merchant", "merchant", now);
            (row.Wallet, row.CaptureTransactionId) = (payment.Wallet, payment.WalletTransactionId); // the payment's own capture
            if (SubsidyOf(payment) is { } subsidy)
            {
                // A subsidised payment: the platform gets its share back, the wallet refunds the buyer the rest (decided in the domain).
                var split = SubsidyDecisions.SplitRefund(payment.Amount, subsidy, committed, await refunds.CommittedSubsidyAsync(c, t, paymentId), amount);
                if (split is not { } parts)
                {
                    return Failure.Invalid("amount",
                        "This refund cannot be split between the wallet and the platform's subsidy: the wallet must return at least 1 fen of it and keep 1 fen of its order for the last refund. Refund more, or all that is left.");
                }

                row.SubsidyAmount = parts.SubsidyPart;
            }

            await refunds.InsertAsync(c, t, row, now);
            await profitSharing.PlanReturnsAsync(c, t, payment, row, committed, now, ct); // what each paid receiver gives back
            if (alsoInTransaction is not null)
            {
                await alsoInTransaction(c, t, row.Id);
            }

            var created = Outcome.Created(RefundDto.Of(row));
            if (idem is not null)
            {
                await idem.CompleteAsync(c, t, created);
            }

            return created;
        }, ct);
        if (result.Succeeded && options.Value.SendRefundsImmediately)
        {
            _ = Task.Run(() => RunDueAsync(CancellationToken.None), CancellationToken.None);
        }

        return result;
    }

    public async Task<Outcome<RefundDto>> GetAsync(string merchantId, string id, CancellationToken ct) =>
        await refunds.GetAsync(merchantId, id, ct) is { } r ? Outcome.Ok(RefundDto.Of(r)) : Failure.NotFound("refund");

    /// <summary>GET /v1/payments/{id}/refunds: a page of the payment's refunds, oldest first, with a cursor like the other lists.</summary>
    public async Task<Outcome<RefundList>> ListAsync(string merchantId, string paymentId, int? limit, string? startingAfter, CancellationToken ct)
    {
        if (await payments.GetAsync(merchantId, paymentId, ct) is null)
        {
            return Failure.NotFound("payment");
        }

        // Default 100, not the other lists' 10: this list used to answer every refund in one page, and a client written
        // then reads data without paging — with 100 it still sees all of nearly every payment's refunds.
        var (take, pageProblem) = ListPage.Check(limit, startingAfter, RefundStore.IdPrefix, "a refund id", defaultLimit: 100);
        if (pageProblem is not null)
        {
            return pageProblem;
        }

        // A cursor is a place in this payment's list: another payment's refund (or none) would silently shift the page.
        if (startingAfter is not null && (await refunds.GetAsync(merchantId, startingAfter, ct))?.PaymentId != paymentId)
        {
            return Failure.Invalid("starting_after", "starting_after must be a refund of this payment.");
        }

        var (rows, hasMore) = await refunds.OfPaymentAsync(merchantId, paymentId, take, startingAfter, ct);
        var data = rows.Select(RefundDto.Of).ToList();
        return Outcome.Ok(new RefundList("list", data, hasMore, hasMore ? data[^1].Id : null));
    }

    /// <summary>Follows one refund now (reconciliation found the wallet settled it): a query, then what it proves.</summary>
    public async Task RecheckAsync(string outRefundNo, CancellationToken ct)
    {
        await refunds.MakeDueAsync(outRefundNo, ct);
        await RunDueAsync(ct);
    }

    public async Task RunDueAsync(CancellationToken ct)
    {
        await _pass.WaitAsync(ct);
        try
        {
            await RunPassAsync(ct);
        }
        finally
        {
            _pass.Release();
        }
    }

    private async Task RunPassAsync(CancellationToken ct)
    {
        foreach (var refund in await refunds.DueAsync(time.GetUtcNow().ToUnixTimeMilliseconds(), 50, ct))
        {
            // Claimed one at a time, just before its wallet call, so a lease never runs while the refunds before it are worked on.
            if (await refunds.Leases.ClaimAsync(FollowedTable.Refunds, refund.Id, refund.Status, ct) is not { } lease)
            {
                continue; // another hub is on it, or settled it since it was read
            }

            try
            {
                await StepAsync(refund, ct);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogStepFailed(log, e, refund.Id); // one bad refund must not stall the others
            }
            finally
            {
                await refunds.Leases.ReleaseAsync(FollowedTable.Refunds, refund.Id, lease); // a no-op once an outcome was applied
            }
        }
    }

    private async Task StepAsync(RefundRow refund, CancellationToken ct)
    {
        var attempt = await db.ReadAsync(c => payments.GetAttemptAsync(c, null, refund.AttemptId), ct);
        var payment = await payments.GetByIdAsync(refund.PaymentId, ct);
        if (attempt is null || payment is null)
        {
            return;
        }

        var connector = await wallets.ChannelAsync(attempt.Channel ?? attempt.Wallet, ct);
        if (connector is null)
        {
            return;
        }

        // Only a wallet that takes split shares back with the refund (Alipay) carries them in the refund call.
        var request = connector is IProfitSharingConnector { Policy.Returns: Hutong.Domain.Settlement.SplitReturnMode.WithRefund } && payment.ProfitSharing is not null
            ? Request(refund, attempt, payment) with { RoyaltyReturns = await profitSharing.RoyaltyReturnsAsync(refund.Id, ct) }
            : Request(refund, attempt, payment);
        // Sent only if no hub claimed it to send before (sent_at as read, before this hub's claim): one that did may have
        // died or stalled mid-call with the refund already at the wallet, so it is asked first, and re-sent only if the
        // wallet never got it (decided in the domain: RefundDecisions.Call).
        var state = RefundStates.FromWire(refund.Status);
        var sendStarted = refund.SentAt is not null;
        RefundResult? result = null;
        if (RefundDecisions.Call(state, sendStarted, WalletLookup.NotQueried) == NextCall.Query)
        {
            result = await connector.QueryRefundAsync(attempt.OutTradeNo, refund.OutRefundNo, ct);
        }

        if (RefundDecisions.Call(state, sendStarted, Lookup(result)) == NextCall.Send)
        {
            result = await connector.RefundAsync(request, CancellationToken.None);
        }

        await RecordAsync(refund.WithCapture(attempt), attempt.Wallet, result!, ct); // its refund.* event says which capture it returns
    }

    /// <summary>What a refund query (null: none made) found at the wallet.</summary>
    private static WalletLookup Lookup(RefundResult? queried) => queried switch
    {
        null => WalletLookup.NotQueried,
        { Outcome: WalletCallOutcome.Ok, Status: RefundStatus.NotFound } => WalletLookup.NotFound,
        { Outcome: WalletCallOutcome.Ok or WalletCallOutcome.Rejected } => WalletLookup.Found,
        _ => WalletLookup.NoAnswer,
    };

    /// <summary>The consumed platform subsidy of a payment, or null.</summary>
    private static long? SubsidyOf(PaymentRow p) =>
        p.SubsidyAmount > 0 && p.SubsidyStatus is { } s && SubsidyStates.ReservationFromWire(s) == SubsidyReservationState.Consumed ? p.SubsidyAmount : null;

    /// <summary>The wallet refunds its part (the refund less the platform's share) of what its order captured (the order less its subsidy).</summary>
    private RefundRequest Request(RefundRow r, AttemptRow a, PaymentRow p) =>
        new(a.OutTradeNo, r.OutRefundNo, new Money(r.Amount - r.SubsidyAmount, Currency.Parse(r.Currency)), a.WalletMoney(p),
            r.Reason, wallets.NotifyUrl(a.Channel ?? a.Wallet), a.WalletTransactionId);

    /// <summary>What the wallet's answer means for the refund (decided in the domain), applied if nobody else applied one first.</summary>
    private Task RecordAsync(RefundRow refund, string wallet, RefundResult result, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var read = refund.Status;
        var answer = result switch
        {
            { Outcome: WalletCallOutcome.Ok, Status: RefundStatus.Succeeded } => WalletAnswer.Succeeded,
            { Outcome: WalletCallOutcome.Ok, Status: RefundStatus.Failed } or { Outcome: WalletCallOutcome.Rejected } => WalletAnswer.Failed,
            { Outcome: WalletCallOutcome.Ok } => WalletAnswer.Processing,
            _ => WalletAnswer.NoAnswer,
        };
        var decision = RefundDecisions.Decide(FollowUpOf(refund), answer, new FollowUpSchedule(options.Value.UnknownRecheckSchedule, WhenExhausted.RepeatLast), now);
        refund.Status = decision.Next.Status.ToWire();
        refund.Checks = decision.Next.Checks;
        refund.NextCheckAt = decision.Next.NextCheckAt?.ToUnixTimeMilliseconds();
        refund.UpdatedAt = now.ToUnixTimeMilliseconds();
        refund.WalletRefundId = result.RefundId ?? refund.WalletRefundId;
        if (decision.Next.Status == RefundState.Failed)
        {
            refund.ErrorCode = result.Error?.Code ?? "REFUND_FAILED";
            refund.ErrorMessage = result.Error?.Message ?? "The wallet gave up on the refund.";
        }

        return db.WriteAsync(async (c, t) =>
        {
            // A merchant refund that succeeded moves the payment's amount_refunded: take the payment's row lock before the
            // refund's, the order creating a refund takes them in, so two hubs settling and creating cannot deadlock.
            var payment = decision.Succeeded && refund.InitiatedBy != "system"
                ? await payments.LockAsync(c, t, refund.PaymentId) ?? throw new InvalidOperationException($"Refund {refund.Id}: payment {refund.PaymentId} is gone.")
                : null;
            if (!await refunds.ApplyAsync(c, t, refund, read))
            {
                LogLostRace(log, refund.Id, read); // another hub applied an outcome first: its money and event stand, not ours
                return;
            }

            if (decision.Succeeded)
            {
                // The money left: from the merchant's balance, or out of suspense for a capture that was never the payment's.
                var amount = new Money(refund.Amount, Currency.Parse(refund.Currency));
                if (refund.InitiatedBy == "system")
                {
                    Posted(await ledger.AppendAsync(c, t, "suspense_refunded", refund.Id, refund.MerchantId, Postings.SuspenseReturned(wallet, refund.MerchantId, amount), now), refund);
                }
                else
                {
                    // Under the payment's row lock (taken above), so two refunds of one payment settling at once (two hubs) each see the other's.
                    var locked = payment!;
                    var fee = new Money(await ledger.FeeOfAsync(c, t, refund.PaymentId), amount.Currency);
                    // The wallet returns its fee in proportion to its own part of each refund (of its order, without the subsidy).
                    var walletPart = new Money(refund.Amount - refund.SubsidyAmount, amount.Currency);
                    var funding = locked.Funding;
                    var walletRefundedBefore = locked.AmountRefunded - locked.SubsidyReturned;
                    var feeBack = Postings.FeeReturned(fee, funding.Order, walletRefundedBefore, walletPart.Minor);
                    var refundedAfter = RefundDecisions.RefundedAfter(locked.Amount, locked.AmountRefunded, refund.Amount);
                    // The wallet returned its part to the buyer (coupons returned as the wallet does: in proportion, on the
                    // wallet order's running total); the platform's share of a subsidy goes back to it from the merchant's balance.
                    Posted(await ledger.AppendAsync(c, t, "refund", refund.Id, refund.MerchantId, funding.Discounted
                        ? Postings.RefundedWithDiscounts(wallet, refund.MerchantId, refund.Currency,
                            WalletDiscounts.SplitRefund(funding, walletRefundedBefore, walletPart.Minor), feeBack.Minor)
                        : Postings.Refunded(wallet, refund.MerchantId, walletPart, feeBack), now), refund);
                    if (refund.SubsidyAmount > 0 && locked.SubsidyCampaignId is { } campaign)
                    {
                        var back = new Money(refund.SubsidyAmount, amount.Currency);
                        Posted(await ledger.AppendAsync(c, t, "subsidy_returned", refund.Id, refund.MerchantId, SubsidyPostings.Returned(campaign, refund.MerchantId, back), now), refund);
                        await payments.AddSubsidyReturnedAsync(c, t, refund.PaymentId, refund.SubsidyAmount);
                    }

                    await payments.SetRefundedAsync(c, t, refund.PaymentId, refundedAfter);
                }
            }

            if (decision.Settled)
            {
                if (decision.Next.Status == RefundState.Failed)
                {
                    LogRefundFailed(log, refund.Id, refund.PaymentId, refund.ErrorCode!);
                }

                await profitSharing.SettleReturnsAsync(c, t, refund, decision.Succeeded, wallet, now);
                await Outbox.AddAsync(c, t, refund.MerchantId, "refund." + refund.Status, RefundDto.Of(refund), now);
            }
        }, ct);
    }

    private static FollowUp<RefundState> FollowUpOf(RefundRow r) =>
        new(RefundStates.FromWire(r.Status), r.Checks, r.NextCheckAt is { } at ? DateTimeOffset.FromUnixTimeMilliseconds(at) : null);

    /// <summary>The refund's row changed just now, so its entry cannot exist yet: one that does is a double count, refused with the whole change.</summary>
    private static void Posted(bool appended, RefundRow refund)
    {
        if (!appended)
        {
            throw new InvalidOperationException($"Refund {refund.Id} was already posted to the ledger; its outcome is not applied twice.");
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Refund {RefundId}: another hub applied an outcome first (read {Status}); this answer is dropped")]
    private static partial void LogLostRace(ILogger logger, string refundId, string status);

    [LoggerMessage(Level = LogLevel.Error, Message = "Refund {RefundId}: step failed; retried on the next pass")]
    private static partial void LogStepFailed(ILogger logger, Exception e, string refundId);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Refund {RefundId} of payment {PaymentId} failed at the wallet ({Code}); it needs a person")]
    private static partial void LogRefundFailed(ILogger logger, string refundId, string paymentId, string code);
}
