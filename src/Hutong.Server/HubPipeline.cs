using Hutong.Server.Features;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Health;
using Hutong.Server.Http;
using Hutong.Server.Storage;
using Microsoft.AspNetCore.Diagnostics;
using Scalar.AspNetCore;

namespace Hutong.Server;

/// <summary>The hub's middleware, in order, and the route groups features map onto (with the API reference).</summary>
internal static class HubPipeline
{
    /// <summary>The middleware every request passes, in this order.</summary>
    public static WebApplication UseHubPipeline(this WebApplication app, HubOptions hub)
    {
        // First, so the rate limits and logs see the client's address; only from the configured proxies.
        if (TrustedProxies.Options(hub.TrustedProxies) is { } forwarded)
        {
            app.UseForwardedHeaders(forwarded);
        }

        app.UseSecurityHeaders();
        GracefulShutdown.Use(app);
        // A body over Kestrel's cap (or a malformed request) surfaces as BadHttpRequestException: answer its status
        // (413, 400) as a problem, not a 500. A store that is down or restarting is a 503 the client may retry.
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            StatusCodeSelector = e => e is BadHttpRequestException bad ? bad.StatusCode
                : Db.IsUnavailable(e) ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status500InternalServerError,
            // An outage of the store is expected (a restart, a fail-over) and says nothing new per request: one warning
            // line each (Problems.Customize), not an error with a stack trace for every request that met it. A client's
            // own mistake (a body over the cap, a malformed request) is its 4xx problem, not the hub's failure: Kestrel
            // already logs it at debug level.
            SuppressDiagnosticsCallback = c => Db.IsUnavailable(c.Exception) || c.Exception is BadHttpRequestException,
        });
        app.UseStatusCodePages();
        app.UseRateLimiter();
        AdminTokenFilter.UseGate(app);
        return app;
    }

    /// <summary>The OpenAPI document and reference, the wallets' CSS, and the /v1 and /admin groups with their filters.</summary>
    public static HubRoutes MapHubRoutes(this WebApplication app)
    {
        app.MapOpenApi();
        app.MapScalarApiReference(o => o.DisableDefaultFonts()); // its fonts come from fonts.scalar.com: offline hubs and the CSP want none

        WalletCatalog.MapCss(app);
        return new HubRoutes(
            app,
            Api: app.MapGroup("/v1")
                .WithMetadata(RequestBody.SizeLimit)
                .RequireRateLimiting(RateLimits.Api)
                .AddEndpointFilter<ApiKeyFilter>()
                .AddEndpointFilter<IdempotencyFilter>()
                .NotFoundForMalformedIds()
                .ProblemsForBadQueryParameters(),
            Admin: app.MapGroup("/admin").WithMetadata(RequestBody.SizeLimit).AddEndpointFilter<AdminTokenFilter>().AddEndpointFilter<IdempotencyFilter>()
                .NotFoundForMalformedIds().ProblemsForBadQueryParameters());
    }
}
