using Hutong.Domain;
using Hutong.Domain.Payments;
using Hutong.Server.Features.Checkout;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Features.Payments;
using Hutong.Server.Http;
using Microsoft.Extensions.Options;
using static Hutong.Server.Features.Checkout.BuyerUi;

namespace Hutong.Server.Features.FriendPay;

/// <summary>The merchant API for friend-pay links, and the friend's page at /f/{token}.</summary>
public static class FriendPayEndpoints
{
    public static void MapApi(RouteGroupBuilder v1)
    {
        var g = v1; // tagged per endpoint: tags on the shared /v1 group would apply to every endpoint
        g.MapPost("/payments/{id}/friend_pay_links", async (HttpContext ctx, FriendPayService svc, PaymentId id) =>
            {
                var (body, problem) = await RequestBody.ReadAsync<CreateFriendPayLinkRequest>(ctx.Request);
                if (problem is not null)
                {
                    return problem;
                }

                return await svc.CreateAsync(MerchantContext.Of(ctx).MerchantId, id.Value, body!, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult();
            })
            .Accepts<CreateFriendPayLinkRequest>("application/json")
            .Produces<FriendPayLinkDto>(201).ProducesProblem(400).ProducesProblem(404).ProducesProblem(409)
            .WithSummary("Create an ask-a-friend-to-pay (代付) link for an unpaid payment.").WithTags("Friend pay links");
        g.MapGet("/payments/{id}/friend_pay_links", (HttpContext ctx, FriendPayService svc, PaymentId id) =>
                svc.ListAsync(MerchantContext.Of(ctx).MerchantId, id.Value, ctx.RequestAborted).ToApiResult())
            .WithSummary("List a payment's friend-pay links.").WithTags("Friend pay links");
        g.MapPost("/friend_pay_links/{id}/revoke", (HttpContext ctx, FriendPayService svc, FriendPayLinkId id) =>
                svc.RevokeAsync(MerchantContext.Of(ctx).MerchantId, id.Value, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult())
            .Produces<FriendPayLinkDto>().ProducesProblem(404)
            .WithSummary("Revoke a friend-pay link; the friend then sees that it is no longer valid.").WithTags("Friend pay links");
    }

    /// <summary>The friend's page at /f/{token}, and the buyer's share page at /pay/{token}/friend beside the cashier.</summary>
    public static void MapPages(IEndpointRouteBuilder app)
    {
        var share = app.MapGroup("/pay/{token}").ExcludeFromDescription().RequireRateLimiting(RateLimits.Public);
        share.MapGet("/friend", FriendPageAsync);
        share.MapPost("/friend", CreateFriendLinkAsync).DisableAntiforgery();
        share.MapPost("/friend/{linkId}/revoke", RevokeFriendLinkAsync).DisableAntiforgery();

        var g = app.MapGroup("/f/{token}").ExcludeFromDescription().RequireRateLimiting(RateLimits.Public);
        g.MapGet("/", PageAsync);
        g.MapPost("/{wallet}", PayAsync).DisableAntiforgery();
        g.MapGet("/status", StatusAsync);
        g.MapGet("/qr.png", QrAsync);
        g.MapGet("/inapp/params", async (HttpContext ctx, string token, FriendPayService svc, PaymentStore store, WalletRegistry wallets, TimeProvider time) =>
            await svc.GetByTokenAsync(token, ctx.RequestAborted) is { Status: "active" } link && await store.GetByIdAsync(link.PaymentId, ctx.RequestAborted) is { } p
                ? await InAppPay.ParamsAsync(ctx, p, store, wallets, time, anyoneOwnsUnclaimed: false)
                : Results.NotFound());
        g.MapGet("/link.png", async (string token, FriendPayService svc, CancellationToken ct) =>
            await svc.GetByTokenAsync(token, ct) is { Status: "active" } ? Results.Bytes(QrPng(svc.Url(token)), "image/png") : Results.NotFound());
    }

    /// <summary>A link the friend may use, with its payment; or the page that says why not.</summary>
    private static async Task<(FriendPayLinkRow? Link, PaymentRow? Payment, IResult? Refusal)> OpenAsync(
        HttpContext ctx, string token, FriendPayService svc, PaymentStore store, TimeProvider time)
    {
        var l = Lang.Of(ctx);
        var path = $"/f/{token}";
        var link = await svc.GetByTokenAsync(token, ctx.RequestAborted);
        var payment = link is null ? null : await store.GetByIdAsync(link.PaymentId, ctx.RequestAborted);
        if (link is null || payment is null)
        {
            return (null, null, Results.Content(Message(l, l.T("链接无效", "Link not found"), l.T("找不到这个代付链接", "This pay-for-me link does not exist"),
                l.T("请向好友确认链接是否完整。", "Check with your friend that the link is complete."), path), "text/html; charset=utf-8", statusCode: 404));
        }

        var expired = payment.State is PaymentStatus.Expired or PaymentStatus.Canceled
            || (payment.State is not PaymentStatus.Succeeded and not PaymentStatus.Unknown && payment.ExpiresAt <= time.GetUtcNow().ToUnixTimeMilliseconds());
        if (link.Status != "active" || expired)
        {
            var heading = link.Status != "active" ? l.T("代付链接已被撤回", "This pay-for-me link was withdrawn") : l.T("代付链接已过期", "This pay-for-me link has expired");
            return (link, payment, Results.Content(Message(l, heading, heading,
                l.T("无需付款。如仍需帮忙，请让好友重新发送链接。", "There is nothing to pay. If your friend still needs help, ask them for a new link."), path),
                "text/html; charset=utf-8", statusCode: 410));
        }

        return (link, payment, null);
    }

    private static async Task<IResult> PageAsync(
        HttpContext ctx, string token, FriendPayService svc, PaymentStore store, MerchantStore merchants, WalletRegistry wallets,
        Rollout.RolloutService rollout, IOptions<HubOptions> options, TimeProvider time)
    {
        var ct = ctx.RequestAborted;
        var (link, p, refusal) = await OpenAsync(ctx, token, svc, store, time);
        if (refusal is not null || p is null)
        {
            return refusal ?? Results.NotFound();
        }

        var l = Lang.Of(ctx);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        // The browser's payer session exists from the page on, so the click that claims the payment carries it even if the
        // page reloads itself before the click's answer (and its Set-Cookie) arrives.
        PayerSession.Of(ctx);
        var view = await PayerView.ForAsync(ctx, p, store, now, anyoneOwnsUnclaimed: false);
        var merchant = await merchants.GetAsync(p.MerchantId, ct);
        var (statusText, css) = StatusLine(l, p, view.Mine, view.ClaimedByOther, friendPage: true);
        var secondsLeft = Math.Max(0, (p.ExpiresAt - now) / 1000);
        var path = $"/f/{token}";
        var error = ErrorText(l, ctx.Request.Query["e"], friendPage: true);

        // Inside a wallet's app that pays in place, the friend is identified first (the wallet's OAuth), and sees no QR.
        var open = p.State is PaymentStatus.Created or PaymentStatus.Pending or PaymentStatus.Failed && !view.ClaimedByOther;
        if (open && await InAppPay.AuthorizeIfNeededAsync(ctx, wallets, await CheckoutEndpoints.OfferedAsync(p, wallets, rollout, ct), path) is { } signIn)
        {
            return signIn;
        }

        string body;
        if (p.State == PaymentStatus.Pending && view.Mine && p.CodeUrl is not null && InAppPay.Panel(ctx, l, p, path) is { } panel)
        {
            body = panel + WalletButtons(l, await CheckoutEndpoints.OfferedAsync(p, wallets, rollout, ct), path, p.Wallet, asSwitch: true) + Countdown(l, secondsLeft);
        }
        else if (p.State == PaymentStatus.Pending && view.Mine && p.CodeUrl is not null)
        {
            var offered = await CheckoutEndpoints.OfferedAsync(p, wallets, rollout, ct);
            body = PayPanel(l, p, path + "/qr.png", IsMobile(ctx), options.Value.Sandbox.Enabled ? options.Value.Sandbox.Url : null)
                + WalletButtons(l, offered, path, p.Wallet, asSwitch: true) + Countdown(l, secondsLeft);
        }
        else if (p.State is PaymentStatus.Succeeded or PaymentStatus.Unknown || (p.State == PaymentStatus.Pending && view.Mine))
        {
            body = string.Empty;
        }
        else if (view.ClaimedByOther)
        {
            body = $"<p class=\"hint\">{l.T("如对方未完成支付，你可在此时间后付款：", "If they do not finish, you can pay after: ")}<span id=\"countdown\" data-seconds=\"{view.ClaimSecondsLeft}\">{view.ClaimSecondsLeft / 60}:{view.ClaimSecondsLeft % 60:00}</span></p>";
        }
        else
        {
            var offered = await CheckoutEndpoints.OfferedAsync(p, wallets, rollout, ct);
            body = WalletButtons(l, offered, path, null, asSwitch: false) + Countdown(l, secondsLeft);
        }

        var note = string.IsNullOrEmpty(link!.Note) ? string.Empty : $"<p class=\"note\">“{Typed(l, link.Note)}”</p>";
        var html = $"""
            <main>
              <p class="asker" id="asker"><strong>{Typed(l, link.RequesterName)}</strong> {l.T("请你帮忙付款", "asked you to pay for this")}</p>
              {note}
              <p class="merchant">{E(merchant?.Name)}</p>
              <h1 class="amount" id="amount">{E(p.Money.ToDisplayString())}</h1>
              {Item(l, p.Description, "item")}
              {(error is null ? string.Empty : $"<p class=\"status bad\" role=\"alert\" id=\"error\">{E(error)}</p>")}
              <p id="status" class="status {css}" role="status" aria-live="polite" data-status="{E(p.Status)}" data-view="{E(View(p, view.Mine, view.ClaimedByOther))}">{E(statusText)}</p>
              {body}
            </main>
            {LiveScript(path + "/status")}
            """;
        return Results.Content(Html(l, $"{p.Money.ToDisplayString()} · {link.RequesterName}", html, refresh: !p.State.IsTerminal(), path), "text/html; charset=utf-8");
    }

    private static async Task<IResult> PayAsync(
        HttpContext ctx, string token, string wallet, FriendPayService svc, PaymentStore store, PaymentService payments, WalletRegistry wallets, TimeProvider time)
    {
        var (link, p, refusal) = await OpenAsync(ctx, token, svc, store, time);
        if (refusal is not null)
        {
            return refusal;
        }

        if (PayerSession.Existing(ctx) is not { } session)
        {
            return WithoutPayerSession(ctx, $"/f/{token}");
        }

        var payer = await InAppPay.PayerAsync(ctx, new PayerContext("friend", session, link!.Id), wallet, wallets, $"/f/{token}");
        var result = await payments.ConfirmAsync(p!, wallet, ctx.RequestAborted, payer);
        return BackAfterConfirm(ctx, $"/f/{token}", result);
    }

    private static async Task<IResult> StatusAsync(HttpContext ctx, string token, FriendPayService svc, PaymentStore store, TimeProvider time)
    {
        var link = await svc.GetByTokenAsync(token, ctx.RequestAborted);
        var p = link is null ? null : await store.GetByIdAsync(link.PaymentId, ctx.RequestAborted);
        if (p is null)
        {
            return Results.NotFound();
        }

        if (link!.Status != "active")
        {
            // A withdrawn link no longer follows the payment (whether and when the buyer paid is not the friend's to watch);
            // the changed view makes an open page reload into "withdrawn".
            return Results.Json(new { link = link.Status, view = "withdrawn" });
        }

        var view = await PayerView.ForAsync(ctx, p, store, time.GetUtcNow().ToUnixTimeMilliseconds(), anyoneOwnsUnclaimed: false);
        return Results.Json(new { status = p.Status, link = link.Status, view = View(p, view.Mine, view.ClaimedByOther) });
    }

    /// <summary>The wallet QR, only for the friend whose attempt it is.</summary>
    private static async Task<IResult> QrAsync(HttpContext ctx, string token, FriendPayService svc, PaymentStore store)
    {
        var link = await svc.GetByTokenAsync(token, ctx.RequestAborted);
        var p = link is { Status: "active" } ? await store.GetByIdAsync(link.PaymentId, ctx.RequestAborted) : null;
        if (p is not { State: PaymentStatus.Pending, CodeUrl: { } codeUrl, CurrentAttemptId: not null })
        {
            return Results.NotFound();
        }

        var current = await store.CurrentAttemptAsync(p, ctx.RequestAborted);
        var session = PayerSession.Existing(ctx);
        return session is not null && current?.PayerClaim == session ? Results.Bytes(QrPng(codeUrl), "image/png") : Results.NotFound();
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
        var result = (await friends.CreateAsync(p.MerchantId, p.Id, new CreateFriendPayLinkRequest(form["requester_name"], form["note"]), null, ctx.RequestAborted)).ToApiResult();
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
