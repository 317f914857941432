using Hutong.Connectors.Abstractions;
using Hutong.Domain;
using Hutong.Domain.Payments;

namespace Hutong.Server.Features.Payments;

/// <summary>
/// The merchant API for its own mini-program and app back ends: a wx.login code becomes an opaque payer handle (the
/// openid stays in <see cref="WalletPayers"/>), and confirming with a flow answers the parameters the buyer's
/// mini-program (wx.requestPayment) or app (the WeChat SDK) pays with, instead of a QR.
/// </summary>
public sealed class InAppConfirmation(PaymentConfirmation confirmation, PaymentStore store, WalletRegistry wallets, WalletPayers payers)
{
    /// <summary>A wx.login code is 32 characters; a bound well above that keeps junk away from the wallet.</summary>
    private const int MaxCodeLength = 128;

    /// <summary>The flows a merchant's back end may confirm with: the others need a browser (JSAPI, H5) or a till (payment code).</summary>
    private static readonly PayFlow[] ApiFlows = [PayFlow.MiniProgram, PayFlow.App];

    /// <summary>jscode2session's answers that mean this code is no good (40029 invalid, 40163 used, 40226 high-risk user): a new wx.login helps.</summary>
    private static readonly string[] CodeRefusals = ["40029", "40163", "40226"];

    public async Task<Outcome<WalletPayerDto>> CreatePayerAsync(string merchantId, CreateWalletPayerRequest body, CancellationToken ct)
    {
        var enabled = await wallets.WalletsAsync(ct);
        if (body.Wallet is null || !enabled.TryGetValue(body.Wallet, out var connector))
        {
            return Failure.Invalid("wallet", $"wallet must be one of: {string.Join(", ", enabled.Keys.Order(StringComparer.Ordinal))}.");
        }

        if (string.IsNullOrEmpty(body.MiniProgramCode) || body.MiniProgramCode.Length > MaxCodeLength || !body.MiniProgramCode.All(char.IsAsciiLetterOrDigit))
        {
            return Failure.Invalid("mini_program_code", $"mini_program_code must be the code from wx.login (letters and digits, at most {MaxCodeLength}).");
        }

        if (connector is not IBuyerIdentityConnector identity || !PayFlows.Of(connector).Contains(PayFlow.MiniProgram))
        {
            return new Failure(FailureKind.Unprocessable, "flow_not_available", $"{body.Wallet} has no mini_program flow here.",
                "The wallet account needs a mini-program app id and secret.", Param: "wallet");
        }

        var who = await identity.ExchangeCodeAsync(body.MiniProgramCode, miniProgram: true, ct);
        switch (who)
        {
            case { Outcome: WalletCallOutcome.Ok, PayerId: { } openId }:
                var (handle, expiresAt) = await payers.IssueHandleAsync(merchantId, body.Wallet, openId, ct);
                return Outcome.Created(new WalletPayerDto("wallet_payer", handle, body.Wallet, expiresAt));
            case { Outcome: WalletCallOutcome.Rejected, Error: { } e } when CodeRefusals.Contains(e.Code):
                return new Failure(FailureKind.Unprocessable, "mini_program_code_invalid", "The wx.login code is invalid, expired or already used.",
                    "A code is good for one exchange within five minutes: call wx.login again and send the new code.", Param: "mini_program_code");
            case { Outcome: WalletCallOutcome.Rejected, Error: { } e }:
                // The wallet refused the account (a wrong app secret or app id), not the buyer's code.
                return new Failure(FailureKind.Unprocessable, "wallet_refused", $"{body.Wallet} refused the code exchange ({e.Code}).",
                    "Check the wallet account's mini-program app id and secret.", Param: "wallet");
            default:
                return new Failure(FailureKind.Unavailable, "wallet_unavailable", $"{body.Wallet} did not answer the code exchange.",
                    "The code may be spent: call wx.login again and retry with the new code.");
        }
    }

    /// <summary>
    /// Confirms <paramref name="payment"/> with an in-app flow through the one confirmation path (claims, rollout,
    /// routing, the attempt committed first with its flow and payer), then adds fresh signed pay parameters.
    /// </summary>
    public async Task<Outcome<PaymentDto>> ConfirmAsync(PaymentRow payment, string? wallet, string flowWire, string? payerHandle, CancellationToken ct)
    {
        var enabled = await wallets.WalletsAsync(ct);
        if (wallet is null || !enabled.TryGetValue(wallet, out var connector))
        {
            return Failure.Invalid("wallet", $"wallet must be one of: {string.Join(", ", enabled.Keys.Order(StringComparer.Ordinal))}.");
        }

        if (ApiFlows.Where(f => PayFlows.Wire(f) == flowWire).Select(f => (PayFlow?)f).FirstOrDefault() is not { } flow)
        {
            return Failure.Invalid("flow", $"flow must be one of: {string.Join(", ", ApiFlows.Select(PayFlows.Wire))}.");
        }

        if (!PayFlows.Of(connector).Contains(flow))
        {
            return new Failure(FailureKind.Unprocessable, "flow_not_available", $"{wallet} has no {flowWire} flow here.",
                "GET /v1/capabilities lists each wallet's flows.", Param: "flow");
        }

        FlowPayer? flowPayer = null;
        if (flow == PayFlow.MiniProgram)
        {
            if (payerHandle is not { Length: > 0 and <= 64 } || !payerHandle.StartsWith(WalletPayers.HandlePrefix, StringComparison.Ordinal))
            {
                return Failure.Invalid("payer", "A mini_program payment needs payer: the wallet payer id from POST /v1/wallet_payers.");
            }

            // Another merchant's handle, an expired one and one that never was look the same: no such payer.
            if (await payers.ForHandleAsync(payment.MerchantId, wallet, payerHandle, ct) is not { } openId)
            {
                return new Failure(FailureKind.Unprocessable, "wallet_payer_not_found", "No such wallet payer, or it has expired.",
                    "Exchange a fresh wx.login code at POST /v1/wallet_payers.", Param: "payer");
            }

            flowPayer = new FlowPayer(WalletPayerId: openId);
        }
        else if (payerHandle is not null)
        {
            return Failure.Invalid("payer", $"A {flowWire} payment takes no payer.");
        }

        var confirmed = await confirmation.ConfirmAsync(payment, wallet, ct, inApp: new FlowChoice(flow, flowPayer));
        return confirmed.Value is { } dto ? Outcome.Ok(await WithPayParamsAsync(dto, payment, ct)) : confirmed;
    }

    /// <summary>The pending in-app attempt's parameters, signed now (the timestamp is part of the signature); the dto as it is otherwise.</summary>
    private async Task<PaymentDto> WithPayParamsAsync(PaymentDto dto, PaymentRow confirmed, CancellationToken ct)
    {
        var p = await store.GetByIdAsync(confirmed.Id, ct);
        var attempt = p is { State: PaymentStatus.Pending } ? await store.CurrentAttemptAsync(p, ct) : null;
        if (attempt is not { Flow: not PayFlow.Native and var flow, CodeUrl: { } orderHandle }
            || await wallets.ChannelAsync(attempt.Channel ?? attempt.Wallet, ct) is not IInAppPayConnector connector
            || connector.PayParams(flow, orderHandle) is not { } pay)
        {
            return dto;
        }

        // wx.requestPayment takes no appId (the mini-program is the app); the app SDK's PayReq takes them all.
        var fields = pay.Flow == PayFlow.MiniProgram ? pay.Fields.Where(f => f.Key != "appId").ToDictionary(f => f.Key, f => f.Value) : pay.Fields;
        return dto with { NextAction = new NextAction(pay.Flow == PayFlow.MiniProgram ? "mini_program_pay" : "app_pay", Params: fields) };
    }
}

public sealed record CreateWalletPayerRequest(string? Wallet, string? MiniProgramCode);

/// <summary>An opaque stand-in for the buyer's id at a wallet (the openid is never shown), for confirming a mini_program payment.</summary>
public sealed record WalletPayerDto(string Object, string Id, string Wallet, DateTimeOffset ExpiresAt);
