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
        g.MapPost("/payments/{id}/friend_pay_links", async (HttpContext ctx, FriendPayService svc, string id) =>
            {
                var (body, problem) = await RequestBody.ReadAsync<CreateFriendPayLinkRequest>(ctx.Request);
                if (problem is not null)
                {
                    return problem;
                }

                return Ids.HasPrefix(id, Ids.Payment)
                    ? await svc.CreateAsync(MerchantContext.Of(ctx).MerchantId, id, body!, IdempotencyContext.Of(ctx), ctx.RequestAborted)
                    : Problems.NotFound("payment");
            })
            .Accepts<CreateFriendPayLinkRequest>("application/json")
            .Produces<FriendPayLinkDto>(201).ProducesProblem(400).ProducesProblem(404).ProducesProblem(409)
            .WithSummary("Create an ask-a-friend-to-pay (代付) link for an unpaid payment.").WithTags("Friend pay links");
        g.MapGet("/payments/{id}/friend_pay_links", (HttpContext ctx, FriendPayService svc, string id) =>
                Ids.HasPrefix(id, Ids.Payment) ? svc.ListAsync(MerchantContext.Of(ctx).MerchantId, id, ctx.RequestAborted) : Task.FromResult(Problems.NotFound("payment")))
            .WithSummary("List a payment's friend-pay links.").WithTags("Friend pay links");
        g.MapPost("/friend_pay_links/{id}/revoke", (HttpContext ctx, FriendPayService svc, string id) =>
                Ids.HasPrefix(id, FriendPayService.IdPrefix)
                    ? svc.RevokeAsync(MerchantContext.Of(ctx).MerchantId, id, IdempotencyContext.Of(ctx), ctx.RequestAborted)
                    : Task.FromResult(Problems.NotFound("friend_pay_link")))
            .Produces<FriendPayLinkDto>().ProducesProblem(404)
            .WithSummary("Revoke a friend-pay link; the friend then sees that it is no longer valid.").WithTags("Friend pay links");
    }

    public static void MapPages(IEndpointRouteBuilder app)
    {
        var g = app.MapGroup("/f/{token}").ExcludeFromDescription().RequireRateLimiting(RateLimits.Public);
        g.MapGet("/", PageAsync);
        g.MapPost("/{wallet}", PayAsync).DisableAntiforgery();
        g.MapGet("/status", StatusAsync);
        g.MapGet("/qr.png", QrAsync);
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

        string body;
        if (p.State == PaymentStatus.Pending && view.Mine && p.CodeUrl is not null)
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

    private static async Task<IResult> PayAsync(HttpContext ctx, string token, string wallet, FriendPayService svc, PaymentStore store, PaymentService payments, TimeProvider time)
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

        var result = await payments.ConfirmAsync(p!, wallet, ctx.RequestAborted, new PayerContext("friend", session, link!.Id));
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

        var view = await PayerView.ForAsync(ctx, p, store, time.GetUtcNow().ToUnixTimeMilliseconds(), anyoneOwnsUnclaimed: false);
        return Results.Json(new { status = p.Status, link = link!.Status, view = View(p, view.Mine, view.ClaimedByOther) });
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
}
