using Hutong.Connectors.Abstractions;
using Hutong.Domain;
using Hutong.Domain.Payments;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Payments;

/// <summary>
/// Follows payment-code orders (the buyer's code scanned at a till) that are not settled yet: the buyer is confirming
/// (USERPAYING, attempt open, payment pending) or the call went unanswered (attempt and payment unknown). Each step
/// queries the wallet; paid or failed is applied, still unpaid is asked again until <see cref="HubOptions.PaymentCodeWait"/>
/// after the attempt started, and then the order is reversed — which closes it unpaid or refunds it paid — before the
/// attempt is recorded failed. So a payment is never shown failed while its order can still be charged.
/// </summary>
public sealed partial class PaymentCodeOrders(
    PaymentStore store,
    WalletRegistry wallets,
    PaymentOutcomes outcomes,
    IOptions<HubOptions> options,
    TimeProvider time,
    HubMetrics metrics,
    ILogger<PaymentCodeOrders> log)
{
    /// <summary>What the payment shows for an attempt whose order was reversed (its failure code is wallet_payment_failed).</summary>
    public const string ReversedStatus = "REVOKED";

    /// <summary>
    /// Bounds the reversal retries of one order: past the wait, a reversal that keeps going unanswered is retried this
    /// many polls, then left to a person (critical log, hutong.payments.unknown_unresolved).
    /// </summary>
    public const int MaxChecks = 64;

    private HubOptions Options => options.Value;

    /// <summary>One step for a payment-code attempt that is open, unknown, orphaned mid-call, or no longer its payment's.</summary>
    public async Task FollowAsync(AttemptRow attempt, CancellationToken ct)
    {
        var connector = await ConnectorAsync(attempt, ct);
        var owner = await store.GetByIdAsync(attempt.PaymentId, ct);
        var query = await connector.QueryCodePaymentAsync(attempt.OutTradeNo, ct);
        var tx = query.Outcome == WalletCallOutcome.Ok ? query.Transaction : null;
        var now = time.GetUtcNow();
        var step = PaymentCodes.Next(tx is null ? null : PaymentOutcomes.ToResult(tx), DateTimeOffset.FromUnixTimeMilliseconds(attempt.CreatedAt), Options.PaymentCodeWait, now);
        if (step == PaymentCodeStep.AskAgain && owner?.CurrentAttemptId != attempt.Id)
        {
            step = PaymentCodeStep.Reverse; // superseded or its payment is gone: it must not stand
        }

        switch (step)
        {
            case PaymentCodeStep.Apply:
                await outcomes.ApplyWalletTransactionAsync(tx!, "payment_code", ct);
                return;
            case PaymentCodeStep.Reversed:
                await RecordReversedAsync(attempt, ct);
                return;
            case PaymentCodeStep.Reverse:
                var reverse = await connector.ReverseAsync(attempt.OutTradeNo, ct);
                if (reverse.Outcome == WalletCallOutcome.Ok)
                {
                    await RecordReversedAsync(attempt, ct);
                    return;
                }

                LogReverseRefused(log, attempt.PaymentId, attempt.OutTradeNo, reverse.Error?.Code ?? "-");
                break;
            case PaymentCodeStep.AskAgain when attempt.State == AttemptStatus.Unknown && tx?.Status == WalletStatus.Paying:
                // The unanswered call did reach the wallet and the buyer is confirming: the payment is pending again.
                await outcomes.RecordCreateOutcomeAsync(attempt, new CreateOrderResult(WalletCallOutcome.Ok, null, null), ct);
                break;
        }

        await CheckAgainAsync(attempt, ct);
    }

    /// <summary>
    /// Reverses a payment-code order now (the payment is canceled, expires or switches): null when done, a problem when
    /// the wallet did not answer. The attempt is recorded failed/closed with the reversal.
    /// </summary>
    public async Task<Failure?> ReverseNowAsync(AttemptRow attempt, CancellationToken ct)
    {
        var connector = await ConnectorAsync(attempt, ct);
        var reverse = await connector.ReverseAsync(attempt.OutTradeNo, ct);
        if (reverse.Outcome != WalletCallOutcome.Ok)
        {
            return new Failure(FailureKind.Unavailable, "wallet_unavailable", "The wallet did not reverse the payment-code order; nothing was changed.", "Retry the request.");
        }

        await outcomes.ChangeAttemptAsync(attempt, "reverse", (current, _) =>
        {
            if (AttemptStates.Machine.Apply(current.State, AttemptEvent.Closed) is not { IsLegal: true, To: var closed })
            {
                return new WalletDecision.Ignore(IgnoreReason.AttemptCannotMove, $"a {current.Status} attempt is not closed");
            }

            current.Status = closed.ToWire();
            current.ErrorCode = ReversedStatus;
            current.NextCheckAt = null;
            return null;
        }, ct);
        return null;
    }

    /// <summary>The order is reversed: the payment's own attempt fails (and the payment with it); another is closed.</summary>
    private async Task RecordReversedAsync(AttemptRow attempt, CancellationToken ct)
    {
        var owner = await store.GetByIdAsync(attempt.PaymentId, ct);
        if (owner?.CurrentAttemptId == attempt.Id)
        {
            await outcomes.ApplyWalletTransactionAsync(
                new WalletTransaction(attempt.OutTradeNo, WalletStatus.Failed, ReversedStatus, null, null, null, null, null, null), "payment_code", ct);
            return;
        }

        await outcomes.ChangeAttemptAsync(attempt, "reverse", (current, _) =>
        {
            var to = AttemptStates.Machine.Apply(current.State, AttemptEvent.Closed);
            if (!to.IsLegal)
            {
                return new WalletDecision.Ignore(IgnoreReason.AttemptCannotMove, $"a {current.Status} attempt is not closed");
            }

            current.Status = to.To.ToWire();
            current.ErrorCode = ReversedStatus;
            current.NextCheckAt = null;
            return null;
        }, ct);
    }

    /// <summary>The next poll; bounded by <see cref="MaxChecks"/>, after which a person looks at it.</summary>
    private Task CheckAgainAsync(AttemptRow attempt, CancellationToken ct) =>
        outcomes.ChangeAttemptAsync(attempt, "payment_code", (current, now) =>
        {
            if (current.State is not (AttemptStatus.Open or AttemptStatus.Unknown or AttemptStatus.Requested))
            {
                return new WalletDecision.Ignore(IgnoreReason.AttemptCannotMove, $"a {current.Status} attempt needs no check");
            }

            current.Checks++;
            if (current.Checks >= MaxChecks)
            {
                current.NextCheckAt = null;
                if (AttemptStates.Machine.Apply(current.State, AttemptEvent.GaveUp) is { IsLegal: true, To: var stuck })
                {
                    current.Status = stuck.ToWire();
                }

                LogUnresolved(log, current.PaymentId, current.OutTradeNo, current.Checks);
                metrics.UnknownUnresolved();
                return null;
            }

            current.NextCheckAt = (now + Options.PaymentCodePollInterval).ToUnixTimeMilliseconds();
            return null;
        }, ct);

    private async Task<IPaymentCodeConnector> ConnectorAsync(AttemptRow attempt, CancellationToken ct) =>
        await wallets.ChannelAsync(attempt.Channel ?? attempt.Wallet, ct) as IPaymentCodeConnector
        ?? throw new InvalidOperationException($"Channel {attempt.Channel ?? attempt.Wallet} of attempt {attempt.Id} no longer takes payment codes.");

    [LoggerMessage(Level = LogLevel.Warning, Message = "Payment {PaymentId}: reversing payment-code order {OutTradeNo} answered {Code}; retried on the next poll")]
    private static partial void LogReverseRefused(ILogger logger, string paymentId, string outTradeNo, string code);

    [LoggerMessage(Level = LogLevel.Critical, Message = "ALERT: payment {PaymentId} payment-code order {OutTradeNo} still not settled or reversed after {Checks} checks; a person must check it at the wallet")]
    private static partial void LogUnresolved(ILogger logger, string paymentId, string outTradeNo, int checks);
}
