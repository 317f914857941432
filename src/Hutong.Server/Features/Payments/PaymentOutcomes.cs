using System.Data;
using System.Data.Common;
using Dapper;
using Hutong.Connectors.Abstractions;
using Hutong.Domain;
using Hutong.Domain.Ledger;
using Hutong.Domain.Payments;
using Hutong.Server.Features.Ledger;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Payments;

/// <summary>
/// Applies what wallets say to payments and their attempts: load under the payment's lock, let
/// <see cref="WalletOutcomeDecider"/> decide, persist with conditional updates on the state that was read. Outbox events,
/// ledger entries and system refunds are written only with a row that changed; every ignored answer is logged, and
/// counted when it means money may be wrong.
/// </summary>
public sealed partial class PaymentOutcomes(
    Db db,
    PaymentStore store,
    ISystemRefunds refunds,
    LedgerStore ledger,
    IPaymentSplits profitSharing,
    IPaymentSubsidies subsidies,
    PaymentDtos dtos,
    PayerPseudonyms pseudonyms,
    IOptions<HubOptions> options,
    TimeProvider time,
    HubMetrics metrics,
    ILogger<PaymentOutcomes> log)
{
    private HubOptions Options => options.Value;

    public Task<bool> ApplyWalletTransactionAsync(WalletTransaction tx, string source, CancellationToken ct) =>
        db.WriteAsync((c, t) => ApplyWalletTransactionAsync(c, t, tx, source), ct);

    /// <summary>What a wallet says about one order, inside the caller's transaction. False when the order is not ours.</summary>
    public async Task<bool> ApplyWalletTransactionAsync(DbConnection c, DbTransaction t, WalletTransaction tx, string source, string? channel = null)
    {
        var now = time.GetUtcNow();
        var found = await store.GetAttemptByOutTradeNoAsync(c, t, tx.OutTradeNo);
        if (found is null)
        {
            LogUnknownOrder(log, tx.OutTradeNo, source);
            return false;
        }

        if (channel is not null && (found.Channel ?? found.Wallet) != channel)
        {
            // out_trade_no is only unique within the hub: news from one channel never settles another channel's order.
            LogForeignOrder(log, tx.OutTradeNo, channel, found.Channel ?? found.Wallet);
            return false;
        }

        // Load: the payment under its lock, then the attempt again under that lock.
        var payment = (await store.LockAsync(c, t, found.PaymentId))!;
        var attempt = (await store.GetAttemptAsync(c, t, found.Id))!;
        var result = ToResult(tx);
        var revoked = result is WalletResult.Paid && attempt.FriendLinkId is not null && attempt.State != AttemptStatus.Succeeded
            && await c.ExecuteScalarAsync<string?>("SELECT status FROM friend_pay_links WHERE id = @FriendLinkId", new { attempt.FriendLinkId }, t) == "revoked";

        // Decide, then persist.
        var decision = WalletOutcomeDecider.Decide(Facts(payment, attempt), Facts(attempt, revoked), result);
        var read = attempt.State;
        switch (decision)
        {
            case WalletDecision.Ignore ignore:
                Ignored(payment.Id, tx.OutTradeNo, source, ignore);
                break;
            case WalletDecision.Mismatch mismatch:
                attempt.ErrorCode = mismatch.ErrorCode;
                attempt.ErrorMessage = mismatch.Detail;
                await SaveAttemptAsync(c, t, attempt, read);
                if (mismatch.Kind == MismatchKind.Currency)
                {
                    LogCurrencyMismatch(log, payment.Id, tx.OutTradeNo, payment.Currency, tx.Currency!);
                    metrics.CurrencyMismatch();
                }
                else if (mismatch.Kind == MismatchKind.Discounts)
                {
                    LogDiscountMismatch(log, payment.Id, tx.OutTradeNo, mismatch.Detail);
                    metrics.AmountMismatch();
                }
                else
                {
                    LogAmountMismatch(log, payment.Id, tx.OutTradeNo, payment.Amount, tx.AmountMinor ?? -1);
                    metrics.AmountMismatch();
                }

                break;
            case WalletDecision.Transition { AttemptEvent: AttemptEvent.WalletPaymentFailed } failed:
                attempt.Status = failed.AttemptTo.ToWire();
                attempt.PollAt = null;
                attempt.ErrorCode = tx.RawStatus;
                attempt.UpdatedAt = now.ToUnixTimeMilliseconds();
                await SaveAttemptAsync(c, t, attempt, read);
                await TransitionAsync(c, t, payment, failed.PaymentEvent!.Value, now, p =>
                {
                    p.FailureCode = "wallet_payment_failed";
                    p.FailureMessage = $"{attempt.Wallet} reported {tx.RawStatus}.";
                });
                break;
            case WalletDecision.Transition paid:
                await RecordPaidAsync(c, t, attempt, read, tx, now);
                if (paid.PaymentEvent is { } succeeded)
                {
                    await SucceedAsync(c, t, payment, attempt, succeeded, tx, now);
                }
                else
                {
                    LogPaymentStays(log, payment.Id, tx.OutTradeNo, paid.PaymentStays?.ToString() ?? "-", payment.Status);
                }

                break;
            case WalletDecision.DoubleCapture:
                await RecordPaidAsync(c, t, attempt, read, tx, now);
                LogDoubleCapture(log, payment.Id, tx.OutTradeNo);
                metrics.DoubleCapture();
                await RefundCaptureAsync(c, t, payment, attempt, WalletDecision.DoubleCapture.RefundReason, now);
                break;
            case WalletDecision.LateSuccess late:
                await RecordPaidAsync(c, t, attempt, read, tx, now);
                LogLateSuccess(log, payment.Id, revoked ? "friend_pay_link_revoked" : payment.Status, tx.OutTradeNo);
                metrics.LateSuccess();
                await RefundCaptureAsync(c, t, payment, attempt, late.RefundReason, now);
                break;
        }

        return true;
    }

    /// <summary>Records how the wallet answered an attempt's create call (first, failed over, or re-sent), and what it means for the payment.</summary>
    public async Task<PaymentRow?> RecordCreateOutcomeAsync(AttemptRow attemptRead, CreateOrderResult result, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        return await db.WriteAsync(async (c, t) =>
        {
            var payment = await store.LockAsync(c, t, attemptRead.PaymentId);
            if (payment is null || await store.GetAttemptAsync(c, t, attemptRead.Id) is not { } attempt)
            {
                LogPaymentGone(log, attemptRead.PaymentId, attemptRead.OutTradeNo);
                return null;
            }

            var outcome = ToOutcome(result);
            var decision = WalletOutcomeDecider.Decide(Facts(payment, attempt), Facts(attempt), outcome);
            if (decision is not WalletDecision.Transition move)
            {
                Ignored(payment.Id, attempt.OutTradeNo, "create", (WalletDecision.Ignore)decision);
                return payment;
            }

            var read = attempt.State;
            attempt.Status = move.AttemptTo.ToWire();
            attempt.UpdatedAt = now.ToUnixTimeMilliseconds();
            switch (outcome)
            {
                case CreateOutcome.Accepted accepted:
                    attempt.CodeUrl = accepted.CodeUrl;
                    attempt.NextCheckAt = null;
                    attempt.PollAt = attempt.Flow == PayFlow.PaymentCode
                        ? null // followed by its own job
                        : Options.OpenOrderPoll.Next(now, now, DateTimeOffset.FromUnixTimeMilliseconds(payment.ExpiresAt))?.ToUnixTimeMilliseconds();
                    break;
                case CreateOutcome.Rejected rejected:
                    attempt.ErrorCode = rejected.Code;
                    attempt.ErrorMessage = rejected.Message;
                    attempt.NextCheckAt = null;
                    break;
                default:
                    attempt.NextCheckAt = (now + Options.UnknownRecheckSchedule[0]).ToUnixTimeMilliseconds();
                    break;
            }

            await SaveAttemptAsync(c, t, attempt, read);
            if (move.PaymentEvent is { } e)
            {
                payment = await TransitionAsync(c, t, payment, e, now, p =>
                {
                    if (outcome is CreateOutcome.Rejected rejected)
                    {
                        p.FailureCode = "wallet_rejected";
                        p.FailureMessage = $"{attempt.Wallet}: {rejected.Code} {rejected.Message}";
                    }
                });
                if (e == PaymentEvent.WalletTimedOut)
                {
                    metrics.WentUnknown();
                }
            }
            else if (move.PaymentStays is { } stays)
            {
                LogPaymentStays(log, payment.Id, attempt.OutTradeNo, stays.ToString(), payment.Status);
            }

            payment.CodeUrl = move.AttemptTo == AttemptStatus.Open && payment.CurrentAttemptId == attempt.Id ? attempt.CodeUrl : payment.CodeUrl;
            return payment;
        }, ct);
    }

    /// <summary>Marks an attempt failed without touching its payment: a failover leaves it for the next channel's attempt.</summary>
    public Task RecordAttemptFailedAsync(AttemptRow attemptRead, WalletError error, CancellationToken ct) =>
        ChangeAttemptAsync(attemptRead, "failover", (attempt, now) =>
        {
            if (AttemptStates.Machine.Apply(attempt.State, AttemptEvent.WalletRejected) is not { IsLegal: true, To: var to })
            {
                return new WalletDecision.Ignore(IgnoreReason.AttemptCannotMove, $"a {attempt.Status} attempt cannot fail over");
            }

            attempt.Status = to.ToWire();
            attempt.ErrorCode = error.Code;
            attempt.ErrorMessage = error.Message;
            return null;
        }, ct);

    /// <summary>
    /// Load → decide → persist for an attempt alone: re-reads it under its payment's lock, lets <paramref name="decide"/>
    /// change it (or say why not), and writes it only if its status is still the one decided on.
    /// </summary>
    public Task ChangeAttemptAsync(AttemptRow attemptRead, string source, Func<AttemptRow, DateTimeOffset, WalletDecision.Ignore?> decide, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        return db.WriteAsync(async (c, t) =>
        {
            await store.LockAsync(c, t, attemptRead.PaymentId);
            if (await store.GetAttemptAsync(c, t, attemptRead.Id) is not { } attempt)
            {
                return;
            }

            var read = attempt.State;
            if (decide(attempt, now) is { } ignore)
            {
                Ignored(attempt.PaymentId, attempt.OutTradeNo, source, ignore);
                return;
            }

            attempt.UpdatedAt = now.ToUnixTimeMilliseconds();
            await SaveAttemptAsync(c, t, attempt, read);
        }, ct);
    }

    /// <summary>Expires the payment if it may be expired now (decided on the locked row); otherwise says why not.</summary>
    public Task ExpireAsync(string paymentId, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        return db.WriteAsync(async (c, t) =>
        {
            var current = await store.LockAsync(c, t, paymentId);
            if (current is null)
            {
                return;
            }

            if (WalletOutcomeDecider.Expire(current.State, current.ExpiresAt, now.ToUnixTimeMilliseconds()) is { } reason)
            {
                LogNotExpired(log, paymentId, current.Status, reason.ToString());
                return;
            }

            await TransitionAsync(c, t, current, PaymentEvent.Expire, now, _ => { });
        }, ct);
    }

    /// <summary>The single path for a payment state change: legal per the table, guarded by version, with its outbox event.</summary>
    public async Task<PaymentRow> TransitionAsync(DbConnection c, DbTransaction t, PaymentRow current, PaymentEvent e, DateTimeOffset now, Action<PaymentRow> change)
    {
        var to = PaymentStates.Machine.Apply(current.State, e).ToOrThrow();
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

        if (to is PaymentStatus.Failed or PaymentStatus.Expired or PaymentStatus.Canceled)
        {
            await subsidies.ReleaseAsync(c, t, next, now); // its reserved subsidy goes back to the budget, with the state change
        }

        await Outbox.AddAsync(c, t, next.MerchantId, "payment." + to.ToWire(), dtos.ToDto(next), now, next.TraceParent);
        return next;
    }

    /// <summary>A change of a payment's other columns (its current attempt, its wallet): no new state, but the same version guard.</summary>
    public async Task<PaymentRow> UpdateAsync(DbConnection c, DbTransaction t, PaymentRow current, DateTimeOffset now, Action<PaymentRow> change)
    {
        var next = current.Copy();
        change(next);
        next.UpdatedAt = now.ToUnixTimeMilliseconds();
        next.Version = current.Version + 1;
        if (!await store.UpdateAsync(c, t, next, current.Version))
        {
            throw new DBConcurrencyException($"Payment {current.Id} changed concurrently.");
        }

        return next;
    }

    private async Task SaveAttemptAsync(DbConnection c, DbTransaction t, AttemptRow attempt, AttemptStatus read)
    {
        if (!await store.UpdateAttemptAsync(c, t, attempt, read))
        {
            throw new DBConcurrencyException($"Attempt {attempt.Id} changed concurrently.");
        }
    }

    private async Task RecordPaidAsync(DbConnection c, DbTransaction t, AttemptRow attempt, AttemptStatus read, WalletTransaction tx, DateTimeOffset now)
    {
        attempt.Status = AttemptStatus.Succeeded.ToWire();
        attempt.WalletTransactionId = tx.TransactionId;
        attempt.NextCheckAt = null;
        attempt.PollAt = null;
        attempt.UpdatedAt = now.ToUnixTimeMilliseconds();
        await SaveAttemptAsync(c, t, attempt, read);
    }

    private async Task SucceedAsync(DbConnection c, DbTransaction t, PaymentRow payment, AttemptRow attempt, PaymentEvent e, WalletTransaction tx, DateTimeOffset now)
    {
        // The platform's subsidy first (consumed and posted), so the payment.succeeded event shows it consumed.
        await subsidies.ConsumeAsync(c, t, payment, attempt, now);

        // What the wallet order asked for (the order less any platform subsidy), and how the wallet says it was funded. The
        // decider has checked the wallet's report adds up (a report that does not is a mismatch, never here).
        var captured = attempt.WalletMoney(payment);
        var funding = tx.Amounts is { } report
            ? WalletDiscounts.Derive(captured.Minor, report).Details ?? throw new InvalidOperationException("an inconsistent discount report reached success")
            : AmountDetails.Undiscounted(captured.Minor);
        await TransitionAsync(c, t, payment, e, now, p =>
        {
            if (funding.Discounted)
            {
                p.BuyerPaid = funding.BuyerPaid;
                p.WalletDiscount = funding.WalletDiscount;
                p.MerchantDiscount = funding.MerchantDiscount;
            }

            p.CurrentAttemptId = attempt.Id;
            p.Wallet = attempt.Wallet;
            p.PayerId = pseudonyms.For(payment.MerchantId, attempt.Wallet, tx.PayerId); // the wallet's raw id stays with the wallet
            p.PaidVia = attempt.Via ?? "api";
            p.FriendLinkId = attempt.FriendLinkId;
            p.WalletTransactionId = tx.TransactionId;
            p.SucceededAt = (tx.SucceededAt ?? now).ToUnixTimeMilliseconds();
            p.FailureCode = null;
            p.FailureMessage = null;
        });

        // The money, in the same transaction as the state change: what the wallet captured (each funding source to its own
        // account; the platform subsidy was posted above), less the wallet's fee, which the wallets charge on what they
        // settle (the wallet order less merchant-borne coupons).
        await ledger.AppendAsync(c, t, "payment_captured", payment.Id, payment.MerchantId, funding.Discounted
            ? Postings.CapturedWithDiscounts(attempt.Wallet, payment.MerchantId, payment.Currency, funding)
            : Postings.Captured(attempt.Wallet, payment.MerchantId, captured), now);
        var fee = Postings.Fee(new Money(funding.Settlement, payment.Money.Currency), Options.WalletFeeBasisPoints.GetValueOrDefault(attempt.Wallet));
        if (fee.Minor > 0)
        {
            await ledger.AppendAsync(c, t, "wallet_fee", payment.Id, payment.MerchantId, Postings.WalletFee(attempt.Wallet, payment.MerchantId, fee), now);
        }

        await profitSharing.ScheduleRulesAsync(c, t, payment, attempt.Id, now);
        metrics.Succeeded();
    }

    /// <summary>Money the payment must not keep: held in suspense and refunded in full, in the same transaction's intent.</summary>
    private async Task RefundCaptureAsync(DbConnection c, DbTransaction t, PaymentRow payment, AttemptRow attempt, string reason, DateTimeOffset now)
    {
        await ledger.AppendAsync(c, t, "capture_to_suspense", attempt.Id, payment.MerchantId,
            Postings.CapturedToSuspense(attempt.Wallet, payment.MerchantId, attempt.WalletMoney(payment)), now);
        await refunds.AddSystemRefundAsync(c, t, payment, attempt, reason, now);
    }

    private void Ignored(string paymentId, string outTradeNo, string source, WalletDecision.Ignore ignore)
    {
        if (ignore.Reason.SignalsMoneyTrouble())
        {
            LogContradiction(log, paymentId, outTradeNo, source, ignore.Reason.ToString(), ignore.Detail);
            metrics.WalletContradiction();
        }
        else
        {
            LogIgnored(log, paymentId, outTradeNo, source, ignore.Reason.ToString(), ignore.Detail);
        }
    }

    /// <summary>The payment as the decider sees one attempt's answer: the amount expected is that attempt's wallet order (the order amount less its subsidy).</summary>
    private static PaymentFacts Facts(PaymentRow p, AttemptRow a) => new(p.State, a.WalletMoney(p).Minor, p.Currency, p.CurrentAttemptId);

    private static AttemptFacts Facts(AttemptRow a, bool friendLinkRevoked = false) => new(a.Id, a.State, a.ErrorCode, friendLinkRevoked);

    /// <summary>The connector's answer in the decider's terms.</summary>
    public static WalletResult ToResult(WalletTransaction tx) => tx.Status switch
    {
        WalletStatus.Succeeded => new WalletResult.Paid(tx.AmountMinor, tx.Currency, tx.PayerId, tx.TransactionId, tx.SucceededAt, tx.Amounts),
        WalletStatus.Failed => new WalletResult.PaymentFailed(tx.RawStatus),
        WalletStatus.Closed => new WalletResult.Closed(tx.RawStatus),
        WalletStatus.NotPaid or WalletStatus.Paying => new WalletResult.NotPaidYet(tx.RawStatus),
        WalletStatus.NotFound => new WalletResult.NotFound(),
        _ => new WalletResult.Unknown(tx.RawStatus),
    };

    private static CreateOutcome ToOutcome(CreateOrderResult r) => r.Outcome switch
    {
        WalletCallOutcome.Ok => new CreateOutcome.Accepted(r.CodeUrl),
        WalletCallOutcome.Rejected => new CreateOutcome.Rejected(r.Error!.Code, r.Error.Message),
        _ => new CreateOutcome.Unanswered(),
    };

    [LoggerMessage(Level = LogLevel.Warning, Message = "Wallet order {OutTradeNo} from {Source} matches no attempt")]
    private static partial void LogUnknownOrder(ILogger logger, string outTradeNo, string source);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Wallet order {OutTradeNo} arrived through channel {Channel} but belongs to channel {Owner}; ignored")]
    private static partial void LogForeignOrder(ILogger logger, string outTradeNo, string channel, string owner);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Payment {PaymentId} of order {OutTradeNo} no longer exists; the wallet's answer is not recorded")]
    private static partial void LogPaymentGone(ILogger logger, string paymentId, string outTradeNo);

    [LoggerMessage(Level = LogLevel.Information, Message = "Payment {PaymentId} order {OutTradeNo} from {Source}: nothing changes ({Reason}: {Detail})")]
    private static partial void LogIgnored(ILogger logger, string paymentId, string outTradeNo, string source, string reason, string detail);

    [LoggerMessage(Level = LogLevel.Error, Message = "Payment {PaymentId} order {OutTradeNo} from {Source}: {Reason}: {Detail}; nothing changed, check the order at the wallet")]
    private static partial void LogContradiction(ILogger logger, string paymentId, string outTradeNo, string source, string reason, string detail);

    [LoggerMessage(Level = LogLevel.Information, Message = "Payment {PaymentId} order {OutTradeNo}: the attempt moved, the {Status} payment stays ({Reason})")]
    private static partial void LogPaymentStays(ILogger logger, string paymentId, string outTradeNo, string reason, string status);

    [LoggerMessage(Level = LogLevel.Information, Message = "Payment {PaymentId} is {Status}: not expired ({Reason})")]
    private static partial void LogNotExpired(ILogger logger, string paymentId, string status, string reason);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Currency mismatch on payment {PaymentId} order {OutTradeNo}: expected {Expected}, wallet says {Actual}; not marked paid")]
    private static partial void LogCurrencyMismatch(ILogger logger, string paymentId, string outTradeNo, string expected, string actual);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Discount mismatch on payment {PaymentId} order {OutTradeNo}: {Detail}; not marked paid")]
    private static partial void LogDiscountMismatch(ILogger logger, string paymentId, string outTradeNo, string detail);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Amount mismatch on payment {PaymentId} order {OutTradeNo}: expected {Expected}, wallet says {Actual}; not marked paid")]
    private static partial void LogAmountMismatch(ILogger logger, string paymentId, string outTradeNo, long expected, long actual);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Payment {PaymentId} was already paid and order {OutTradeNo} also succeeded: refunding it automatically")]
    private static partial void LogDoubleCapture(ILogger logger, string paymentId, string outTradeNo);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Payment {PaymentId} is {Status} but order {OutTradeNo} succeeded at the wallet: refunding it automatically")]
    private static partial void LogLateSuccess(ILogger logger, string paymentId, string status, string outTradeNo);
}
