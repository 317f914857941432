using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hutong.Connectors.Abstractions;
using Hutong.Domain;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Hutong.Integration.Tests.FourthWallet.Connector;

/// <summary>
/// A fourth wallet, defined entirely in the tests: proof that a wallet is its connector folder (this), its sandbox
/// folder (../Sandbox) and a registration line, with no production file naming it. Its protocol is deliberately
/// trivial — JSON over HTTP, each body signed with HMAC-SHA256 of the merchant's secret in X-Kite-Signature, both ways.
/// </summary>
public sealed class KitePayModule : WalletModule<KitePayOptions>
{
    public const string WalletName = "kitepay";

    public override string Name => WalletName;

    public override string OptionsSection => KitePayOptions.Section;

    public override WalletDisplay Display { get; } = new("风筝付", "Kite Pay", "#6a1b9a", ["KitePay/"], CodeUrlOpensApp: true, "kitepay/buyer?code_url=");

    public override int DefaultFeeBasisPoints => 30;

    protected override bool IsConfigured(KitePayOptions account) => account.Enabled && !string.IsNullOrEmpty(account.MerchantId);

    protected override void AddConnector(IServiceCollection services, KitePayOptions account)
    {
        AddHttpClient(services);
        services.AddSingleton<IWalletConnector>(sp => Build(sp, account));
    }

    protected override void AddHttpClient(IServiceCollection services) =>
        services.AddResilientClient(WalletName, TimeSpan.FromMilliseconds(800), TimeSpan.FromSeconds(2.5), 1);

    protected override IWalletConnector Build(IServiceProvider services, KitePayOptions account)
    {
        if (string.IsNullOrEmpty(account.MerchantId) || account.Secret.Length < 16 || !Uri.TryCreate(account.BaseUrl, UriKind.Absolute, out _))
        {
            throw new ArgumentException("Kite Pay needs BaseUrl, MerchantId and a Secret of 16 characters or more.");
        }

        return new KitePayConnector(services.GetRequiredService<IHttpClientFactory>().CreateClient(WalletName), account, services.GetRequiredService<ILogger<KitePayConnector>>());
    }
}

public sealed class KitePayOptions
{
    public const string Section = "Connectors:KitePay";

    public bool Enabled { get; set; } = true;

    public string BaseUrl { get; set; } = string.Empty;

    public string MerchantId { get; set; } = string.Empty;

    /// <summary>The HMAC key both sides sign with. Secret: never logged.</summary>
    public string Secret { get; set; } = string.Empty;
}

/// <summary>The hub's side of the Kite Pay protocol.</summary>
public sealed partial class KitePayConnector(HttpClient http, KitePayOptions options, ILogger<KitePayConnector> log) : IWalletConnector
{
    public const string SignatureHeader = "X-Kite-Signature";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public string Wallet => KitePayModule.WalletName;

    public WalletCapabilities Capabilities { get; } = new(true, true, true, true, true, true, false, ["CNY"]);

    public static string Sign(string secret, string body) =>
        Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(body)));

    public async Task<CreateOrderResult> CreateQrOrderAsync(CreateOrderRequest request, CancellationToken cancellationToken)
    {
        var (status, reply) = await CallAsync("orders", new
        {
            out_trade_no = request.OutTradeNo,
            amount = request.Amount.Minor,
            currency = request.Amount.Currency.Code,
            description = request.Description,
            notify_url = request.NotifyUrl,
            attach = request.Attach,
            expires_at = request.ExpiresAt.ToUnixTimeMilliseconds(),
        }, cancellationToken);
        return status switch
        {
            HttpStatusCode.OK when reply?["code_url"]?.GetValue<string>() is { } codeUrl => CreateOrderResult.Ok(codeUrl),
            HttpStatusCode.BadRequest => CreateOrderResult.Rejected(Error(reply)),
            _ => CreateOrderResult.Unknown(Describe(status, reply)),
        };
    }

    public async Task<QueryResult> QueryAsync(string outTradeNo, CancellationToken cancellationToken)
    {
        var (status, reply) = await CallAsync("orders/query", new { out_trade_no = outTradeNo }, cancellationToken);
        return status switch
        {
            HttpStatusCode.OK when reply?["order"] is JsonObject order => QueryResult.Ok(Transaction(order)),
            HttpStatusCode.NotFound when reply is not null => QueryResult.NotFound(outTradeNo),
            _ => QueryResult.Unknown(Describe(status, reply)),
        };
    }

    public async Task<CloseResult> CloseAsync(string outTradeNo, CancellationToken cancellationToken)
    {
        var (status, reply) = await CallAsync("orders/close", new { out_trade_no = outTradeNo }, cancellationToken);
        return status switch
        {
            HttpStatusCode.OK => CloseResult.Ok,
            HttpStatusCode.BadRequest => CloseResult.Rejected(Error(reply)),
            _ => CloseResult.Unknown(Describe(status, reply)),
        };
    }

    public async Task<RefundResult> RefundAsync(RefundRequest request, CancellationToken cancellationToken)
    {
        var (status, reply) = await CallAsync("refunds", new
        {
            out_trade_no = request.OutTradeNo,
            out_refund_no = request.OutRefundNo,
            amount = request.Refund.Minor,
            reason = request.Reason,
        }, cancellationToken);
        return Refund(status, reply);
    }

    public async Task<RefundResult> QueryRefundAsync(string outTradeNo, string outRefundNo, CancellationToken cancellationToken)
    {
        var (status, reply) = await CallAsync("refunds/query", new { out_trade_no = outTradeNo, out_refund_no = outRefundNo }, cancellationToken);
        return status == HttpStatusCode.NotFound && reply is not null ? new RefundResult(WalletCallOutcome.Ok, RefundStatus.NotFound, null, null, null) : Refund(status, reply);
    }

    public async Task<BillResult> DownloadBillAsync(DateOnly billDate, CancellationToken cancellationToken)
    {
        var (status, reply) = await CallAsync("bill", new { date = billDate.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture) }, cancellationToken);
        if (status != HttpStatusCode.OK || reply?["lines"] is not JsonArray lines)
        {
            return status == HttpStatusCode.BadRequest ? BillResult.Rejected(Error(reply)) : BillResult.Unknown(Describe(status, reply));
        }

        return BillResult.Ok(lines.OfType<JsonObject>().Take(100_000).Select(l => new BillLine(
            l["kind"]?.GetValue<string>() == "refund" ? BillLineKind.Refund : BillLineKind.Payment,
            l["out_trade_no"]!.GetValue<string>(),
            l["transaction_id"]?.GetValue<string>(),
            l["out_refund_no"]?.GetValue<string>(),
            l["amount"]!.GetValue<long>(),
            l["fee"]!.GetValue<long>(),
            l["status"]!.GetValue<string>(),
            DateTimeOffset.FromUnixTimeMilliseconds(l["at"]!.GetValue<long>()))).ToList());
    }

    public Task<NotificationResult> VerifyNotificationAsync(IReadOnlyDictionary<string, string> headers, string rawBody, CancellationToken cancellationToken)
    {
        if (!headers.TryGetValue(SignatureHeader, out var signature) || !Verified(rawBody, signature))
        {
            return Task.FromResult(NotificationResult.Reject("signature does not verify"));
        }

        var body = JsonNode.Parse(rawBody) as JsonObject;
        if (body?["id"]?.GetValue<string>() is not { } id || body["order"] is not JsonObject order
            || order["merchant_id"]?.GetValue<string>() != options.MerchantId)
        {
            return Task.FromResult(NotificationResult.Reject("not a notification for this merchant"));
        }

        return Task.FromResult(new NotificationResult(true, null, id, body["event"]?.GetValue<string>(), Transaction(order)));
    }

    public NotificationAck Acknowledge(bool accepted) => accepted ? new NotificationAck(200, "text/plain", "OK") : new NotificationAck(400, "text/plain", "FAIL");

    private async Task<(HttpStatusCode Status, JsonObject? Reply)> CallAsync(string path, object request, CancellationToken ct)
    {
        var body = JsonSerializer.Serialize(request, Json);
        using var message = new HttpRequestMessage(HttpMethod.Post, $"{options.BaseUrl.TrimEnd('/')}/kitepay/v1/{path}") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        message.Headers.Add("X-Kite-Merchant", options.MerchantId);
        message.Headers.Add(SignatureHeader, Sign(options.Secret, body));
        try
        {
            using var response = await http.SendAsync(message, ct);
            var text = await response.Content.ReadAsStringAsync(ct);
            // An answer that is not the wallet's (unsigned, or signed with another key) is no answer at all.
            if (!response.Headers.TryGetValues(SignatureHeader, out var signatures) || !Verified(text, signatures.First()))
            {
                return (HttpStatusCode.BadGateway, null);
            }

            return (response.StatusCode, JsonNode.Parse(text) as JsonObject);
        }
        catch (Exception e) when (ConnectorHttp.IsNoAnswer(e) && !ct.IsCancellationRequested)
        {
            LogNoAnswer(log, path, e.GetType().Name);
            return (HttpStatusCode.GatewayTimeout, null);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kite Pay {Path} got no answer ({Failure}); outcome unknown")]
    private static partial void LogNoAnswer(ILogger logger, string path, string failure);

    private bool Verified(string body, string signature) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Sign(options.Secret, body)), Encoding.ASCII.GetBytes(signature));

    private static WalletTransaction Transaction(JsonObject o)
    {
        var raw = o["status"]?.GetValue<string>() ?? string.Empty;
        return new WalletTransaction(
            o["out_trade_no"]!.GetValue<string>(),
            raw switch { "NOTPAID" => WalletStatus.NotPaid, "PAID" => WalletStatus.Succeeded, "CLOSED" => WalletStatus.Closed, _ => WalletStatus.Unrecognised },
            raw,
            o["transaction_id"]?.GetValue<string>(),
            o["amount"]?.GetValue<long>(),
            o["currency"]?.GetValue<string>(),
            o["payer"]?.GetValue<string>(),
            o["paid_at"]?.GetValue<long>() is { } at ? DateTimeOffset.FromUnixTimeMilliseconds(at) : null,
            o["merchant_id"]?.GetValue<string>());
    }

    private static RefundResult Refund(HttpStatusCode status, JsonObject? reply) => status switch
    {
        HttpStatusCode.OK when reply?["refund"] is JsonObject r => new RefundResult(WalletCallOutcome.Ok,
            r["status"]?.GetValue<string>() switch { "SUCCEEDED" => RefundStatus.Succeeded, "FAILED" => RefundStatus.Failed, _ => RefundStatus.Processing },
            r["refund_id"]?.GetValue<string>(), r["amount"]?.GetValue<long>(), null),
        HttpStatusCode.BadRequest => RefundResult.Rejected(Error(reply)),
        _ => RefundResult.Unknown(Describe(status, reply)),
    };

    private static WalletError Error(JsonObject? reply) =>
        new(reply?["code"]?.GetValue<string>() ?? "UNVERIFIED", reply?["message"]?.GetValue<string>() ?? "the answer did not verify");

    private static string Describe(HttpStatusCode status, JsonObject? reply) => $"{(int)status} {reply?["code"]?.GetValue<string>() ?? "no verified answer"}";
}
