using Dapper;
using Hutong.Connectors.Abstractions;
using Hutong.Domain;
using Hutong.Domain.FollowUps;
using Hutong.Domain.Payments;
using Hutong.Server.Features.Channels;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Payments;

/// <summary>
/// Follows attempts' wallet orders to their end: closes them (cancel, switch, expiry, strays), re-queries the ones whose
/// create call went unanswered, and hands every answer to <see cref="PaymentOutcomes"/>. Wallet calls happen here,
/// between transactions, never inside one.
/// </summary>
public sealed partial class WalletOrders(
    Db db,
    PaymentStore store,
    WalletRegistry wallets,
    PaymentOutcomes outcomes,
    PaymentCodeOrders paymentCodes,
    IOptions<HubOptions> options,
    HubMetrics metrics,
    ILogger<WalletOrders> log)
{
    /// <summary>A wallet order may still be paid this long after the payment's expiry (clock skew, a payment in flight).</summary>
    private static readonly TimeSpan LapseMargin = TimeSpan.FromMinutes(2);

    private HubOptions Options => options.Value;

    /// <summary>Closes every non-final attempt of the payment at its wallet. Returns a problem when that cannot be done now.</summary>
    public async Task<Failure?> CloseAtWalletAsync(PaymentRow payment, CancellationToken ct)
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
    public async Task<Failure?> CloseAttemptAtWalletAsync(AttemptRow attempt, CancellationToken ct)
    {
        if (attempt.State is not (AttemptStatus.Requested or AttemptStatus.Open))
        {
            return null;
        }

        if (attempt.Flow == PayFlow.PaymentCode)
        {
            return await paymentCodes.ReverseNowAsync(attempt, ct); // a payment-code order is reversed, never closed
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

            await outcomes.ApplyWalletTransactionAsync(query.Transaction!, "query", ct);
            if (query.Transaction!.Status is WalletStatus.Succeeded or WalletStatus.Paying)
            {
                return Failure.Conflict("payment_already_paid", "The buyer has already paid this payment at the wallet.");
            }
        }

        await MarkClosedAsync(attempt, connector, ct);
        return null;
    }

    /// <summary>One janitor step for an attempt whose create call went unanswered.</summary>
    public async Task ResolveUnknownAsync(AttemptRow attempt, CancellationToken ct)
    {
        if (attempt.Flow == PayFlow.PaymentCode)
        {
            await paymentCodes.FollowAsync(attempt, ct); // never re-sent (the code is single use): queried, then reversed if it must not stand
            return;
        }

        var owner = await store.GetByIdAsync(attempt.PaymentId, ct);
        if (owner is not null && owner.CurrentAttemptId != attempt.Id)
        {
            await CloseStrayAttemptAsync(attempt, ct); // superseded (failover): close it, never revive it
            return;
        }

        var connector = await ConnectorOfAsync(attempt, ct);
        var query = await connector.QueryAsync(attempt.OutTradeNo, ct);
        var tx = query.Outcome == WalletCallOutcome.Ok ? query.Transaction : null;
        switch (WalletOutcomeDecider.Recheck(tx is null ? null : PaymentOutcomes.ToResult(tx)))
        {
            case RecheckStep.ApplyResult:
                await outcomes.ApplyWalletTransactionAsync(tx!, "janitor", ct);
                return;
            case RecheckStep.CreateRejected:
                await outcomes.RecordCreateOutcomeAsync(attempt, CreateOrderResult.Rejected(new WalletError(tx!.RawStatus, "order closed at the wallet")), ct);
                return;
            case RecheckStep.Resend when owner is not null:
                // The order exists unpaid (we need its code_url back) or never arrived: re-send the very same
                // order. Wallets treat an identical order under the same out_trade_no as the same order — so the
                // notify_url is the one it was first sent with, not this hub's (hubs may listen at their own address).
                var again = await PayFlows.CreateAsync(connector, attempt.Flow,
                    new CreateOrderRequest(attempt.OutTradeNo, attempt.WalletMoney(owner), owner.Description,
                        DateTimeOffset.FromUnixTimeMilliseconds(owner.ExpiresAt), attempt.NotifyUrl ?? wallets.NotifyUrl(attempt.Channel ?? attempt.Wallet), owner.Id,
                        ProfitSharing: owner.ProfitSharing is not null),
                    new FlowPayer(attempt.PayerRef, attempt.PayerRef), ct); // the same flow and payer: the very same order
                if (again.Outcome != WalletCallOutcome.Unknown)
                {
                    await outcomes.RecordCreateOutcomeAsync(attempt, again, ct);
                    return;
                }

                break;
        }

        await ScheduleNextCheckAsync(attempt, ct);
    }

    /// <summary>
    /// Closes a wallet order that can no longer be the payment's (another attempt paid, or the payment was closed),
    /// so the buyer cannot pay twice. If it turns out to be paid, that is recorded (and alerted) as a double capture.
    /// </summary>
    public async Task CloseStrayAttemptAsync(AttemptRow attempt, CancellationToken ct)
    {
        if (attempt.Flow == PayFlow.PaymentCode)
        {
            await paymentCodes.FollowAsync(attempt, ct); // not the payment's any more: reversed
            return;
        }

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
                return; // next pass
            }

            if (query.Transaction!.Status == WalletStatus.Succeeded)
            {
                await outcomes.ApplyWalletTransactionAsync(query.Transaction, "stray-close", ct);
                return;
            }
        }

        await MarkClosedAsync(attempt, connector, ct);
    }

    /// <summary>
    /// One poll of the open order of a pending payment: asks the wallet and applies what it says (paid, failed, closed),
    /// never closes it. While it stays open the next poll is scheduled; the payment's expiry ends the polling.
    /// </summary>
    public async Task PollOpenAsync(AttemptRow attempt, CancellationToken ct)
    {
        var connector = await ConnectorOfAsync(attempt, ct);
        var query = await connector.QueryAsync(attempt.OutTradeNo, ct);
        if (query.Outcome == WalletCallOutcome.Ok && query.Transaction!.Status is not (WalletStatus.NotPaid or WalletStatus.Paying))
        {
            await outcomes.ApplyWalletTransactionAsync(query.Transaction, "poll", ct);
        }

        var expiresAt = DateTimeOffset.FromUnixTimeMilliseconds((await store.GetByIdAsync(attempt.PaymentId, ct))?.ExpiresAt ?? 0);
        await outcomes.ChangeAttemptAsync(attempt, "poll", (current, now) =>
        {
            if (current.State != AttemptStatus.Open || current.PollAt is null)
            {
                return new WalletDecision.Ignore(IgnoreReason.AttemptCannotMove, $"a {current.Status} attempt is not polled any more");
            }

            current.PollAt = Options.OpenOrderPoll.Next(DateTimeOffset.FromUnixTimeMilliseconds(current.CreatedAt), now, expiresAt)?.ToUnixTimeMilliseconds();
            return null;
        }, ct);
    }

    /// <summary>Expires a payment past its time: what the wallet says wins, and an open order is closed first.</summary>
    public async Task ExpireAsync(PaymentRow payment, CancellationToken ct)
    {
        if (await CloseAtWalletAsync(payment, ct) is { } problem)
        {
            LogExpiryDeferred(log, payment.Id, problem.Code);
            return; // wallet unreachable or already paid: retried on the next pass or resolved by the success
        }

        await outcomes.ExpireAsync(payment.Id, ct);
    }

    private Task ScheduleNextCheckAsync(AttemptRow attempt, CancellationToken ct)
    {
        var schedule = new FollowUpSchedule(Options.UnknownRecheckSchedule, WhenExhausted.GiveUp);
        return outcomes.ChangeAttemptAsync(attempt, "janitor", (current, now) =>
        {
            // Only an attempt still waiting for its create call's answer is re-checked; one settled meanwhile is left alone.
            if (current.State is not (AttemptStatus.Unknown or AttemptStatus.Requested))
            {
                return new WalletDecision.Ignore(IgnoreReason.AttemptCannotMove, $"a {current.Status} attempt needs no re-check");
            }

            // checks counts the re-queries made. The schedule's first interval was the wait before the first one (set when
            // the create call went unanswered), so as a follow-up the attempt is one scheduled check ahead of that count.
            current.Checks++;
            var step = new FollowUp<AttemptStatus>(current.State, current.Checks, null).CheckLater(current.State, schedule, now);
            current.NextCheckAt = step.Next.NextCheckAt?.ToUnixTimeMilliseconds();
            if (step.GaveUp)
            {
                current.Status = AttemptStates.Machine.Apply(current.State, AttemptEvent.GaveUp).ToOrThrow().ToWire();
                LogUnresolved(log, current.PaymentId, current.OutTradeNo, current.Checks);
                metrics.UnknownUnresolved();
            }

            return null;
        }, ct);
    }

    /// <summary>
    /// Records that an order can no longer be paid. A wallet that cannot close orders (UnionPay's QR codes lapse at their
    /// payTimeout, the payment's expiry) leaves it payable until then: the attempt keeps its status and is re-queried at the
    /// janitor's first interval until it lapses, so a payment made meanwhile is found — and refunded — even if its notification is lost.
    /// </summary>
    private async Task MarkClosedAsync(AttemptRow attempt, IWalletConnector connector, CancellationToken ct)
    {
        var lapsesAt = (await store.GetByIdAsync(attempt.PaymentId, ct))?.ExpiresAt + (long)LapseMargin.TotalMilliseconds ?? 0;
        await outcomes.ChangeAttemptAsync(attempt, "close", (current, now) =>
        {
            // Decided on the attempt as it is now: one paid or failed since it was read keeps that news.
            if (AttemptStates.Machine.Apply(current.State, AttemptEvent.Closed) is not { IsLegal: true, To: var closed })
            {
                return new WalletDecision.Ignore(IgnoreReason.AttemptCannotMove, $"a {current.Status} attempt is not closed");
            }

            var stillPayable = !connector.Capabilities.Close && now.ToUnixTimeMilliseconds() < lapsesAt;
            current.Status = stillPayable ? current.Status : closed.ToWire();
            current.NextCheckAt = stillPayable ? Math.Min((now + Options.UnknownRecheckSchedule[0]).ToUnixTimeMilliseconds(), lapsesAt) : null;
            current.PollAt = null; // no longer the payment's to poll: the stray job watches it until it lapses
            return null;
        }, ct);
    }

    private async Task<IWalletConnector> ConnectorOfAsync(AttemptRow attempt, CancellationToken ct) =>
        await wallets.ChannelAsync(attempt.Channel ?? attempt.Wallet, ct)
        ?? throw new InvalidOperationException($"Channel {attempt.Channel ?? attempt.Wallet} of attempt {attempt.Id} no longer exists.");

    private static Failure WalletUnavailable() =>
        new(FailureKind.Unavailable, "wallet_unavailable", "The wallet did not answer; nothing was changed.", "Retry the request.");

    [LoggerMessage(Level = LogLevel.Information, Message = "Payment {PaymentId} not expired yet: closing its wallet order answered {Code}; next pass")]
    private static partial void LogExpiryDeferred(ILogger logger, string paymentId, string code);

    [LoggerMessage(Level = LogLevel.Critical, Message = "ALERT: payment {PaymentId} order {OutTradeNo} still UNKNOWN after {Checks} re-queries; schedule exhausted")]
    private static partial void LogUnresolved(ILogger logger, string paymentId, string outTradeNo, int checks);
}
