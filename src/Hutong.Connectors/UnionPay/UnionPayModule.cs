using Hutong.Connectors.Abstractions;
using Microsoft.Extensions.DependencyInjection;

namespace Hutong.Connectors.UnionPay;

/// <summary>UnionPay 全渠道 (ACP) as the hub sees it; it does not split payments.</summary>
public sealed class UnionPayModule : WalletModule<UnionPayOptions>
{
    public override string Name => UnionPayConnector.Name;

    public override string OptionsSection => UnionPayOptions.Section;

    public override WalletDisplay Display { get; } = new(
        "云闪付", "UnionPay QuickPass", "#b0000e", ["UnionPay/", "CloudPay"], CodeUrlOpensApp: true, "unionpay/buyer?qr_code=");

    protected override bool IsConfigured(UnionPayOptions account) => account.Enabled && !string.IsNullOrEmpty(account.MerId);

    protected override void AddConnector(IServiceCollection services, UnionPayOptions account) => services.AddUnionPayConnector(account);

    protected override void AddHttpClient(IServiceCollection services) => services.AddUnionPayHttpClient(new UnionPayOptions());

    protected override IWalletConnector Build(IServiceProvider services, UnionPayOptions account) => UnionPayRegistration.Create(services, account);
}
