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
        services.AddSingleton(sp => Create(sp, options));
        services.AddSingleton<IWalletConnector>(sp => sp.GetRequiredService<AlipayConnector>());
        return services;
    }

    /// <summary>A connector for one application, on the shared HttpClient (configured accounts and operator-added channels alike).</summary>
    public static AlipayConnector Create(IServiceProvider sp, AlipayOptions options) => new(
        sp.GetRequiredService<IHttpClientFactory>().CreateClient(HttpClientName),
        options,
        sp.GetService<TimeProvider>() ?? TimeProvider.System,
        sp.GetRequiredService<ILogger<AlipayConnector>>());

    /// <summary>The resilient HttpClient every Alipay channel uses.</summary>
    public static IServiceCollection AddAlipayHttpClient(this IServiceCollection services, AlipayOptions options)
    {
        services.AddResilientClient(HttpClientName, options.AttemptTimeout, options.TotalTimeout, options.MaxRetries);
        return services;
    }
}
