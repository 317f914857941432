using Hutong.Connectors.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Hutong.Connectors.Alipay;

public static class AlipayRegistration
{
    public const string HttpClientName = "alipay";

    /// <summary>Registers the Alipay connector as an <see cref="IWalletConnector"/> named "alipay".</summary>
    public static IServiceCollection AddAlipayConnector(this IServiceCollection services, AlipayOptions options)
    {
        services.AddAlipayHttpClient(options);
        return services.AddAlipayConnectorOnly(options);
    }

    /// <summary>The resilient HttpClient every Alipay channel uses.</summary>
    public static IServiceCollection AddAlipayHttpClient(this IServiceCollection services, AlipayOptions options)
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

    private static IServiceCollection AddAlipayConnectorOnly(this IServiceCollection services, AlipayOptions options)
    {
        services.AddSingleton(sp => new AlipayConnector(
            sp.GetRequiredService<IHttpClientFactory>().CreateClient(HttpClientName),
            options,
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetRequiredService<ILogger<AlipayConnector>>()));
        services.AddSingleton<IWalletConnector>(sp => sp.GetRequiredService<AlipayConnector>());
        return services;
    }
}
