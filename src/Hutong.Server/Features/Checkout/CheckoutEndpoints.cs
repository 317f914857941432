using Hutong.Domain.Payments;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Features.Payments;
using Hutong.Server.Features.Rollout;
using Hutong.Server.Features.Subsidies;
using Hutong.Domain.Subsidies;
using Hutong.Server.Http;
using Microsoft.Extensions.Options;
using static Hutong.Server.Features.Checkout.BuyerUi;

namespace Hutong.Server.Features.Checkout;

/// <summary>
/// The buyer's cashier at /pay/{token}: amount, merchant, the wallets the rollout offers this buyer, a QR on a desktop
/// and an open-the-app button on a phone, live status, expiry countdown, failure and retry, switching wallet, and a
/// link to ask a friend to pay (that page, /pay/{token}/friend, is FriendPay's: it sits above Checkout). The token is
/// the capability (≥128 random bits). Works without JavaScript (forms, and a meta refresh to update). Chinese or
/// English by ?lang= or the browser's language.
/// </summary>
public static class CheckoutEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        BuyerAssets.Map(app);
        var g = app.MapGroup("/pay/{token}").ExcludeFromDescription().RequireRateLimiting(RateLimits.Public);
        g.MapGet("/", PageAsync);
        g.MapPost("/{wallet}", StartAsync).DisableAntiforgery();
        g.MapGet("/status", StatusAsync);
        g.MapGet("/qr.png", async (string token, PaymentStore store, CancellationToken ct) =>
            await CodeUrlAsync(token, store, ct) is { } url ? Results.Bytes(QrPng(url), "image/png") : Results.NotFound());
        g.MapGet("/qr.svg", async (string token, PaymentStore store, CancellationToken ct) =>
            await CodeUrlAsync(token, store, ct) is { } url ? Results.Content(QrSvg(url), "image/svg+xml") : Results.NotFound());
    }

    /// <summary>
    /// The wallets the staged rollout offers this payment's buyer for this product, in a stable order; for a payment to be
    /// split among receivers, only wallets that split.
    /// </summary>
    /// <summary>The wallets' names as a list: "WeChat Pay, Alipay or UnionPay QuickPass" (<paramref name="last"/> joins the last two).</summary>
    private static string Names(Lang l, IReadOnlyList<string> wallets, string last)
    {
        var names = wallets.Select(l.WalletName).ToList();
        var comma = l.En ? ", " : "、";
        return names.Count <= 1 ? string.Concat(names) : $"{string.Join(comma, names.Take(names.Count - 1))}{last}{names[^1]}";
    }

    public static async Task<IReadOnlyList<string>> OfferedAsync(PaymentRow p, WalletRegistry wallets, RolloutService rollout, CancellationToken ct)
    {
        var offered = new List<string>();
        foreach (var (wallet, connector) in (await wallets.WalletsAsync(ct)).OrderBy(w => w.Key, StringComparer.Ordinal))
        {
            if (p.ProfitSharing is not null && connector is not Hutong.Connectors.Abstractions.IProfitSharingConnector)
            {
                continue;
            }

            if ((await rollout.DecideAsync(p.MerchantId, wallet, p.BuyerId, p.ProductCategory, ct)).Offered)
            {
                offered.Add(wallet);
            }
        }

        return offered;
    }

    private static async Task<IResult> PageAsync(
        HttpContext ctx, string token, PaymentStore store, MerchantStore merchants, WalletRegistry wallets, RolloutService rollout,
        SubsidyService subsidies, IOptions<HubOptions> options, TimeProvider time)
    {
        var ct = ctx.RequestAborted;
        var l = Lang.Of(ctx);
        var path = $"/pay/{token}";
        var p = await store.GetByCheckoutTokenAsync(token, ct);
        if (p is null)
        {
            return Results.Content(Message(l, l.T("找不到该支付", "Payment not found"), l.T("找不到该支付", "Payment not found"),
                l.T("链接有误或已失效。", "The link is wrong or no longer valid."), path), "text/html; charset=utf-8", statusCode: 404);
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (p.CashierOpenedAt is null)
        {
            await store.MarkCashierOpenedAsync(p.Id, now, ct); // the funnel's "cashier opened": once per payment
        }

        // The browser's payer session exists from the page on, so the click that claims the payment carries it even if the
        // page reloads itself before the click's answer (and its Set-Cookie) arrives.
        PayerSession.Of(ctx);
        var view = await PayerView.ForAsync(ctx, p, store, now, anyoneOwnsUnclaimed: true);
        var merchant = await merchants.GetAsync(p.MerchantId, ct);
        var secondsLeft = Math.Max(0, (p.ExpiresAt - now) / 1000);
        var (statusText, css) = StatusLine(l, p, view.Mine, view.ClaimedByOther, friendPage: false);
        var payable = p.State is PaymentStatus.Created or PaymentStatus.Pending or PaymentStatus.Failed && secondsLeft > 0;
        var error = ErrorText(l, ctx.Request.Query["e"], friendPage: false);

        // Inside a wallet's app that pays in place, the buyer is identified first (the wallet's OAuth), and sees no QR.
        (string, Hutong.Connectors.Abstractions.IWalletConnector)? inApp = null;
        if (payable && !view.ClaimedByOther)
        {
            var here = await OfferedAsync(p, wallets, rollout, ct);
            if (await InAppPay.AuthorizeIfNeededAsync(ctx, wallets, here, path) is { } signIn)
            {
                return signIn;
            }

            inApp = await InAppPay.InAppWalletAsync(ctx, wallets, here);
        }

        string body;
        if (p.State == PaymentStatus.Pending && view.Mine && p.CodeUrl is not null && payable && InAppPay.Panel(ctx, l, p, path) is { } panel)
        {
            body = panel + WalletButtons(l, await OfferedAsync(p, wallets, rollout, ct), path, p.Wallet, asSwitch: true);
        }
        else if (p.State == PaymentStatus.Pending && view.Mine && p.CodeUrl is not null && payable)
        {
            var offered = await OfferedAsync(p, wallets, rollout, ct);
            body = PayPanel(l, p, path + "/qr.png", IsMobile(ctx), options.Value.Sandbox.Enabled ? options.Value.Sandbox.Url : null)
                + WalletButtons(l, offered, path, p.Wallet, asSwitch: true);
        }
        else if (view.ClaimedByOther)
        {
            body = $"<p class=\"hint\">{l.T("如好友未完成支付，你可在此时间后自己付款：", "If your friend does not finish, you can pay yourself after: ")}<span data-seconds=\"{view.ClaimSecondsLeft}\">{view.ClaimSecondsLeft / 60}:{view.ClaimSecondsLeft % 60:00}</span></p>";
        }
        else if (payable && !(p.State == PaymentStatus.Pending && view.Mine) && inApp is not null)
        {
            body = WalletButtons(l, await OfferedAsync(p, wallets, rollout, ct), path, null, asSwitch: false); // paid in place: no QR
        }
        else if (payable && !(p.State == PaymentStatus.Pending && view.Mine))
        {
            var offered = await OfferedAsync(p, wallets, rollout, ct);
            body = $"""
                <figure class="qr"><img id="aggregate-qr" src="{path}/aggregate.png" width="200" height="200" alt="{E(l.T($"一码通付：{Names(l, offered, "、")}均可扫码", $"One QR code for {Names(l, offered, " and ")}"))}">
                <figcaption>{E(l.T($"用{Names(l, offered, "或")}扫码，或选择：", $"Scan with {Names(l, offered, " or ")}, or choose:"))}</figcaption></figure>
                {WalletButtons(l, offered, path, null, asSwitch: false)}
                """;
        }
        else
        {
            body = string.Empty;
        }

        // The platform's subsidies: the price after the subsidy per wallet, each shown offer recorded for the campaign's report.
        var offers = payable && !view.ClaimedByOther
            ? await subsidies.OffersAsync(p, await OfferedAsync(p, wallets, rollout, ct), record: true, ct)
            : new Dictionary<string, Hutong.Domain.Subsidies.SubsidyOffer>();
        var friend = payable && !view.ClaimedByOther
            ? $"<p><a class=\"button secondary\" id=\"ask-friend\" href=\"{path}/friend{(l.En ? "?lang=en" : string.Empty)}\">{l.T("找人代付", "Ask a friend to pay")}</a></p>"
            : string.Empty;
        // Once the payment is over, the page is the buyer's receipt: the merchant's order number, and the way back to the
        // merchant's own page when the merchant gave one (return_url).
        var over = p.State is PaymentStatus.Succeeded or PaymentStatus.Canceled or PaymentStatus.Expired;
        var receipt = over
            ? $"<p class=\"order\">{l.T("订单号：", "Order number: ")}<span class=\"id\" id=\"order-id\">{E(p.MerchantOrderId)}</span></p>"
              + (p.ReturnUrl is null ? string.Empty
                  : $"<p><a class=\"button{(p.State == PaymentStatus.Succeeded ? string.Empty : " secondary")}\" id=\"return-link\" href=\"{E(p.ReturnUrl)}\">{l.T("返回商家", "Back to the shop")}</a></p>")
            : string.Empty;
        var html = $"""
            <main>
              <p class="merchant">{E(merchant?.Name ?? "Merchant")}</p>
              <h1 class="amount" id="amount">{E(p.Money.ToDisplayString())}</h1>
              {Item(l, p.Description)}
              {SubsidyLines(l, p, offers, view.Mine)}
              {(error is null ? string.Empty : $"<p class=\"status bad\" role=\"alert\" id=\"error\">{E(error)}</p>")}
              <p id="status" class="status {css}" role="status" aria-live="polite" data-status="{E(p.Status)}" data-view="{E(View(p, view.Mine, view.ClaimedByOther))}">{E(statusText)}</p>
              {(p.State == PaymentStatus.Failed && p.FailureMessage is not null ? $"<p class=\"hint\" id=\"failure\">{E(p.FailureMessage)}</p>" : string.Empty)}
              {body}
              {(payable ? Countdown(l, secondsLeft) : string.Empty)}
              {friend}
              {receipt}
            </main>
            {LiveScript(path + "/status")}
            """;
        return Results.Content(Html(l, $"{p.Money.ToDisplayString()} · {merchant?.Name}", html, refresh: !p.State.IsTerminal(), path), "text/html; charset=utf-8");
    }

    /// <summary>"¥5.00 off with WeChat Pay: you pay ¥95.00" per wallet with an offer; and while an order reduced by a subsidy is open, what the buyer pays.</summary>
    private static string SubsidyLines(Lang l, PaymentRow p, IReadOnlyDictionary<string, Hutong.Domain.Subsidies.SubsidyOffer> offers, bool mine)
    {
        var lines = new List<string>();
        foreach (var (wallet, offer) in offers.OrderBy(o => o.Key, StringComparer.Ordinal))
        {
            var off = new Hutong.Domain.Money(offer.Amount, p.Money.Currency).ToDisplayString();
            var pay = new Hutong.Domain.Money(p.Amount - offer.Amount, p.Money.Currency).ToDisplayString();
            var name = l.WalletName(wallet);
            var text = l.T($"用{name}立减{off}，实付{pay}", $"{off} off with {name}: you pay {pay}");
            lines.Add($"<li id=\"subsidy-{E(wallet)}\" data-wallet=\"{E(wallet)}\" data-off=\"{offer.Amount}\" data-pay=\"{p.Amount - offer.Amount}\">{E(text)}</li>");
        }

        var reserved = SubsidyReservationState.Reserved.ToWire();
        var paying = string.Empty;
        if (p.State == PaymentStatus.Pending && mine && p.SubsidyStatus == reserved && p.SubsidyAmount > 0)
        {
            var subsidy = new Hutong.Domain.Money(p.SubsidyAmount, p.Money.Currency).ToDisplayString();
            var due = new Hutong.Domain.Money(p.Amount - p.SubsidyAmount, p.Money.Currency).ToDisplayString();
            var text = l.T($"平台补贴{subsidy}，实付{due}", $"Platform subsidy {subsidy}: you pay {due}");
            paying = $"<p class=\"offer\" id=\"pay-amount\" data-pay=\"{p.Amount - p.SubsidyAmount}\">{E(text)}</p>";
        }

        return (lines.Count == 0 ? string.Empty : $"<ul class=\"offers\" id=\"subsidies\">{string.Join(string.Empty, lines)}</ul>") + paying;
    }

    private static async Task<IResult> StartAsync(HttpContext ctx, string token, string wallet, PaymentStore store, PaymentService payments, WalletRegistry wallets)
    {
        var p = await store.GetByCheckoutTokenAsync(token, ctx.RequestAborted);
        if (p is null)
        {
            return Results.NotFound();
        }

        if (PayerSession.Existing(ctx) is not { } session)
        {
            return WithoutPayerSession(ctx, $"/pay/{token}");
        }

        var payer = await InAppPay.PayerAsync(ctx, new PayerContext("checkout", session), wallet, wallets, $"/pay/{token}");
        var result = await payments.ConfirmAsync(p, wallet, ctx.RequestAborted, payer);
        return BackAfterConfirm(ctx, $"/pay/{token}", result);
    }

    private static async Task<IResult> StatusAsync(HttpContext ctx, string token, PaymentStore store, TimeProvider time)
    {
        var p = await store.GetByCheckoutTokenAsync(token, ctx.RequestAborted);
        if (p is null)
        {
            return Results.NotFound();
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var view = await PayerView.ForAsync(ctx, p, store, now, anyoneOwnsUnclaimed: true);
        return Results.Json(new
        {
            status = p.Status,
            view = View(p, view.Mine, view.ClaimedByOther),
            expires_at = DateTimeOffset.FromUnixTimeMilliseconds(p.ExpiresAt),
            seconds_left = Math.Max(0, (p.ExpiresAt - now) / 1000),
            has_qr = p.State == PaymentStatus.Pending && p.CodeUrl is not null,
        });
    }

    private static async Task<string?> CodeUrlAsync(string token, PaymentStore store, CancellationToken ct)
    {
        var p = await store.GetByCheckoutTokenAsync(token, ct);
        return p?.State == PaymentStatus.Pending ? p.CodeUrl : null;
    }
}
