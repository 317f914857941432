using System.Data.Common;
using Hutong.Connectors.Abstractions;
using Hutong.Domain;
using Hutong.Domain.FollowUps;
using Hutong.Domain.Ledger;
using Hutong.Domain.Payments;
using Hutong.Domain.Settlement;
using Hutong.Domain.Splits;
using Hutong.Server.Features.Ledger;
using Hutong.Server.Features.Payments;
using Hutong.Server.Features.Refunds;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;
using static Hutong.Server.Features.ProfitSharing.SplitRows;

namespace Hutong.Server.Features.ProfitSharing;

/// <summary>
/// What receivers give back when a split payment is refunded: each paid receiver's share comes back pro rata — with the
/// refund (Alipay), by a return order (WeChat merchant receivers), or as a recorded clawback (WeChat personal receivers).
/// Planned when the refund is created, settled with its outcome; return orders are then followed like any wallet call.
/// </summary>
public sealed partial class SplitReturnService(
    Db db, SplitStore store, PaymentStore payments, LedgerStore ledger, WalletRegistry wallets, SplitRuleService rules,
    IOptions<HubOptions> options, TimeProvider time, ILogger<SplitReturnService> log)
{
    /// <summary>
    /// Inside the refund's creation transaction (payment locked): what each paid receiver gives back, pro rata, and how.
    /// Nothing moves yet; the refund's outcome decides (see <see cref="SettleReturnsAsync"/>).
    /// </summary>
    public async Task PlanReturnsAsync(DbConnection c, DbTransaction t, PaymentRow payment, RefundRow refund, long refundedBefore, DateTimeOffset now, CancellationToken ct)
    {
        if (payment.ProfitSharing is null || payment.CurrentAttemptId is null)
        {
            return;
        }

        var lines = (await store.LinesOfPaymentAsync(c, t, payment.Id)).Where(l => l.Result == "succeeded").ToList();
        if (lines.Count == 0)
        {
            return;
        }

        var connector = await rules.SplitConnectorAsync(c, t, payment.CurrentAttemptId, ct);
        var outstanding = await store.OutstandingReturnsAsync(c, t, payment.Id);
        foreach (var line in lines)
        {
            var held = line.Amount - line.Returned - outstanding.Where(o => o.SplitId == line.SplitId && o.ReceiverId == line.ReceiverId).Sum(o => o.Amount);
            var back = SplitPlanner.ReturnOnRefund(line.Amount, held, payment.Amount, refundedBefore, refund.Amount);
            if (back <= 0)
            {
                continue;
            }

            var mode = connector?.Policy.Returns == SplitReturnMode.WithRefund ? "with_refund" : line.Type == "merchant" ? "return_order" : "clawback";
            await store.InsertReturnAsync(c, t, new SplitReturnRow
            {
                Id = SplitStore.NewId(SplitStore.ReturnPrefix, now), MerchantId = payment.MerchantId, PaymentId = payment.Id, RefundId = refund.Id,
                SplitId = line.SplitId, ReceiverId = line.ReceiverId, OutReturnNo = SplitStore.OutNo("PR", now), Amount = back, Mode = mode,
                Status = SplitReturnState.AwaitingRefund.ToWire(), CreatedAt = now.ToUnixTimeMilliseconds(), UpdatedAt = now.ToUnixTimeMilliseconds(),
            });
        }
    }

    /// <summary>The receivers' shares an Alipay refund takes back with it (refund_royalty_parameters).</summary>
    public async Task<IReadOnlyList<RoyaltyReturn>> RoyaltyReturnsAsync(string refundId, CancellationToken ct) =>
        (await store.WithRefundReturnsAsync(refundId, ct))
        .Select(x => new RoyaltyReturn(new WalletSplitReceiver(x.Type == "merchant" ? ReceiverType.Merchant : ReceiverType.Personal, x.Account, null, Relation(x.Role)), x.Amount))
        .ToList();

    /// <summary>
    /// In the refund's final-state transaction: on success, shares returned with the refund are posted back, clawbacks
    /// are recorded as owed, and return orders become due; on failure, none of it happens.
    /// </summary>
    public async Task SettleReturnsAsync(DbConnection c, DbTransaction t, RefundRow refund, bool succeeded, string wallet, DateTimeOffset now)
    {
        foreach (var r in (await store.ReturnsOfRefundAsync(c, t, refund.Id)).Where(r => SplitStates.ReturnFromWire(r.Status) == SplitReturnState.AwaitingRefund))
        {
            var read = r.Status;
            var decision = SplitDecisions.OnRefundSettled(FollowUpOf(r), succeeded, byReturnOrder: r.Mode == "return_order", now);
            Set(r, decision.Next);
            r.UpdatedAt = now.ToUnixTimeMilliseconds();
            if (!await store.ApplyReturnAsync(c, t, r, read, leased: false))
            {
                continue; // settled already (the refund's own conditional update makes this unreachable; never twice)
            }

            if (decision.Next.Status == SplitReturnState.Succeeded)
            {
                await store.AddReturnedAsync(c, t, r.SplitId, r.ReceiverId, r.Amount);
                var money = new Money(r.Amount, Currency.Parse(refund.Currency));
                Posted(await ledger.AppendAsync(c, t, r.Mode == "with_refund" ? "split_returned" : "split_clawback", r.Id, r.MerchantId,
                    r.Mode == "with_refund" ? Postings.SplitReturned(wallet, r.MerchantId, money) : Postings.ClawbackDue(r.ReceiverId, r.MerchantId, money), now), r.Id);
                if (r.Mode == "clawback")
                {
                    // Owed by the receiver now: the next split share or payout to it is netted (ClawbackService).
                    await store.AddClawbackAsync(c, t, r.ReceiverId, r.Amount);
                    await Outbox.AddAsync(c, t, r.MerchantId, "split_receiver.clawback_due",
                        new ClawbackEventDto("split_receiver_clawback", r.ReceiverId, "due", r.Amount, refund.Currency,
                            await store.ClawbackOutstandingAsync(c, t, r.ReceiverId), r.SplitId, null, null), now);
                }
            }
        }
    }

    /// <summary>One step of a return order, under this hub's claim: sent, or re-queried; its outcome applied if still as read.</summary>
    public async Task StepReturnAsync(SplitReturnRow ret, CancellationToken ct)
    {
        var (split, account) = await db.ReadAsync(async c => (
            await store.GetSplitAsync(c, null, ret.SplitId),
            await store.AccountOfAsync(c, ret.ReceiverId)), ct);
        var attempt = split is null ? null : await db.ReadAsync(c => payments.GetAttemptAsync(c, null, split.AttemptId), ct);
        if (split is null || attempt is null || account is null || await wallets.ChannelAsync(attempt.Channel ?? attempt.Wallet, ct) is not IProfitSharingConnector connector)
        {
            return;
        }

        var request = new SplitReturnRequest(split.OutOrderNo, ret.OutReturnNo, account, ret.Amount, "退款回退分账");
        // Sent only if no hub claimed it to send before (sent_at as read); otherwise asked first, and sent again (the same
        // out_return_no) only if the wallet never got it.
        var state = SplitStates.ReturnFromWire(ret.Status);
        var sendStarted = ret.SentAt is not null;
        SplitReturnResult? queried = null;
        if (SplitDecisions.ReturnCall(state, sendStarted, WalletLookup.NotQueried) == NextCall.Query)
        {
            queried = await connector.QueryReturnAsync(split.OutOrderNo, ret.OutReturnNo, ct);
        }

        var lookup = queried switch
        {
            null => WalletLookup.NotQueried,
            { Outcome: WalletCallOutcome.Ok, Status: RefundStatus.NotFound } => WalletLookup.NotFound,
            { Outcome: WalletCallOutcome.Ok or WalletCallOutcome.Rejected } => WalletLookup.Found,
            _ => WalletLookup.NoAnswer,
        };
        var result = SplitDecisions.ReturnCall(state, sendStarted, lookup) == NextCall.Send
            ? await connector.ReturnAsync(request, CancellationToken.None)
            : queried!;

        var now = time.GetUtcNow();
        var answer = result switch
        {
            { Outcome: WalletCallOutcome.Ok, Status: RefundStatus.Succeeded } => WalletAnswer.Succeeded,
            { Outcome: WalletCallOutcome.Rejected } or { Outcome: WalletCallOutcome.Ok, Status: RefundStatus.Failed } => WalletAnswer.Failed,
            { Outcome: WalletCallOutcome.Ok } => WalletAnswer.Processing,
            _ => WalletAnswer.NoAnswer,
        };
        var decision = SplitDecisions.DecideReturn(FollowUpOf(ret), answer, Schedule(options.Value), now);
        var read = ret.Status;
        Set(ret, decision.Next);
        ret.UpdatedAt = now.ToUnixTimeMilliseconds();
        if (answer == WalletAnswer.Failed)
        {
            ret.ErrorCode = result.Error?.Code ?? "RETURN_FAILED";
        }

        await db.WriteAsync(async (c, t) =>
        {
            if (!await store.ApplyReturnAsync(c, t, ret, read, leased: true))
            {
                LogLostRace(log, ret.Id, read); // another hub applied an outcome first
                return;
            }

            if (decision.Next.Status == SplitReturnState.Succeeded)
            {
                await store.AddReturnedAsync(c, t, ret.SplitId, ret.ReceiverId, ret.Amount);
                Posted(await ledger.AppendAsync(c, t, "split_returned", ret.Id, ret.MerchantId,
                    Postings.SplitReturned(attempt.Wallet, ret.MerchantId, new Money(ret.Amount, Currency.Parse(split.Currency))), now), ret.Id);
            }
            else if (decision.Next.Status == SplitReturnState.Failed)
            {
                LogReturnFailed(log, ret.Id, ret.ReceiverId, ret.ErrorCode!);
                await Outbox.AddAsync(c, t, ret.MerchantId, "split_return.failed", SplitReturnDto.Of(ret), now);
            }
        }, ct);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Id}: another hub applied an outcome first (read {Status}); this one is dropped")]
    private static partial void LogLostRace(ILogger logger, string id, string status);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Split return {ReturnId} from receiver {ReceiverId} failed at the wallet ({Code}); it needs a person")]
    private static partial void LogReturnFailed(ILogger logger, string returnId, string receiverId, string code);
}
