using System.Data.Common;
using System.Text.Json;
using Hutong.Connectors.Abstractions;
using Hutong.Domain;
using Hutong.Domain.FollowUps;
using Hutong.Domain.Ledger;
using Hutong.Domain.Payments;
using Hutong.Domain.Settlement;
using Hutong.Domain.Splits;
using Hutong.Server.Features.Ledger;
using Hutong.Server.Features.Payments;
using Hutong.Server.Features.Workers;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;
using static Hutong.Server.Features.ProfitSharing.SplitRows;

namespace Hutong.Server.Features.ProfitSharing;

/// <summary>
/// Follows splits to their outcome (load → decide in <see cref="SplitDecisions"/> → persist): a payment's own rules are
/// planned when due, receivers are added at the wallet before their first split, and the wallet's answer is followed like
/// any other (UNKNOWN → re-query; out_order_no makes a re-send the same split). Money moves in the ledger when the wallet
/// reports a receiver paid. Return orders are stepped here too, by <see cref="SplitReturnService"/>.
/// </summary>
public sealed partial class SplitFollowUpService(
    Db db, SplitStore store, PaymentStore payments, LedgerStore ledger, WalletRegistry wallets, SecretBox secrets,
    SplitRuleService planning, SplitReturnService returns, ClawbackService clawbacks, IOptions<HubOptions> options, TimeProvider time, ILogger<SplitFollowUpService> log)
{
    private readonly SemaphoreSlim _pass = new(1, 1);

    /// <summary>
    /// A wallet's notice about a split (WeChat PROFITSHARING.*): the split and its open return orders are made due now and
    /// a pass runs, so the outcome is the wallet's answer to a query, applied like any other.
    /// </summary>
    public async Task RecheckAsync(string outOrderNo, CancellationToken ct)
    {
        await store.MakeDueAsync(outOrderNo, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
        await RunDueAsync(ct);
    }

    /// <summary>One pass: the due splits, then the due return orders, each under this hub's claim.</summary>
    public async Task RunDueAsync(CancellationToken ct)
    {
        await _pass.WaitAsync(ct);
        try
        {
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            // Each claimed just before its wallet calls (several hubs may share the database; see FollowUpLeases).
            foreach (var split in await store.DueSplitsAsync(now, 50, ct))
            {
                await LeasedAsync(FollowedTable.Splits, split.Id, split.Status, () => StepSplitAsync(split, ct), ct);
            }

            foreach (var ret in await store.DueReturnsAsync(now, 50, ct))
            {
                await LeasedAsync(FollowedTable.SplitReturns, ret.Id, ret.Status, () => returns.StepReturnAsync(ret, ct), ct);
            }
        }
        finally
        {
            _pass.Release();
        }
    }

    /// <summary>Works on one row under this hub's claim; skips it when another hub holds it or it moved on since it was read.</summary>
    private async Task LeasedAsync(FollowedTable table, string id, string readStatus, Func<Task> step, CancellationToken ct)
    {
        if (await store.Leases.ClaimAsync(table, id, readStatus, ct) is not { } lease)
        {
            return;
        }

        try
        {
            await step();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogStepFailed(log, e, id); // one bad row must not stall the others
        }
        finally
        {
            await store.Leases.ReleaseAsync(table, id, lease); // a no-op once an outcome was applied
        }
    }

    private async Task StepSplitAsync(SplitRow split, CancellationToken ct)
    {
        var attempt = await db.ReadAsync(c => payments.GetAttemptAsync(c, null, split.AttemptId), ct);
        var connector = attempt is null ? null : await wallets.ChannelAsync(attempt.Channel ?? attempt.Wallet, ct) as IProfitSharingConnector;
        if (attempt is null || connector is null)
        {
            await FailAsync(split, "wallet_cannot_split", "The wallet this payment was paid with does not split payments.", ct);
            return;
        }

        if (SplitStates.SplitFromWire(split.Status) == SplitOrderState.Scheduled && !await PlanScheduledAsync(split, attempt, connector, ct))
        {
            return;
        }

        var lines = await db.ReadAsync(c => store.LinesAsync(c, null, split.Id), ct);
        // Sent only if no hub claimed it to send before (sent_at as read): one that did may have died or stalled mid-call
        // with the split already at the wallet, so it is asked first, and sent again only if the wallet never got it.
        var state = SplitStates.SplitFromWire(split.Status);
        var sendStarted = split.SentAt is not null;
        SplitCallResult? result = null;
        if (SplitDecisions.Call(state, sendStarted, WalletLookup.NotQueried) == NextCall.Query)
        {
            result = await connector.QuerySplitAsync(attempt.OutTradeNo, attempt.WalletTransactionId ?? string.Empty, split.OutOrderNo, ct);
        }

        if (SplitDecisions.Call(state, sendStarted, Lookup(result)) == NextCall.Send)
        {
            if (state == SplitOrderState.Pending)
            {
                var channel = attempt.Channel ?? attempt.Wallet;
                foreach (var line in lines)
                {
                    if (await store.IsBoundAsync(line.ReceiverId, channel, ct))
                    {
                        continue;
                    }

                    var bound = await connector.AddReceiverAsync(WalletReceiver(line), CancellationToken.None);
                    if (bound.Outcome == WalletCallOutcome.Rejected)
                    {
                        await RecordAsync(split, attempt.Wallet, SplitCallResult.Rejected(bound.Error!), ct);
                        return;
                    }

                    if (bound.Outcome == WalletCallOutcome.Unknown)
                    {
                        await RecordAsync(split, attempt.Wallet, bound, ct, sent: false); // try again later
                        return;
                    }

                    await store.BindAsync(line.ReceiverId, channel, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
                }
            }

            result = await connector.SplitAsync(Request(split, attempt, lines), CancellationToken.None); // the same out_order_no
        }

        await RecordAsync(split, attempt.Wallet, result!, ct);
    }

    /// <summary>What a split query (null: none made) found at the wallet.</summary>
    private static WalletLookup Lookup(SplitCallResult? queried) => queried switch
    {
        null => WalletLookup.NotQueried,
        { Outcome: WalletCallOutcome.Ok, State: SplitState.NotFound } => WalletLookup.NotFound,
        { Outcome: WalletCallOutcome.Ok or WalletCallOutcome.Rejected } => WalletLookup.Found,
        _ => WalletLookup.NoAnswer,
    };

    /// <summary>Turns the payment's rules into amounts now that the fee and any refunds are known; false when it is not time yet or they were refused.</summary>
    private async Task<bool> PlanScheduledAsync(SplitRow split, AttemptRow attempt, IProfitSharingConnector connector, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var rules = JsonSerializer.Deserialize<List<SplitRuleRequest>>(split.Rules) ?? [];
        var (receivers, _) = await planning.ResolveReceiversAsync(split.MerchantId, rules, ct);
        rules = rules.Where(r => r.Receiver is not null && receivers.TryGetValue(r.Receiver, out var rc) && rc.Wallet == attempt.Wallet).ToList();
        return await db.WriteAsync(async (c, t) =>
        {
            var payment = await payments.LockAsync(c, t, split.PaymentId);
            if (payment is null || payment.State != PaymentStatus.Succeeded)
            {
                await Fail(c, t, split, "payment_not_splittable", $"The payment is {payment?.Status ?? "gone"}.", now);
                return false;
            }

            if (rules.Count == 0)
            {
                await Fail(c, t, split, "no_receivers_for_wallet", $"None of the payment's split rules names a {attempt.Wallet} receiver.", now);
                return false;
            }

            var (shares, refusal) = await planning.PlanAsync(c, t, payment, rules, connector, now);
            if (refusal is { Code: "split_too_early" })
            {
                SplitStates.Order.Apply(SplitStates.SplitFromWire(split.Status), SplitOrderState.Scheduled).ToOrThrow();
                split.NextCheckAt = (now + TimeSpan.FromSeconds(5)).ToUnixTimeMilliseconds();
                split.UpdatedAt = now.ToUnixTimeMilliseconds();
                await store.ApplySplitAsync(c, t, split, split.Status);
                return false;
            }

            if (refusal is not null)
            {
                await Fail(c, t, split, refusal.Code, refusal.Message, now);
                return false;
            }

            var read = split.Status;
            split.Status = SplitStates.Order.Apply(SplitStates.SplitFromWire(read), SplitOrderState.Pending).ToOrThrow().ToWire();
            var planned = shares!;
            split.Amount = planned.Sum(s => s.Amount);
            split.UpdatedAt = now.ToUnixTimeMilliseconds();
            if (!await store.ApplySplitAsync(c, t, split, read, keepLease: true)) // still ours: it is sent next
            {
                LogLostRace(log, split.Id, read);
                return false;
            }

            foreach (var s in planned)
            {
                // A receiver that owes a clawback is sent less: the rest of its share stays with the merchant and settles it.
                await store.InsertLineAsync(c, t, split.Id, s.ReceiverId, s.Amount, await clawbacks.TakeAsync(c, t, s.ReceiverId, s.Amount, SplitService.SplitMinimumFen));
            }

            return true;
        }, ct);
    }

    /// <summary>What the wallet's answer means for the split (decided in the domain), applied if nobody else applied one first.</summary>
    private Task RecordAsync(SplitRow split, string wallet, SplitCallResult result, CancellationToken ct, bool sent = true)
    {
        var now = time.GetUtcNow();
        var answer = result switch
        {
            _ when !sent => SplitAnswer.NotSent,
            { Outcome: WalletCallOutcome.Ok, State: SplitState.Finished } => SplitAnswer.Finished,
            { Outcome: WalletCallOutcome.Rejected } => SplitAnswer.Rejected,
            { Outcome: WalletCallOutcome.Ok } => SplitAnswer.Processing,
            _ => SplitAnswer.NoAnswer,
        };
        var paid = answer == SplitAnswer.Finished && result.Receivers.Any(r => r.Result == SplitReceiverResult.Succeeded);
        var decision = SplitDecisions.Decide(FollowUpOf(split), answer, paid, Schedule(options.Value), now);
        var read = split.Status;
        Set(split, decision.Next);
        split.UpdatedAt = now.ToUnixTimeMilliseconds();
        split.WalletOrderId = result.WalletOrderId ?? split.WalletOrderId;
        (split.ErrorCode, split.ErrorMessage) = answer switch
        {
            SplitAnswer.Finished when !paid => ("receivers_not_paid", "The wallet paid none of the receivers."),
            SplitAnswer.Rejected => (result.Error?.Code ?? "SPLIT_REJECTED", result.Error?.Message ?? "The wallet refused the split."),
            _ => (split.ErrorCode, split.ErrorMessage),
        };
        return db.WriteAsync(async (c, t) =>
        {
            if (!await store.ApplySplitAsync(c, t, split, read))
            {
                LogLostRace(log, split.Id, read); // another hub applied an outcome first: its lines, money and event stand
                return;
            }

            var lines = await store.LinesAsync(c, t, split.Id);
            if (answer == SplitAnswer.Finished)
            {
                await PayLinesAsync(c, t, split, lines, result, wallet, now);
            }
            else if (answer == SplitAnswer.Rejected)
            {
                foreach (var line in lines)
                {
                    await store.SetLineResultAsync(c, t, split.Id, line.ReceiverId, "failed", result.Error?.Message);
                    await GiveBackOffsetAsync(c, t, split, line, now);
                }

                LogSplitRejected(log, split.Id, split.PaymentId, split.ErrorCode!);
            }

            if (decision.Settled)
            {
                await Outbox.AddAsync(c, t, split.MerchantId, "split." + split.Status, SplitDto.Of(split, await store.LinesAsync(c, t, split.Id)), now);
            }
        }, ct);
    }

    /// <summary>A finished split: each pending line takes the wallet's result for its receiver, and a paid one is posted.</summary>
    private async Task PayLinesAsync(
        DbConnection c, DbTransaction t, SplitRow split, IReadOnlyList<SplitLineRow> lines, SplitCallResult result, string wallet, DateTimeOffset now)
    {
        foreach (var line in lines.Where(l => l.Result == "pending"))
        {
            var outcome = result.Receivers.FirstOrDefault(r => r.Account == line.Account);
            var ok = outcome?.Result == SplitReceiverResult.Succeeded;
            await store.SetLineResultAsync(c, t, split.Id, line.ReceiverId, ok ? "succeeded" : "failed", ok ? null : outcome?.FailReason ?? "not paid by the wallet");
            if (ok)
            {
                // The wallet paid this receiver out of the merchant's funds: its share less what settles its clawback.
                Posted(await ledger.AppendAsync(c, t, "split", $"{split.Id}:{line.ReceiverId}", split.MerchantId,
                    Postings.SplitPaid(wallet, split.MerchantId, new Money(line.Amount - line.ClawbackOffset, Currency.Parse(split.Currency))), now), split.Id);
                if (line.ClawbackOffset > 0)
                {
                    await clawbacks.NettedAsync(c, t, split.MerchantId, line.ReceiverId, line.ClawbackOffset, split.Currency, succeeded: true,
                        $"{split.Id}:{line.ReceiverId}", split.Id, null, now);
                }
            }
            else
            {
                await GiveBackOffsetAsync(c, t, split, line, now);
            }
        }
    }

    /// <summary>A line that will not be paid: what it netted is owed again (cleared once, conditionally, so never given back twice).</summary>
    private async Task GiveBackOffsetAsync(DbConnection c, DbTransaction t, SplitRow split, SplitLineRow line, DateTimeOffset now)
    {
        if (await store.ClearLineOffsetAsync(c, t, split.Id, line.ReceiverId, line.ClawbackOffset))
        {
            await clawbacks.NettedAsync(c, t, split.MerchantId, line.ReceiverId, line.ClawbackOffset, split.Currency, succeeded: false,
                $"{split.Id}:{line.ReceiverId}", split.Id, null, now);
        }
    }

    private Task FailAsync(SplitRow split, string code, string message, CancellationToken ct) =>
        db.WriteAsync((c, t) => Fail(c, t, split, code, message, time.GetUtcNow()), ct);

    /// <summary>The hub gives up on the split (before or instead of the wallet); only if it is still as read, with its event.</summary>
    private async Task Fail(DbConnection c, DbTransaction t, SplitRow split, string code, string message, DateTimeOffset now)
    {
        var read = split.Status;
        Set(split, SplitDecisions.Fail(FollowUpOf(split)).Next);
        split.ErrorCode = code;
        split.ErrorMessage = message;
        split.UpdatedAt = now.ToUnixTimeMilliseconds();
        if (!await store.ApplySplitAsync(c, t, split, read))
        {
            LogLostRace(log, split.Id, read);
            return;
        }

        foreach (var line in await store.LinesAsync(c, t, split.Id))
        {
            await GiveBackOffsetAsync(c, t, split, line, now);
        }

        await Outbox.AddAsync(c, t, split.MerchantId, "split.failed", SplitDto.Of(split, await store.LinesAsync(c, t, split.Id)), now);
        LogSplitRejected(log, split.Id, split.PaymentId, code);
    }

    private SplitOrderRequest Request(SplitRow split, AttemptRow attempt, IReadOnlyList<SplitLineRow> lines) =>
        new(attempt.OutTradeNo, attempt.WalletTransactionId ?? string.Empty, split.OutOrderNo,
            lines.Select(l => new SplitOrderReceiver(WalletReceiver(l), l.Amount - l.ClawbackOffset, Describe(l.Role))).ToList(), split.Final == 1);

    private WalletSplitReceiver WalletReceiver(SplitLineRow l) =>
        new(l.Type == "merchant" ? ReceiverType.Merchant : ReceiverType.Personal, l.Account, l.Name is null ? null : secrets.OpenIfSealed(l.Name, l.ReceiverId), Relation(l.Role));

    private static string Describe(string role) => role switch
    {
        "platform" => "平台服务费",
        "host" => "主播分成",
        _ => "机构分成",
    };

    [LoggerMessage(Level = LogLevel.Error, Message = "Profit sharing {Id}: step failed; retried on the next pass")]
    private static partial void LogStepFailed(ILogger logger, Exception e, string id);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Id}: another hub applied an outcome first (read {Status}); this one is dropped")]
    private static partial void LogLostRace(ILogger logger, string id, string status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Split {SplitId} of payment {PaymentId} failed: {Code}")]
    private static partial void LogSplitRejected(ILogger logger, string splitId, string paymentId, string code);
}
