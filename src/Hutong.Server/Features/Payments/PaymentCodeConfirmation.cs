using Hutong.Connectors.Abstractions;
using Hutong.Domain;
using Hutong.Domain.Payments;
using Hutong.Server.Features.Channels;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Payments;

/// <summary>
/// Confirming a payment with the buyer's payment code (付款码, scanned at a till): the wallet is told by the code's
/// shape, the attempt row commits before the wallet is called, and the wallet's answer is recorded — paid now
/// (succeeded), the buyer is confirming (pending, followed by <see cref="PaymentCodeOrders"/>), refused (failed, 422),
/// or no answer (unknown, re-queried and reversed if it must not stand). The code is sent once and never stored.
/// </summary>
public sealed class PaymentCodeConfirmation(
    PaymentStore store,
    WalletRegistry wallets,
    RoutingService routing,
    PaymentConfirmation confirmation,
    WalletOrders orders,
    PaymentOutcomes outcomes,
    PaymentDtos dtos,
    IOptions<HubOptions> options,
    TimeProvider time)
{
    public async Task<Outcome<PaymentDto>> ConfirmAsync(PaymentRow payment, string? wallet, string authCode, CancellationToken ct)
    {
        // Checked before anything is read or changed: a malformed or contradicting code changes nothing.
        var (codeWallet, problem) = PaymentCodes.WalletOf(authCode);
        if (codeWallet is null)
        {
            return Failure.Invalid("auth_code", problem!);
        }

        if (wallet is not null && wallet != codeWallet)
        {
            return Failure.Invalid("auth_code", $"auth_code is a {codeWallet} payment code, not {wallet}'s.");
        }

        var enabled = await wallets.WalletsAsync(ct);
        if (!enabled.TryGetValue(codeWallet, out var connector))
        {
            return Failure.Invalid("auth_code", $"auth_code is a {codeWallet} payment code, and {codeWallet} is not enabled here.");
        }

        if (connector is not IPaymentCodeConnector)
        {
            return Failure.Invalid("auth_code", $"{codeWallet} does not take payment codes here.");
        }

        if (payment.ProfitSharing is not null)
        {
            return Failure.Invalid("auth_code", "This payment is split among receivers; payment codes do not carry profit sharing.");
        }

        // The payment's own code attempt, still being settled: the same scan again is that attempt (one charge).
        var current = payment.State is PaymentStatus.Pending or PaymentStatus.Unknown ? await store.CurrentAttemptAsync(payment, ct) : null;
        if (current?.Flow == PayFlow.PaymentCode)
        {
            return Outcome.Ok(dtos.ToDto(payment));
        }

        var now = time.GetUtcNow();
        if (payment.PayerClaim is not null && payment.PayerClaimUntil > now.ToUnixTimeMilliseconds())
        {
            return Failure.Conflict("payment_claimed", "Someone else is paying this payment right now.", "Only one payer at a time; try again when their claim lapses.");
        }

        AttemptRow? replacing = null;
        if (payment.State == PaymentStatus.Pending && current is not null)
        {
            // A QR shown before: closed first, so the buyer cannot also pay it.
            if (await orders.CloseAttemptAtWalletAsync(current, ct) is { } closeProblem)
            {
                return closeProblem;
            }

            replacing = current;
        }
        else if (!PaymentStates.Machine.CanApply(payment.State, PaymentEvent.AttemptStarted) && !(payment.State is PaymentStatus.Pending && payment.CurrentAttemptId is null))
        {
            return Failure.Conflict("payment_not_confirmable", $"A {payment.Status} payment cannot start a wallet attempt.");
        }

        if ((PaymentConfirmation.Refusal(payment, codeWallet, connector, now) ?? await confirmation.NotOfferedAsync(payment, codeWallet, ct)) is { } refused)
        {
            return refused;
        }

        // No failover: a code is single use, so a second channel could only be refused (or charge twice).
        var channels = await routing.ChannelsAsync(new RoutedPayment(payment.MerchantId, payment.Amount, payment.ProductCategory, payment.BuyerId), codeWallet, ct);
        foreach (var channel in channels)
        {
            if (await wallets.ChannelAsync(channel, ct) is IPaymentCodeConnector codes and IWalletConnector { } channelConnector && channelConnector.Wallet == codeWallet)
            {
                return await PayAsync(payment, codeWallet, channel, codes, authCode, replacing, ct);
            }
        }

        return new Failure(FailureKind.Unavailable, "no_channel", $"No channel of this merchant takes {codeWallet} payment codes.", "Check the merchant's routes.");
    }

    private async Task<Outcome<PaymentDto>> PayAsync(
        PaymentRow payment, string wallet, string channel, IPaymentCodeConnector codes, string authCode, AttemptRow? replacing, CancellationToken ct)
    {
        var attempt = PaymentConfirmation.NewAttempt(payment.Id, wallet, channel, wallets.NotifyUrl(channel), time.GetUtcNow(), null);
        attempt.Flow = PayFlow.PaymentCode;
        if (await confirmation.StartAttemptAsync(payment.Id, wallet, attempt, replacing, ct) is null)
        {
            // The code never reached a wallet, so trying again is safe: while another request's attempt is being opened
            // that is a retryable 409, as for a QR confirm (PaymentConfirmation.LostTheStartAsync), not a final refusal.
            return await store.GetAsync(payment.MerchantId, payment.Id, ct) is not { } latest ? Failure.NotFound("payment")
                : latest.State == PaymentStatus.Pending
                    ? PaymentConfirmation.AttemptInProgress("Another request started a wallet attempt for this payment just now.", "Retry after Retry-After seconds.")
                : Failure.Conflict("payment_not_confirmable", $"A {latest.Status} payment cannot start a wallet attempt.", "Another request moved it first.");
        }

        // Not cancellable: the wallet may charge the buyer, so its answer is never abandoned half way.
        var result = await codes.PayWithCodeAsync(new CodePaymentRequest(attempt.OutTradeNo, payment.Money, payment.Description, authCode, payment.Id, attempt.NotifyUrl), CancellationToken.None);
        switch (result)
        {
            case { Outcome: WalletCallOutcome.Ok, Transaction: { Status: WalletStatus.Paying } }:
                routing.RecordSuccess(channel);
                await outcomes.RecordCreateOutcomeAsync(attempt, new CreateOrderResult(WalletCallOutcome.Ok, null, null), CancellationToken.None);
                await outcomes.ChangeAttemptAsync(attempt, "payment_code", (current, now) =>
                {
                    current.NextCheckAt = (now + options.Value.PaymentCodePollInterval).ToUnixTimeMilliseconds();
                    return null;
                }, CancellationToken.None);
                break;
            case { Outcome: WalletCallOutcome.Ok, Transaction: { } tx }:
                routing.RecordSuccess(channel);
                await outcomes.ApplyWalletTransactionAsync(tx, "payment_code", CancellationToken.None);
                break;
            case { Outcome: WalletCallOutcome.Rejected, Error: var error }:
                await outcomes.RecordCreateOutcomeAsync(attempt, CreateOrderResult.Rejected(error!), CancellationToken.None);
                return new Failure(FailureKind.Unprocessable, "payment_code_refused", $"{wallet} refused the payment code: {error!.Code}.",
                    $"{error.Message} The payment is failed and may be confirmed again with a fresh code.", Param: "auth_code");
            default:
                routing.RecordFailure(channel);
                await outcomes.RecordCreateOutcomeAsync(attempt, CreateOrderResult.Unknown(result.Error?.Message ?? "no answer"), CancellationToken.None);
                break;
        }

        return await store.GetAsync(payment.MerchantId, payment.Id, CancellationToken.None) is { } after ? Outcome.Ok(dtos.ToDto(after)) : Failure.NotFound("payment");
    }
}
