using System.Threading.RateLimiting;

namespace Hutong.Server.Http;

/// <summary>
/// Per-client-address limits on the public, unauthenticated pages: friend-pay links, the cashier, share-code
/// resolution (against guessing and abuse) and link redirects (a higher ceiling). A refused request gets 429, a
/// Retry-After header and a problem body. Behind a proxy, enable forwarded headers so the address is the client's.
/// </summary>
public static class RateLimits
{
    public const string Public = "public";
    public const string Links = "links";

    public static void Add(IServiceCollection services, HubOptions hub) => services.AddRateLimiter(o =>
    {
        o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
        o.OnRejected = async (context, ct) =>
        {
            var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? (int)Math.Ceiling(after.TotalSeconds) : 60;
            context.HttpContext.Response.Headers.RetryAfter = retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await ApiResult.Problem(429, "rate_limited", "Too many requests from this address.", $"Try again in {retryAfter} s.")
                .ExecuteAsync(context.HttpContext);
        };
        o.AddPolicy(Public, http => PerAddress(http, hub.PublicRateLimitPerMinute));
        o.AddPolicy(Links, http => PerAddress(http, hub.LinkRateLimitPerMinute));
    });

    private static RateLimitPartition<string> PerAddress(HttpContext http, int perMinute) =>
        perMinute <= 0
            ? RateLimitPartition.GetNoLimiter("unlimited")
            : RateLimitPartition.GetFixedWindowLimiter(http.Connection.RemoteIpAddress?.ToString() ?? "unknown", _ => new FixedWindowRateLimiterOptions
            {
                PermitLimit = perMinute,
                Window = TimeSpan.FromMinutes(1),
                QueueLimit = 0,
            });
}
