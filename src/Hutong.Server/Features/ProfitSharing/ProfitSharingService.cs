using System.Data.Common;
using System.Text.Json;
using Dapper;
using Hutong.Connectors.Abstractions;
using Hutong.Domain;
using Hutong.Domain.FollowUps;
using Hutong.Domain.Ledger;
using Hutong.Domain.Payments;
using Hutong.Domain.Settlement;
using Hutong.Domain.Splits;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Ledger;
using Hutong.Server.Features.Payments;
using Hutong.Server.Features.Refunds;
using Hutong.Server.Features.Workers;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.ProfitSharing;

/// <summary>POST /v1/split_receivers.</summary>
public sealed record CreateReceiverRequest(string? Wallet, string? Role, string? Type, string? Account, string? Name, string? HostId);

/// <summary>POST /v1/payments/{id}/splits: one split order; final releases whatever is left to the merchant.</summary>
public sealed record CreateSplitRequest(IReadOnlyList<SplitRuleRequest>? Splits, bool? Final);

public sealed record SplitReceiverDto(string Id, string Object, string Wallet, string Role, string Type, string Account, string? HostId, DateTimeOffset CreatedAt)
{
    public static SplitReceiverDto Of(SplitReceiverRow r) =>
        new(r.Id, "split_receiver", r.Wallet, r.Role, r.Type, r.Account, r.HostId, DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt));
}

public sealed record SplitLineDto(string Receiver, string Role, long Amount, string Result, long Returned, string? FailReason);

public sealed record SplitDto(
    string Id, string Object, string Payment, string Status, long Amount, string Currency, bool Final, string InitiatedBy,
    IReadOnlyList<SplitLineDto> Receivers, PaymentFailure? Failure, DateTimeOffset CreatedAt)
{
    public static SplitDto Of(SplitRow s, IEnumerable<SplitLineRow> lines) => new(
        s.Id, "split", s.PaymentId, s.Status, s.Amount, s.Currency, s.Final == 1, s.InitiatedBy,
        lines.Select(l => new SplitLineDto(l.ReceiverId, l.Role, l.Amount, l.Result, l.Returned, l.FailReason)).ToList(),
        s.ErrorCode is null ? null : new PaymentFailure(s.ErrorCode, s.ErrorMessage ?? string.Empty),
        DateTimeOffset.FromUnixTimeMilliseconds(s.CreatedAt));
}

public sealed record SplitReturnDto(string Id, string Object, string Payment, string Refund, string Split, string Receiver, long Amount, string Mode, string Status)
{
    public static SplitReturnDto Of(SplitReturnRow r) => new(r.Id, "split_return", r.PaymentId, r.RefundId, r.SplitId, r.ReceiverId, r.Amount, r.Mode, r.Status);
}

/// <summary>
/// Profit sharing (分账). Every split is planned and checked against the wallet's limits (max ratio of the amount net
/// of fee and refunds, receivers per split, splits per payment, the delay after payment and the freeze window) under
/// the payment's row lock, and recorded with its receivers' amounts before the wallet is called; the wallet's answer
/// is followed like any other (UNKNOWN → re-query; out_order_no makes a re-send the same split). Money moves in the
/// ledger when the wallet reports a receiver paid. On a refund, each receiver's share comes back pro rata: with the
/// refund (Alipay), by a return order (WeChat merchant receivers), or as a recorded clawback (WeChat personal receivers).
/// </summary>
public sealed partial class ProfitSharingService(
    Db db, SplitStore store, PaymentStore payments, LedgerStore ledger, WalletRegistry wallets, SecretBox secrets,
    IOptions<HubOptions> options, TimeProvider time, ILogger<ProfitSharingService> log)
{
    private readonly SemaphoreSlim _pass = new(1, 1);

    private static readonly string[] Roles = ["platform", "host", "agency"];

    private const string HostIdPrefix = "host"; // Ids.New("host", …) in HostService

    public async Task<Outcome<SplitReceiverDto>> CreateReceiverAsync(string merchantId, CreateReceiverRequest r, IdempotencyContext? idem, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var enabled = await wallets.WalletsAsync(ct);
        if (r.Wallet is null || !enabled.TryGetValue(r.Wallet, out var connector) || connector is not IProfitSharingConnector)
        {
            errors["wallet"] = [$"wallet must be one that splits payments: {string.Join(", ", enabled.Where(w => w.Value is IProfitSharingConnector).Select(w => w.Key).Order(StringComparer.Ordinal))}."];
        }

        if (r.Role is null || !Roles.Contains(r.Role))
        {
            errors["role"] = ["role is platform, host or agency."];
        }

        if (r.Type is not ("merchant" or "personal"))
        {
            errors["type"] = ["type is merchant (another merchant account) or personal (a person's wallet id)."];
        }

        if (string.IsNullOrWhiteSpace(r.Account) || r.Account.Length > 64)
        {
            errors["account"] = ["account is the receiver's id at the wallet (mchid, openid or Alipay user id), at most 64 characters."];
        }

        if (r.Type == "merchant" && string.IsNullOrWhiteSpace(r.Name))
        {
            errors["name"] = ["name is required for a merchant receiver: its registered full name, as the wallet checks it."];
        }
        else if (r.Name is { Length: > 64 })
        {
            errors["name"] = ["name is at most 64 characters."];
        }

        // A host receiver may name the merchant's own host (/v1/hosts), checked like any other reference: it is echoed back
        // and ties the receiver to a host's settlement, so neither another merchant's host nor free text may go in.
        if (r.HostId is not null && (r.Role != "host" || !Ids.HasPrefix(r.HostId, HostIdPrefix)))
        {
            errors["host_id"] = ["host_id is the id of one of your hosts (host_...), for a receiver whose role is host."];
        }
        else if (r.HostId is not null && await db.ReadAsync(c => c.ExecuteScalarAsync<long>(
                     "SELECT COUNT(*) FROM hosts WHERE id = @HostId AND merchant_id = @merchantId", new { r.HostId, merchantId }), ct) == 0)
        {
            errors["host_id"] = [$"No such host: {r.HostId}."];
        }

        if (errors.Count > 0)
        {
            return Failure.Validation(errors);
        }

        var now = time.GetUtcNow();
        var id = SplitStore.NewId(SplitStore.ReceiverPrefix, now);
        var row = await store.InsertReceiverAsync(new SplitReceiverRow
        {
            // A person's real name is personal data: sealed at rest under Hutong:MasterKey (bound to the receiver id), never returned by the API.
            Id = id, MerchantId = merchantId, Wallet = r.Wallet!, Role = r.Role!, Type = r.Type!,
            Account = r.Account!.Trim(), Name = r.Name is null ? null : secrets.SealIfEnabled(r.Name, id), HostId = r.HostId, CreatedAt = now.ToUnixTimeMilliseconds(),
        }, ct);
        var result = Outcome.Created(SplitReceiverDto.Of(row));
        if (idem is not null)
        {
            await db.WriteAsync((c, t) => idem.CompleteAsync(c, t, result), ct);
        }

        return result;
    }

    public async Task<Outcome<object>> ListReceiversAsync(string merchantId, CancellationToken ct) =>
        Outcome.Ok<object>(new { @object = "list", data = (await store.ReceiversAsync(merchantId, null, ct)).Select(SplitReceiverDto.Of).ToList() });

    /// <summary>
    /// Checks a payment's rules when it is created, per wallet (a rule applies when the buyer pays with its receiver's
    /// wallet), with that wallet's limits and fee: a merchant learns at once that 40 % cannot be split.
    /// </summary>
    public async Task<Dictionary<string, string[]>> ValidateRulesAsync(string merchantId, long amount, IReadOnlyList<SplitRuleRequest> rules, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var (receivers, problem) = RuleProblem(rules) is { } invalid ? ([], invalid) : await ResolveReceiversAsync(merchantId, rules, ct);
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

        var (receivers, problem) = RuleProblem(rules) is { } invalid ? ([], invalid) : await ResolveReceiversAsync(merchantId, rules, ct);
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

            var connector = await SplitConnectorAsync(c, t, payment.CurrentAttemptId, ct);
            if (connector is null)
            {
                return Failure.Conflict("wallet_cannot_split", $"{payment.Wallet} does not split payments.");
            }

            if (rules.FirstOrDefault(x => receivers[x.Receiver!].Wallet != payment.Wallet) is { } other)
            {
                return Failure.Invalid("splits", $"Receiver {other.Receiver} is a {receivers[other.Receiver!].Wallet} receiver; this payment was paid with {payment.Wallet}.");
            }

            var (shares, refusal) = await PlanAsync(c, t, payment, rules, connector, now);
            if (refusal is not null)
            {
                // Too early is a state that passes (retry later); the rest are the wallet's fixed rules.
                return new Failure(refusal.Code is "split_too_early" ? FailureKind.Conflict : FailureKind.Unprocessable, refusal.Code,
                    "The wallet would refuse this split.", refusal.Message, refusal.Param);
            }

            var split = NewSplit(payment, payment.CurrentAttemptId, "api", JsonSerializer.Serialize(rules), r.Final == true, "pending", shares!.Sum(s => s.Amount), now, now);
            await store.InsertSplitAsync(c, t, split);
            foreach (var s in shares!)
            {
                await store.InsertLineAsync(c, t, split.Id, s.ReceiverId, s.Amount);
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
            _ = Task.Run(() => RunDueAsync(CancellationToken.None), CancellationToken.None);
        }

        return result;
    }

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

    /// <summary>The payment's rules, queued in the transaction that records its success; split after the wallet's delay.</summary>
    public Task ScheduleRulesAsync(DbConnection c, DbTransaction t, PaymentRow payment, string attemptId, DateTimeOffset now) =>
        payment.ProfitSharing is null or "[]"
            ? Task.CompletedTask
            : store.InsertSplitAsync(c, t, NewSplit(payment, attemptId, "rules", payment.ProfitSharing, final: true, "scheduled", 0,
                now + (options.Value.SplitDelay ?? TimeSpan.FromSeconds(65)), now)); // at most once: unique per payment for 'rules' 

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
                await LeasedAsync(FollowedTable.SplitReturns, ret.Id, ret.Status, () => StepReturnAsync(ret, ct), ct);
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

    private FollowUpSchedule Schedule => new(options.Value.UnknownRecheckSchedule, WhenExhausted.RepeatLast);

    private static FollowUp<SplitOrderState> FollowUpOf(SplitRow s) =>
        new(SplitStates.SplitFromWire(s.Status), s.Checks, s.NextCheckAt is { } at ? DateTimeOffset.FromUnixTimeMilliseconds(at) : null);

    private static FollowUp<SplitReturnState> FollowUpOf(SplitReturnRow r) =>
        new(SplitStates.ReturnFromWire(r.Status), r.Checks, r.NextCheckAt is { } at ? DateTimeOffset.FromUnixTimeMilliseconds(at) : null);

    private static void Set(SplitRow s, FollowUp<SplitOrderState> f)
    {
        s.Status = f.Status.ToWire();
        s.Checks = f.Checks;
        s.NextCheckAt = f.NextCheckAt?.ToUnixTimeMilliseconds();
    }

    private static void Set(SplitReturnRow r, FollowUp<SplitReturnState> f)
    {
        r.Status = f.Status.ToWire();
        r.Checks = f.Checks;
        r.NextCheckAt = f.NextCheckAt?.ToUnixTimeMilliseconds();
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

        if (split.Status == "scheduled" && !await PlanScheduledAsync(split, attempt, connector, ct))
        {
            return;
        }

        var lines = await db.ReadAsync(c => store.LinesAsync(c, null, split.Id), ct);
        SplitCallResult result;
        if (split.Status is "pending")
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

            result = await connector.SplitAsync(Request(split, attempt, lines), CancellationToken.None);
        }
        else
        {
            result = await connector.QuerySplitAsync(attempt.OutTradeNo, attempt.WalletTransactionId ?? string.Empty, split.OutOrderNo, ct);
            if (result is { Outcome: WalletCallOutcome.Ok, State: SplitState.NotFound })
            {
                result = await connector.SplitAsync(Request(split, attempt, lines), CancellationToken.None); // never arrived: the same split again
            }
        }

        await RecordAsync(split, attempt.Wallet, result, ct);
    }

    /// <summary>Turns the payment's rules into amounts now that the fee and any refunds are known; false when it is not time yet or they were refused.</summary>
    private async Task<bool> PlanScheduledAsync(SplitRow split, AttemptRow attempt, IProfitSharingConnector connector, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var rules = JsonSerializer.Deserialize<List<SplitRuleRequest>>(split.Rules) ?? [];
        var (receivers, _) = await ResolveReceiversAsync(split.MerchantId, rules, ct);
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

            var (shares, refusal) = await PlanAsync(c, t, payment, rules, connector, now);
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
                await store.InsertLineAsync(c, t, split.Id, s.ReceiverId, s.Amount);
            }

            return true;
        }, ct);
    }

    /// <summary>Plans under the payment's lock: what is already split (net of returns, pending included), the fee, refunds committed.</summary>
    private async Task<(IReadOnlyList<SplitShare>? Shares, SplitRefusal? Refusal)> PlanAsync(
        DbConnection c, DbTransaction t, PaymentRow payment, IReadOnlyList<SplitRuleRequest> rules, IProfitSharingConnector connector, DateTimeOffset now)
    {
        var splits = await store.SplitsOfPaymentAsync(c, t, payment.Id);
        var lines = await store.LinesOfPaymentAsync(c, t, payment.Id);
        var fee = await ledger.FeeOfAsync(c, t, payment.Id);
        var refunded = await c.ExecuteScalarAsync<long>(
            "SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE payment_id = @Id AND initiated_by = 'merchant' AND status <> 'failed'", new { payment.Id }, t);
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
        var decision = SplitDecisions.Decide(FollowUpOf(split), answer, paid, Schedule, now);
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
                foreach (var line in lines.Where(l => l.Result == "pending"))
                {
                    var outcome = result.Receivers.FirstOrDefault(r => r.Account == line.Account);
                    var ok = outcome?.Result == SplitReceiverResult.Succeeded;
                    await store.SetLineResultAsync(c, t, split.Id, line.ReceiverId, ok ? "succeeded" : "failed", ok ? null : outcome?.FailReason ?? "not paid by the wallet");
                    if (ok)
                    {
                        // The wallet paid this receiver out of the merchant's funds.
                        Posted(await ledger.AppendAsync(c, t, "split", $"{split.Id}:{line.ReceiverId}", split.MerchantId,
                            Postings.SplitPaid(wallet, split.MerchantId, new Money(line.Amount, Currency.Parse(split.Currency))), now), split.Id);
                    }
                }
            }
            else if (answer == SplitAnswer.Rejected)
            {
                foreach (var line in lines)
                {
                    await store.SetLineResultAsync(c, t, split.Id, line.ReceiverId, "failed", result.Error?.Message);
                }

                LogSplitRejected(log, split.Id, split.PaymentId, split.ErrorCode!);
            }

            if (decision.Settled)
            {
                await Outbox.AddAsync(c, t, split.MerchantId, "split." + split.Status, SplitDto.Of(split, await store.LinesAsync(c, t, split.Id)), now);
            }
        }, ct);
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

        await Outbox.AddAsync(c, t, split.MerchantId, "split.failed", SplitDto.Of(split, await store.LinesAsync(c, t, split.Id)), now);
        LogSplitRejected(log, split.Id, split.PaymentId, code);
    }

    /// <summary>The row changed just now, so its entry cannot exist yet: one that does is a double count, refused with the whole change.</summary>
    private static void Posted(bool appended, string id)
    {
        if (!appended)
        {
            throw new InvalidOperationException($"{id} was already posted to the ledger; its outcome is not applied twice.");
        }
    }

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

        var connector = await SplitConnectorAsync(c, t, payment.CurrentAttemptId, ct);
        var outstanding = (await c.QueryAsync<(string SplitId, string ReceiverId, long Amount)>(
            "SELECT split_id, receiver_id, amount FROM split_returns WHERE payment_id = @Id AND status IN ('awaiting_refund', 'pending', 'unknown')", new { payment.Id }, t)).ToList();
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
                Status = "awaiting_refund", CreatedAt = now.ToUnixTimeMilliseconds(), UpdatedAt = now.ToUnixTimeMilliseconds(),
            });
        }
    }

    /// <summary>The receivers' shares an Alipay refund takes back with it (refund_royalty_parameters).</summary>
    public async Task<IReadOnlyList<RoyaltyReturn>> RoyaltyReturnsAsync(string refundId, CancellationToken ct) =>
        (await db.ReadAsync(c => c.QueryAsync<(string Type, string Account, string Role, long Amount)>(
            """
            SELECT r.type, r.account, r.role, x.amount FROM split_returns x JOIN split_receivers r ON r.id = x.receiver_id
            WHERE x.refund_id = @refundId AND x.mode = 'with_refund' AND x.status = 'awaiting_refund' ORDER BY x.id
            """, new { refundId }), ct))
        .Select(x => new RoyaltyReturn(new WalletSplitReceiver(x.Type == "merchant" ? ReceiverType.Merchant : ReceiverType.Personal, x.Account, null, Relation(x.Role)), x.Amount))
        .ToList();

    /// <summary>
    /// In the refund's final-state transaction: on success, shares returned with the refund are posted back, clawbacks
    /// are recorded as owed, and return orders become due; on failure, none of it happens.
    /// </summary>
    public async Task SettleReturnsAsync(DbConnection c, DbTransaction t, RefundRow refund, bool succeeded, string wallet, DateTimeOffset now)
    {
        foreach (var r in (await store.ReturnsOfRefundAsync(c, t, refund.Id)).Where(r => r.Status == "awaiting_refund"))
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
            }
        }
    }

    private async Task StepReturnAsync(SplitReturnRow ret, CancellationToken ct)
    {
        var (split, account) = await db.ReadAsync(async c => (
            await store.GetSplitAsync(c, null, ret.SplitId),
            await c.ExecuteScalarAsync<string>("SELECT account FROM split_receivers WHERE id = @ReceiverId", new { ret.ReceiverId })), ct);
        var attempt = split is null ? null : await db.ReadAsync(c => payments.GetAttemptAsync(c, null, split.AttemptId), ct);
        if (split is null || attempt is null || account is null || await wallets.ChannelAsync(attempt.Channel ?? attempt.Wallet, ct) is not IProfitSharingConnector connector)
        {
            return;
        }

        var request = new SplitReturnRequest(split.OutOrderNo, ret.OutReturnNo, account, ret.Amount, "退款回退分账");
        var result = ret.Status == "pending"
            ? await connector.ReturnAsync(request, CancellationToken.None)
            : await connector.QueryReturnAsync(split.OutOrderNo, ret.OutReturnNo, ct);
        if (result is { Outcome: WalletCallOutcome.Ok, Status: RefundStatus.NotFound })
        {
            result = await connector.ReturnAsync(request, CancellationToken.None); // never arrived: the same return again
        }

        var now = time.GetUtcNow();
        var answer = result switch
        {
            { Outcome: WalletCallOutcome.Ok, Status: RefundStatus.Succeeded } => WalletAnswer.Succeeded,
            { Outcome: WalletCallOutcome.Rejected } or { Outcome: WalletCallOutcome.Ok, Status: RefundStatus.Failed } => WalletAnswer.Failed,
            { Outcome: WalletCallOutcome.Ok } => WalletAnswer.Processing,
            _ => WalletAnswer.NoAnswer,
        };
        var decision = SplitDecisions.DecideReturn(FollowUpOf(ret), answer, Schedule, now);
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

    private async Task<IProfitSharingConnector?> SplitConnectorAsync(DbConnection c, DbTransaction t, string attemptId, CancellationToken ct)
    {
        var attempt = await payments.GetAttemptAsync(c, t, attemptId);
        return attempt is null ? null : await wallets.ChannelAsync(attempt.Channel ?? attempt.Wallet, ct) as IProfitSharingConnector;
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

    private async Task<(Dictionary<string, SplitReceiverRow> Receivers, string? Problem)> ResolveReceiversAsync(string merchantId, IReadOnlyList<SplitRuleRequest> rules, CancellationToken ct)
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

    /// <summary>A split row: the API's (pending, planned already) or a payment's own rules (scheduled, planned when due).</summary>
    private static SplitRow NewSplit(PaymentRow payment, string attemptId, string initiatedBy, string rules, bool final, string status, long amount, DateTimeOffset due, DateTimeOffset now) => new()
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

    private SplitOrderRequest Request(SplitRow split, AttemptRow attempt, IReadOnlyList<SplitLineRow> lines) =>
        new(attempt.OutTradeNo, attempt.WalletTransactionId ?? string.Empty, split.OutOrderNo,
            lines.Select(l => new SplitOrderReceiver(WalletReceiver(l), l.Amount, Describe(l.Role))).ToList(), split.Final == 1);

    private WalletSplitReceiver WalletReceiver(SplitLineRow l) =>
        new(l.Type == "merchant" ? ReceiverType.Merchant : ReceiverType.Personal, l.Account, l.Name is null ? null : secrets.OpenIfSealed(l.Name, l.ReceiverId), Relation(l.Role));

    /// <summary>The wallets' relation types: the platform is the service provider; hosts and agencies are partners.</summary>
    private static string Relation(string role) => role == "platform" ? "SERVICE_PROVIDER" : "PARTNER";

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

    [LoggerMessage(Level = LogLevel.Critical, Message = "Split return {ReturnId} from receiver {ReceiverId} failed at the wallet ({Code}); it needs a person")]
    private static partial void LogReturnFailed(ILogger logger, string returnId, string receiverId, string code);
}
