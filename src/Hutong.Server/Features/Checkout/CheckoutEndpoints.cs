using Hutong.Domain.Payments;
using Hutong.Server.Features.FriendPay;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Features.Payments;
using Hutong.Server.Features.Rollout;
using Hutong.Server.Http;
using Microsoft.Extensions.Options;
using static Hutong.Server.Features.Checkout.BuyerUi;

namespace Hutong.Server.Features.Checkout;

/// <summary>
/// The buyer's cashier at /pay/{token}: amount, merchant, the wallets the rollout offers this buyer, a QR on a desktop
/// and an open-the-app button on a phone, live status, expiry countdown, failure and retry, switching wallet, and
/// asking a friend to pay. The token is the capability (≥128 random bits). Works without JavaScript (forms, and a
/// meta refresh to update). Chinese or English by ?lang= or the browser's language.
/// </summary>
public static class CheckoutEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        BuyerAssets.Map(app);
        var g = app.MapGroup("/pay/{token}").ExcludeFromDescription().RequireRateLimiting(RateLimits.Public);
        g.MapGet("/", PageAsync);
        g.MapGet("/friend", FriendPageAsync);
        g.MapPost("/friend", CreateFriendLinkAsync).DisableAntiforgery();
        g.MapPost("/friend/{linkId}/revoke", RevokeFriendLinkAsync).DisableAntiforgery();
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
        IOptions<HubOptions> options, TimeProvider time)
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
        // The browser's payer session exists from the page on, so the click that claims the payment carries it even if the
        // page reloads itself before the click's answer (and its Set-Cookie) arrives.
        PayerSession.Of(ctx);
        var view = await PayerView.ForAsync(ctx, p, store, now, anyoneOwnsUnclaimed: true);
        var merchant = await merchants.GetAsync(p.MerchantId, ct);
        var secondsLeft = Math.Max(0, (p.ExpiresAt - now) / 1000);
        var (statusText, css) = StatusLine(l, p, view.Mine, view.ClaimedByOther, friendPage: false);
        var payable = p.State is PaymentStatus.Created or PaymentStatus.Pending or PaymentStatus.Failed && secondsLeft > 0;
        var error = ErrorText(l, ctx.Request.Query["e"], friendPage: false);

        string body;
        if (p.State == PaymentStatus.Pending && view.Mine && p.CodeUrl is not null && payable)
        {
            var offered = await OfferedAsync(p, wallets, rollout, ct);
            body = PayPanel(l, p, path + "/qr.png", IsMobile(ctx), options.Value.Sandbox.Enabled ? options.Value.Sandbox.Url : null)
                + WalletButtons(l, offered, path, p.Wallet, asSwitch: true);
        }
        else if (view.ClaimedByOther)
        {
            body = $"<p class=\"hint\">{l.T("如好友未完成支付，你可在此时间后自己付款：", "If your friend does not finish, you can pay yourself after: ")}<span data-seconds=\"{view.ClaimSecondsLeft}\">{view.ClaimSecondsLeft / 60}:{view.ClaimSecondsLeft % 60:00}</span></p>";
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

    private static async Task<IResult> StartAsync(HttpContext ctx, string token, string wallet, PaymentStore store, PaymentService payments)
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

        var result = await payments.ConfirmAsync(p, wallet, ctx.RequestAborted, new PayerContext("checkout", session));
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

    /// <summary>The buyer's share page: create a friend-pay link (with the name the friend will see), copy it, show its QR, revoke it.</summary>
    private static async Task<IResult> FriendPageAsync(HttpContext ctx, string token, PaymentStore store, FriendPayService friends, TimeProvider time)
    {
        var l = Lang.Of(ctx);
        var path = $"/pay/{token}/friend";
        var p = await store.GetByCheckoutTokenAsync(token, ctx.RequestAborted);
        if (p is null)
        {
            return Results.NotFound();
        }

        var links = await friends.ActiveOfPaymentAsync(p.Id, ctx.RequestAborted);
        var payable = p.State is PaymentStatus.Created or PaymentStatus.Pending or PaymentStatus.Failed && p.ExpiresAt > time.GetUtcNow().ToUnixTimeMilliseconds();
        var items = string.Join("\n", links.Select(k => $"""
            <li><p>{l.T("发给好友", "Send to a friend")}{l.T("（", " (")}{E(k.RequesterName)}{l.T("）：", "):")}</p>
            <p class="share" id="friend-link-{E(k.Id)}">{E(friends.Url(k.Token))}</p>
            {CopyButton(l, "friend-link-" + k.Id)}
            <img src="/f/{E(k.Token)}/link.png" width="160" height="160" alt="{l.T("代付链接二维码", "QR code of the pay-for-me link")}">
            <form method="post" action="{path}/{E(k.Id)}/revoke"><button type="submit" class="button secondary" id="revoke-{E(k.Id)}">{l.T("撤回此链接", "Withdraw this link")}</button></form></li>
            """));
        // The link just made comes first (it is what the buyer came for); the form to make another follows it.
        var form = payable ? $"""
            <form method="post" action="{path}">
              {(links.Count > 0 ? $"<h2>{l.T("再生成一个链接", "Make another link")}</h2>" : string.Empty)}
              <label for="requester_name">{l.T("你的称呼（好友会看到）", "Your name (your friend sees it)")}</label>
              <input type="text" id="requester_name" name="requester_name" maxlength="32" required autocomplete="nickname">
              <label for="note">{l.T("留言（可选）", "Message (optional)")}</label>
              <input type="text" id="note" name="note" maxlength="140">
              <button type="submit" class="button{(links.Count > 0 ? " secondary" : string.Empty)}" id="create-friend-link">{l.T("生成代付链接", "Create the link")}</button>
            </form>
            """ : $"<p class=\"status bad\">{l.T("该订单已无需代付。", "This payment can no longer be shared.")}</p>";
        var html = $"""
            <main>
              <h1>{l.T("找人代付", "Ask a friend to pay")}</h1>
              <p class="amount" id="amount">{E(p.Money.ToDisplayString())}</p>
              {Item(l, p.Description)}
              <p class="hint">{l.T("好友打开链接后只能看到金额、商品和你的称呼；链接随订单过期，可随时撤回。", "Your friend sees only the amount, the item and your name. The link expires with the payment and can be withdrawn at any time.")}</p>
              {(links.Count > 0 ? $"<ul class=\"links\">{items}</ul>" : string.Empty)}
              {form}
              <p><a href="/pay/{E(token)}{(l.En ? "?lang=en" : string.Empty)}">{l.T("返回收银台", "Back to checkout")}</a></p>
            </main>
            {(links.Count > 0 ? CopyScript : string.Empty)}
            """;
        return Results.Content(Html(l, l.T("找人代付", "Ask a friend to pay"), html, refresh: false, path), "text/html; charset=utf-8");
    }

    private static async Task<IResult> CreateFriendLinkAsync(HttpContext ctx, string token, PaymentStore store, FriendPayService friends)
    {
        var p = await store.GetByCheckoutTokenAsync(token, ctx.RequestAborted);
        if (p is null || !ctx.Request.HasFormContentType)
        {
            return Results.NotFound();
        }

        var form = await ctx.Request.ReadFormAsync(ctx.RequestAborted);
        var result = await friends.CreateAsync(p.MerchantId, p.Id, new CreateFriendPayLinkRequest(form["requester_name"], form["note"]), null, ctx.RequestAborted);
        return result.Status < 400
            ? Results.Redirect($"/pay/{token}/friend{(Lang.Of(ctx).En ? "?lang=en" : string.Empty)}")
            : Results.Content(result.Body, "application/problem+json", statusCode: result.Status);
    }

    private static async Task<IResult> RevokeFriendLinkAsync(HttpContext ctx, string token, string linkId, PaymentStore store, FriendPayService friends)
    {
        var p = await store.GetByCheckoutTokenAsync(token, ctx.RequestAborted);
        var links = p is null ? [] : await friends.ActiveOfPaymentAsync(p.Id, ctx.RequestAborted);
        if (p is null || links.All(k => k.Id != linkId))
        {
            return Results.NotFound(); // only this payment's own links
        }

        await friends.RevokeAsync(p.MerchantId, linkId, null, ctx.RequestAborted);
        return Results.Redirect($"/pay/{token}/friend");
    }
}
