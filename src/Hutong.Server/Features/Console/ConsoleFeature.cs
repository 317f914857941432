using System.Security.Claims;
using Hutong.Server.Http;
using Microsoft.AspNetCore.Mvc.ApplicationParts;
using Microsoft.AspNetCore.Mvc.Filters;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Hutong.Server.Features.Console;

/// <summary>
/// The console for merchants and operators at /console: Razor Pages (server-rendered, compiled with the hub; no
/// front-end build chain), their stylesheet served by the hub, users with roles, server-side sessions and an audit log.
/// A new page is a .cshtml + <see cref="ConsolePageModel"/> under Features/Console/Pages with an absolute
/// <c>@page "/console/…"</c> route and a <see cref="RequiresAttribute"/>; the layout's navigation lists it (ConsoleNav).
/// </summary>
public static class ConsoleFeature
{
    public const string CookieName = "hutong_console";

    public static IServiceCollection AddConsole(this IServiceCollection s)
    {
        s.AddSingleton<ConsoleStore>();
        s.AddSingleton<ConsoleAccounts>();
        s.AddSingleton<ConsolePaymentQueries>();
        s.AddSingleton<ConsoleOpsQueries>();
        ConsoleKeyRing.AddConsoleKeyRing(s); // the antiforgery tokens and any protected cookie: one key ring for every instance
        s.AddRazorPages(o =>
        {
            o.RootDirectory = "/Features/Console/Pages";
            o.Conventions.ConfigureFilter(new ConsolePageFilter());
        }).ConfigureApplicationPartManager(parts =>
        {
            // The pages are compiled into this assembly; the host may be another one (the demo, the CLI, the tests).
            var server = typeof(ConsoleFeature).Assembly;
            if (!parts.ApplicationParts.OfType<AssemblyPart>().Any(p => p.Assembly == server))
            {
                foreach (var part in ApplicationPartFactory.GetApplicationPartFactory(server).GetApplicationParts(server))
                {
                    parts.ApplicationParts.Add(part);
                }
            }
        });
        s.AddAntiforgery(o =>
        {
            // Every console form carries the token (the form tag helper adds it); Razor Pages refuse a POST without it (400).
            o.FormFieldName = "__csrf";
            o.HeaderName = null;
            o.Cookie.Name = "hutong_console_csrf";
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.SuppressXFrameOptionsHeader = true; // SecurityHeaders sends DENY
        });
        return s;
    }

    public static HubRoutes MapConsole(this HubRoutes routes)
    {
        var app = routes.App;
        app.MapGet(ConsoleAssets.CssPath, (HttpContext ctx) =>
        {
            ctx.Response.Headers.CacheControl = "public, max-age=31536000, immutable";
            return Results.Text(ConsoleAssets.Css, "text/css; charset=utf-8");
        }).ExcludeFromDescription();
        app.MapGet("/console", () => Results.Redirect("/console/payments")).ExcludeFromDescription();
        app.MapRazorPages();
        return routes;
    }

    /// <summary>Reads the session cookie of every /console request (before its page runs): see <see cref="ConsoleSessionMiddleware"/>.</summary>
    public static WebApplication UseConsoleSessions(this WebApplication app)
    {
        app.UseWhen(ctx => ctx.Request.Path.StartsWithSegments("/console", StringComparison.OrdinalIgnoreCase),
            b => b.UseMiddleware<ConsoleSessionMiddleware>());
        return app;
    }

    /// <summary>
    /// The cookie is Secure whenever the request came over HTTPS (directly or from a trusted proxy); plain HTTP is only
    /// signed in from a loopback address (development, tests), as the sign-in page refuses otherwise.
    /// </summary>
    public static CookieOptions SessionCookie(HttpContext ctx, TimeSpan? maxAge) => new()
    {
        HttpOnly = true,
        Secure = ctx.Request.IsHttps,
        SameSite = SameSiteMode.Strict,
        Path = "/console",
        MaxAge = maxAge,
        IsEssential = true,
    };

    public static bool TransportAllowed(HttpContext ctx) =>
        ctx.Request.IsHttps || (ctx.Connection.RemoteIpAddress is { } ip && System.Net.IPAddress.IsLoopback(ip));
}

/// <summary>
/// Looks the session cookie up in the store on every console request, so a session ended elsewhere (sign-out, a user
/// locked or removed, expiry) is refused on its very next request, on any hub instance.
/// </summary>
public sealed class ConsoleSessionMiddleware(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext ctx, ConsoleAccounts accounts)
    {
        if (ctx.Request.Cookies[ConsoleFeature.CookieName] is { Length: > 0 and < 100 } token
            && await accounts.SessionAsync(token, ctx.RequestAborted) is { } session
            && ConsolePermissions.Parse(session.Role) is { } role)
        {
            ConsoleIdentity.Attach(ctx, new ConsoleIdentity(session, role));

            // Antiforgery binds the tokens it issues to the request's user and refuses them for anyone else. Without a user
            // every token was anonymous, so a pair (cookie and form token) from any visitor passed for a signed-in owner:
            // a sibling subdomain, which SameSite does not stop, could plant its cookie and post. The claim is this
            // session (its token's hash), so even another session of the same user has tokens of its own.
            ctx.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim("sub", "console-session:" + session.TokenHash)], "HutongConsoleSession"));
        }

        ctx.Response.Headers.CacheControl = "no-store"; // console pages show merchants' data: never kept by a shared cache
        await next(ctx);
    }
}

/// <summary>The signed-in console user of this request.</summary>
public sealed record ConsoleIdentity(ConsoleSessionRow Session, ConsoleRole Role)
{
    private const string ItemKey = "hutong.console.identity";

    public static ConsoleIdentity? Of(HttpContext ctx) => ctx.Items[ItemKey] as ConsoleIdentity;

    internal static void Attach(HttpContext ctx, ConsoleIdentity identity) => ctx.Items[ItemKey] = identity;

    /// <summary>Only the code step of a sign-in is done: nothing but the code page is open to it.</summary>
    public bool NeedsCode => Session.Stage != "active";

    public bool Can(ConsolePermission p) => !NeedsCode && ConsolePermissions.Allows(Role, p);

    /// <summary>The merchant whose data this user sees, or null for every merchant (operators).</summary>
    public string? Scope => Can(ConsolePermission.AllMerchants) ? null : Session.MerchantId;
}

/// <summary>
/// The rule of every console page: a page without <see cref="AnonymousConsolePageAttribute"/> needs a signed-in user,
/// and the permissions named by <see cref="RequiresAttribute"/> on the page class and on the handler method about to
/// run; otherwise 403, before the handler runs. (The antiforgery check of Razor Pages runs before this, on every POST.)
/// </summary>
internal sealed class ConsolePageFilter : IAsyncPageFilter
{
    public Task OnPageHandlerSelectionAsync(PageHandlerSelectedContext context) => Task.CompletedTask;

    public async Task OnPageHandlerExecutionAsync(PageHandlerExecutingContext context, PageHandlerExecutionDelegate next)
    {
        // A NUL (U+0000) in any field of a posted form — a multipart form carries one through, and the sign-in page is
        // anonymous — is refused before any handler runs: PostgreSQL's text cannot hold it, so it would be a 500 there.
        if (context.HttpContext.Request.HasFormContentType
            && NulField(await context.HttpContext.Request.ReadFormAsync(context.HttpContext.RequestAborted)) is { } field)
        {
            context.Result = ConsolePageModel.BadForm(context.HttpContext, field);
            return;
        }

        var pageType = context.HandlerInstance.GetType();
        if (pageType.IsDefined(typeof(AnonymousConsolePageAttribute), inherit: false))
        {
            await next();
            return;
        }

        var http = context.HttpContext;
        var me = ConsoleIdentity.Of(http);
        if (me is null || me.NeedsCode)
        {
            var back = http.Request.Path + http.Request.QueryString;
            context.Result = new Microsoft.AspNetCore.Mvc.RedirectResult("/console/sign-in?returnUrl=" + Uri.EscapeDataString(HttpMethods.IsGet(http.Request.Method) ? back : "/console"));
            return;
        }

        var required = pageType.GetCustomAttributes(typeof(RequiresAttribute), inherit: true)
            .Concat(context.HandlerMethod?.MethodInfo.GetCustomAttributes(typeof(RequiresAttribute), inherit: true) ?? [])
            .Cast<RequiresAttribute>();
        if (required.FirstOrDefault(r => !me.Can(r.Permission)) is not null)
        {
            context.Result = ConsolePageModel.Forbidden(http);
            return;
        }

        await next();
    }

    /// <summary>The name of the first form field whose name or value holds a NUL, or null.</summary>
    internal static string? NulField(IFormCollection form) =>
        form.FirstOrDefault(f => f.Key.Contains('\0', StringComparison.Ordinal) || f.Value.Any(v => v?.Contains('\0', StringComparison.Ordinal) == true)) is { Key: { } key }
            ? key.Replace("\0", "\\0", StringComparison.Ordinal)
            : null;
}
