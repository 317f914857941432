using Hutong.Connectors.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Hutong.Connectors.UnionPay;

public static class UnionPayRegistration
{
    public const string HttpClientName = "unionpay";

    public static IServiceCollection AddUnionPayConnector(this IServiceCollection services, UnionPayOptions options)
    {
        services.AddUnionPayHttpClient(options);
        return services.AddUnionPayConnectorOnly(options);
    }

    /// <summary>The resilient HttpClient every UnionPay channel uses.</summary>
    public static IServiceCollection AddUnionPayHttpClient(this IServiceCollection services, UnionPayOptions options)
    {
        services.AddHttpClient(HttpClientName).AddStandardResilienceHandler(o =>
        {
            o.AttemptTimeout.Timeout = options.AttemptTimeout;
            o.TotalRequestTimeout.Timeout = options.TotalTimeout;
            o.CircuitBreaker.SamplingDuration = TimeSpan.FromSeconds(Math.Max(30, options.AttemptTimeout.TotalSeconds * 2));
            o.Retry.MaxRetryAttempts = Math.Max(1, options.MaxRetries);
            o.Retry.Delay = TimeSpan.FromMilliseconds(100);
        });
        return services;
    }

    private static IServiceCollection AddUnionPayConnectorOnly(this IServiceCollection services, UnionPayOptions options)
    {
        services.AddSingleton(sp => new UnionPayConnector(
            sp.GetRequiredService<IHttpClientFactory>().CreateClient(HttpClientName), options, sp.GetRequiredService<ILogger<UnionPayConnector>>()));
        services.AddSingleton<IWalletConnector>(sp => sp.GetRequiredService<UnionPayConnector>());
        return services;
    }
}
