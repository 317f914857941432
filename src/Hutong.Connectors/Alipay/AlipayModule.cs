using Hutong.Connectors.Abstractions;
using Hutong.Domain.Settlement;
using Microsoft.Extensions.DependencyInjection;

namespace Hutong.Connectors.Alipay;

/// <summary>Alipay (OpenAPI v2) as the hub sees it.</summary>
public sealed class AlipayModule : WalletModule<AlipayOptions>
{
    public override string Name => AlipayConnector.Name;

    public override string OptionsSection => AlipayOptions.Section;

    public override WalletDisplay Display { get; } = new(
        "支付宝", "Alipay", "#0b57d0", ["AlipayClient"], CodeUrlOpensApp: true, "alipay/buyer?qr_code=");

    public override SplitPolicy SplitPolicy => SplitPolicy.Alipay;

    protected override bool IsConfigured(AlipayOptions account) => account.Enabled && !string.IsNullOrEmpty(account.AppId);

    protected override void AddConnector(IServiceCollection services, AlipayOptions account) => services.AddAlipayConnector(account);

    protected override void AddHttpClient(IServiceCollection services) => services.AddAlipayHttpClient(new AlipayOptions());

    protected override IWalletConnector Build(IServiceProvider services, AlipayOptions account) => AlipayRegistration.Create(services, account);
}
