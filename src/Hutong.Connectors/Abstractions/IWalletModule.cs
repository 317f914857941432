using System.Text.Json;
using Hutong.Domain.Settlement;
using Microsoft.Extensions.DependencyInjection;

namespace Hutong.Connectors.Abstractions;

/// <summary>
/// Everything the hub knows about one wallet, in one place: its name, its configuration, how its connector is
/// registered and built from a channel's stored settings, how buyers see it, its default fee and its split rules.
/// The hub iterates the registered modules instead of naming wallets, so adding a wallet is its connector folder
/// (with its module), its sandbox folder and one registration line.
/// </summary>
public interface IWalletModule
{
    /// <summary>Stable wallet name used in the API, in channel ids and in the store, e.g. "wechatpay".</summary>
    string Name { get; }

    /// <summary>Configuration section of the wallet's own account, e.g. "Connectors:WeChatPay".</summary>
    string OptionsSection { get; }

    /// <summary>The account settings type (the section's shape, and a channel's stored config).</summary>
    Type OptionsType { get; }

    WalletDisplay Display { get; }

    /// <summary>The fee in basis points of a capture when Hutong:WalletFeeBasisPoints does not name this wallet.</summary>
    int DefaultFeeBasisPoints { get; }

    /// <summary>The wallet's profit-sharing rules; null when it does not split payments.</summary>
    SplitPolicy? SplitPolicy { get; }

    /// <summary>True for an account with what it needs to call the wallet (enabled, and its merchant id set).</summary>
    bool IsConfigured(object account);

    /// <summary>
    /// Registers the wallet's resilient HttpClient (operator-added channels use it too) and, for a configured
    /// <paramref name="account"/>, its connector as an <see cref="IWalletConnector"/>.
    /// </summary>
    void AddConnector(IServiceCollection services, object? account);

    /// <summary>A connector for a channel's stored settings (JSON in the <see cref="OptionsType"/> shape); throws on bad settings.</summary>
    IWalletConnector Build(IServiceProvider services, string configJson);
}

/// <summary>How buyers see a wallet on the cashier, friend-pay and aggregated-QR pages.</summary>
/// <param name="NameZh">The wallet's name on Chinese pages (云闪付).</param>
/// <param name="NameEn">The wallet's name on English pages (UnionPay QuickPass).</param>
/// <param name="Colour">CSS colour of its pay button.</param>
/// <param name="UserAgentMarks">Words its app's in-app browser puts in the User-Agent (aggregated QR); any one is enough.</param>
/// <param name="CodeUrlOpensApp">The order's code URL opens the app from a phone browser (Alipay, UnionPay; WeChat's does not).</param>
/// <param name="SandboxBuyerPath">Its sandbox buyer page, below /sandbox/, up to the code URL's parameter ("wechatpay/buyer?code_url=").</param>
/// <param name="ScanHintZh">What to tell a desktop buyer; null: "open {name} and scan".</param>
public sealed record WalletDisplay(
    string NameZh,
    string NameEn,
    string Colour,
    IReadOnlyList<string> UserAgentMarks,
    bool CodeUrlOpensApp,
    string SandboxBuyerPath,
    string? ScanHintZh = null,
    string? ScanHintEn = null)
{
    /// <summary>True when <paramref name="userAgent"/> is this wallet's in-app browser.</summary>
    public bool IsApp(string userAgent) => UserAgentMarks.Any(m => userAgent.Contains(m, StringComparison.OrdinalIgnoreCase));
}

/// <summary>The typed base of a wallet module: settings of type <typeparamref name="TOptions"/>.</summary>
public abstract class WalletModule<TOptions> : IWalletModule
    where TOptions : class
{
    // Channel settings are stored as the operator sent them; property names match case-insensitively, as in configuration.
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public abstract string Name { get; }

    public abstract string OptionsSection { get; }

    public Type OptionsType => typeof(TOptions);

    public abstract WalletDisplay Display { get; }

    public virtual int DefaultFeeBasisPoints => 60; // 0.6 %, the usual rate for ordinary merchants

    public virtual SplitPolicy? SplitPolicy => null;

    public bool IsConfigured(object account) => account is TOptions o && IsConfigured(o);

    public void AddConnector(IServiceCollection services, object? account)
    {
        if (account is TOptions o && IsConfigured(o))
        {
            AddConnector(services, o);
        }
        else
        {
            AddHttpClient(services);
        }
    }

    public IWalletConnector Build(IServiceProvider services, string configJson) =>
        Build(services, JsonSerializer.Deserialize<TOptions>(configJson, Json) ?? throw new JsonException("config is null"));

    public override string ToString() => Name;

    protected abstract bool IsConfigured(TOptions account);

    /// <summary>Registers the HttpClient and the connector of the wallet's configured account.</summary>
    protected abstract void AddConnector(IServiceCollection services, TOptions account);

    /// <summary>Registers only the HttpClient, with default timeouts (for operator-added channels).</summary>
    protected abstract void AddHttpClient(IServiceCollection services);

    protected abstract IWalletConnector Build(IServiceProvider services, TOptions account);
}
