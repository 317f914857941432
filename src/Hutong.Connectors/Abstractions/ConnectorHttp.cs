using Microsoft.Extensions.DependencyInjection;
using Polly;
using Polly.CircuitBreaker;
using Polly.Timeout;
using Microsoft.Extensions.Http.Resilience;

namespace Hutong.Connectors.Abstractions;

/// <summary>
/// The named HttpClient each wallet's channels share: per-attempt and total timeouts and a retry. Its circuit breaker
/// is switched off: it would be shared by every account of a wallet, so one failing account (or one merchant's bad
/// requests) would cut off all the others, and it would also block the re-queries that settle UNKNOWN payments.
/// Channel health is tracked per channel by the hub's routing (with failover) instead.
/// </summary>
public static class ConnectorHttp
{
    /// <summary>
    /// True for the exceptions that mean "the wallet did not answer" (connection failure, attempt or total timeout,
    /// open circuit): the outcome is unknown and is settled by re-query, never treated as a failure.
    /// </summary>
    public static bool IsNoAnswer(Exception e) =>
        e is HttpRequestException or TaskCanceledException or TimeoutRejectedException or TimeoutException or BrokenCircuitException;

    /// <summary>Set on a POST that only reads (an Alipay *.query, a UnionPay queryTrans): it is retried like a GET.</summary>
    public static readonly HttpRequestOptionsKey<bool> ReadOnlyCall = new("hutong.read-only");

    /// <summary>Marks <paramref name="request"/> as a read sent by POST (gateways that take every call as a form POST).</summary>
    public static HttpRequestMessage AsRead(this HttpRequestMessage request, bool read = true)
    {
        request.Options.Set(ReadOnlyCall, read);
        return request;
    }

    private static bool IsRead(HttpRequestMessage request) => request.Options.TryGetValue(ReadOnlyCall, out var read) && read;

    /// <summary>
    /// A read (GET, HEAD, or a POST marked <see cref="AsRead"/>) is retried on any transient failure. A POST — an order, a refund, a split; and every Alipay call —
    /// is retried only when it never left this machine (the connection could not be made): after a timeout or a 5xx the
    /// wallet may have acted, and the caller settles that by query (an UNKNOWN outcome) instead of sending it again.
    /// </summary>
    public static bool ShouldRetry(HttpMethod? method, Polly.Outcome<HttpResponseMessage> outcome) =>
        method == HttpMethod.Get || method == HttpMethod.Head
            ? HttpClientResiliencePredicates.IsTransient(outcome)
            : outcome.Exception is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError };

    /// <summary>
    /// The most a wallet's answer may hold (256 MiB): API answers are a few KB, but the same client downloads the day's
    /// bills, which for a large merchant run to tens of MB. A longer answer is not read into memory: the call fails as
    /// "no answer" (<see cref="IsNoAnswer"/>), so a payment stays UNKNOWN and is re-queried rather than the hub running out
    /// of memory on one wallet's (or one impostor's) endless body.
    /// </summary>
    public const long DefaultMaxAnswerBytes = 256L * 1024 * 1024;

    public static IHttpClientBuilder AddResilientClient(
        this IServiceCollection services, string name, TimeSpan attemptTimeout, TimeSpan totalTimeout, int maxRetries, long maxAnswerBytes = DefaultMaxAnswerBytes) =>
        services.AddHttpClient(name, c => c.MaxResponseContentBufferSize = maxAnswerBytes).AddStandardResilienceHandler(o =>
        {
            o.AttemptTimeout.Timeout = attemptTimeout;
            o.TotalRequestTimeout.Timeout = totalTimeout;
            o.CircuitBreaker.SamplingDuration = TimeSpan.FromSeconds(Math.Max(30, attemptTimeout.TotalSeconds * 2));
            o.CircuitBreaker.ShouldHandle = _ => Polly.PredicateResult.False();
            o.Retry.MaxRetryAttempts = Math.Max(1, maxRetries);
            o.Retry.Delay = TimeSpan.FromMilliseconds(100);
            o.Retry.ShouldRetryAfterHeader = true;
            o.Retry.ShouldHandle = args =>
                ValueTask.FromResult(args.Context.GetRequestMessage() is { } r && ShouldRetry(IsRead(r) ? HttpMethod.Get : r.Method, args.Outcome));
        }).Services.AddHttpClient(name);
}
