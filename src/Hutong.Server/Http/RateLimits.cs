using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Http;

/// <summary>
/// Per-client-address limits on the public, unauthenticated pages: friend-pay links, the cashier, share-code
/// resolution (against guessing and abuse) and link redirects (a higher ceiling); and on the merchant API, per
/// address (before the key is checked, so made-up keys are throttled too) and per API key (<see cref="ApiKeyLimiter"/>).
/// A refused request gets 429, a Retry-After header and a problem body. Behind a proxy, list it in
/// Hutong:TrustedProxies so the address is the client's.
/// </summary>
public static class RateLimits
{
    public const string Public = "public";
    public const string Links = "links";
    public const string Api = "api";

    public static void Add(IServiceCollection services, HubOptions hub)
    {
        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.OnRejected = (context, _) => new ValueTask(Refuse(context.HttpContext, context.Lease, "Too many requests from this address.").ExecuteAsync(context.HttpContext));
            o.AddPolicy(Public, http => PerAddress(http, hub.PublicRateLimitPerMinute));
            o.AddPolicy(Links, http => PerAddress(http, hub.LinkRateLimitPerMinute));
            o.AddPolicy(Api, http => PerAddress(http, hub.ApiRateLimitPerAddressPerMinute));
        });
        services.AddSingleton<ApiKeyLimiter>();
    }

    /// <summary>The 429 answer: Retry-After from the limiter's window, and a problem body.</summary>
    public static ApiResult Refuse(HttpContext http, RateLimitLease lease, string title)
    {
        var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? Math.Max(1, (int)Math.Ceiling(after.TotalSeconds)) : 60;
        http.Response.Headers.RetryAfter = retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return ApiResult.Problem(429, "rate_limited", title, $"Try again in {retryAfter} s.");
    }

    private static RateLimitPartition<string> PerAddress(HttpContext http, int perMinute) =>
        perMinute <= 0
            ? RateLimitPartition.GetNoLimiter("unlimited")
            : RateLimitPartition.GetFixedWindowLimiter(ClientKey(http.Connection.RemoteIpAddress), _ => PerMinute(perMinute));

    /// <summary>
    /// The client an address counts as. IPv6 is counted per /64: a single host is usually given a whole /64 and could
    /// otherwise take a fresh budget for every address in it.
    /// </summary>
    internal static string ClientKey(IPAddress? address)
    {
        if (address is null)
        {
            return "unknown";
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes) + "/64";
    }

    internal static FixedWindowRateLimiterOptions PerMinute(int permits) => new()
    {
        PermitLimit = permits,
        Window = TimeSpan.FromMinutes(1),
        QueueLimit = 0,
    };
}

/// <summary>
/// Requests per minute per API key, taken after the key is authenticated (the rate limiting middleware runs before
/// endpoint filters, so it cannot know the key). Partitioned by key id: made-up keys never get a partition of their own.
/// </summary>
public sealed class ApiKeyLimiter(IOptions<HubOptions> options) : IDisposable
{
    private readonly PartitionedRateLimiter<string>? _limiter = options.Value.ApiRateLimitPerKeyPerMinute is var perMinute and > 0
        ? PartitionedRateLimiter.Create<string, string>(keyId => RateLimitPartition.GetFixedWindowLimiter(keyId, _ => RateLimits.PerMinute(perMinute)))
        : null;

    /// <summary>A lease for one request of <paramref name="keyId"/>, or null when the limit is off.</summary>
    public RateLimitLease? Acquire(string keyId) => _limiter?.AttemptAcquire(keyId);

    public void Dispose() => _limiter?.Dispose();
}
