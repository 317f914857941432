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
        services.AddSingleton(sp => Create(sp, options));
        services.AddSingleton<IWalletConnector>(sp => sp.GetRequiredService<UnionPayConnector>());
        return services;
    }

    /// <summary>A connector for one merchant, on the shared HttpClient (configured accounts and operator-added channels alike).</summary>
    public static UnionPayConnector Create(IServiceProvider sp, UnionPayOptions options) => new(
        sp.GetRequiredService<IHttpClientFactory>().CreateClient(HttpClientName), options, sp.GetRequiredService<ILogger<UnionPayConnector>>());

    /// <summary>The resilient HttpClient every UnionPay channel uses.</summary>
    public static IServiceCollection AddUnionPayHttpClient(this IServiceCollection services, UnionPayOptions options)
    {
        services.AddResilientClient(HttpClientName, options.AttemptTimeout, options.TotalTimeout, options.MaxRetries);
        return services;
    }
}
