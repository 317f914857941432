using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Hutong.Connectors.Abstractions;
using Microsoft.Extensions.Logging;

namespace Hutong.Connectors.UnionPay;

/// <summary>
/// UnionPay QuickPass through 全渠道 ACP 5.1.0, merchant-presented QR (txnType=01, txnSubType=07, channelType=08),
/// query (txnType=00) and the backUrl notification. Responses and notifications must carry UnionPay's pinned
/// signing certificate in signPubKeyCert and verify with it.
/// </summary>
public sealed partial class UnionPayConnector : IWalletConnector, IDisposable
{
    public const string Name = "unionpay";
    private static readonly TimeSpan ChinaOffset = TimeSpan.FromHours(8);

    private readonly HttpClient _http;
    private readonly UnionPayOptions _options;
    private readonly ILogger<UnionPayConnector> _log;
    private readonly RSA _key;
    private readonly X509Certificate2 _unionPayCert;
    private readonly RSA _unionPayKey;

    public UnionPayConnector(HttpClient http, UnionPayOptions options, ILogger<UnionPayConnector> log)
    {
        _http = http;
        _options = options;
        _log = log;
        _key = RSA.Create();
        _key.ImportFromPem(options.SigningPrivateKeyPem);
        _unionPayCert = X509Certificate2.CreateFromPem(options.UnionPaySigningCertPem);
        _unionPayKey = _unionPayCert.GetRSAPublicKey() ?? throw new CryptographicException("UnionPay signing certificate has no RSA key.");
    }

    public string Wallet => Name;

    /// <summary>A merchant-presented QR cannot be closed: it lapses at payTimeout, which the hub sets to the payment's expiry.</summary>
    public WalletCapabilities Capabilities { get; } = new(
        QrCode: true, Query: true, Close: false, Refund: true, PartialRefund: true,
        Notifications: true, ServiceProviderMode: false, Currencies: ["CNY"]);

    public async Task<CreateOrderResult> CreateQrOrderAsync(CreateOrderRequest request, CancellationToken cancellationToken)
    {
        if (request.Amount.Currency.Code != "CNY")
        {
            return CreateOrderResult.Rejected(new WalletError("CURRENCY", "UnionPay QR orders are CNY (156) only."));
        }

        // No description field: 申码 (txnType=01, txnSubType=07) sends none (wallet-protocols.md §3, after egzosn/pay-java-parent
        // UnionPayService), so UnionPay puts no limit on a payment's description.
        return await ConsumeAsync("/gateway/api/backTransReq.do", "07", bizType: null, request, "qrCode", cancellationToken);
    }

    /// <summary>
    /// A consumption (txnType=01) whose answer hands back the buyer's order handle in <paramref name="handleField"/>:
    /// 申码's qrCode, or app pay's tn. The same amount, currency, backUrl, payTimeout and reqReserved either way.
    /// </summary>
    private async Task<CreateOrderResult> ConsumeAsync(
        string path, string txnSubType, string? bizType, CreateOrderRequest request, string handleField, CancellationToken cancellationToken)
    {
        var fields = Common("01", txnSubType, request.OutTradeNo);
        if (bizType is not null)
        {
            fields["bizType"] = bizType;
        }

        fields["txnAmt"] = request.Amount.Minor.ToString(CultureInfo.InvariantCulture);
        fields["currencyCode"] = "156";
        fields["backUrl"] = request.NotifyUrl;
        fields["payTimeout"] = request.ExpiresAt.ToOffset(ChinaOffset).ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
        if (request.Attach is not null)
        {
            fields["reqReserved"] = request.Attach;
        }

        var reply = await CallAsync(path, fields, cancellationToken);
        return reply.Outcome switch
        {
            WalletCallOutcome.Ok when reply.Fields!.GetValueOrDefault(handleField) is { Length: > 0 } handle => CreateOrderResult.Ok(handle),
            WalletCallOutcome.Ok => CreateOrderResult.Unknown($"verified answer without {handleField}"),
            WalletCallOutcome.Rejected => CreateOrderResult.Rejected(reply.Error!),
            _ => CreateOrderResult.Unknown(reply.Error?.Message ?? "no answer"),
        };
    }

    public async Task<QueryResult> QueryAsync(string outTradeNo, CancellationToken cancellationToken)
    {
        var reply = await CallAsync("/gateway/api/queryTrans.do", Common("00", "00", outTradeNo), cancellationToken);
        if (reply.Outcome == WalletCallOutcome.Ok)
        {
            var f = reply.Fields!;
            var orig = f.GetValueOrDefault("origRespCode");
            var status = UnionPayStatusMap.Map(orig);
            if (status == WalletStatus.Unrecognised)
            {
                LogUnrecognisedStatus(_log, orig ?? "(null)", outTradeNo);
            }

            return QueryResult.Ok(ToTransaction(outTradeNo, f, status, orig ?? string.Empty));
        }

        if (reply.Outcome == WalletCallOutcome.Rejected && reply.Error?.Code == "34")
        {
            return QueryResult.NotFound(outTradeNo); // 查无此交易
        }

        return QueryResult.Unknown(reply.Error?.Message ?? "no answer");
    }

    /// <summary>退货 (txnType=04) against the payment's queryId; UnionPay accepts it and settles it later (query or backUrl).</summary>
    public async Task<RefundResult> RefundAsync(RefundRequest request, CancellationToken cancellationToken)
    {
        if (request.WalletTransactionId is null)
        {
            return RefundResult.Rejected(new WalletError("ORIG_QRY_ID", "A UnionPay refund needs the payment's queryId (wallet transaction id)."));
        }

        var fields = Common("04", "00", request.OutRefundNo);
        fields["channelType"] = "07";
        fields["origQryId"] = request.WalletTransactionId;
        fields["txnAmt"] = request.Refund.Minor.ToString(CultureInfo.InvariantCulture);
        fields["currencyCode"] = "156";
        fields["backUrl"] = request.NotifyUrl ?? "https://example.invalid/no-notify";
        var reply = await CallAsync("/gateway/api/backTransReq.do", fields, cancellationToken);
        return reply.Outcome switch
        {
            WalletCallOutcome.Ok => new RefundResult(WalletCallOutcome.Ok, RefundStatus.Processing, reply.Fields!.GetValueOrDefault("queryId"), request.Refund.Minor, null),
            WalletCallOutcome.Rejected => RefundResult.Rejected(reply.Error!),
            _ => RefundResult.Unknown(reply.Error?.Message ?? "no answer"),
        };
    }

    /// <summary>
    /// ACP file transfer (txnType=76, fileType=00) for the settlement date. A refund row names the payment by its
    /// origQueryId, so the caller matches refunds to payments through the wallet transaction id.
    /// </summary>
    public async Task<BillResult> DownloadBillAsync(DateOnly billDate, CancellationToken cancellationToken)
    {
        var fields = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["version"] = "5.1.0",
            ["encoding"] = "UTF-8",
            ["signMethod"] = "01",
            ["certId"] = _options.CertId,
            ["txnType"] = "76",
            ["txnSubType"] = "01",
            ["bizType"] = "000000",
            ["accessType"] = "0",
            ["merId"] = _options.MerId,
            ["settleDate"] = billDate.ToString("MMdd", CultureInfo.InvariantCulture),
            ["txnTime"] = DateTimeOffset.UtcNow.ToOffset(ChinaOffset).ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture),
            ["fileType"] = "00",
        };
        var reply = await CallAsync("/gateway/api/fileTransRequest.do", fields, cancellationToken);
        if (reply.Outcome != WalletCallOutcome.Ok)
        {
            return reply.Outcome == WalletCallOutcome.Rejected ? BillResult.Rejected(reply.Error!) : BillResult.Unknown(reply.Error?.Message ?? "no answer");
        }

        try
        {
            return BillResult.Ok(UnionPayBill.ParseFileContent(reply.Fields!.GetValueOrDefault("fileContent") ?? string.Empty));
        }
        catch (BillFormatException e)
        {
            return BillResult.Unknown(e.Message);
        }
    }

    public async Task<RefundResult> QueryRefundAsync(string outTradeNo, string outRefundNo, CancellationToken cancellationToken)
    {
        var query = await QueryAsync(outRefundNo, cancellationToken);
        return query switch
        {
            { Outcome: WalletCallOutcome.Ok, Transaction.Status: WalletStatus.NotFound } => new RefundResult(WalletCallOutcome.Ok, RefundStatus.NotFound, null, null, null),
            { Outcome: WalletCallOutcome.Ok, Transaction: { } t } => new RefundResult(WalletCallOutcome.Ok,
                t.Status switch { WalletStatus.Succeeded => RefundStatus.Succeeded, WalletStatus.Failed or WalletStatus.Closed => RefundStatus.Failed, _ => RefundStatus.Processing },
                t.TransactionId, t.AmountMinor, null),
            _ => RefundResult.Unknown(query.Error?.Message ?? "no answer"),
        };
    }

    public Task<CloseResult> CloseAsync(string outTradeNo, CancellationToken cancellationToken) =>
        Task.FromResult(CloseResult.Rejected(new WalletError("NOT_SUPPORTED", "UnionPay merchant-presented QR codes cannot be closed; they lapse at payTimeout.")));

    public Task<NotificationResult> VerifyNotificationAsync(IReadOnlyDictionary<string, string> headers, string rawBody, CancellationToken cancellationToken)
    {
        Dictionary<string, string> f;
        try
        {
            f = UnionPaySignature.ParseForm(rawBody);
        }
        catch (FormatException)
        {
            return Task.FromResult(NotificationResult.Reject("body is not a form"));
        }

        if (VerifyFields(f) is { } problem)
        {
            return Task.FromResult(NotificationResult.Reject(problem));
        }

        if (f.GetValueOrDefault("merId") != _options.MerId)
        {
            return Task.FromResult(NotificationResult.Reject("merId is not this merchant's"));
        }

        if (f.GetValueOrDefault("txnType") is not ("01" or "04") and var other)
        {
            // UnionPay also sends verified notices of transactions the hub never asks for (txnType=79 token opened, …),
            // without a queryId and sometimes without an orderId. They are acknowledged, so UnionPay stops resending,
            // and recorded under a digest of their signature; there is nothing in them to apply.
            var id = Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(f.GetValueOrDefault("signature") ?? string.Empty)))[..32];
            return Task.FromResult(new NotificationResult(true, null, $"txnType{other}:{id}", $"backUrl.txnType{other}", null));
        }

        var orderId = f.GetValueOrDefault("orderId");
        var queryId = f.GetValueOrDefault("queryId");
        if (string.IsNullOrEmpty(orderId) || string.IsNullOrEmpty(queryId))
        {
            return Task.FromResult(NotificationResult.Reject("notification without orderId or queryId"));
        }

        var code = f.GetValueOrDefault("respCode");
        if (f.GetValueOrDefault("txnType") == "04")
        {
            // A 退货's result: the orderId is our out_refund_no; origQryId names the payment.
            return Task.FromResult(new NotificationResult(true, null, queryId, "backUrl.refund", null,
                new RefundNotice(f.GetValueOrDefault("origQryId") ?? string.Empty, orderId, code == "00" ? RefundStatus.Succeeded : RefundStatus.Failed, queryId)));
        }

        var tx = ToTransaction(orderId, f, code == "00" ? WalletStatus.Succeeded : WalletStatus.Failed, code ?? string.Empty);
        return Task.FromResult(new NotificationResult(true, null, queryId, "backUrl", tx));
    }

    /// <summary>UnionPay counts an HTTP 200 as received; anything else is resent.</summary>
    public NotificationAck Acknowledge(bool accepted) => accepted ? new NotificationAck(200, "text/plain", "ok") : new NotificationAck(400, "text/plain", "fail");

    public void Dispose()
    {
        _key.Dispose();
        _unionPayKey.Dispose();
        _unionPayCert.Dispose();
    }

    /// <summary>
    /// ACP identifies an order by orderId and its original txnTime. The hub's out_trade_no is a UUIDv7 whose first
    /// 48 bits are Unix milliseconds, so the txnTime is derived from it and every later call names the same order.
    /// </summary>
    public static string TxnTimeOf(string outTradeNo)
    {
        if (outTradeNo.Length < 12 || !long.TryParse(outTradeNo.AsSpan(0, 12), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var ms))
        {
            throw new ArgumentException("out_trade_no must be a UUIDv7 in hex (as the hub creates them).", nameof(outTradeNo));
        }

        return DateTimeOffset.FromUnixTimeMilliseconds(ms).ToOffset(ChinaOffset).ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
    }

    private SortedDictionary<string, string> Common(string txnType, string txnSubType, string orderId) => new(StringComparer.Ordinal)
    {
        ["version"] = "5.1.0",
        ["encoding"] = "UTF-8",
        ["signMethod"] = "01",
        ["certId"] = _options.CertId,
        ["txnType"] = txnType,
        ["txnSubType"] = txnSubType,
        ["bizType"] = "000000",
        ["channelType"] = "08",
        ["accessType"] = "0",
        ["merId"] = _options.MerId,
        ["orderId"] = orderId,
        ["txnTime"] = TxnTimeOf(orderId),
    };

    private WalletTransaction ToTransaction(string orderId, Dictionary<string, string> f, WalletStatus status, string raw) => new(
        orderId, status, raw, f.GetValueOrDefault("queryId"),
        long.TryParse(f.GetValueOrDefault("txnAmt"), NumberStyles.None, CultureInfo.InvariantCulture, out var amt) ? amt : null,
        f.GetValueOrDefault("currencyCode") is "156" or null ? "CNY" : f["currencyCode"],
        f.GetValueOrDefault("accNo"),
        DateTime.TryParseExact(f.GetValueOrDefault("traceTime"), "MMddHHmmss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var t)
            ? new DateTimeOffset(DateTime.UtcNow.Year, t.Month, t.Day, t.Hour, t.Minute, t.Second, ChinaOffset) : null,
        f.GetValueOrDefault("merId"),
        // couponInfo and settleAmt: how the order was funded (UnionPayCoupons; docs/discounts-unionpay.md).
        UnionPayCoupons.Report(f));

    /// <summary>Null when the fields carry the pinned UnionPay certificate and verify with it.</summary>
    private string? VerifyFields(Dictionary<string, string> f)
    {
        if (!f.TryGetValue("signPubKeyCert", out var certPem))
        {
            return "no signPubKeyCert";
        }

        try
        {
            using var presented = X509Certificate2.CreateFromPem(certPem);
            if (!presented.RawData.AsSpan().SequenceEqual(_unionPayCert.RawData))
            {
                return "signPubKeyCert is not UnionPay's signing certificate";
            }
        }
        catch (CryptographicException)
        {
            return "signPubKeyCert is not a certificate";
        }

        return UnionPaySignature.Verify(_unionPayKey, f, f.GetValueOrDefault("signature")) ? null : "signature does not verify";
    }

    private sealed record Reply(WalletCallOutcome Outcome, Dictionary<string, string>? Fields, WalletError? Error);

    private async Task<Reply> CallAsync(string path, SortedDictionary<string, string> fields, CancellationToken cancellationToken)
    {
        fields["signature"] = UnionPaySignature.Sign(_key, fields);
        // Queries and bill requests only read: retried on a transient failure like a GET. Payments and refunds are not.
        using var request = new HttpRequestMessage(HttpMethod.Post, _options.GatewayUrl.TrimEnd('/') + path) { Content = new FormUrlEncodedContent(fields) }
            .AsRead(path is "/gateway/api/queryTrans.do" or "/gateway/api/fileTransRequest.do");
        string body;
        try
        {
            using var response = await _http.SendAsync(request, cancellationToken);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                LogNoAnswer(_log, path, $"HTTP {(int)response.StatusCode}");
                return new Reply(WalletCallOutcome.Unknown, null, new WalletError("UNKNOWN", $"HTTP {(int)response.StatusCode}"));
            }

            body = await response.Content.ReadAsStringAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (ConnectorHttp.IsNoAnswer(e))
        {
            LogNoAnswer(_log, path, e.GetType().Name);
            return new Reply(WalletCallOutcome.Unknown, null, new WalletError("UNKNOWN", $"no answer: {e.GetType().Name}"));
        }

        Dictionary<string, string> answer;
        try
        {
            answer = UnionPaySignature.ParseAnswer(body);
        }
        catch (FormatException)
        {
            return new Reply(WalletCallOutcome.Unknown, null, new WalletError("UNVERIFIED", "unparsable answer"));
        }

        if (VerifyFields(answer) is { } problem)
        {
            LogUnverified(_log, path, problem);
            return new Reply(WalletCallOutcome.Unknown, null, new WalletError("UNVERIFIED", problem));
        }

        var code = answer.GetValueOrDefault("respCode") ?? string.Empty;
        if (code == "00")
        {
            return new Reply(WalletCallOutcome.Ok, answer, null);
        }

        var error = new WalletError(code, answer.GetValueOrDefault("respMsg") ?? string.Empty);
        LogWalletError(_log, path, code);
        // 03/04/05: processing or timed out at UnionPay — the outcome is open; other codes are definite.
        return new Reply(code is "03" or "04" or "05" ? WalletCallOutcome.Unknown : WalletCallOutcome.Rejected, answer, error);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "UnionPay {Path} got no answer ({Failure}); outcome unknown")]
    private static partial void LogNoAnswer(ILogger logger, string path, string failure);

    [LoggerMessage(Level = LogLevel.Error, Message = "UnionPay {Path} answer failed verification ({Problem}); treated as no answer")]
    private static partial void LogUnverified(ILogger logger, string path, string problem);

    [LoggerMessage(Level = LogLevel.Information, Message = "UnionPay {Path} answered respCode {Code}")]
    private static partial void LogWalletError(ILogger logger, string path, string code);

    [LoggerMessage(Level = LogLevel.Critical, Message = "UnionPay returned unrecognised origRespCode {Code} for {OrderId}")]
    private static partial void LogUnrecognisedStatus(ILogger logger, string code, string orderId);
}
