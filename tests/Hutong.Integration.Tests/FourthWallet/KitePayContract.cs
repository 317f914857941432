using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hutong.Integration.Tests.Contract;
using Hutong.Integration.Tests.FourthWallet.Connector;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Sandbox.WeChatPay;

namespace Hutong.Integration.Tests.FourthWallet;

/// <summary>
/// The fourth wallet runs the same contract as the three real ones: adding a wallet is its module, its sandbox side,
/// one registration line (<see cref="KitePayHub"/>) and this driver.
/// </summary>
public sealed class KitePayDriver(KitePayHub hub) : WalletDriver(hub)
{
    public override string Wallet => KitePayModule.WalletName;

    public override bool CanClose => true;

    public override HttpStatusCode RefusedNotificationStatus => HttpStatusCode.BadRequest;

    public override string? RefundNotificationEvent => null; // the refund's answer is final

    public override Task<HttpResponseMessage> PayAsync(JsonElement nextAction) =>
        Sandbox.KitePaySandboxWallet.BuyerPaysAsync(Hub.Sandbox.BaseUrl, CodeUrl(nextAction));

    public override void InjectFault(WalletOperation operation, SandboxFault fault, string paymentId, int count = 1) =>
        hub.Kite.Faults.Inject(operation switch
        {
            WalletOperation.Create => "orders",
            WalletOperation.Query => "query",
            WalletOperation.Close => "close",
            WalletOperation.Refund => "refunds",
            _ => "notify",
        }, fault, count, match: paymentId);

    public override WalletOrderView? Order(string outTradeNo)
    {
        if (hub.Kite.Order(outTradeNo) is not { } o)
        {
            return null;
        }

        lock (o)
        {
            var state = o.Status switch { "PAID" => WalletOrderState.Paid, "CLOSED" => WalletOrderState.Closed, _ => WalletOrderState.NotPaid };
            return new WalletOrderView(state, o.Amount, o.Refunds.Values.Sum(r => r.Amount), o.Payer);
        }
    }

    public override IReadOnlyList<NotificationAttempt> Deliveries(string outTradeNo) =>
        [.. hub.Kite.NotificationLog.Where(n => n.OutTradeNo == outTradeNo)];

    public override async Task<HttpResponseMessage> NotifyAsync(string outTradeNo, Forgery forgery)
    {
        var (body, signature) = hub.Kite.Notification(hub.Kite.Order(outTradeNo)!);
        if (forgery == Forgery.WrongKey)
        {
            signature = KitePayConnector.Sign("not-the-merchant-secret", body);
        }
        else if (forgery == Forgery.TamperedAmount)
        {
            var node = JsonNode.Parse(body)!;
            node["order"]!["amount"] = 1;
            body = node.ToJsonString();
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, $"/notify/{Wallet}") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add(KitePayConnector.SignatureHeader, signature);
        return await Hub.Http.SendAsync(request);
    }
}

[Collection("kitepay")]
public sealed class KitePayContract_Sqlite(KitePayHub hub) : WalletContract(hub, new KitePayDriver(hub));
