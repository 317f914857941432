using System.Net;
using System.Text;
using System.Text.Json;
using Hutong.Connectors.WeChatPay;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Sandbox.WeChatPay;

namespace Hutong.Integration.Tests.Contract;

/// <summary>WeChat Pay (Native QR, APIv3): JSON notifications, encrypted resource, signed headers, 401 for a bad signature.</summary>
public sealed class WeChatPayDriver(HubFixture hub) : WalletDriver(hub)
{
    public override string Wallet => "wechatpay";

    public override bool CanClose => true;

    public override HttpStatusCode RefusedNotificationStatus => HttpStatusCode.Unauthorized;

    public override string? RefundNotificationEvent => "REFUND.SUCCESS";

    public override Task<HttpResponseMessage> PayAsync(JsonElement nextAction) => Hub.BuyerPaysAsync(CodeUrl(nextAction), openId: "oContractBuyer");

    public override void InjectFault(WalletOperation operation, SandboxFault fault, string paymentId, int count = 1) =>
        Hub.Sandbox.WeChat.Faults.Inject(operation switch
        {
            WalletOperation.Create => "native",
            WalletOperation.Query => "query",
            WalletOperation.Close => "close",
            WalletOperation.Refund => "refund",
            _ => "notify",
        }, fault, count, match: paymentId);

    public override WalletOrderView? Order(string outTradeNo)
    {
        if (!Hub.Sandbox.WeChat.Orders.TryGetValue((Hub.WeChat.MchId, outTradeNo), out var o))
        {
            return null;
        }

        lock (o)
        {
            var state = o.TradeState switch
            {
                "SUCCESS" or "REFUND" => WalletOrderState.Paid,
                "CLOSED" => WalletOrderState.Closed,
                _ => WalletOrderState.NotPaid,
            };
            return new WalletOrderView(state, o.Total, o.Refunds.Values.Sum(r => r.Amount), o.PayerOpenId);
        }
    }

    public override IReadOnlyList<NotificationAttempt> Deliveries(string outTradeNo) =>
        [.. Hub.Sandbox.WeChat.NotificationLog.Where(n => n.OutTradeNo == outTradeNo)];

    public override async Task<HttpResponseMessage> NotifyAsync(string outTradeNo, Forgery forgery)
    {
        var order = Hub.Sandbox.WeChat.Orders[(Hub.WeChat.MchId, outTradeNo)];
        using var request = Hub.Sandbox.WeChatNotifier.BuildRequest(order, Guid.NewGuid().ToString());
        var body = await request.Content!.ReadAsStringAsync();
        if (forgery == Forgery.WrongKey)
        {
            using var wrongKey = System.Security.Cryptography.RSA.Create(2048);
            request.Headers.Remove("Wechatpay-Signature");
            request.Headers.Add("Wechatpay-Signature", WeChatPaySignature.Sign(wrongKey, WeChatPaySignature.ResponseMessage(
                request.Headers.GetValues("Wechatpay-Timestamp").First(), request.Headers.GetValues("Wechatpay-Nonce").First(), body)));
        }
        else if (forgery == Forgery.TamperedAmount)
        {
            // The amount travels inside the AEAD ciphertext; any change to the signed body must be refused before decryption.
            request.Content = new StringContent(body.Replace("支付成功", "支付成功!", StringComparison.Ordinal), Encoding.UTF8, "application/json");
        }

        using var http = new HttpClient();
        return await http.SendAsync(request);
    }
}

[Collection("sqlite")]
public sealed class WeChatPayContract_Sqlite(SqliteHub hub) : WalletContract(hub, new WeChatPayDriver(hub));

[Collection("postgres")]
public sealed class WeChatPayContract_Postgres(PostgresHub hub) : WalletContract(hub, new WeChatPayDriver(hub));
