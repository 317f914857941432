using System.Data.Common;
using Hutong.Connectors.Abstractions;
using Hutong.Domain;
using Hutong.Domain.Ledger;
using Hutong.Domain.Settlement;
using Hutong.Domain.Splits;
using Hutong.Server.Features.Ledger;
using Hutong.Server.Features.Payments;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.ProfitSharing;

/// <summary>
/// A payment's split rules: checked when the payment is created, per wallet (its limits and fee), queued when it succeeds,
/// and planned into amounts under the payment's row lock (max ratio of the amount net of fee and refunds, receivers per
/// split, splits per payment, the delay after payment and the freeze window) — the decision itself is
/// <see cref="SplitPlanner"/>'s.
/// </summary>
public sealed class SplitRuleService(
    SplitStore store, PaymentStore payments, LedgerStore ledger, WalletRegistry wallets, IOptions<HubOptions> options, TimeProvider time)
{
    /// <summary>
    /// Checks a payment's rules when it is created, per wallet (a rule applies when the buyer pays with its receiver's
    /// wallet), with that wallet's limits and fee: a merchant learns at once that 40 % cannot be split.
    /// </summary>
    public async Task<Dictionary<string, string[]>> ValidateRulesAsync(string merchantId, long amount, IReadOnlyList<SplitRuleRequest> rules, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var (receivers, problem) = await CheckAsync(merchantId, rules, ct);
        if (problem is not null)
        {
            errors["profit_sharing.splits"] = [problem];
            return errors;
        }

        var enabled = await wallets.WalletsAsync(ct);
        foreach (var group in rules.GroupBy(r => receivers[r.Receiver!].Wallet, StringComparer.Ordinal))
        {
            if (!enabled.TryGetValue(group.Key, out var c) || c is not IProfitSharingConnector split)
            {
                errors["profit_sharing.splits"] = [$"{group.Key} does not split payments here."];
                continue;
            }

            var now = time.GetUtcNow();
            var fee = Postings.Fee(new Money(amount, Currency.Cny), options.Value.WalletFeeBasisPoints.GetValueOrDefault(group.Key)).Minor;
            var (_, refusal) = SplitPlanner.Plan(group.Select(ToRule).ToList(), new SplitContext(amount, fee, 0, 0, 0, false, now - split.Policy.MinDelayAfterPayment), split.Policy, now);
            if (refusal is not null)
            {
                errors["profit_sharing.splits"] = [$"{group.Key}: {refusal.Message}"];
            }
        }

        return errors;
    }

    /// <summary>The rules' shape, then their receivers: each must be one of the merchant's.</summary>
    public async Task<(Dictionary<string, SplitReceiverRow> Receivers, string? Problem)> CheckAsync(string merchantId, IReadOnlyList<SplitRuleRequest> rules, CancellationToken ct) =>
        RuleProblem(rules) is { } invalid ? ([], invalid) : await ResolveReceiversAsync(merchantId, rules, ct);

    /// <summary>The payment's rules, queued in the transaction that records its success; split after the wallet's delay.</summary>
    public Task ScheduleRulesAsync(DbConnection c, DbTransaction t, PaymentRow payment, string attemptId, DateTimeOffset now) =>
        payment.ProfitSharing is null or "[]"
            ? Task.CompletedTask
            : store.InsertSplitAsync(c, t, NewSplit(payment, attemptId, "rules", payment.ProfitSharing, final: true, "scheduled", 0,
                now + (options.Value.SplitDelay ?? TimeSpan.FromSeconds(65)), now)); // at most once: unique per payment for 'rules'

    /// <summary>Plans under the payment's lock: what is already split (net of returns, pending included), the fee, refunds committed.</summary>
    public async Task<(IReadOnlyList<SplitShare>? Shares, SplitRefusal? Refusal)> PlanAsync(
        DbConnection c, DbTransaction t, PaymentRow payment, IReadOnlyList<SplitRuleRequest> rules, IProfitSharingConnector connector, DateTimeOffset now)
    {
        var splits = await store.SplitsOfPaymentAsync(c, t, payment.Id);
        var lines = await store.LinesOfPaymentAsync(c, t, payment.Id);
        var fee = await ledger.FeeOfAsync(c, t, payment.Id);
        var refunded = await store.MerchantRefundedAsync(c, t, payment.Id);
        var placed = splits.Where(s => s.Status is not ("failed" or "scheduled")).ToList();
        var context = new SplitContext(
            payment.Amount, fee, refunded,
            lines.Where(l => l.Result != "failed").Sum(l => l.Amount - l.Returned),
            placed.Count,
            placed.Any(s => s.Final == 1),
            DateTimeOffset.FromUnixTimeMilliseconds(payment.SucceededAt ?? payment.UpdatedAt));
        var policy = options.Value.SplitDelay is { } delay ? connector.Policy with { MinDelayAfterPayment = delay } : connector.Policy;
        return SplitPlanner.Plan(rules.Select(ToRule).ToList(), context, policy, now);
    }

    /// <summary>The attempt's channel, if it splits payments.</summary>
    public async Task<IProfitSharingConnector?> SplitConnectorAsync(DbConnection c, DbTransaction t, string attemptId, CancellationToken ct)
    {
        var attempt = await payments.GetAttemptAsync(c, t, attemptId);
        return attempt is null ? null : await wallets.ChannelAsync(attempt.Channel ?? attempt.Wallet, ct) as IProfitSharingConnector;
    }

    /// <summary>The rules' receivers among the merchant's; the problem names the first that is not one.</summary>
    public async Task<(Dictionary<string, SplitReceiverRow> Receivers, string? Problem)> ResolveReceiversAsync(string merchantId, IReadOnlyList<SplitRuleRequest> rules, CancellationToken ct)
    {
        if (rules.Any(r => string.IsNullOrEmpty(r.Receiver)))
        {
            return ([], "Each split names a receiver (a split_receivers id).");
        }

        var found = (await store.ReceiversAsync(merchantId, rules.Select(r => r.Receiver!), ct)).ToDictionary(r => r.Id, StringComparer.Ordinal);
        return rules.FirstOrDefault(r => !found.ContainsKey(r.Receiver!)) is { } missing
            ? (found, $"No such receiver: {missing.Receiver}.")
            : (found, null);
    }

    /// <summary>
    /// The shape of each rule, checked before anything is looked up or summed: JSON allows null entries and any integer,
    /// and neither may reach the planner (a null was a NullReferenceException, two amounts of 2^62 an overflow).
    /// </summary>
    private static string? RuleProblem(IReadOnlyList<SplitRuleRequest?> rules)
    {
        if (rules.Any(r => r is null))
        {
            return "Each split is an object: {\"receiver\": ..., \"amount\" or \"ratio_bps\": ...}.";
        }

        if (rules.Any(r => (r!.Amount is null) == (r.RatioBps is null)))
        {
            return "Each split gives exactly one of amount or ratio_bps.";
        }

        return rules.Any(r => r!.Amount is < 1 or > Money.MaxAmount || r.RatioBps is < 1 or > 10_000)
            ? $"amount is 1-{Money.MaxAmount} minor units; ratio_bps is 1-10000."
            : null;
    }

    /// <summary>A split row: the API's (pending, planned already) or a payment's own rules (scheduled, planned when due).</summary>
    public static SplitRow NewSplit(PaymentRow payment, string attemptId, string initiatedBy, string rules, bool final, string status, long amount, DateTimeOffset due, DateTimeOffset now) => new()
    {
        Id = SplitStore.NewId(SplitStore.SplitPrefix, now),
        MerchantId = payment.MerchantId,
        PaymentId = payment.Id,
        AttemptId = attemptId,
        OutOrderNo = SplitStore.OutNo("PS", now),
        InitiatedBy = initiatedBy,
        Rules = rules,
        Final = final ? 1 : 0,
        Status = status,
        Amount = amount,
        Currency = payment.Currency,
        NextCheckAt = due.ToUnixTimeMilliseconds(),
        CreatedAt = now.ToUnixTimeMilliseconds(),
        UpdatedAt = now.ToUnixTimeMilliseconds(),
    };

    private static SplitRule ToRule(SplitRuleRequest r) => new(r.Receiver!, r.Amount, r.RatioBps);
}
