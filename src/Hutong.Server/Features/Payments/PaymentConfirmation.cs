using Dapper;
using Hutong.Connectors.Abstractions;
using Hutong.Domain;
using Hutong.Domain.Payments;
using Hutong.Server.Features.Channels;
using Hutong.Server.Features.Rollout;
using Hutong.Server.Observability;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Payments;

/// <summary>
/// Starting (or switching) a payment's wallet attempt: the payer claim, rollout and routing with failover. The attempt
/// row commits before the wallet is called; the wallet's answer is recorded by <see cref="PaymentOutcomes"/>.
/// </summary>
public sealed partial class PaymentConfirmation(
    Db db,
    PaymentStore store,
    WalletRegistry wallets,
    RolloutService rollout,
    RoutingService routing,
    WalletOrders orders,
    PaymentOutcomes outcomes,
    PaymentDtos dtos,
    IPaymentSubsidies subsidies,
    IOptions<HubOptions> options,
    TimeProvider time,
    ILogger<PaymentConfirmation> log)
{
    private HubOptions Options => options.Value;

    /// <summary>What an attempt_in_progress answer suggests: a live hub's create call answers well within it.</summary>
    internal static readonly TimeSpan AttemptRetryAfter = TimeSpan.FromSeconds(1);

    /// <summary>The retryable 409 for a confirm that lost the start of an attempt to another request (QR or payment code).</summary>
    internal static Failure AttemptInProgress(string detail, string hint) =>
        Failure.Conflict("attempt_in_progress", detail, hint) with { RetryAfter = AttemptRetryAfter };

    /// <summary>
    /// Starts an attempt at <paramref name="wallet"/>, or returns the open one. The attempt row (with its own
    /// out_trade_no) commits before the wallet is called, so a crash mid-call leaves a record to re-query.
    /// A pending payment may switch wallet (or, from a public page, pass to another payer whose claim it now is):
    /// the open wallet order is closed first, so the QR shown before can no longer take money.
    /// </summary>
    /// <param name="payer">Set by the cashier and friend-pay pages: the browser session must hold the payer claim.</param>
    /// <param name="inApp">Set by the merchant's API for an in-app flow (mini-program, app): the flow and its payer, without a browser's claim.</param>
    public async Task<Outcome<PaymentDto>> ConfirmAsync(PaymentRow payment, string? wallet, CancellationToken ct, PayerContext? payer = null, FlowChoice? inApp = null)
    {
        var choice = inApp ?? new FlowChoice(payer?.Flow ?? PayFlow.Native, payer?.FlowPayer);
        System.Diagnostics.Activity.Current?.SetTag(HubTelemetry.PaymentIdTag, payment.Id);
        var enabled = await wallets.WalletsAsync(ct);
        if (wallet is null || !enabled.TryGetValue(wallet, out var connector))
        {
            return Failure.Invalid("wallet", $"wallet must be one of: {string.Join(", ", enabled.Keys.Order(StringComparer.Ordinal))}.");
        }

        if (payment.ProfitSharing is not null && connector is not IProfitSharingConnector)
        {
            return Failure.Invalid("wallet", $"This payment is split among receivers, and {wallet} does not split payments.");
        }

        var now = time.GetUtcNow();
        if (payer is not null)
        {
            (payment, var held) = await ClaimForPayerAsync(payment, payer, now, ct);
            if (!held)
            {
                return ClaimedProblem();
            }
        }

        var (replacing, answer) = await ReplaceOpenAttemptAsync(payment, wallet, payer, choice, now, ct);
        if (answer is { } stop)
        {
            return stop;
        }

        if ((Refusal(payment, wallet, connector, now) ?? await NotOfferedAsync(payment, wallet, ct)) is { } refused)
        {
            return refused;
        }

        var channels = await routing.ChannelsAsync(new RoutedPayment(payment.MerchantId, payment.Amount, payment.ProductCategory, payment.BuyerId), wallet, ct);
        return await StartOnFirstWorkingChannelAsync(payment, wallet, channels, replacing, payer, choice, ct);
    }

    /// <summary>
    /// Takes (or renews) the payer claim and reads the payment again. False when another payer holds a payment that is
    /// still payable; a settled payment is answered as it is.
    /// </summary>
    private async Task<(PaymentRow Payment, bool Held)> ClaimForPayerAsync(PaymentRow payment, PayerContext payer, DateTimeOffset now, CancellationToken ct)
    {
        var claimed = await db.WriteAsync((c, t) => store.TryClaimAsync(c, t, payment.Id, payer.Session,
            now.ToUnixTimeMilliseconds(), (now + Options.PayerClaim).ToUnixTimeMilliseconds()), ct);
        payment = await store.GetByIdAsync(payment.Id, ct) ?? payment;
        return (payment, claimed || payment.State is not (PaymentStatus.Created or PaymentStatus.Pending or PaymentStatus.Failed));
    }

    /// <summary>
    /// What to do with a pending payment's open attempt: return it (same wallet, same payer), or close its wallet order
    /// so a new attempt can replace it. An answer means stop here with it; otherwise the attempt to replace, if any.
    /// </summary>
    private async Task<(AttemptRow? Replacing, Outcome<PaymentDto>? Answer)> ReplaceOpenAttemptAsync(
        PaymentRow payment, string wallet, PayerContext? payer, FlowChoice choice, DateTimeOffset now, CancellationToken ct)
    {
        // Only a pending payment has an open attempt to return or replace.
        var current = payment.State == PaymentStatus.Pending ? await store.CurrentAttemptAsync(payment, ct) : null;
        var samePayer = payer is null || current?.PayerClaim == payer.Session;
        if (payment.State is PaymentStatus.Pending && payment.Wallet == wallet && samePayer
            && (payment.CodeUrl is not null || current?.State == AttemptStatus.Requested)
            && (current?.Flow ?? PayFlow.Native) == choice.Flow // the same flow: a QR opened on a desktop is not the in-app order
            && (choice.Flow != PayFlow.MiniProgram || current?.PayerRef == choice.Payer?.WalletPayerId)) // and a mini-program order is one buyer's
        {
            return (null, OpenOrInProgress(payment, payer)); // the open attempt (or the one being opened right now)
        }

        if (ClaimedByOther(payment, payer, now.ToUnixTimeMilliseconds()))
        {
            return (null, ClaimedProblem()); // the merchant's server may not replace the order of the payer who holds the payment
        }

        if (payment.State is PaymentStatus.Pending && current is not null)
        {
            if (payment.ExpiresAt <= now.ToUnixTimeMilliseconds())
            {
                return (null, Failure.Conflict("payment_expired", "The payment has expired."));
            }

            var closed = await orders.CloseAttemptAtWalletAsync(current, ct);
            return closed is not null ? (null, closed) : (current, null);
        }

        if (!PaymentStates.Machine.CanApply(payment.State, PaymentEvent.AttemptStarted) && !(payment.State is PaymentStatus.Pending && payment.CurrentAttemptId is null))
        {
            // Pending with an attempt not read (yet): another request's start, retryable like the one in LostTheStartAsync.
            return (null, payment.State is PaymentStatus.Pending
                ? AttemptInProgress("Another request is opening this payment's wallet order.", "Retry the same request after Retry-After seconds.")
                : Failure.Conflict("payment_not_confirmable", $"A {payment.Status} payment cannot start a wallet attempt."));
        }

        return (null, null);
    }

    /// <summary>Why no attempt may start at <paramref name="wallet"/> now, or null.</summary>
    internal static Failure? Refusal(PaymentRow payment, string wallet, IWalletConnector connector, DateTimeOffset now)
    {
        if (payment.ExpiresAt <= now.ToUnixTimeMilliseconds())
        {
            return Failure.Conflict("payment_expired", "The payment has expired.");
        }

        return !connector.Capabilities.Currencies.Contains(payment.Currency)
            ? Failure.Invalid("wallet", $"{wallet} does not accept {payment.Currency}.")
            : null;
    }

    /// <summary>The rollout's refusal when <paramref name="wallet"/> is not offered to this buyer, or null.</summary>
    internal async Task<Failure?> NotOfferedAsync(PaymentRow payment, string wallet, CancellationToken ct)
    {
        var offer = await rollout.DecideAsync(payment.MerchantId, wallet, payment.BuyerId, payment.ProductCategory, ct);
        return offer.Offered ? null
            : new Failure(FailureKind.Forbidden, "wallet_not_offered", $"{wallet} is not offered to this buyer.",
                RolloutService.Explain(wallet, offer, payment.BuyerId, payment.ProductCategory), Param: "wallet");
    }

    /// <summary>
    /// Commits an attempt on each routed channel in turn and asks its wallet for the order; a channel that fails over
    /// leaves its attempt to the worker. The last channel's answer, whatever it is, is the payment's.
    /// </summary>
    private async Task<Outcome<PaymentDto>> StartOnFirstWorkingChannelAsync(
        PaymentRow payment, string wallet, IReadOnlyList<string> channels, AttemptRow? replacing, PayerContext? payer, FlowChoice choice, CancellationToken ct)
    {
        var previous = replacing;
        for (var i = 0; i < channels.Count; i++)
        {
            var channel = channels[i];
            var channelConnector = await wallets.ChannelAsync(channel, ct);
            if (channelConnector is null || channelConnector.Wallet != wallet)
            {
                LogBadRoute(log, payment.MerchantId, wallet, channel);
                continue;
            }

            var notifyUrl = wallets.NotifyUrl(channel); // kept on the attempt: a re-send, from any hub, must be the very same order
            var attempt = NewAttempt(payment.Id, wallet, channel, notifyUrl, time.GetUtcNow(), payer, choice);
            var started = await StartAttemptAsync(payment.Id, wallet, attempt, previous, ct);
            if (started is null)
            {
                return await LostTheStartAsync(payment, wallet, payer, ct);
            }

            var result = await CreateOrderAsync(channelConnector, payment, attempt, choice.Payer);
            if (result.Outcome == WalletCallOutcome.Ok)
            {
                routing.RecordSuccess(channel);
            }
            else
            {
                routing.RecordFailure(channel);
                if (i < channels.Count - 1)
                {
                    // Fail over. The unanswered attempt stays 'requested' and is no longer current, so the worker closes
                    // its wallet order (or records it if the buyer somehow paid it): the buyer pays once.
                    LogFailover(log, payment.Id, channel, channels[i + 1], result.Error?.Code ?? "-");
                    if (result.Outcome == WalletCallOutcome.Rejected)
                    {
                        await outcomes.RecordAttemptFailedAsync(attempt, result.Error!, CancellationToken.None);
                    }

                    previous = attempt;
                    continue;
                }
            }

            var after = await outcomes.RecordCreateOutcomeAsync(attempt, result, CancellationToken.None);
            return after is null ? Failure.NotFound("payment") : Outcome.Ok(ToDto(after));
        }

        return new Failure(FailureKind.Unavailable, "no_channel", $"No working channel reaches {wallet} for this merchant.", "Check the merchant's routes.");
    }

    /// <summary>The answer when the attempt could not be committed: someone else moved or claimed the payment first.</summary>
    private async Task<Outcome<PaymentDto>> LostTheStartAsync(PaymentRow payment, string wallet, PayerContext? payer, CancellationToken ct) =>
        await store.GetAsync(payment.MerchantId, payment.Id, ct) is not { } latest ? Failure.NotFound("payment")
            : ClaimedByOther(latest, payer, time.GetUtcNow().ToUnixTimeMilliseconds()) ? ClaimedProblem()
            : latest.State == PaymentStatus.Pending && latest.Wallet == wallet ? OpenOrInProgress(latest, payer)
            // Another request (its own wallet) started first: not final — a retry closes that order and switches, as a
            // switch one after another does. Said as such, rather than "a pending payment cannot start an attempt".
            : latest.State == PaymentStatus.Pending ? AttemptInProgress(
                $"Another request opened this payment's order at {latest.Wallet} just now.",
                $"Retry after Retry-After seconds: the retry closes that order and opens one at {wallet}.")
            : Failure.Conflict("payment_not_confirmable", $"A {latest.Status} payment cannot start a wallet attempt.");

    /// <summary>Asks the channel's wallet for the order. Not cancellable: the wallet may act on it, so its answer is never abandoned half way.</summary>
    private static Task<CreateOrderResult> CreateOrderAsync(IWalletConnector connector, PaymentRow payment, AttemptRow attempt, FlowPayer? payer) =>
        PayFlows.CreateAsync(connector, attempt.Flow,
            new CreateOrderRequest(attempt.OutTradeNo, attempt.WalletMoney(payment), payment.Description, DateTimeOffset.FromUnixTimeMilliseconds(payment.ExpiresAt),
                attempt.NotifyUrl!, payment.Id, ProfitSharing: payment.ProfitSharing is not null),
            payer, CancellationToken.None);

    /// <summary>The attempt's stored flow: null for the Native QR, so rows of QR attempts are as before.</summary>
    /// <summary>
    /// Whether a payer other than <paramref name="payer"/> holds the payment now. The merchant's own call (no payer)
    /// defers to any live claim, so exactly one payer holds on every path: cashier, friend page, aggregated QR, API.
    /// </summary>
    private static bool ClaimedByOther(PaymentRow p, PayerContext? payer, long nowMs) =>
        p.PayerClaim is not null && p.PayerClaimUntil > nowMs && p.State is PaymentStatus.Created or PaymentStatus.Pending
        && p.PayerClaim != payer?.Session;

    /// <summary>
    /// The pending payment at this wallet, or — to the merchant's API while its order is still being opened (by another
    /// request, or by a hub that died mid-call and whose attempt the unknown job re-queries within the lease bound) — a
    /// retryable 409. The idempotency layer does not store a 409, so the key's answer is not fixed as a 200 without the
    /// QR; the pages show the pending payment and poll until its QR is there.
    /// </summary>
    private Outcome<PaymentDto> OpenOrInProgress(PaymentRow payment, PayerContext? payer) =>
        payment.CodeUrl is null && payer is null
            ? Failure.Conflict("attempt_in_progress", "The wallet order for this payment is still being opened.",
                "Retry the same request after Retry-After seconds; it then answers with the QR code.") with { RetryAfter = AttemptRetryAfter }
            : Outcome.Ok(ToDto(payment));

    private static Failure ClaimedProblem() => Failure.Conflict("payment_claimed", "Someone else is paying this payment right now.",
        "Only one payer at a time; try again when their claim lapses.");

    internal static AttemptRow NewAttempt(string paymentId, string wallet, string channel, string notifyUrl, DateTimeOffset now, PayerContext? payer, FlowChoice? choice = null)
    {
        choice ??= new FlowChoice(payer?.Flow ?? PayFlow.Native, payer?.FlowPayer);
        var attemptId = Ids.MonotonicV7(now);
        return new AttemptRow
        {
            Id = $"{Ids.Attempt}_{attemptId:N}",
            PaymentId = paymentId,
            Wallet = wallet,
            Channel = channel,
            OutTradeNo = attemptId.ToString("N"), // 32 chars: WeChat's out_trade_no limit
            Status = AttemptStatus.Requested.ToWire(),
            CreatedAt = now.ToUnixTimeMilliseconds(),
            UpdatedAt = now.ToUnixTimeMilliseconds(),
            Via = payer?.Via ?? "api",
            PayerClaim = payer?.Session,
            FriendLinkId = payer?.FriendLinkId,
            NotifyUrl = notifyUrl,
            Flow = choice.Flow,
            PayerRef = choice.Flow is PayFlow.H5 ? choice.Payer?.ClientIp : choice.Payer?.WalletPayerId,
        };
    }

    /// <summary>
    /// Commits the attempt before the wallet is called. The first attempt moves the payment to pending; a failover
    /// or switch attempt replaces the current one on the already-pending payment.
    /// </summary>
    internal Task<PaymentRow?> StartAttemptAsync(string paymentId, string wallet, AttemptRow attempt, AttemptRow? previous, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        return db.WriteAsync(async (c, t) =>
        {
            var current = await store.LockAsync(c, t, paymentId);
            if (current is null || ClaimedByOther(current, attempt.PayerClaim is null ? null : new PayerContext(attempt.Via ?? "api", attempt.PayerClaim), now.ToUnixTimeMilliseconds()))
            {
                return null; // another payer took the payment between our claim and now
            }

            if (attempt.FriendLinkId is not null
                && await c.ExecuteScalarAsync<string?>("SELECT status FROM friend_pay_links WHERE id = @FriendLinkId", new { attempt.FriendLinkId }, t) != "active")
            {
                // Revoked while this friend's click was on its way: no order, and the claim it just took is let go.
                await store.ReleaseClaimAsync(c, t, paymentId, attempt.PayerClaim);
                return null;
            }

            if (previous is not null || (current.State == PaymentStatus.Pending && current.CurrentAttemptId is null))
            {
                if (current.State != PaymentStatus.Pending || current.CurrentAttemptId != previous?.Id)
                {
                    return null; // something else settled the payment meanwhile
                }

                attempt.SubsidyAmount = await SubsidyOfAsync(c, t, current, wallet, attempt, now);
                await store.InsertAttemptAsync(c, t, attempt);
                var next = await outcomes.UpdateAsync(c, t, current, now, p =>
                {
                    p.CurrentAttemptId = attempt.Id;
                    p.Wallet = wallet;
                });
                next.CodeUrl = null;
                return next;
            }

            if (!PaymentStates.Machine.CanApply(current.State, PaymentEvent.AttemptStarted))
            {
                return null;
            }

            attempt.SubsidyAmount = await SubsidyOfAsync(c, t, current, wallet, attempt, now);
            await store.InsertAttemptAsync(c, t, attempt);
            return await outcomes.TransitionAsync(c, t, current, PaymentEvent.AttemptStarted, now, p =>
            {
                p.Wallet = wallet;
                p.CurrentAttemptId = attempt.Id;
                p.FailureCode = null;
                p.FailureMessage = null;
            });
        }, ct);
    }

    /// <summary>
    /// The platform subsidy this attempt's wallet order is reduced by: reserved (or kept, or released) with the attempt's
    /// insert, in its transaction. A payment code scanned at a till is charged what the till asked: no subsidy.
    /// </summary>
    private async Task<long> SubsidyOfAsync(System.Data.Common.DbConnection c, System.Data.Common.DbTransaction t, PaymentRow current, string wallet, AttemptRow attempt, DateTimeOffset now)
    {
        var amount = attempt.Flow == PayFlow.PaymentCode ? 0 : await subsidies.ReserveAsync(c, t, current, wallet, now);
        attempt.SubsidyCampaignId = amount > 0 ? current.SubsidyCampaignId : null;
        return amount;
    }

    private PaymentDto ToDto(PaymentRow p) => dtos.ToDto(p);

    [LoggerMessage(Level = LogLevel.Error, Message = "Merchant {MerchantId} routes {Wallet} to channel {Channel}, which does not exist or is another wallet's")]
    private static partial void LogBadRoute(ILogger logger, string merchantId, string wallet, string channel);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Payment {PaymentId}: channel {Failed} did not take the order ({Code}); failing over to {Next}")]
    private static partial void LogFailover(ILogger logger, string paymentId, string failed, string next, string code);
}
