using System.Text.Json;
using Hutong.Domain;
using Hutong.Domain.Payments;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Payments;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.ProfitSharing;

/// <summary>
/// Profit sharing (分账) as merchants ask for it: a split of a succeeded payment, planned and checked against the wallet's
/// limits (<see cref="SplitRuleService"/>) and recorded before the wallet is called; <see cref="SplitFollowUpService"/>
/// sends it and follows it. What refunds take back from receivers is <see cref="SplitReturnService"/>'s.
/// </summary>
public sealed class SplitService(Db db, SplitStore store, PaymentStore payments, SplitRuleService planning, SplitFollowUpService followUp, ClawbackService clawbacks, TimeProvider time)
{
    /// <summary>Plans and records a split under the payment's row lock, with its receivers' amounts, before the wallet is called.</summary>
    public async Task<Outcome<SplitDto>> CreateSplitAsync(string merchantId, string paymentId, CreateSplitRequest r, IdempotencyContext? idem, CancellationToken ct)
    {
        if (await payments.GetAsync(merchantId, paymentId, ct) is null)
        {
            return Failure.NotFound("payment");
        }

        if (r.Splits is not { Count: > 0 } rules)
        {
            return Failure.Invalid("splits", "splits lists at least one receiver's share.");
        }

        var (receivers, problem) = await planning.CheckAsync(merchantId, rules, ct);
        if (problem is not null)
        {
            return Failure.Invalid("splits", problem);
        }

        var now = time.GetUtcNow();
        var result = await db.WriteAsync<Outcome<SplitDto>>(async (c, t) =>
        {
            var payment = await payments.LockAsync(c, t, paymentId);
            if (payment is null || payment.MerchantId != merchantId)
            {
                return Failure.NotFound("payment");
            }

            if (payment.ProfitSharing is null)
            {
                return Failure.Conflict("payment_not_split", "This payment was not created for profit sharing.",
                    "Create it with \"profit_sharing\": {} so the wallet holds its funds for splitting.");
            }

            if (payment.State != PaymentStatus.Succeeded || payment.CurrentAttemptId is null || payment.Wallet is null)
            {
                return Failure.Conflict("payment_not_splittable", $"A {payment.Status} payment has nothing to split.");
            }

            var connector = await planning.SplitConnectorAsync(c, t, payment.CurrentAttemptId, ct);
            if (connector is null)
            {
                return Failure.Conflict("wallet_cannot_split", $"{payment.Wallet} does not split payments.");
            }

            if (rules.FirstOrDefault(x => receivers[x.Receiver!].Wallet != payment.Wallet) is { } other)
            {
                return Failure.Invalid("splits", $"Receiver {other.Receiver} is a {receivers[other.Receiver!].Wallet} receiver; this payment was paid with {payment.Wallet}.");
            }

            var (shares, refusal) = await planning.PlanAsync(c, t, payment, rules, connector, now);
            if (refusal is not null)
            {
                // Too early is a state that passes (retry later); the rest are the wallet's fixed rules.
                return new Failure(refusal.Code is "split_too_early" ? FailureKind.Conflict : FailureKind.Unprocessable, refusal.Code,
                    "The wallet would refuse this split.", refusal.Message, refusal.Param);
            }

            var split = SplitRuleService.NewSplit(payment, payment.CurrentAttemptId, "api", JsonSerializer.Serialize(rules), r.Final == true, "pending", shares!.Sum(s => s.Amount), now, now);
            await store.InsertSplitAsync(c, t, split);
            foreach (var s in shares!)
            {
                // A receiver that owes a clawback is sent less: the rest of its share stays with the merchant and settles it.
                await store.InsertLineAsync(c, t, split.Id, s.ReceiverId, s.Amount, await clawbacks.TakeAsync(c, t, s.ReceiverId, s.Amount, SplitMinimumFen));
            }

            var created = Outcome.Created(SplitDto.Of(split, await store.LinesAsync(c, t, split.Id)));
            if (idem is not null)
            {
                await idem.CompleteAsync(c, t, created);
            }

            return created;
        }, ct);
        if (result.Succeeded)
        {
            _ = Task.Run(() => followUp.RunDueAsync(CancellationToken.None), CancellationToken.None);
        }

        return result;
    }

    /// <summary>The least a receiver of a split is sent (WeChat amount and Alipay royalty amount are whole fen, at least 1): a netted share keeps it.</summary>
    public const long SplitMinimumFen = 1;

    public async Task<Outcome<object>> ListSplitsAsync(string merchantId, string paymentId, CancellationToken ct)
    {
        if (await payments.GetAsync(merchantId, paymentId, ct) is null)
        {
            return Failure.NotFound("payment");
        }

        var (splits, lines) = await db.ReadAsync(async c => (await store.SplitsOfPaymentAsync(c, null, paymentId), await store.LinesOfPaymentAsync(c, null, paymentId)), ct);
        var returns = await store.ReturnsOfPaymentAsync(merchantId, paymentId, ct);
        return Outcome.Ok<object>(new
        {
            @object = "list",
            data = splits.Select(s => SplitDto.Of(s, lines.Where(l => l.SplitId == s.Id))).ToList(),
            returns = returns.Select(SplitReturnDto.Of).ToList(),
        });
    }

    public async Task<Outcome<SplitDto>> GetSplitAsync(string merchantId, string id, CancellationToken ct)
    {
        var split = await store.GetSplitAsync(merchantId, id, ct);
        return split is null
            ? Failure.NotFound("split")
            : Outcome.Ok(SplitDto.Of(split, await db.ReadAsync(c => store.LinesAsync(c, null, id), ct)));
    }
}
