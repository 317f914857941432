using System.Data.Common;
using System.Text.Json;
using Hutong.Connectors.Abstractions;
using Hutong.Connectors.Alipay;
using Hutong.Connectors.WeChatPay;
using Hutong.Domain;
using Hutong.Domain.FollowUps;
using Hutong.Domain.Payouts;
using Hutong.Domain.Text;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Ledger;
using Hutong.Server.Features.Payments;
using Hutong.Server.Features.ProfitSharing;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Payouts;

/// <summary>POST /v1/payouts. Amount in minor units; payee is the wallet's identity of the person or business paid.</summary>
public sealed record CreatePayoutRequest(
    long? Amount, string? Currency, string? Wallet, PayoutPayeeRequest? Payee, string? Description, Dictionary<string, string>? Metadata);

/// <param name="Type">Alipay: ALIPAY_USER_ID (2088 + 12 digits) or ALIPAY_LOGON_ID (phone or e-mail). WeChat Pay: WECHAT_OPENID (the payee's openid under the merchant's app).</param>
/// <param name="Name">
/// The payee's real name; Alipay checks it against the account when given (required for ALIPAY_LOGON_ID); WeChat Pay checks it
/// when given and requires it from ¥2,000 (it travels RSA-OAEP encrypted).
/// </param>
public sealed record PayoutPayeeRequest(string? Type, string? Identity, string? Name);

/// <summary>
/// Payouts: checked against the merchant's available balance and the limits, reserved in the ledger in the transaction
/// that records them, sent to the wallet once (claimed with sent_at; a timeout is UNKNOWN and queried, a lapsed claim
/// queries first — <see cref="SendOnce"/>), and followed to succeeded (the reservation leaves with the money) or failed
/// (it goes back). Each state change commits with its payout.* event; several hubs may share the database.
/// </summary>
/// <summary>
/// Something a payout was made for (a host statement): told, in the transaction that settles the payout, that it
/// succeeded or failed, so its own state and events commit with the payout's.
/// </summary>
public interface IPayoutSettlement
{
    /// <summary>Whether this settlement follows <paramref name="payout"/> (e.g. it carries a host statement id).</summary>
    bool Follows(PayoutRow payout);

    Task SettledAsync(DbConnection c, DbTransaction t, PayoutRow payout, bool succeeded, DateTimeOffset now);
}

public sealed partial class PayoutService(
    Db db, PayoutStore payouts, LedgerStore ledger, WalletRegistry wallets, IOptions<HubOptions> options, TimeProvider time, ILogger<PayoutService> log,
    IEnumerable<IPayoutSettlement> settlements, ClawbackService clawbacks)
{
    private readonly SemaphoreSlim _pass = new(1, 1);

    private static readonly TimeSpan China = TimeSpan.FromHours(8);

    public async Task<Outcome<PayoutDto>> CreateAsync(string merchantId, CreatePayoutRequest r, IdempotencyContext? idem, CancellationToken ct)
    {
        if (idem is null)
        {
            // Money leaves the hub: a retried request must find the first payout, never make a second one.
            return Failure.Invalid("Idempotency-Key", "POST /v1/payouts needs an Idempotency-Key header.");
        }

        var result = await db.WriteAsync<Outcome<PayoutDto>>(async (c, t) =>
        {
            var reserved = await ReserveAsync(c, t, merchantId, r, null, ct);
            if (reserved.Failure is { } refused)
            {
                return refused;
            }

            var created = Outcome.Created(PayoutDto.Of(reserved.Value!));
            await idem.CompleteAsync(c, t, created);
            return created;
        }, ct);
        Kick(result.Succeeded);
        return result;
    }

    /// <summary>Starts a pass of the payout job now, when payouts are sent at once (Payouts:SendImmediately) and one was just made.</summary>
    public void Kick(bool created)
    {
        if (created && options.Value.Payouts.SendImmediately)
        {
            _ = Task.Run(() => RunDueAsync(CancellationToken.None), CancellationToken.None);
        }
    }

    /// <summary>
    /// Checks a payout against the limits and the merchant's available balance and, when admitted, records it, reserves
    /// its amount in the ledger and adds payout.created — all in the caller's transaction. A refusal writes nothing.
    /// </summary>
    /// <param name="hostStatementId">The host statement this payout pays, if any (<see cref="IPayoutSettlement"/>).</param>
    public async Task<Outcome<PayoutRow>> ReserveAsync(DbConnection c, DbTransaction t, string merchantId, CreatePayoutRequest r, string? hostStatementId, CancellationToken ct)
    {
        var errors = Validate(r);
        if (errors.Count > 0)
        {
            return Failure.Validation(errors);
        }

        // One payee, one spelling: an e-mail logon id is compared (and sent) lower-case, so the per-payee limit cannot be
        // split over Dup@ and dup@. (The same person by user id and by logon id still counts as two: Alipay alone knows.)
        r = r with { Payee = r.Payee! with { Identity = r.Payee.Identity!.Contains('@', StringComparison.Ordinal) ? r.Payee.Identity.ToLowerInvariant() : r.Payee.Identity } };
        var wallet = r.Wallet!;
        // Sent through the wallet's own configured account (StepAsync: ChannelAsync(payout.Wallet)). A wallet this hub reaches
        // only through an operator-added channel (an acquirer, service-provider mode) is enabled but has none: a payout admitted
        // there would wait, reserved, for ever.
        if (!(await wallets.WalletsAsync(ct)).ContainsKey(wallet) || await wallets.ChannelAsync(wallet, ct) is not IPayoutConnector)
        {
            return Failure.Invalid("wallet", $"{wallet} cannot send payouts on this hub.");
        }

        var now = time.GetUtcNow();
        var opts = options.Value.Payouts;
        var limits = new PayoutLimits(opts.MaxPerPayout, opts.MaxPerPayeeDaily, opts.MaxPerMerchantDaily);
        var currency = r.Currency ?? "CNY";
        var dayStart = new DateTimeOffset(now.ToOffset(China).Date, China).ToUnixTimeMilliseconds();
        {
            // The balance first (it takes the ledger's lock), then today's payouts: both as of this transaction, which reserves.
            var available = await ledger.AvailableLockedAsync(c, t, merchantId, currency);
            var (merchantToday, payeeToday) = await payouts.SentSinceAsync(c, t, merchantId, currency, r.Payee!.Identity!, dayStart);
            Failure? Admit(long send) => PayoutDecisions.Admit(send, new PayoutFunds(available, payeeToday, merchantToday), limits);

            // A payout of the merchant's own accord (not a host statement's, whose amount is the statement's net pay) to a payee
            // that owes a split clawback sends less: the payee's debt takes what it can (ClawbackNetting), taken now.
            var netted = hostStatementId is null
                ? await clawbacks.NetPayeeAsync(c, t, merchantId, wallet, r.Payee!.Identity!, r.Amount!.Value, MinimumFen(wallet), Admit)
                : null;
            if (netted?.Refused is { } netRefused)
            {
                return netRefused;
            }

            var offset = netted?.Offset ?? 0;
            if (netted is null && Admit(r.Amount!.Value) is { } refused)
            {
                return refused;
            }

            var uuid = Ids.MonotonicV7(now);
            var row = new PayoutRow
            {
                Id = $"{Ids.Payout}_{uuid:N}",
                MerchantId = merchantId,
                Wallet = wallet,
                Amount = r.Amount!.Value - offset,
                ClawbackOffset = offset,
                ClawbackReceiverId = offset > 0 ? netted!.ReceiverId : null,
                Currency = currency,
                PayeeType = r.Payee.Type!,
                PayeeIdentity = r.Payee.Identity!,
                PayeeName = r.Payee.Name,
                Description = r.Description!,
                Metadata = r.Metadata is null ? null : JsonSerializer.Serialize(r.Metadata),
                OutBizNo = uuid.ToString("N"),
                Status = PayoutState.Pending.ToWire(),
                NextCheckAt = now.ToUnixTimeMilliseconds(),
                CreatedAt = now.ToUnixTimeMilliseconds(),
                UpdatedAt = now.ToUnixTimeMilliseconds(),
                HostStatementId = hostStatementId,
            };
            await payouts.InsertAsync(c, t, row);
            Posted(await ledger.AppendAsync(c, t, "payout_reserved", row.Id, merchantId, PayoutPostings.Reserved(merchantId, new Money(row.Amount, Currency.Parse(currency))), now), row);
            await Outbox.AddAsync(c, t, merchantId, "payout.created", PayoutDto.Of(row), now);
            return Outcome.Created(row);
        }
    }

    /// <summary>The request's field errors (empty: valid), keyed by the field's name in the request.</summary>
    public static Dictionary<string, string[]> Validate(CreatePayoutRequest r)
    {
        var errors = new Dictionary<string, string[]>();
        void Add(string k, string m) => errors[k] = [m];
        if (r.Amount is not (>= 1 and <= Money.MaxAmount))
        {
            Add("amount", $"amount must be 1-{Money.MaxAmount} minor units.");
        }
        else if (r.Wallet == "alipay" && r.Amount < 10)
        {
            // alipay.fund.trans.uni.transfer: trans_amount 0.1–100000000 yuan; refused here rather than failed at the wallet.
            Add("amount", "Alipay transfers start at 10 fen (¥0.10).");
        }
        else if (r.Wallet == WeChatPayConnector.Name && r.Amount < WeChatMinimumFen)
        {
            Add("amount", "WeChat Pay transfers start at 10 fen (¥0.10).");
        }

        if (r.Currency is not (null or "CNY"))
        {
            Add("currency", "Payouts are in CNY.");
        }

        if (string.IsNullOrEmpty(r.Wallet))
        {
            Add("wallet", "wallet is required (alipay or wechatpay).");
        }
        else if (r.Wallet is not (AlipayConnector.Name or WeChatPayConnector.Name))
        {
            // Exactly the wallets with a payout connector (AlipayTransfer, WeChatPayTransfer), spelled as the API spells them:
            // a host's payout account is stored with this check alone, long before a payout is sent to it.
            Add("wallet", "wallet must be alipay or wechatpay: the wallets that send payouts.");
        }

        if (r.Payee is not { } p)
        {
            Add("payee", "payee is required.");
        }
        else
        {
            switch (p.Type)
            {
                case "ALIPAY_USER_ID" when p.Identity is not null && WalletAccountIds.IsAlipayUserId(p.Identity):
                    break;
                case "ALIPAY_LOGON_ID" when p.Identity is not null && WalletAccountIds.IsAlipayLogonId(p.Identity):
                    if (string.IsNullOrWhiteSpace(p.Name))
                    {
                        Add("payee.name", "payee.name is required with ALIPAY_LOGON_ID (Alipay checks it against the account).");
                    }

                    break;
                case "ALIPAY_USER_ID" or "ALIPAY_LOGON_ID":
                    Add("payee.identity", "payee.identity must be an Alipay user id (2088 and 12 digits) for ALIPAY_USER_ID, or a phone number or e-mail for ALIPAY_LOGON_ID.");
                    break;
                case WeChatOpenId when p.Identity is not null && WalletAccountIds.IsWeChatOpenId(p.Identity):
                    if (string.IsNullOrWhiteSpace(p.Name) && r.Amount >= WeChatPayConnector.RealNameThresholdFen)
                    {
                        // transfer-bills user_name: required from 2,000 yuan (and checked against the openid's real name).
                        Add("payee.name", "payee.name is required for WeChat Pay transfers of ¥2,000 or more (WeChat checks it against the payee's real name).");
                    }

                    break;
                case WeChatOpenId:
                    Add("payee.identity", "payee.identity must be a WeChat openid (6-128 letters, digits, _ or -) for WECHAT_OPENID.");
                    break;
                default:
                    Add("payee.type", "payee.type must be ALIPAY_USER_ID or ALIPAY_LOGON_ID (alipay), or WECHAT_OPENID (wechatpay).");
                    break;
            }

            if (!errors.ContainsKey("payee.type") && r.Wallet is "alipay" or WeChatPayConnector.Name && (p.Type == WeChatOpenId) != (r.Wallet == WeChatPayConnector.Name))
            {
                Add("payee.type", r.Wallet == WeChatPayConnector.Name ? "wechatpay payouts go to a WECHAT_OPENID payee." : "alipay payouts go to an ALIPAY_USER_ID or ALIPAY_LOGON_ID payee.");
            }

            if (p.Name is { Length: 0 or > 100 } || (p.Name is not null && !PlainText.IsPrintable(p.Name)))
            {
                Add("payee.name", "payee.name is 1-100 characters, without control characters, bidirectional overrides or unpaired surrogates.");
            }
        }

        if (r.Description is not { Length: >= 1 and <= 100 } || !PlainText.IsPrintable(r.Description))
        {
            Add("description", "description is 1-100 characters (the payee's bill shows it), without control characters, bidirectional overrides or unpaired surrogates.");
        }
        else if (r.Wallet == WeChatPayConnector.Name && r.Description.Length > WeChatPayConnector.TransferRemarkMaxChars)
        {
            Add("description", $"WeChat Pay shows at most {WeChatPayConnector.TransferRemarkMaxChars} characters of a transfer's remark: description is 1-{WeChatPayConnector.TransferRemarkMaxChars} characters.");
        }

        if (r.Metadata is { } m && (m.Count > 20 || m.Any(kv => kv.Key.Length is 0 or > 40 || kv.Value is null || kv.Value.Length > 500)))
        {
            Add("metadata", "metadata holds at most 20 keys of 1-40 characters, values at most 500 characters.");
        }
        else if (r.Metadata is { } shown && shown.Any(kv => !PlainText.IsPrintable(kv.Key) || !PlainText.IsPrintable(kv.Value)))
        {
            Add("metadata", "metadata keys and values " + PlainText.Refusal);
        }

        return errors;
    }

    public async Task<Outcome<PayoutDto>> GetAsync(string merchantId, string id, CancellationToken ct) =>
        await payouts.GetAsync(merchantId, id, ct) is { } p ? Outcome.Ok(PayoutDto.Of(p)) : Failure.NotFound("payout");

    public async Task<Outcome<PayoutList>> ListAsync(string merchantId, int? limit, string? startingAfter, CancellationToken ct)
    {
        var (take, pageProblem) = ListPage.Check(limit, startingAfter, Ids.Payout, "a payout id");
        if (pageProblem is not null)
        {
            return pageProblem;
        }

        var (rows, hasMore) = await payouts.ListAsync(merchantId, take, startingAfter, ct);
        var data = rows.Select(PayoutDto.Of).ToList();
        return Outcome.Ok(new PayoutList("list", data, hasMore, hasMore ? data[^1].Id : null));
    }

    public async Task RunDueAsync(CancellationToken ct)
    {
        await _pass.WaitAsync(ct);
        try
        {
            foreach (var payout in await payouts.DueAsync(time.GetUtcNow().ToUnixTimeMilliseconds(), 50, ct))
            {
                if (await payouts.Leases.ClaimAsync(Workers.FollowedTable.Payouts, payout.Id, payout.Status, ct) is not { } lease)
                {
                    continue; // another hub is on it, or settled it since it was read
                }

                try
                {
                    await StepAsync(payout, ct);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogStepFailed(log, e, payout.Id); // one bad payout must not stall the others
                }
                finally
                {
                    await payouts.Leases.ReleaseAsync(Workers.FollowedTable.Payouts, payout.Id, lease);
                }
            }
        }
        finally
        {
            _pass.Release();
        }
    }

    private async Task StepAsync(PayoutRow payout, CancellationToken ct)
    {
        if (await wallets.ChannelAsync(payout.Wallet, ct) is not IPayoutConnector connector)
        {
            LogNoConnector(log, payout.Id, payout.Wallet); // the wallet's account was removed: the payout waits, reserved, for a person
            return;
        }

        var state = PayoutStates.FromWire(payout.Status);
        PayoutCallResult? result = null;
        if (payout.CancelRequestedAt is not null && connector is IPayoutCancelConnector canceler)
        {
            // The merchant asked to withdraw a transfer the payee had not accepted: the wallet is asked to cancel it (a
            // refusal — the payee accepted meanwhile — is followed by a query); a withdrawal under way or an unknown
            // state is queried. Never sent: it was at the wallet when the cancel was accepted.
            switch (PayoutDecisions.CancelCall(state))
            {
                case PayoutCancelCall.Cancel:
                    result = await canceler.CancelPayoutAsync(payout.OutBizNo, CancellationToken.None);
                    if (result.Outcome == WalletCallOutcome.Rejected)
                    {
                        result = await connector.QueryPayoutAsync(payout.OutBizNo, ct);
                    }

                    await RecordAsync(payout, result, connector, ct);
                    return;
                case PayoutCancelCall.Query:
                    await RecordAsync(payout, await connector.QueryPayoutAsync(payout.OutBizNo, ct), connector, ct);
                    return;
            }
        }

        // Sent only if no hub claimed it to send before (sent_at as read): one that did may have died mid-call with the
        // transfer at the wallet, so it is queried first and re-sent only if the wallet never got it.
        var sendStarted = payout.SentAt is not null;
        if (PayoutDecisions.Call(state, sendStarted, WalletLookup.NotQueried) == NextCall.Query)
        {
            result = await connector.QueryPayoutAsync(payout.OutBizNo, ct);
        }

        if (PayoutDecisions.Call(state, sendStarted, Lookup(result)) == NextCall.Send)
        {
            result = await connector.PayoutAsync(new PayoutRequest(
                payout.OutBizNo, payout.Amount, payout.Currency, new PayoutPayee(payout.PayeeType, payout.PayeeIdentity, payout.PayeeName),
                payout.Description, null, payout.Id, wallets.NotifyUrl(payout.Wallet)), CancellationToken.None);
        }

        await RecordAsync(payout, result!, connector, ct);
    }

    private static WalletLookup Lookup(PayoutCallResult? queried) => queried switch
    {
        null => WalletLookup.NotQueried,
        { Outcome: WalletCallOutcome.Ok, State: PayoutWalletState.NotFound } => WalletLookup.NotFound,
        { Outcome: WalletCallOutcome.Ok or WalletCallOutcome.Rejected } => WalletLookup.Found,
        _ => WalletLookup.NoAnswer,
    };

    private static PayoutWalletAnswer? AnswerOf(PayoutCallResult result) => result switch
    {
        { Outcome: WalletCallOutcome.Ok, State: PayoutWalletState.Succeeded } => PayoutWalletAnswer.Succeeded,
        { Outcome: WalletCallOutcome.Ok, State: PayoutWalletState.Failed } or { Outcome: WalletCallOutcome.Rejected } => PayoutWalletAnswer.Failed,
        // A query that found nothing after a send that was never made (NotFound recorded): still ours to send next time.
        { Outcome: WalletCallOutcome.Ok, State: PayoutWalletState.NotFound } => null,
        { Outcome: WalletCallOutcome.Ok, State: PayoutWalletState.AwaitingConfirmation } => PayoutWalletAnswer.AwaitingConfirmation,
        { Outcome: WalletCallOutcome.Ok, State: PayoutWalletState.Canceling } => PayoutWalletAnswer.Canceling,
        { Outcome: WalletCallOutcome.Ok, State: PayoutWalletState.Canceled } => PayoutWalletAnswer.Canceled,
        { Outcome: WalletCallOutcome.Ok } => PayoutWalletAnswer.Processing,
        _ => null,
    };

    private Task RecordAsync(PayoutRow payout, PayoutCallResult result, IPayoutConnector connector, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var read = payout.Status;
        var to = PayoutDecisions.Answered(AnswerOf(result), payout.CancelRequestedAt is not null);
        var decision = PayoutDecisions.Decide(FollowUpOf(payout), to, new FollowUpSchedule(options.Value.UnknownRecheckSchedule, WhenExhausted.RepeatLast), now);
        var awaitingNow = decision.Next.Status == PayoutState.AwaitingConfirmation && read != PayoutState.AwaitingConfirmation.ToWire();
        payout.Status = decision.Next.Status.ToWire();
        payout.Checks = decision.Next.Checks;
        payout.NextCheckAt = decision.Next.NextCheckAt?.ToUnixTimeMilliseconds();
        payout.UpdatedAt = now.ToUnixTimeMilliseconds();
        payout.WalletOrderId = result.WalletOrderId ?? payout.WalletOrderId;
        if (result.PackageInfo is { } package && connector is WeChatPayConnector wechat)
        {
            var (mchId, appId) = wechat.ConfirmationAccount;
            payout.ConfirmationPackage = JsonSerializer.Serialize(new PayoutConfirmation(mchId, appId, package, wechat.ConfirmationSubMchId));
        }
        else if (awaitingNow && payout.ConfirmationPackage is null && connector is WeChatPayConnector w)
        {
            // Known to wait for the payee only from a query (the create answer was lost): the query carries no package_info.
            var (mchId, appId) = w.ConfirmationAccount;
            payout.ConfirmationPackage = JsonSerializer.Serialize(new PayoutConfirmation(mchId, appId, null, w.ConfirmationSubMchId));
        }

        if (decision.Failed)
        {
            payout.ErrorCode = result.Error?.Code ?? "PAYOUT_FAILED";
            payout.ErrorMessage = result.Error?.Message ?? "The wallet did not complete the payout.";
        }

        return db.WriteAsync(async (c, t) =>
        {
            if (!await payouts.ApplyAsync(c, t, payout, read))
            {
                LogLostRace(log, payout.Id, read); // another hub applied an outcome first: its money and event stand, not ours
                return;
            }

            if (awaitingNow)
            {
                // The merchant's app needs next_action to let the payee accept it: told once, when it starts waiting.
                await Outbox.AddAsync(c, t, payout.MerchantId, "payout.awaiting_confirmation", PayoutDto.Of(payout), now);
            }

            if (!decision.Settled)
            {
                return;
            }

            var amount = new Money(payout.Amount, Currency.Parse(payout.Currency));
            if (decision.Succeeded)
            {
                Posted(await ledger.AppendAsync(c, t, "payout_sent", payout.Id, payout.MerchantId, PayoutPostings.Sent(payout.Wallet, payout.MerchantId, amount), now), payout);
            }
            else
            {
                LogPayoutFailed(log, payout.Id, payout.Status, payout.ErrorCode ?? "-");
                Posted(await ledger.AppendAsync(c, t, "payout_released", payout.Id, payout.MerchantId, PayoutPostings.Released(payout.MerchantId, amount), now), payout);
            }

            await Outbox.AddAsync(c, t, payout.MerchantId, "payout." + payout.Status, PayoutDto.Of(payout), now);
            if (payout.ClawbackOffset > 0 && payout.ClawbackReceiverId is { } receiver)
            {
                // Sent: the part kept back settles the payee's clawback; failed or canceled: it is owed again.
                await clawbacks.NettedAsync(c, t, payout.MerchantId, receiver, payout.ClawbackOffset, payout.Currency, decision.Succeeded,
                    payout.Id, null, payout.Id, now);
            }

            foreach (var s in settlements.Where(s => s.Follows(payout)))
            {
                await s.SettledAsync(c, t, payout, decision.Succeeded, now);
            }
        }, ct);
    }

    /// <summary>
    /// POST /v1/payouts/{id}/cancel: withdraws a payout the payee has not accepted yet (WeChat Pay WAIT_USER_CONFIRM). The
    /// request is recorded with its idempotency answer (200, the payout with cancel_requested); the wallet's cancel follows
    /// off the request, and the payout ends canceled (reservation back, payout.canceled) — or, if the payee accepted first,
    /// as that transfer ends. Asking again is harmless: the same answer for the same key, the current payout otherwise.
    /// </summary>
    public async Task<Outcome<PayoutDto>> CancelAsync(string merchantId, string id, IdempotencyContext? idem, CancellationToken ct)
    {
        if (idem is null)
        {
            return Failure.Invalid("Idempotency-Key", "POST /v1/payouts/{id}/cancel needs an Idempotency-Key header.");
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var requestedNow = false;
        var result = await db.WriteAsync<Outcome<PayoutDto>>(async (c, t) =>
        {
            var requested = requestedNow = await payouts.RequestCancelAsync(c, t, merchantId, id, now);
            if (await payouts.GetLockedAsync(c, t, merchantId, id) is not { } row)
            {
                return Failure.NotFound("payout");
            }

            if (!requested && row.CancelRequestedAt is null && PayoutStates.FromWire(row.Status) != PayoutState.Canceled)
            {
                return Failure.Conflict("payout_not_cancelable", "The payout can no longer be canceled.",
                    $"Only a payout awaiting the payee's confirmation can be canceled; this one is {row.Status}.");
            }

            var accepted = Outcome.Ok(PayoutDto.Of(row));
            await idem.CompleteAsync(c, t, accepted);
            return accepted;
        }, ct);
        if (result.Succeeded && requestedNow)
        {
            _ = Task.Run(() => RunDueAsync(CancellationToken.None), CancellationToken.None);
        }

        return result;
    }

    /// <summary>A wallet's notification about a transfer: the payout is checked now (by query, as the worker would).</summary>
    public async Task RecheckAsync(string outBizNo, CancellationToken ct)
    {
        if (await payouts.MakeDueAsync(outBizNo, time.GetUtcNow().ToUnixTimeMilliseconds(), ct) > 0)
        {
            await RunDueAsync(ct);
        }
    }

    private static FollowUp<PayoutState> FollowUpOf(PayoutRow r) =>
        new(PayoutStates.FromWire(r.Status), r.Checks, r.NextCheckAt is { } at ? DateTimeOffset.FromUnixTimeMilliseconds(at) : null);

    /// <summary>The payout's row changed just now, so its entry cannot exist yet: one that does is a double count, refused with the whole change.</summary>
    private static void Posted(bool appended, PayoutRow payout)
    {
        if (!appended)
        {
            throw new InvalidOperationException($"Payout {payout.Id} was already posted to the ledger; it is not posted twice.");
        }
    }

    /// <summary>WeChat Pay payee: the openid under the merchant's app.</summary>
    public const string WeChatOpenId = "WECHAT_OPENID";

    /// <summary>The smallest WeChat Pay merchant transfer the hub sends (¥0.10; see docs/payouts-wechat.md).</summary>
    public const long WeChatMinimumFen = 10;

    /// <summary>The smallest transfer a wallet takes (Alipay trans_amount from 0.1 yuan; WeChat ¥0.10): a netted payout still sends it.</summary>
    private static long MinimumFen(string wallet) => wallet is "alipay" ? 10 : WeChatMinimumFen;

    [LoggerMessage(Level = LogLevel.Information, Message = "Payout {PayoutId}: another hub applied an outcome first (read {Status}); this answer is dropped")]
    private static partial void LogLostRace(ILogger logger, string payoutId, string status);

    [LoggerMessage(Level = LogLevel.Error, Message = "Payout {PayoutId}: {Wallet} has no account that sends payouts on this hub; left reserved until one is configured")]
    private static partial void LogNoConnector(ILogger logger, string payoutId, string wallet);

    [LoggerMessage(Level = LogLevel.Error, Message = "Payout {PayoutId}: step failed; retried on the next pass")]
    private static partial void LogStepFailed(ILogger logger, Exception e, string payoutId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Payout {PayoutId} {Status} at the wallet ({Code}); its reservation went back to the merchant's balance")]
    private static partial void LogPayoutFailed(ILogger logger, string payoutId, string status, string code);
}
