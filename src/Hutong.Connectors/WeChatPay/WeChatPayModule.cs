using Hutong.Connectors.Abstractions;
using Hutong.Domain.Settlement;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Hutong.Connectors.WeChatPay;

/// <summary>WeChat Pay (APIv3) as the hub sees it.</summary>
public sealed class WeChatPayModule : WalletModule<WeChatPayOptions>
{
    public override string Name => WeChatPayConnector.Name;

    public override string OptionsSection => WeChatPayOptions.Section;

    // weixin:// code links only work when scanned, so a phone shows the QR to long-press inside WeChat.
    public override WalletDisplay Display { get; } = new(
        "微信支付", "WeChat Pay", "#067a3e", ["MicroMessenger"], CodeUrlOpensApp: false, "wechatpay/buyer?code_url=",
        "打开微信扫一扫（在微信内可长按二维码识别）", "Open WeChat and scan (inside WeChat, long-press the code)");

    public override SplitPolicy SplitPolicy => SplitPolicy.WeChatPay;

    protected override bool IsConfigured(WeChatPayOptions account) => account.Enabled && !string.IsNullOrEmpty(account.MchId);

    protected override void AddConnector(IServiceCollection services, WeChatPayOptions account) => services.AddWeChatPayConnector(account);

    protected override void AddHttpClient(IServiceCollection services) => services.AddWeChatPayHttpClient(new WeChatPayOptions());

    protected override IWalletConnector Build(IServiceProvider services, WeChatPayOptions account) => WeChatPayRegistration.Create(services, account);
}
