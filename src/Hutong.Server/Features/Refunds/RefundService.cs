using Hutong.Connectors.Abstractions;
using Hutong.Domain;
using Hutong.Server.Features.Payments;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Refunds;

/// <summary>
/// Sends due refunds to their wallet and follows them to a final state. A refund the wallet did not answer is
/// UNKNOWN and re-queried on the payment janitor's schedule (never re-created blind: out_refund_no makes a re-send
/// the same refund). Each state change commits with its refund.* event.
/// </summary>
public sealed partial class RefundService(
    Db db, RefundStore refunds, PaymentStore payments, WalletRegistry wallets, IOptions<HubOptions> options, TimeProvider time, ILogger<RefundService> log)
{
    public async Task RunDueAsync(CancellationToken ct)
    {
        foreach (var refund in await refunds.DueAsync(time.GetUtcNow().ToUnixTimeMilliseconds(), 50, ct))
        {
            try
            {
                await StepAsync(refund, ct);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogStepFailed(log, e, refund.Id); // one bad refund must not stall the others
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

        RefundResult result;
        if (refund.Status == "pending")
        {
            result = await connector.RefundAsync(Request(refund, attempt, payment), CancellationToken.None);
        }
        else
        {
            result = await connector.QueryRefundAsync(attempt.OutTradeNo, refund.OutRefundNo, ct);
            if (result is { Outcome: WalletCallOutcome.Ok, Status: RefundStatus.NotFound })
            {
                result = await connector.RefundAsync(Request(refund, attempt, payment), CancellationToken.None); // never arrived: send the same refund again
            }
        }

        await RecordAsync(refund, result, ct);
    }

    private RefundRequest Request(RefundRow r, AttemptRow a, PaymentRow p) =>
        new(a.OutTradeNo, r.OutRefundNo, new Money(r.Amount, Currency.Parse(r.Currency)), p.Money,
            r.Reason, wallets.NotifyUrl(a.Channel ?? a.Wallet), a.WalletTransactionId);

    private Task RecordAsync(RefundRow refund, RefundResult result, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var schedule = options.Value.UnknownRecheckSchedule;
        return db.WriteAsync(async (c, t) =>
        {
            var before = refund.Status;
            refund.UpdatedAt = now.ToUnixTimeMilliseconds();
            refund.WalletRefundId = result.RefundId ?? refund.WalletRefundId;
            switch (result)
            {
                case { Outcome: WalletCallOutcome.Ok, Status: RefundStatus.Succeeded }:
                    refund.Status = "succeeded";
                    refund.NextCheckAt = null;
                    break;
                case { Outcome: WalletCallOutcome.Ok, Status: RefundStatus.Failed }:
                case { Outcome: WalletCallOutcome.Rejected }:
                    refund.Status = "failed";
                    refund.ErrorCode = result.Error?.Code ?? "REFUND_FAILED";
                    refund.ErrorMessage = result.Error?.Message ?? "The wallet gave up on the refund.";
                    refund.NextCheckAt = null;
                    LogRefundFailed(log, refund.Id, refund.PaymentId, refund.ErrorCode);
                    break;
                default:
                    // Processing at the wallet, or no answer: look again later on the janitor's schedule.
                    refund.Status = result.Outcome == WalletCallOutcome.Ok ? "processing" : "unknown";
                    refund.NextCheckAt = (now + schedule[Math.Min(refund.Checks, schedule.Count - 1)]).ToUnixTimeMilliseconds();
                    refund.Checks++;
                    break;
            }

            await refunds.UpdateAsync(c, t, refund);
            if (refund.Status != before && refund.Status is "succeeded" or "failed")
            {
                await Outbox.AddAsync(c, t, refund.MerchantId, "refund." + refund.Status, RefundDto.Of(refund), now);
            }
        }, ct);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Refund {RefundId}: step failed; retried on the next pass")]
    private static partial void LogStepFailed(ILogger logger, Exception e, string refundId);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Refund {RefundId} of payment {PaymentId} failed at the wallet ({Code}); it needs a person")]
    private static partial void LogRefundFailed(ILogger logger, string refundId, string paymentId, string code);
}
