using Hutong.Domain;
using Hutong.Domain.Links;
using Hutong.Server.Features.Checkout;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Http;
using Microsoft.Extensions.Options;
using static Hutong.Server.Features.Checkout.BuyerUi;

namespace Hutong.Server.Features.Links;

/// <summary>/v1/links and /v1/share_codes for merchants; /l/{code} (the redirect), /s (paste a share code) for everyone.</summary>
public static class LinkEndpoints
{
    public static void MapApi(RouteGroupBuilder v1)
    {
        var links = v1.MapGroup("/links").WithTags("Links");
        links.MapPost("/", async (HttpContext ctx, LinkService svc) =>
            {
                var (body, problem) = await RequestBody.ReadAsync<CreateLinkRequest>(ctx.Request);
                return problem ?? await svc.CreateLinkAsync(MerchantContext.Of(ctx).MerchantId, body!, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult();
            })
            .Accepts<CreateLinkRequest>("application/json").Produces<LinkDto>(201).ProducesProblem(400)
            .WithSummary("Create a cross-app link with per-app landing rules; short_url and a QR come back.");
        links.MapGet("/{id}", (HttpContext ctx, LinkService svc, LinkId id) => svc.GetLinkAsync(MerchantContext.Of(ctx).MerchantId, id.Value, ctx.RequestAborted).ToApiResult())
            .Produces<LinkDto>().ProducesProblem(404).WithSummary("Retrieve a link with its click counts per platform.");
        links.MapPost("/{id}/revoke", (HttpContext ctx, LinkService svc, LinkId id) =>
                svc.RevokeLinkAsync(MerchantContext.Of(ctx).MerchantId, id.Value, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult())
            .Produces<LinkDto>().ProducesProblem(404).WithSummary("Revoke a link: its short URL then shows that the link has expired.");

        var codes = v1.MapGroup("/share_codes").WithTags("Share codes");
        codes.MapPost("/", async (HttpContext ctx, LinkService svc) =>
            {
                var (body, problem) = await RequestBody.ReadAsync<CreateShareCodeRequest>(ctx.Request);
                return problem ?? await svc.CreateShareCodeAsync(MerchantContext.Of(ctx).MerchantId, body!, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult();
            })
            .Accepts<CreateShareCodeRequest>("application/json").Produces<ShareCodeDto>(201).ProducesProblem(400).ProducesProblem(404)
            .WithSummary("Create a share code (口令) and its share text; 30 days unless expires_in_seconds says otherwise.");
        codes.MapGet("/resolve", async (HttpContext ctx, LinkService svc, string? text) =>
            {
                var (outcome, resolution, _) = await svc.ResolveAsync(text, ctx.RequestAborted);
                return outcome switch
                {
                    LinkService.ResolveOutcome.Found => ApiResult.Ok(resolution),
                    LinkService.ResolveOutcome.Expired => ApiResult.Problem(410, "share_code_expired", "The share code has expired or was revoked."),
                    LinkService.ResolveOutcome.Unknown => ApiResult.Problem(404, "share_code_not_found", "No such share code."),
                    _ => ApiResult.Problem(404, "no_share_code", "The text holds no share code.", param: "text"),
                };
            })
            .Produces<ShareCodeResolution>().ProducesProblem(404).ProducesProblem(410)
            .WithSummary("Find the share code in pasted text (any delimiters, surrounding text) and return the product it opens.");
        codes.MapGet("/{id}", (HttpContext ctx, LinkService svc, ShareCodeId id) => svc.GetShareCodeAsync(MerchantContext.Of(ctx).MerchantId, id.Value, ctx.RequestAborted).ToApiResult())
            .Produces<ShareCodeDto>().ProducesProblem(404).WithSummary("Retrieve a share code.");
        codes.MapPost("/{id}/revoke", (HttpContext ctx, LinkService svc, ShareCodeId id) =>
                svc.RevokeShareCodeAsync(MerchantContext.Of(ctx).MerchantId, id.Value, IdempotencyContext.Of(ctx), ctx.RequestAborted).ToApiResult())
            .Produces<ShareCodeDto>().ProducesProblem(404).WithSummary("Revoke a share code.");
    }

    public static void MapPublic(IEndpointRouteBuilder app)
    {
        app.MapGet("/l/{code}", RedirectAsync).ExcludeFromDescription().RequireRateLimiting(RateLimits.Links);
        app.MapGet("/l/{code}/qr.png", async (string code, LinkService svc, TimeProvider time, CancellationToken ct) =>
                await svc.FindByCodeAsync(code, ct) is { } link && link.IsLive(time.GetUtcNow().ToUnixTimeMilliseconds())
                    ? Results.Bytes(QrPng(svc.ShortUrl(code)), "image/png")
                    : Results.NotFound())
            .ExcludeFromDescription().RequireRateLimiting(RateLimits.Links);
        var s = app.MapGroup("/s").ExcludeFromDescription().RequireRateLimiting(RateLimits.Public);
        s.MapGet("/", (HttpContext ctx) => Results.Content(PastePage(Lang.Of(ctx), null, null), "text/html; charset=utf-8"));
        s.MapPost("/", PasteAsync).DisableAntiforgery();
        app.MapGet("/.well-known/apple-app-site-association", (IOptions<HubOptions> o) => o.Value.Links.AppleAppIds.Count == 0
                ? Results.NotFound()
                : Results.Json(new { applinks = new { details = new[] { new { appIDs = o.Value.Links.AppleAppIds, components = new[] { new Dictionary<string, string> { ["/"] = "/l/*" } } } } } }))
            .ExcludeFromDescription();
        app.MapGet("/.well-known/assetlinks.json", (IOptions<HubOptions> o) => o.Value.Links.AndroidApps.Count == 0
                ? Results.NotFound()
                : Results.Json(o.Value.Links.AndroidApps.Select(a => a.Split('|')).Select(a => new
                {
                    relation = new[] { "delegate_permission/common.handle_all_urls" },
                    target = new { @namespace = "android_app", package_name = a[0], sha256_cert_fingerprints = a.Skip(1).ToArray() },
                })))
            .ExcludeFromDescription();
    }

    /// <summary>The hot path: memory lookup, a landing decision, an enqueued count, a 302.</summary>
    private static async Task<IResult> RedirectAsync(HttpContext ctx, string code, LinkService svc, ClickCounter clicks, TimeProvider time)
    {
        var link = await svc.FindByCodeAsync(code, ctx.RequestAborted);
        if (link is null)
        {
            var l = Lang.Of(ctx);
            return Results.Content(Message(l, l.T("链接不存在", "Link not found"), l.T("链接不存在", "Link not found"),
                l.T("请检查链接是否完整。", "Check that the link is complete."), $"/l/{code}"), "text/html; charset=utf-8", statusCode: 404);
        }

        if (!link.IsLive(time.GetUtcNow().ToUnixTimeMilliseconds()))
        {
            var l = Lang.Of(ctx);
            return Results.Content(Message(l, l.T("链接已失效", "Link expired"), l.T("链接已失效", "This link has expired"),
                l.T("分享者撤回了链接或链接已过期。", "The person who shared it withdrew it, or it has expired."), $"/l/{code}"), "text/html; charset=utf-8", statusCode: 410);
        }

        var (platform, app) = Landing.Classify(ctx.Request.Headers.UserAgent.ToString());
        var action = Landing.Decide(new LinkTargets(link.Url, link.IosUrl, link.AndroidPackage, link.AndroidUrl, link.DesktopUrl), platform, app);
        if (action is LandingAction.Redirect { Location: var location } && !LinkUrl.IsHeaderSafe(location))
        {
            // Links are normalised at creation; one stored before that (a Unicode host, CR/LF) is normalised here, and if
            // even that fails the click gets a page, not a 500, and is not counted: it went nowhere.
            if (LinkUrl.NormalizeWeb(location) is not { } fixedUp)
            {
                var l = Lang.Of(ctx);
                return Results.Content(Message(l, l.T("链接无效", "Link is broken"), l.T("链接无效", "This link is broken"),
                    l.T("链接的目标地址无效，请联系分享者。", "The address it points to is not valid; ask the person who shared it."), $"/l/{code}"),
                    "text/html; charset=utf-8", statusCode: 404);
            }

            action = new LandingAction.Redirect(fixedUp);
        }

        if (platform != LandingPlatform.Bot)
        {
            clicks.Count(link.Id, app ?? platform.ToString().ToLowerInvariant());
        }

        ctx.Response.Headers.CacheControl = "no-store"; // every click must reach us to be counted and routed
        if (action is not LandingAction.Redirect && ImageOrigin(link.ImageUrl) is { } images)
        {
            ctx.Response.Headers.ContentSecurityPolicy = SecurityHeaders.WithImagesFrom(images); // else the product image never loads
        }

        return action switch
        {
            LandingAction.Redirect r => Results.Redirect(r.Location),
            LandingAction.Interstitial i => Results.Content(Interstitial(Lang.Of(ctx), link, i), "text/html; charset=utf-8"),
            _ => Results.Content(Preview(link, svc.ShortUrl(link.Code)), "text/html; charset=utf-8"),
        };
    }

    /// <summary>The product image's origin for the page's policy, when it is an absolute https URL with a plain host.</summary>
    internal static string? ImageOrigin(string? imageUrl) =>
        Uri.TryCreate(imageUrl, UriKind.Absolute, out var u) && u.Scheme == Uri.UriSchemeHttps && u.HostNameType is UriHostNameType.Dns or UriHostNameType.IPv4
            ? u.GetLeftPart(UriPartial.Authority)
            : null;

    private static string Interstitial(Lang l, LinkRow link, LandingAction.Interstitial i)
    {
        var image = link.ImageUrl is null ? string.Empty : $"<img src=\"{E(link.ImageUrl)}\" alt=\"\" width=\"240\">";
        return Html(l, link.Title, $"""
            <main>
              {image}
              <h1 id="title">{E(link.Title)}</h1>
              {(link.Description is null ? string.Empty : $"<p class=\"desc\">{E(link.Description)}</p>")}
              <a class="button" id="open" href="{E(i.OpenUrl)}">{l.T("打开商品页", "Open the product page")}</a>
              <p class="hint">{l.T("可直接在当前 App 内打开，无需复制链接。", "Opens right here in this app — no copying needed.")}</p>
            </main>
            """, refresh: false, $"/l/{link.Code}");
    }

    /// <summary>For link unfurlers: an Open Graph card, and a plain link for anything that renders it.</summary>
    private static string Preview(LinkRow link, string shortUrl) => $"""
        <!doctype html><html><head><meta charset="utf-8"><title>{E(link.Title)}</title>
        <meta property="og:title" content="{E(link.Title)}">
        <meta property="og:url" content="{E(shortUrl)}">
        {(link.Description is null ? string.Empty : $"<meta property=\"og:description\" content=\"{E(link.Description)}\">")}
        {(link.ImageUrl is null ? string.Empty : $"<meta property=\"og:image\" content=\"{E(link.ImageUrl)}\">")}
        </head><body><a href="{E(link.Url)}">{E(link.Title)}</a></body></html>
        """;

    private static async Task<IResult> PasteAsync(HttpContext ctx, LinkService svc)
    {
        var l = Lang.Of(ctx);
        var text = ctx.Request.HasFormContentType ? (await ctx.Request.ReadFormAsync(ctx.RequestAborted))["text"].ToString() : string.Empty;
        var (outcome, _, link) = await svc.ResolveAsync(text, ctx.RequestAborted);
        return outcome switch
        {
            LinkService.ResolveOutcome.Found => Results.Redirect($"/l/{link!.Code}"),
            LinkService.ResolveOutcome.Expired => Results.Content(PastePage(l, text, l.T("这个口令已过期或被撤回。", "This share code has expired or was withdrawn.")), "text/html; charset=utf-8", statusCode: 410),
            LinkService.ResolveOutcome.Unknown => Results.Content(PastePage(l, text, l.T("没有找到这个口令。", "No product has this share code.")), "text/html; charset=utf-8", statusCode: 404),
            _ => Results.Content(PastePage(l, text, l.T("文字里没有口令，请粘贴完整的分享内容。", "There is no share code in this text; paste the whole message.")), "text/html; charset=utf-8", statusCode: 422),
        };
    }

    private static string PastePage(Lang l, string? text, string? error) => Html(l, l.T("打开口令", "Open a share code"), $"""
        <main>
          <h1>{l.T("打开口令", "Open a share code")}</h1>
          {(error is null ? string.Empty : $"<p class=\"status bad\" role=\"alert\" id=\"error\">{E(error)}</p>")}
          <form method="post" action="/s">
            <label for="text">{l.T("粘贴好友分享的整段文字", "Paste the whole message your friend shared")}</label>
            <textarea id="text" name="text" rows="5" maxlength="4096" required>{E(text)}</textarea>
            <button type="submit" class="button" id="resolve">{l.T("打开", "Open")}</button>
          </form>
        </main>
        """, refresh: false, "/s");
}
