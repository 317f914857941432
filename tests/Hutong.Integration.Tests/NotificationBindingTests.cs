using System.Net;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox.WeChatPay;

namespace Hutong.Integration.Tests;

/// <summary>
/// A correctly signed notification applies only to an order of the channel it came through and of that channel's own
/// account: WeChat Pay's platform key signs for every merchant, so the signature alone says nothing about whose order it is.
/// </summary>
public abstract class NotificationBindingTests(HubFixture hub)
{
    private async Task<(ApiClient M, string Id, string OutTradeNo)> PendingAsync(string wallet, long amount)
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(amount);
        var confirm = await m.ConfirmAsync(id, wallet: wallet);
        Assert.Equal("pending", confirm.Str("status"));
        var no = await hub.Db.ReadAsync(c => Dapper.SqlMapper.ExecuteScalarAsync<string>(c, "SELECT out_trade_no FROM payment_attempts WHERE payment_id = @id", new { id }), default);
        return (m, id, no!);
    }

    /// <summary>A paid WeChat transaction as the platform would sign and encrypt it, for whatever order and mchid the test names.</summary>
    private async Task<HttpStatusCode> SendWeChatSuccessAsync(string outTradeNo, long amount, string mchId, string? spMchId = null)
    {
        var order = new SandboxOrder
        {
            MchId = mchId, SpMchId = spMchId, AppId = hub.WeChat.AppId, OutTradeNo = outTradeNo, Description = "x", Total = amount, Currency = "CNY",
            NotifyUrl = hub.Hub.BaseUrl + "/notify/wechatpay", CodeToken = "t", Fingerprint = "f", TradeState = "SUCCESS",
            TransactionId = "4200000000" + Guid.NewGuid().ToString("N")[..18], PayerOpenId = "oForged", SuccessTime = DateTimeOffset.UnixEpoch,
        };
        using var request = hub.Sandbox.WeChatNotifier.BuildRequest(order, Guid.NewGuid().ToString());
        using var http = new HttpClient();
        return (await http.SendAsync(request)).StatusCode;
    }

    [Fact]
    public async Task A_WeChat_notification_naming_an_Alipay_attempts_order_is_not_applied()
    {
        var (m, id, alipayNo) = await PendingAsync("alipay", 3100);

        var status = await SendWeChatSuccessAsync(alipayNo, 3100, hub.WeChat.MchId);

        Assert.True(status is HttpStatusCode.NoContent or HttpStatusCode.OK or HttpStatusCode.Unauthorized, status.ToString());
        var after = await m.GetAsync($"/v1/payments/{id}");
        Assert.Equal("pending", after.Str("status"));
        Assert.Equal("alipay", after.Str("wallet"));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM payment_attempts WHERE payment_id = @id AND status = 'succeeded'", new { id }));
    }

    [Fact]
    public async Task A_WeChat_notification_for_a_foreign_mchid_is_refused()
    {
        var (m, id, no) = await PendingAsync("wechatpay", 3200);
        const string Foreign = "1999999901";
        // The platform serves that merchant too (same platform key; its APIv3 key here is ours so the hub can decrypt).
        hub.Sandbox.WeChat.Merchants.TryAdd(Foreign, hub.Sandbox.WeChat.Merchants[hub.WeChat.MchId]);

        Assert.Equal(HttpStatusCode.Unauthorized, await SendWeChatSuccessAsync(no, 3200, Foreign));
        // A service-provider transaction (our mchid as sp_mchid, a sub-merchant we do not have) is not a direct merchant's either.
        Assert.Equal(HttpStatusCode.Unauthorized, await SendWeChatSuccessAsync(no, 3200, "1999999902", spMchId: hub.WeChat.MchId));

        Assert.Equal("pending", (await m.GetAsync($"/v1/payments/{id}")).Str("status"));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM payment_attempts WHERE payment_id = @id AND status = 'succeeded'", new { id }));

        // The same notification for our own mchid is applied: the refusals above were about the account, nothing else.
        Assert.Equal(HttpStatusCode.NoContent, await SendWeChatSuccessAsync(no, 3200, hub.WeChat.MchId));
        Assert.Equal("succeeded", (await m.GetAsync($"/v1/payments/{id}")).Str("status"));
    }
}

[Collection("sqlite")]
public sealed class NotificationBindingTests_Sqlite(SqliteHub hub) : NotificationBindingTests(hub);

[Collection("postgres")]
public sealed class NotificationBindingTests_Postgres(PostgresHub hub) : NotificationBindingTests(hub);
