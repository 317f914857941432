using System.Net.Http.Json;
using Hutong.Connectors.Abstractions;
using Hutong.Connectors.WeChatPay;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Microsoft.Extensions.Logging.Abstractions;

namespace Hutong.Integration.Tests;

/// <summary>
/// Service-provider (服务商) merchant transfers through the partner API (/v3/fund-app/mch-transfer/partner/transfer-bills,
/// docs/payouts-partner.md), connector against the sandbox over real HTTP: the bill is the sub-merchant's, made by the
/// service provider; the create answer has no state (package_info says the payee must confirm); query and cancel name the
/// sub-merchant; a sub-merchant the service provider does not act for is refused.
/// </summary>
[Collection("sqlite")]
public sealed class WeChatPartnerTransferTests(SqliteHub hub)
{
    private static PayoutRequest Request(string outBillNo, long amount, string openId) =>
        new(outBillNo, amount, "CNY", new PayoutPayee("WECHAT_OPENID", openId, null), "12月佣金", null, "po_partner", "https://example.com/wechat/notify");

    [Fact]
    public async Task A_service_provider_transfers_for_its_sub_merchant_and_follows_the_bill_by_query_and_cancel()
    {
        var sp = await Hutong.Demo.SandboxWiring.RegisterWeChatMerchantAsync(hub.Sandbox.BaseUrl, "1900000320", subMchId: "1900000321");
        using var http = new HttpClient(new WeChatPaySigningHandler { InnerHandler = new HttpClientHandler() });
        using var connector = new WeChatPayConnector(http, sp, TimeProvider.System, NullLogger<WeChatPayConnector>.Instance);
        var openId = "oPartner" + Guid.NewGuid().ToString("N")[..16];
        var no = Guid.NewGuid().ToString("N");

        var created = await connector.PayoutAsync(Request(no, 1_234, openId), default);
        Assert.Equal((WalletCallOutcome.Ok, PayoutWalletState.AwaitingConfirmation), (created.Outcome, created.State));
        Assert.False(string.IsNullOrEmpty(created.PackageInfo)); // the answer had no state: package_info says the payee confirms
        var bill = hub.Sandbox.WeChat.TransferBills[("1900000321", no)]; // the sub-merchant's bill …
        Assert.Equal(("1900000320", 1_234L, openId), (bill.SpMchId, bill.Amount, bill.OpenId)); // … made by the service provider
        Assert.False(hub.Sandbox.WeChat.TransferBills.ContainsKey(("1900000320", no)));
        Assert.Equal("1900000321", connector.ConfirmationSubMchId);

        // The same out_bill_no again is the same bill (the wallet's idempotency key).
        Assert.Equal(bill.TransferBillNo, (await connector.PayoutAsync(Request(no, 1_234, openId), default)).WalletOrderId);
        Assert.Equal(PayoutWalletState.AwaitingConfirmation, (await connector.QueryPayoutAsync(no, default)).State);

        using (var phone = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) })
        {
            Assert.True((await phone.PostAsJsonAsync("/sandbox/wechatpay/buyer/transfer", new { package_info = created.PackageInfo, action = "confirm" }, SandboxJson.Options)).IsSuccessStatusCode);
        }

        var done = await connector.QueryPayoutAsync(no, default);
        Assert.Equal((WalletCallOutcome.Ok, PayoutWalletState.Succeeded, bill.TransferBillNo), (done.Outcome, done.State, done.WalletOrderId));

        // Withdrawn before the payee accepts: cancel names the sub-merchant, the bill goes CANCELING → CANCELLED.
        var second = Guid.NewGuid().ToString("N");
        Assert.Equal(PayoutWalletState.AwaitingConfirmation, (await connector.PayoutAsync(Request(second, 500, openId), default)).State);
        var canceling = await connector.CancelPayoutAsync(second, default);
        Assert.Equal((WalletCallOutcome.Ok, PayoutWalletState.Canceling), (canceling.Outcome, canceling.State));
        await hub.EventuallyAsync(async () => (await connector.QueryPayoutAsync(second, default)).State, s => s == PayoutWalletState.Canceled, what: "the partner bill is withdrawn");
        Assert.Equal(["create", "create", "create", "cancel"], hub.Sandbox.WeChat.TransferCalls.Where(c => c.OutBillNo == no || c.OutBillNo == second).Select(c => c.Call).Where(c => c != "query"));

        // Nothing at the wallet under that number: NOT_FOUND, so the hub may send it.
        Assert.Equal(PayoutWalletState.NotFound, (await connector.QueryPayoutAsync(Guid.NewGuid().ToString("N"), default)).State);

        // A sub-merchant the service provider does not act for is refused by the wallet; nothing is made.
        sp.SubMchId = "1900000999";
        using var stranger = new WeChatPayConnector(http, sp, TimeProvider.System, NullLogger<WeChatPayConnector>.Instance);
        var third = Guid.NewGuid().ToString("N");
        var refused = await stranger.PayoutAsync(Request(third, 500, openId), default);
        Assert.Equal((WalletCallOutcome.Rejected, "NO_AUTH"), (refused.Outcome, refused.Error!.Code));
        Assert.DoesNotContain(hub.Sandbox.WeChat.TransferBills.Keys, k => k.OutBillNo == third);
    }

    [Fact]
    public async Task A_direct_merchants_bill_is_not_reachable_through_the_partner_api_nor_a_partner_bill_through_the_direct_one()
    {
        var sp = await Hutong.Demo.SandboxWiring.RegisterWeChatMerchantAsync(hub.Sandbox.BaseUrl, "1900000330", subMchId: "1900000331");
        var direct = await Hutong.Demo.SandboxWiring.RegisterWeChatMerchantAsync(hub.Sandbox.BaseUrl, "1900000331");
        using var http = new HttpClient(new WeChatPaySigningHandler { InnerHandler = new HttpClientHandler() });
        using var partner = new WeChatPayConnector(http, sp, TimeProvider.System, NullLogger<WeChatPayConnector>.Instance);
        using var own = new WeChatPayConnector(http, direct, TimeProvider.System, NullLogger<WeChatPayConnector>.Instance);
        var openId = "oPartner" + Guid.NewGuid().ToString("N")[..16];

        var byPartner = Guid.NewGuid().ToString("N");
        Assert.Equal(PayoutWalletState.AwaitingConfirmation, (await partner.PayoutAsync(Request(byPartner, 300, openId), default)).State);
        Assert.Equal(PayoutWalletState.NotFound, (await own.QueryPayoutAsync(byPartner, default)).State); // the sub-merchant's own API does not see it

        var byOwn = Guid.NewGuid().ToString("N");
        Assert.Equal(PayoutWalletState.AwaitingConfirmation, (await own.PayoutAsync(Request(byOwn, 300, openId), default)).State);
        Assert.Equal(PayoutWalletState.NotFound, (await partner.QueryPayoutAsync(byOwn, default)).State);
    }
}
