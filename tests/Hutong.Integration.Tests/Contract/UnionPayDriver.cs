using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Hutong.Connectors.UnionPay;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Sandbox.WeChatPay;

namespace Hutong.Integration.Tests.Contract;

/// <summary>
/// UnionPay QuickPass (全渠道 ACP): signed backUrl form notifications carrying the signing certificate, 退货 for refunds
/// (its result also sent to backUrl), and no way to close a QR order: it stays payable until payTimeout.
/// </summary>
public sealed class UnionPayDriver(HubFixture hub) : WalletDriver(hub)
{
    public override string Wallet => "unionpay";

    public override bool CanClose => false;

    public override HttpStatusCode RefusedNotificationStatus => HttpStatusCode.BadRequest;

    public override string? RefundNotificationEvent => "backUrl.refund";

    public override async Task<HttpResponseMessage> PayAsync(JsonElement nextAction)
    {
        using var http = new HttpClient { BaseAddress = new Uri(Hub.Sandbox.BaseUrl) };
        return await http.PostAsJsonAsync("/sandbox/unionpay/buyer/pay", new { qr_code = CodeUrl(nextAction), acc_no = "6216****4321" }, SandboxJson.Options);
    }

    public override void InjectFault(WalletOperation operation, SandboxFault fault, string paymentId, int count = 1) =>
        Hub.Sandbox.UnionPay.Faults.Inject(operation switch
        {
            WalletOperation.Create or WalletOperation.Refund => "apply", // both are backTransReq.do
            WalletOperation.Query => "query",
            WalletOperation.Notify => "notify",
            _ => throw new NotSupportedException("UnionPay has no close for QR orders"),
        }, fault, count, match: paymentId);

    public override WalletOrderView? Order(string outTradeNo)
    {
        if (!Hub.Sandbox.UnionPay.Orders.TryGetValue((Hub.UnionPay.MerId, outTradeNo), out var o))
        {
            return null;
        }

        lock (o)
        {
            var state = o.OrigRespCode switch
            {
                "00" => WalletOrderState.Paid,
                "12" => WalletOrderState.Closed, // the code lapsed (payTimeout)
                _ => WalletOrderState.NotPaid,
            };
            var refunded = o.QueryId is null ? 0 : Hub.Sandbox.UnionPay.Orders.Values.Where(r => r.RefundOf == o.QueryId && r.OrigRespCode == "00").Sum(r => r.TxnAmt);
            return new WalletOrderView(state, o.TxnAmt, refunded, o.AccNo);
        }
    }

    public override IReadOnlyList<NotificationAttempt> Deliveries(string outTradeNo) =>
        [.. Hub.Sandbox.UnionPay.NotificationLog.Where(n => n.OutTradeNo == outTradeNo)];

    public override async Task<HttpResponseMessage> NotifyAsync(string outTradeNo, Forgery forgery)
    {
        var fields = Hub.Sandbox.UnionPay.NotificationFields(Hub.Sandbox.UnionPay.Orders[(Hub.UnionPay.MerId, outTradeNo)]);
        if (forgery == Forgery.WrongKey)
        {
            // Signed by the right algorithm with a key and certificate that are not UnionPay's.
            using var otherKey = RSA.Create(2048);
            using var otherCert = new CertificateRequest("CN=Not UnionPay", otherKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
                .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            fields["signPubKeyCert"] = otherCert.ExportCertificatePem();
            fields["signature"] = UnionPaySignature.Sign(otherKey, fields);
        }
        else if (forgery == Forgery.TamperedAmount)
        {
            fields["txnAmt"] = "1";
        }

        return await PostFormAsync(fields);
    }
}

[Collection("sqlite")]
public sealed class UnionPayContract_Sqlite(SqliteHub hub) : WalletContract(hub, new UnionPayDriver(hub));

[Collection("postgres")]
public sealed class UnionPayContract_Postgres(PostgresHub hub) : WalletContract(hub, new UnionPayDriver(hub));
