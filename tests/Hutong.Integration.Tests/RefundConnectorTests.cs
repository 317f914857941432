using System.Net.Http.Json;
using Hutong.Connectors.Abstractions;
using Hutong.Connectors.Alipay;
using Hutong.Connectors.UnionPay;
using Hutong.Connectors.WeChatPay;
using Hutong.Domain;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;

namespace Hutong.Integration.Tests;

/// <summary>
/// Each wallet's refund API through its connector against its sandbox: partial refunds that add up, a refund beyond the
/// captured amount refused, repeats idempotent on the refund number, and queries. (The merchant-facing refund API with
/// its ledger entries is the settlement work; this is the wallet side it will call.)
/// </summary>
[Collection("sqlite")]
public sealed class RefundConnectorTests(SqliteHub hub)
{
    private async Task<(string OutTradeNo, string? WalletTransactionId)> PaidAsync(string wallet, long amount)
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(amount);
        var code = (await m.ConfirmAsync(id, wallet: wallet)).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        using var http = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
        var pay = wallet switch
        {
            "wechatpay" => await hub.BuyerPaysAsync(code),
            "alipay" => await hub.AlipayBuyerPaysAsync(code),
            _ => await http.PostAsJsonAsync("/sandbox/unionpay/buyer/pay", new { qr_code = code }, SandboxJson.Options),
        };
        pay.EnsureSuccessStatusCode();
        var done = await m.WaitForStatusAsync(id, "succeeded");
        var outTradeNo = await hub.Db.ReadAsync(c => Dapper.SqlMapper.ExecuteScalarAsync<string>(c, "SELECT out_trade_no FROM payment_attempts WHERE payment_id = @id AND status = 'succeeded'", new { id }), default);
        return (outTradeNo!, done.Str("wallet_transaction_id"));
    }

    private static string RefundNo() => Guid.CreateVersion7().ToString("N");

    private static RefundRequest Refund(string outTradeNo, string refundNo, long refund, long total, string? txId = null) =>
        new(outTradeNo, refundNo, Money.Of(refund, "CNY"), Money.Of(total, "CNY"), "buyer returned the item", null, txId);

    [Theory]
    [InlineData("wechatpay")]
    [InlineData("alipay")]
    [InlineData("unionpay")]
    public async Task Partial_refunds_add_up_to_the_captured_amount_and_no_further(string wallet)
    {
        var (no, txId) = await PaidAsync(wallet, 3000);
        IWalletConnector connector = wallet switch
        {
            "wechatpay" => hub.Service<WeChatPayConnector>(),
            "alipay" => hub.Service<AlipayConnector>(),
            _ => hub.Service<UnionPayConnector>(),
        };

        var first = RefundNo();
        var r1 = await connector.RefundAsync(Refund(no, first, 1000, 3000, txId), default);
        Assert.Equal(WalletCallOutcome.Ok, r1.Outcome);
        Assert.Contains(r1.Status, new RefundStatus?[] { RefundStatus.Succeeded, RefundStatus.Processing });

        var again = await connector.RefundAsync(Refund(no, first, 1000, 3000, txId), default);
        Assert.Equal(WalletCallOutcome.Ok, again.Outcome); // idempotent on the refund number

        Assert.Equal(WalletCallOutcome.Ok, (await connector.RefundAsync(Refund(no, RefundNo(), 2000, 3000, txId), default)).Outcome);
        var over = await connector.RefundAsync(Refund(no, RefundNo(), 1, 3000, txId), default);
        Assert.Equal(WalletCallOutcome.Rejected, over.Outcome);

        var settled = await hub.EventuallyAsync(() => connector.QueryRefundAsync(no, first, default), r => r.Status == RefundStatus.Succeeded, what: $"{wallet} refund settles");
        Assert.Equal(1000, settled.RefundedMinor);
        Assert.Equal(RefundStatus.NotFound, (await connector.QueryRefundAsync(no, RefundNo(), default)).Status);
    }

    [Fact]
    public async Task A_refund_of_an_unpaid_order_is_refused()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(500);
        await m.ConfirmAsync(id);
        var no = await hub.Db.ReadAsync(c => Dapper.SqlMapper.ExecuteScalarAsync<string>(c, "SELECT out_trade_no FROM payment_attempts WHERE payment_id = @id", new { id }), default);
        var r = await hub.Service<WeChatPayConnector>().RefundAsync(Refund(no!, RefundNo(), 100, 500), default);
        Assert.Equal(WalletCallOutcome.Rejected, r.Outcome);
        Assert.Equal("INVALID_REQUEST", r.Error!.Code);
    }
}
