using Hutong.Connectors.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Hutong.Connectors.WeChatPay;

public static class WeChatPayRegistration
{
    public const string HttpClientName = "wechatpay";

    /// <summary>Registers the WeChat Pay connector as an <see cref="IWalletConnector"/> named "wechatpay".</summary>
    public static IServiceCollection AddWeChatPayConnector(this IServiceCollection services, WeChatPayOptions options)
    {
        services.AddWeChatPayHttpClient(options);
        services.AddSingleton(sp => Create(sp, options));
        services.AddSingleton<IWalletConnector>(sp => sp.GetRequiredService<WeChatPayConnector>());
        return services;
    }

    /// <summary>A connector for one account, on the shared HttpClient (configured accounts and operator-added channels alike).</summary>
    public static WeChatPayConnector Create(IServiceProvider sp, WeChatPayOptions options) => new(
        sp.GetRequiredService<IHttpClientFactory>().CreateClient(HttpClientName),
        options,
        sp.GetService<TimeProvider>() ?? TimeProvider.System,
        sp.GetRequiredService<ILogger<WeChatPayConnector>>());

    /// <summary>The signing, resilient HttpClient every WeChat Pay channel uses.</summary>
    public static IServiceCollection AddWeChatPayHttpClient(this IServiceCollection services, WeChatPayOptions options)
    {
        services.AddTransient<WeChatPaySigningHandler>();
        services.AddResilientClient(HttpClientName, options.AttemptTimeout, options.TotalTimeout, options.MaxRetries)
            .AddHttpMessageHandler<WeChatPaySigningHandler>();
        return services;
    }
}
