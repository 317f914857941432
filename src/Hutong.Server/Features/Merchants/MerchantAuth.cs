using System.Security.Cryptography;
using System.Text;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Http;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Merchants;

/// <summary>The calling merchant, resolved from its API key. Every lookup is scoped by <see cref="MerchantId"/>.</summary>
public sealed record MerchantContext(string MerchantId)
{
    private const string ItemKey = "hutong.merchant";

    public static MerchantContext Of(HttpContext ctx) =>
        ctx.Items[ItemKey] as MerchantContext ?? throw new InvalidOperationException("Endpoint is missing the merchant API key filter.");

    public static MerchantContext? Find(HttpContext ctx) => ctx.Items[ItemKey] as MerchantContext;

    internal void Attach(HttpContext ctx) => ctx.Items[ItemKey] = this;
}

/// <summary>
/// Bearer API key → merchant. Missing, malformed, unknown and revoked keys all get the same 401; a known key past its
/// per-key rate limit gets 429.
/// </summary>
public sealed class ApiKeyFilter(MerchantStore merchants, ApiKeyLimiter limiter) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var header = http.Request.Headers.Authorization.ToString();
        var key = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim() : null;
        var authenticated = key is null ? null : await merchants.AuthenticateKeyAsync(key, http.RequestAborted);
        if (authenticated is null)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer realm=\"hutong\"";
            return ApiResult.Problem(401, "unauthorized", "A valid API key is required.", "Send 'Authorization: Bearer sk_…'.");
        }

        using var lease = limiter.Acquire(authenticated.KeyId);
        if (lease is { IsAcquired: false })
        {
            return RateLimits.Refuse(http, lease, "Too many requests for this API key.");
        }

        new MerchantContext(authenticated.MerchantId).Attach(http);
        IdempotencyScope.Set(http, authenticated.MerchantId);
        return await next(context);
    }
}

/// <summary>Operator endpoints take the configured admin token; with none configured they are closed.</summary>
public sealed class AdminTokenFilter(IOptions<HubOptions> options) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        Accepts(context.HttpContext, options.Value.AdminToken) ? await next(context) : Refuse(context.HttpContext);

    /// <summary>Whether the request carries the configured admin token (never, when none is configured).</summary>
    internal static bool Accepts(HttpContext http, string? expected)
    {
        var header = http.Request.Headers.Authorization.ToString();
        var presented = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim() : string.Empty;
        return !string.IsNullOrEmpty(expected)
            && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(expected)));
    }

    internal static ApiResult Refuse(HttpContext http)
    {
        http.Response.Headers.WWWAuthenticate = "Bearer realm=\"hutong-admin\"";
        return ApiResult.Problem(401, "unauthorized", "The admin token is required.");
    }

    /// <summary>
    /// The same check for every request under /admin before its endpoint runs: routing's 405, a body's 415 or 400 and a
    /// 404 would otherwise answer before the filter, and tell a caller without the token which admin routes exist.
    /// </summary>
    internal static void UseGate(WebApplication app) =>
        app.UseWhen(ctx => ctx.Request.Path.StartsWithSegments("/admin", StringComparison.OrdinalIgnoreCase), b => b.Use(async (ctx, next) =>
        {
            if (Accepts(ctx, ctx.RequestServices.GetRequiredService<IOptions<HubOptions>>().Value.AdminToken))
            {
                await next(ctx);
                return;
            }

            await Refuse(ctx).ExecuteAsync(ctx);
        }));
}
