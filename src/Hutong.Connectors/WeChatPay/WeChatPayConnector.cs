using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Hutong.Connectors.Abstractions;
using Hutong.Connectors.WeChatPay.Models;
using Microsoft.Extensions.Logging;

namespace Hutong.Connectors.WeChatPay;

/// <summary>
/// WeChat Pay API v3, direct-merchant mode: Native (QR) order, query by out_trade_no, close.
/// Every request is signed; every 2xx response is verified before it is believed.
/// </summary>
public sealed partial class WeChatPayConnector : IWalletConnector, IProfitSharingConnector, ISplitBillConnector, IDisposable
{
    public const string Name = "wechatpay";

    /// <summary>
    /// <c>description</c> is string[1,127] in the APIv3 order APIs (pay.weixin.qq.com, "Native下单 / JSAPI下单", 商品描述),
    /// counted in UTF-8 bytes: 127 ASCII characters fit, 43 CJK characters (3 bytes each) do not.
    /// </summary>
    public const int DescriptionMaxUtf8Bytes = 127;
    private static readonly TimeSpan ChinaOffset = TimeSpan.FromHours(8);

    private readonly HttpClient _http;
    private readonly WeChatPayOptions _options;
    private readonly WeChatPayPlatformKeys _keys;
    private readonly TimeProvider _time;
    private readonly ILogger<WeChatPayConnector> _log;
    private readonly RSA _merchantKey;
    private readonly byte[] _apiV3Key;
    private readonly SemaphoreSlim _certificateRefresh = new(1, 1);

    public WeChatPayConnector(HttpClient http, WeChatPayOptions options, TimeProvider time, ILogger<WeChatPayConnector> log)
    {
        _http = http;
        _options = options;
        _time = time;
        _log = log;
        _merchantKey = RSA.Create();
        _merchantKey.ImportFromPem(options.MerchantPrivateKeyPem);
        _apiV3Key = Encoding.UTF8.GetBytes(options.ApiV3Key);
        _keys = new WeChatPayPlatformKeys();
        if (!string.IsNullOrEmpty(options.PlatformPublicKeyId) && !string.IsNullOrEmpty(options.PlatformPublicKeyPem))
        {
            _keys.AddPublicKey(options.PlatformPublicKeyId, options.PlatformPublicKeyPem);
        }

        Notifications = new WeChatPayNotificationVerifier(_keys, _apiV3Key, time, options.MchId, options.SubMchId);
    }

    public string Wallet => Name;

    // "The number of partial refunds for each payment order cannot exceed 50 times" and "Orders placed over one year ago
    // are not eligible for refund" (Submit Refund API, https://pay.weixin.qq.com/wiki/doc/api_external/en/apis/chapter3_3_3.shtml);
    // "Only the transaction orders completed in the last 365 days are refundable" (FAQ, Refunds,
    // https://pay.weixin.qq.com/wechatpay_h5/pages/faq/refund.shtml). The hub refuses the 51st refund and a late one itself.
    public WalletCapabilities Capabilities { get; } = new(
        QrCode: true, Query: true, Close: true, Refund: true, PartialRefund: true,
        Notifications: true, ServiceProviderMode: true, Currencies: ["CNY"], MaxRefundsPerPayment: 50, RefundWindow: TimeSpan.FromDays(365));

    public WeChatPayNotificationVerifier Notifications { get; }

    public string MchId => _options.MchId;

    /// <summary>"partner/" in service-provider mode: /v3/pay/partner/transactions/… (Senparc: sp_mchid adds partner/).</summary>
    private string Partner => _options.IsServiceProvider ? "partner/" : string.Empty;

    public async Task<CreateOrderResult> CreateQrOrderAsync(CreateOrderRequest request, CancellationToken cancellationToken)
    {
        if (request.Amount.Currency.Code != "CNY")
        {
            return CreateOrderResult.Rejected(new WalletError("PARAM_ERROR", "WeChat Pay Native orders are CNY only."));
        }

        // The hub refuses longer descriptions at creation; this cut (on a character boundary) only protects older payments.
        var description = TruncateUtf8(request.Description, DescriptionMaxUtf8Bytes);
        var timeExpire = request.ExpiresAt.ToOffset(ChinaOffset).ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);
        var amount = new WxAmount(request.Amount.Minor);
        var settle = request.ProfitSharing ? new WxSettleInfo(true) : null; // funds frozen until split or released
        var body = _options.IsServiceProvider
            ? JsonSerializer.Serialize(new WxPartnerNativeOrderRequest(_options.AppId, _options.MchId, _options.SubAppId, _options.SubMchId!,
                description, request.OutTradeNo, timeExpire, request.Attach, request.NotifyUrl, amount, settle), WxJson.Default.WxPartnerNativeOrderRequest)
            : JsonSerializer.Serialize(new WxNativeOrderRequest(_options.AppId, _options.MchId,
                description, request.OutTradeNo, timeExpire, request.Attach, request.NotifyUrl, amount, settle), WxJson.Default.WxNativeOrderRequest);

        var reply = await SendAsync(HttpMethod.Post, $"/v3/pay/{Partner}transactions/native", body, cancellationToken);
        return reply switch
        {
            { Outcome: WalletCallOutcome.Ok } r when Parse(r.Body, WxJson.Default.WxNativeOrderResponse)?.CodeUrl is { } url => CreateOrderResult.Ok(url),
            { Outcome: WalletCallOutcome.Ok } => CreateOrderResult.Unknown("verified response without code_url"),
            { Outcome: WalletCallOutcome.Rejected } r => CreateOrderResult.Rejected(r.Error!),
            var r => CreateOrderResult.Unknown(r.Error?.Message ?? "no answer"),
        };
    }

    public async Task<QueryResult> QueryAsync(string outTradeNo, CancellationToken cancellationToken)
    {
        var owner = _options.IsServiceProvider
            ? $"sp_mchid={Uri.EscapeDataString(_options.MchId)}&sub_mchid={Uri.EscapeDataString(_options.SubMchId!)}"
            : $"mchid={Uri.EscapeDataString(_options.MchId)}";
        var path = $"/v3/pay/{Partner}transactions/out-trade-no/{Uri.EscapeDataString(outTradeNo)}?{owner}";
        var reply = await SendAsync(HttpMethod.Get, path, null, cancellationToken);
        if (reply.Outcome == WalletCallOutcome.Ok && Parse(reply.Body, WxJson.Default.WxTransaction) is { OutTradeNo: not null } tx)
        {
            var mapped = WeChatPayNotificationVerifier.ToWalletTransaction(tx);
            if (mapped.Status == WalletStatus.Unrecognised)
            {
                LogUnrecognisedStatus(_log, tx.TradeState ?? "(null)", outTradeNo);
            }

            return QueryResult.Ok(mapped);
        }

        if (reply.Outcome == WalletCallOutcome.Rejected && reply.Status == HttpStatusCode.NotFound)
        {
            return QueryResult.NotFound(outTradeNo);
        }

        return QueryResult.Unknown(reply.Error?.Message ?? "no answer");
    }

    /// <summary>
    /// The trade bill (bill_type=ALL) of one day: ask for the download URL (a signed call), download the file (its answer
    /// is not signed, as on the real API), check its SHA1 digest from the signed answer, and parse it.
    /// </summary>
    public async Task<BillResult> DownloadBillAsync(DateOnly billDate, CancellationToken cancellationToken)
    {
        var path = $"/v3/bill/tradebill?bill_date={billDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}&bill_type=ALL"
            + (_options.IsServiceProvider ? $"&sub_mchid={Uri.EscapeDataString(_options.SubMchId!)}" : string.Empty);
        var (outcome, body, error) = await BillFileAsync(path, billDate, cancellationToken);
        if (outcome != WalletCallOutcome.Ok)
        {
            return outcome == WalletCallOutcome.Rejected ? BillResult.Rejected(error!) : BillResult.Unknown(error?.Message ?? "download failed");
        }

        try
        {
            return BillResult.Ok(WeChatPayBill.Parse(body!));
        }
        catch (BillFormatException e)
        {
            return BillResult.Unknown(e.Message);
        }
    }

    /// <summary>
    /// The profit-sharing bill (分账账单) of one day: GET /v3/profitsharing/bills?bill_date=, then the file at download_url
    /// exactly as the trade bill (signed request, unsigned file, SHA1 from the signed answer).
    /// </summary>
    public async Task<SplitBillResult> DownloadSplitBillAsync(DateOnly billDate, CancellationToken cancellationToken)
    {
        var path = $"/v3/profitsharing/bills?bill_date={billDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}"
            + (_options.IsServiceProvider ? $"&sub_mchid={Uri.EscapeDataString(_options.SubMchId!)}" : string.Empty);
        var (outcome, body, error) = await BillFileAsync(path, billDate, cancellationToken);
        if (outcome != WalletCallOutcome.Ok)
        {
            return outcome == WalletCallOutcome.Rejected ? SplitBillResult.Rejected(error!) : SplitBillResult.Unknown(error?.Message ?? "download failed");
        }

        try
        {
            return SplitBillResult.Ok(WeChatPayProfitSharingBill.Parse(body!));
        }
        catch (BillFormatException e)
        {
            return SplitBillResult.Unknown(e.Message);
        }
    }

    /// <summary>
    /// A bill file: ask for the download URL (a signed call), download the file (its answer is not signed, as on the real
    /// API) and check its SHA1 digest from the signed answer.
    /// </summary>
    private async Task<(WalletCallOutcome Outcome, string? Body, WalletError? Error)> BillFileAsync(string path, DateOnly billDate, CancellationToken cancellationToken)
    {
        var reply = await SendAsync(HttpMethod.Get, path, null, cancellationToken);
        if (reply.Outcome == WalletCallOutcome.Rejected)
        {
            return (WalletCallOutcome.Rejected, null, reply.Error);
        }

        if (reply.Outcome != WalletCallOutcome.Ok || Parse(reply.Body, WxJson.Default.WxBillUrl) is not { DownloadUrl: { } url } info
            || !Uri.TryCreate(url, UriKind.Absolute, out var downloadUri))
        {
            return (WalletCallOutcome.Unknown, null, new WalletError("UNKNOWN", reply.Error?.Message ?? "no download_url"));
        }

        var file = await SendAsync(HttpMethod.Get, downloadUri.PathAndQuery, null, cancellationToken, verify: false);
        if (file.Outcome != WalletCallOutcome.Ok)
        {
            return (file.Outcome, null, file.Error ?? new WalletError("UNKNOWN", "download failed"));
        }

        // The digest covers the bytes as sent; the text was read without its BOM, so accept the digest with or without it.
        var bytes = Encoding.UTF8.GetBytes(file.Body);
        var withBom = Encoding.UTF8.GetPreamble().Concat(bytes).ToArray();
        if (!string.Equals(info.HashType, "SHA1", StringComparison.OrdinalIgnoreCase)
            || !(Matches(SHA1.HashData(bytes), info.HashValue) || Matches(SHA1.HashData(withBom), info.HashValue)))
        {
            LogBillDigest(_log, billDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
            return (WalletCallOutcome.Unknown, null, new WalletError("UNKNOWN", "the bill does not match its digest"));
        }

        return (WalletCallOutcome.Ok, file.Body, null);

        static bool Matches(byte[] digest, string? hex) => hex is not null && Convert.ToHexStringLower(digest) == hex.ToLowerInvariant();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "WeChat Pay bill of {Date} does not match the digest in the signed answer")]
    private static partial void LogBillDigest(ILogger logger, string date);

    public async Task<CloseResult> CloseAsync(string outTradeNo, CancellationToken cancellationToken)
    {
        var body = _options.IsServiceProvider
            ? JsonSerializer.Serialize(new WxPartnerCloseRequest(_options.MchId, _options.SubMchId!), WxJson.Default.WxPartnerCloseRequest)
            : JsonSerializer.Serialize(new WxCloseRequest(_options.MchId), WxJson.Default.WxCloseRequest);
        var reply = await SendAsync(HttpMethod.Post, $"/v3/pay/{Partner}transactions/out-trade-no/{Uri.EscapeDataString(outTradeNo)}/close", body, cancellationToken);
        return reply.Outcome switch
        {
            WalletCallOutcome.Ok => CloseResult.Ok,
            WalletCallOutcome.Rejected => CloseResult.Rejected(reply.Error!),
            _ => CloseResult.Unknown(reply.Error?.Message ?? "no answer"),
        };
    }

    public async Task<RefundResult> RefundAsync(RefundRequest request, CancellationToken cancellationToken)
    {
        var body = JsonSerializer.Serialize(new WxRefundRequest(
            _options.SubMchId, request.OutTradeNo, request.OutRefundNo, request.Reason, request.NotifyUrl,
            new WxRefundAmount(request.Refund.Minor, request.Total.Minor, request.Refund.Currency.Code)), WxJson.Default.WxRefundRequest);
        return ToRefundResult(await SendAsync(HttpMethod.Post, "/v3/refund/domestic/refunds", body, cancellationToken));
    }

    public async Task<RefundResult> QueryRefundAsync(string outTradeNo, string outRefundNo, CancellationToken cancellationToken)
    {
        var query = _options.IsServiceProvider ? $"?sub_mchid={Uri.EscapeDataString(_options.SubMchId!)}" : string.Empty;
        var reply = await SendAsync(HttpMethod.Get, $"/v3/refund/domestic/refunds/{Uri.EscapeDataString(outRefundNo)}{query}", null, cancellationToken);
        return reply is { Outcome: WalletCallOutcome.Rejected, Status: HttpStatusCode.NotFound }
            ? new RefundResult(WalletCallOutcome.Ok, RefundStatus.NotFound, null, null, null)
            : ToRefundResult(reply);
    }

    /// <summary>Refund status: SUCCESS, PROCESSING, or CLOSED/ABNORMAL (wechatpay-go refunddomestic Status).</summary>
    internal static RefundStatus? MapRefundStatus(string? status) => status switch
    {
        "SUCCESS" => RefundStatus.Succeeded,
        "PROCESSING" => RefundStatus.Processing,
        "CLOSED" or "ABNORMAL" => RefundStatus.Failed,
        _ => null,
    };

    private static RefundResult ToRefundResult(Reply reply)
    {
        if (reply.Outcome == WalletCallOutcome.Ok && Parse(reply.Body, WxJson.Default.WxRefund) is { } r && MapRefundStatus(r.Status) is { } status)
        {
            return new RefundResult(WalletCallOutcome.Ok, status, r.RefundId, r.Amount?.Refund, null);
        }

        return reply.Outcome == WalletCallOutcome.Rejected ? RefundResult.Rejected(reply.Error!) : RefundResult.Unknown(reply.Error?.Message ?? "unreadable refund answer");
    }

    public async Task<NotificationResult> VerifyNotificationAsync(IReadOnlyDictionary<string, string> headers, string rawBody, CancellationToken cancellationToken)
    {
        var headerMap = new Dictionary<string, string>(headers, StringComparer.OrdinalIgnoreCase);
        var result = Notifications.Verify(headerMap, rawBody);
        if (!result.Verified && _options.UsePlatformCertificates && headerMap.TryGetValue("Wechatpay-Serial", out var serial) && !_keys.TryGet(serial, out _))
        {
            // A new platform certificate may have been issued; fetch once and retry.
            await RefreshCertificatesAsync(cancellationToken);
            result = Notifications.Verify(headerMap, rawBody);
        }

        return result;
    }

    /// <summary>v3 ack rules: success is 200/204 without a body; failure is 4xx/5xx with {"code":"FAIL","message":…}.</summary>
    public NotificationAck Acknowledge(bool accepted) =>
        accepted ? new NotificationAck(204, null, null) : new NotificationAck(401, "application/json", "{\"code\":\"FAIL\",\"message\":\"签名验证失败\"}");

    /// <summary>Downloads and decrypts platform certificates from /v3/certificates (certificate mode).</summary>
    public async Task RefreshCertificatesAsync(CancellationToken cancellationToken)
    {
        await _certificateRefresh.WaitAsync(cancellationToken);
        try
        {
            var reply = await SendAsync(HttpMethod.Get, "/v3/certificates", null, cancellationToken, verify: false);
            if (reply.Outcome != WalletCallOutcome.Ok || Parse(reply.Body, WxJson.Default.WxCertificateList)?.Data is not { } items)
            {
                return;
            }

            var certificates = items
                .Select(i => i.EncryptCertificate)
                .Where(e => e?.Ciphertext is not null && e.Nonce is not null)
                .Select(e => X509Certificate2.CreateFromPem(WeChatPaySignature.DecryptResource(_apiV3Key, e!.Nonce!, e.AssociatedData ?? "certificate", e.Ciphertext!)))
                .ToList();

            // The list is verified with the certificates it carries, as wechatpay-go's downloader does.
            using var downloaded = new WeChatPayPlatformKeys();
            certificates.ForEach(downloaded.AddCertificate);
            if (!VerifyResponse(reply, downloaded))
            {
                LogUnverifiedResponse(_log, "/v3/certificates");
                return;
            }

            certificates.ForEach(_keys.AddCertificate);
        }
        finally
        {
            _certificateRefresh.Release();
        }
    }

    public void Dispose()
    {
        _merchantKey.Dispose();
        _keys.Dispose();
        _certificateRefresh.Dispose();
    }

    private sealed record Reply(WalletCallOutcome Outcome, HttpStatusCode Status, string Body, WalletError? Error, IReadOnlyDictionary<string, string> Headers);

    /// <param name="upload">A multipart body (an image upload) and the meta JSON it is signed over, instead of <paramref name="body"/>.</param>
    private async Task<Reply> SendAsync(HttpMethod method, string pathAndQuery, string? body, CancellationToken cancellationToken, bool verify = true, string? encryptedWithSerial = null,
        (HttpContent Content, string SignedPayload)? upload = null)
    {
        var uri = new Uri(new Uri(_options.BaseUrl.TrimEnd('/') + "/"), pathAndQuery.TrimStart('/'));
        using var request = new HttpRequestMessage(method, uri);
        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.UserAgent.ParseAdd("Hutong/1.0");
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        if (upload is { } u)
        {
            request.Content = u.Content;
            request.Options.Set(WeChatPaySigningHandler.SignedPayloadKey, u.SignedPayload);
        }

        request.Options.Set(WeChatPaySigningHandler.SignerKey, Sign);
        if (encryptedWithSerial is not null)
        {
            request.Headers.TryAddWithoutValidation("Wechatpay-Serial", encryptedWithSerial); // names the key sensitive fields were encrypted with
        }

        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (ConnectorHttp.IsNoAnswer(e))
        {
            LogNoAnswer(_log, method.Method, uri.AbsolutePath, e.GetType().Name);
            return new Reply(WalletCallOutcome.Unknown, 0, string.Empty, new WalletError("UNKNOWN", $"no answer: {e.GetType().Name}"), new Dictionary<string, string>());
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            var headers = response.Headers.ToDictionary(h => h.Key, h => string.Join(",", h.Value), StringComparer.OrdinalIgnoreCase);
            var status = response.StatusCode;
            if ((int)status is >= 200 and < 300)
            {
                var reply = new Reply(WalletCallOutcome.Ok, status, text, null, headers);
                if (verify && !await VerifyWithRefreshAsync(reply, cancellationToken))
                {
                    LogUnverifiedResponse(_log, uri.AbsolutePath);
                    return reply with { Outcome = WalletCallOutcome.Unknown, Error = new WalletError("UNVERIFIED", "response signature did not verify") };
                }

                return reply;
            }

            var error = Parse(text, WxJson.Default.WxError);
            var walletError = new WalletError(error?.Code ?? ((int)status).ToString(CultureInfo.InvariantCulture), error?.Message ?? status.ToString());
            // 4xx other than 429 is a definite business answer; 429 and 5xx leave the outcome open.
            var outcome = (int)status is >= 400 and < 500 && status != HttpStatusCode.TooManyRequests
                ? WalletCallOutcome.Rejected
                : WalletCallOutcome.Unknown;
            LogWalletError(_log, method.Method, uri.AbsolutePath, (int)status, walletError.Code);
            return new Reply(outcome, status, text, walletError, headers);
        }
    }

    private async Task<bool> VerifyWithRefreshAsync(Reply reply, CancellationToken cancellationToken)
    {
        if (VerifyResponse(reply, _keys))
        {
            return true;
        }

        if (_options.UsePlatformCertificates && reply.Headers.TryGetValue("Wechatpay-Serial", out var serial) && !_keys.TryGet(serial, out _))
        {
            await RefreshCertificatesAsync(cancellationToken);
            return VerifyResponse(reply, _keys);
        }

        return false;
    }

    private bool VerifyResponse(Reply reply, WeChatPayPlatformKeys keys)
    {
        string H(string name) => reply.Headers.TryGetValue(name, out var v) ? v : string.Empty;
        var ts = H("Wechatpay-Timestamp");
        var nonce = H("Wechatpay-Nonce");
        var signature = H("Wechatpay-Signature");
        var serial = H("Wechatpay-Serial");
        return ts.Length > 0 && nonce.Length > 0 && signature.Length > 0
            && WeChatPaySignature.IsWithinTolerance(ts, _time.GetUtcNow())
            && keys.TryGet(serial, out var key)
            && WeChatPaySignature.Verify(key, WeChatPaySignature.ResponseMessage(ts, nonce, reply.Body), signature);
    }

    /// <summary>Builds the Authorization value for one HTTP attempt (retries get a fresh nonce and timestamp).</summary>
    private string Sign(string method, string canonicalUrl, string body)
    {
        var ts = _time.GetUtcNow().ToUnixTimeSeconds();
        var nonce = WeChatPaySignature.NewNonce();
        var signature = WeChatPaySignature.Sign(_merchantKey, WeChatPaySignature.RequestMessage(method, canonicalUrl, ts, nonce, body));
        return WeChatPaySignature.Authorization(_options.MchId, nonce, ts, _options.MerchantSerialNo, signature);
    }

    private static T? Parse<T>(string text, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return default;
        }

        try
        {
            return JsonSerializer.Deserialize(text, type);
        }
        catch (JsonException)
        {
            return default;
        }
    }

    private static string Truncate(string s, int max) => s.Length <= max ? s : s[..max];

    /// <summary>The longest prefix of whole characters (never half a surrogate pair) that fits in <paramref name="maxBytes"/> UTF-8 bytes.</summary>
    public static string TruncateUtf8(string s, int maxBytes)
    {
        if (System.Text.Encoding.UTF8.GetByteCount(s) <= maxBytes)
        {
            return s;
        }

        int bytes = 0, end = 0;
        foreach (var rune in s.EnumerateRunes())
        {
            if (bytes + rune.Utf8SequenceLength > maxBytes)
            {
                break;
            }

            bytes += rune.Utf8SequenceLength;
            end += rune.Utf16SequenceLength;
        }

        return s[..end];
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "WeChat Pay {Method} {Path} got no answer ({Failure}); outcome unknown")]
    private static partial void LogNoAnswer(ILogger logger, string method, string path, string failure);

    [LoggerMessage(Level = LogLevel.Error, Message = "WeChat Pay response from {Path} failed signature verification; treated as no answer")]
    private static partial void LogUnverifiedResponse(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "WeChat Pay {Method} {Path} answered {Status} {Code}")]
    private static partial void LogWalletError(ILogger logger, string method, string path, int status, string code);

    [LoggerMessage(Level = LogLevel.Critical, Message = "WeChat Pay returned unrecognised trade_state {TradeState} for {OutTradeNo}")]
    private static partial void LogUnrecognisedStatus(ILogger logger, string tradeState, string outTradeNo);
}
