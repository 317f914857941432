using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Hutong.Connectors.Alipay;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Sandbox.WeChatPay;

namespace Hutong.Integration.Tests.Contract;

/// <summary>Alipay (precreate QR, RSA2): form notifications, answered "success" / "failure" (400).</summary>
public sealed class AlipayDriver(HubFixture hub) : WalletDriver(hub)
{
    public override string Wallet => "alipay";

    public override bool CanClose => true;

    public override HttpStatusCode RefusedNotificationStatus => HttpStatusCode.BadRequest;

    public override string? RefundNotificationEvent => null; // alipay.trade.refund answers with the outcome; no notification

    public override Task<HttpResponseMessage> PayAsync(JsonElement nextAction) => Hub.AlipayBuyerPaysAsync(CodeUrl(nextAction), "2088000000000042");

    public override void InjectFault(WalletOperation operation, SandboxFault fault, string paymentId, int count = 1) =>
        Hub.Sandbox.Alipay.Faults.Inject(operation switch
        {
            WalletOperation.Create => "precreate",
            WalletOperation.Query => "query",
            WalletOperation.Close => "close",
            WalletOperation.Refund => "alipay.trade.refund",
            _ => "notify",
        }, fault, count, match: paymentId);

    public override WalletOrderView? Order(string outTradeNo)
    {
        if (!Hub.Sandbox.Alipay.Orders.TryGetValue((Hub.Alipay.AppId, outTradeNo), out var o))
        {
            return null;
        }

        lock (o)
        {
            var state = o.TradeStatus switch
            {
                "TRADE_SUCCESS" or "TRADE_FINISHED" => WalletOrderState.Paid,
                "TRADE_CLOSED" when o.Paid is not null => WalletOrderState.Paid, // Alipay closes a fully refunded trade
                "TRADE_CLOSED" => WalletOrderState.Closed,
                _ => WalletOrderState.NotPaid,
            };
            return new WalletOrderView(state, o.TotalFen, o.Refunds.Values.Sum(), o.BuyerId);
        }
    }

    public override IReadOnlyList<NotificationAttempt> Deliveries(string outTradeNo) =>
        [.. Hub.Sandbox.Alipay.NotificationLog.Where(n => n.OutTradeNo == outTradeNo)];

    public override async Task<HttpResponseMessage> NotifyAsync(string outTradeNo, Forgery forgery)
    {
        var form = Hub.Sandbox.AlipayNotifier.BuildForm(Hub.Sandbox.Alipay.Orders[(Hub.Alipay.AppId, outTradeNo)], Guid.NewGuid().ToString("N"));
        if (forgery == Forgery.WrongKey)
        {
            using var someoneElse = RSA.Create(2048);
            form["sign"] = AlipaySignature.Sign(someoneElse, AlipaySignature.Content(form!, true, "sign_type"));
        }
        else if (forgery == Forgery.TamperedAmount)
        {
            form["total_amount"] = "0.01";
        }

        return await PostFormAsync(form);
    }
}

[Collection("sqlite")]
public sealed class AlipayContract_Sqlite(SqliteHub hub) : WalletContract(hub, new AlipayDriver(hub));

[Collection("postgres")]
public sealed class AlipayContract_Postgres(PostgresHub hub) : WalletContract(hub, new AlipayDriver(hub));
