using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hutong.Connectors.Abstractions;
using Microsoft.Extensions.Logging;

namespace Hutong.Connectors.Alipay;

/// <summary>
/// Alipay OpenAPI v2: alipay.trade.precreate (QR), page.pay / wap.pay (redirect URL), query, close.
/// Requests are RSA2-signed form posts; every response is verified over its raw "xxx_response" text.
/// </summary>
public sealed partial class AlipayConnector : IWalletConnector, IProfitSharingConnector, IDisposable
{
    public const string Name = "alipay";

    /// <summary>
    /// <c>subject</c> is String, max length 256, in alipay.trade.precreate (opendocs.alipay.com, 统一收单线下交易预创建, 订单标题):
    /// counted in characters, so any description within WeChat Pay's 127 UTF-8 bytes fits.
    /// </summary>
    public const int SubjectMaxChars = 256;

    private readonly HttpClient _http;
    private readonly AlipayOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<AlipayConnector> _log;
    private readonly RSA _appKey;
    private readonly RSA _alipayKey;

    public AlipayConnector(HttpClient http, AlipayOptions options, TimeProvider time, ILogger<AlipayConnector> log)
    {
        _http = http;
        _options = options;
        _time = time;
        _log = log;
        _appKey = RSA.Create();
        _appKey.ImportFromPem(options.AppPrivateKeyPem);
        _alipayKey = RSA.Create();
        _alipayKey.ImportFromPem(options.AlipayPublicKeyPem);
    }

    public string Wallet => Name;

    public WalletCapabilities Capabilities { get; } = new(
        QrCode: true, Query: true, Close: true, Refund: true, PartialRefund: true,
        Notifications: true, ServiceProviderMode: true, Currencies: ["CNY"]);

    public async Task<CreateOrderResult> CreateQrOrderAsync(CreateOrderRequest request, CancellationToken cancellationToken)
    {
        if (request.Amount.Currency.Code != "CNY")
        {
            return CreateOrderResult.Rejected(new WalletError("INVALID_PARAMETER", "Alipay precreate is CNY only."));
        }

        var reply = await CallAsync("alipay.trade.precreate", OrderBiz(request), request.NotifyUrl, cancellationToken);
        return reply.Outcome switch
        {
            WalletCallOutcome.Ok when reply.Response?["qr_code"]?.GetValue<string>() is { } qr => CreateOrderResult.Ok(qr),
            WalletCallOutcome.Ok => CreateOrderResult.Unknown("verified response without qr_code"),
            WalletCallOutcome.Rejected => CreateOrderResult.Rejected(reply.Error!),
            _ => CreateOrderResult.Unknown(reply.Error?.Message ?? "no answer"),
        };
    }

    public async Task<QueryResult> QueryAsync(string outTradeNo, CancellationToken cancellationToken)
    {
        // query_options asks for the vouchers a paid order used (returned only when asked).
        var reply = await CallAsync("alipay.trade.query", new JsonObject { ["out_trade_no"] = outTradeNo, ["query_options"] = new JsonArray("voucher_detail_list") }, null, cancellationToken);
        if (reply.Outcome == WalletCallOutcome.Ok && reply.Response is { } r)
        {
            var status = r["trade_status"]?.GetValue<string>();
            var mapped = AlipayStatusMap.Map(status);
            if (mapped == WalletStatus.Unrecognised)
            {
                LogUnrecognisedStatus(_log, status ?? "(null)", outTradeNo);
            }

            return QueryResult.Ok(new WalletTransaction(
                outTradeNo, mapped, status ?? string.Empty, r["trade_no"]?.GetValue<string>(),
                AlipayAmount.TryParseFen(r["total_amount"]?.GetValue<string>(), out var fen) ? fen : null, "CNY",
                PayerOf(r["buyer_open_id"]?.GetValue<string>(), r["buyer_user_id"]?.GetValue<string>() ?? r["buyer_logon_id"]?.GetValue<string>()),
                ParseTime(r["send_pay_date"]?.GetValue<string>()), null,
                mapped == WalletStatus.Succeeded
                    ? AlipayDiscounts.Report(AlipayAmount.TryParseFen(r["total_amount"]?.GetValue<string>(), out var total) ? total : null, r["buyer_pay_amount"]?.GetValue<string>(),
                        r["point_amount"]?.GetValue<string>(), r["receipt_amount"]?.GetValue<string>(), AlipayDiscounts.FromQuery(r["voucher_detail_list"]))
                    : null));
        }

        if (reply.Outcome == WalletCallOutcome.Rejected && reply.Error?.Code == "ACQ.TRADE_NOT_EXIST")
        {
            return QueryResult.NotFound(outTradeNo);
        }

        return QueryResult.Unknown(reply.Error?.Message ?? "no answer");
    }

    /// <summary>alipay.data.dataservice.bill.downloadurl.query (bill_type=trade), then the ZIP it points at.</summary>
    public async Task<BillResult> DownloadBillAsync(DateOnly billDate, CancellationToken cancellationToken)
    {
        var reply = await CallAsync("alipay.data.dataservice.bill.downloadurl.query",
            new JsonObject { ["bill_type"] = "trade", ["bill_date"] = billDate.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture) }, null, cancellationToken);
        if (reply.Outcome != WalletCallOutcome.Ok)
        {
            return reply.Outcome == WalletCallOutcome.Rejected ? BillResult.Rejected(reply.Error!) : BillResult.Unknown(reply.Error?.Message ?? "no answer");
        }

        if (reply.Response!["bill_download_url"]?.GetValue<string>() is not { } url || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return BillResult.Unknown("no bill_download_url");
        }

        try
        {
            using var response = await _http.GetAsync(uri, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                return BillResult.Unknown($"bill download: HTTP {(int)response.StatusCode}");
            }

            return BillResult.Ok(AlipayBill.ParseZip(await response.Content.ReadAsByteArrayAsync(cancellationToken)));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (ConnectorHttp.IsNoAnswer(e))
        {
            return BillResult.Unknown($"bill download: {e.GetType().Name}");
        }
        catch (BillFormatException e)
        {
            return BillResult.Unknown(e.Message);
        }
    }

    /// <summary>
    /// alipay.trade.close; when its outcome is unknown (no answer, 20000, ACQ.SYSTEM_ERROR) the trade's state is unknown
    /// too, and Alipay's remedy for that is alipay.trade.cancel (撤销): it closes an unpaid trade and refunds a paid one
    /// in full, so the trade ends closed either way. retry_flag=Y leaves it open for the next attempt.
    /// </summary>
    public async Task<CloseResult> CloseAsync(string outTradeNo, CancellationToken cancellationToken)
    {
        var reply = await CallAsync("alipay.trade.close", new JsonObject { ["out_trade_no"] = outTradeNo }, null, cancellationToken);
        if (reply.Outcome == WalletCallOutcome.Unknown)
        {
            reply = await CallAsync("alipay.trade.cancel", new JsonObject { ["out_trade_no"] = outTradeNo }, null, cancellationToken);
            if (reply is { Outcome: WalletCallOutcome.Ok, Response: var r } && r?["retry_flag"]?.GetValue<string>() == "Y")
            {
                return CloseResult.Unknown("alipay.trade.cancel asks to be retried (retry_flag=Y)");
            }
        }

        return reply.Outcome switch
        {
            WalletCallOutcome.Ok => CloseResult.Ok,
            WalletCallOutcome.Rejected => CloseResult.Rejected(reply.Error!),
            _ => CloseResult.Unknown(reply.Error?.Message ?? "no answer"),
        };
    }

    /// <summary>alipay.trade.refund: synchronous; out_request_no makes it idempotent (a repeat answers fund_change=N).</summary>
    public async Task<RefundResult> RefundAsync(RefundRequest request, CancellationToken cancellationToken)
    {
        var biz = new JsonObject
        {
            ["out_trade_no"] = request.OutTradeNo,
            ["refund_amount"] = AlipayAmount.FromFen(request.Refund.Minor),
            ["out_request_no"] = request.OutRefundNo,
        };
        if (request.Reason is not null)
        {
            biz["refund_reason"] = request.Reason;
        }

        if (request.RoyaltyReturns is { Count: > 0 } returns)
        {
            // The receivers' shares come back with the refund, all or nothing (退分账).
            biz["refund_royalty_parameters"] = new JsonArray(returns.Select(r => (JsonNode)new JsonObject
            {
                ["royalty_type"] = "transfer",
                ["trans_out_type"] = AccountType(r.From.Account),
                ["trans_out"] = r.From.Account,
                ["amount"] = AlipayAmount.FromFen(r.Amount),
                ["desc"] = "退款退分账",
            }).ToArray());
        }

        var reply = await CallAsync("alipay.trade.refund", biz, null, cancellationToken);
        return reply.Outcome switch
        {
            WalletCallOutcome.Ok => new RefundResult(WalletCallOutcome.Ok, RefundStatus.Succeeded, reply.Response?["trade_no"]?.GetValue<string>(), request.Refund.Minor, null),
            WalletCallOutcome.Rejected => RefundResult.Rejected(reply.Error!),
            _ => RefundResult.Unknown(reply.Error?.Message ?? "no answer"),
        };
    }

    /// <summary>alipay.trade.fastpay.refund.query: REFUND_SUCCESS, or no refund fields when there is no such refund.</summary>
    public async Task<RefundResult> QueryRefundAsync(string outTradeNo, string outRefundNo, CancellationToken cancellationToken)
    {
        var reply = await CallAsync("alipay.trade.fastpay.refund.query", new JsonObject { ["out_trade_no"] = outTradeNo, ["out_request_no"] = outRefundNo }, null, cancellationToken);
        if (reply.Outcome != WalletCallOutcome.Ok)
        {
            return reply.Outcome == WalletCallOutcome.Rejected ? RefundResult.Rejected(reply.Error!) : RefundResult.Unknown(reply.Error?.Message ?? "no answer");
        }

        var status = reply.Response?["refund_status"]?.GetValue<string>();
        return status == "REFUND_SUCCESS"
            ? new RefundResult(WalletCallOutcome.Ok, RefundStatus.Succeeded, reply.Response?["trade_no"]?.GetValue<string>(),
                AlipayAmount.TryParseFen(reply.Response?["refund_amount"]?.GetValue<string>(), out var fen) ? fen : null, null)
            : new RefundResult(WalletCallOutcome.Ok, RefundStatus.NotFound, null, null, null);
    }

    /// <summary>
    /// The buyer's redirect for desktop (alipay.trade.page.pay, FAST_INSTANT_TRADE_PAY) or mobile web
    /// (alipay.trade.wap.pay, QUICK_WAP_WAY): a signed GET URL on the gateway, as the SDKs' pageExecute builds it.
    /// </summary>
    public string BuildPayUrl(CreateOrderRequest request, bool mobile, string? returnUrl)
    {
        var biz = OrderBiz(request);
        biz["product_code"] = mobile ? "QUICK_WAP_WAY" : "FAST_INSTANT_TRADE_PAY";
        var parameters = CommonParameters(mobile ? "alipay.trade.wap.pay" : "alipay.trade.page.pay", biz, request.NotifyUrl);
        if (returnUrl is not null)
        {
            parameters["return_url"] = returnUrl;
        }

        parameters["sign"] = AlipaySignature.Sign(_appKey, AlipaySignature.Content(parameters!));
        return _options.GatewayUrl + "?" + string.Join('&', parameters.Select(p => $"{p.Key}={Uri.EscapeDataString(p.Value)}"));
    }

    public Task<NotificationResult> VerifyNotificationAsync(IReadOnlyDictionary<string, string> headers, string rawBody, CancellationToken cancellationToken)
    {
        Dictionary<string, string> form;
        try
        {
            form = ParseForm(rawBody);
        }
        catch (FormatException)
        {
            return Task.FromResult(NotificationResult.Reject("body is not a form"));
        }

        // Notifications sign everything except sign and sign_type, empty values skipped (rsaCheckV1).
        var content = AlipaySignature.Content(form!, dropEmpty: true, "sign_type");
        if (form.GetValueOrDefault("sign_type") is { } type && type != "RSA2")
        {
            return Task.FromResult(NotificationResult.Reject($"unsupported sign_type {type}"));
        }

        if (!AlipaySignature.Verify(_alipayKey, content, form.GetValueOrDefault("sign")))
        {
            return Task.FromResult(NotificationResult.Reject("signature does not verify"));
        }

        if (form.GetValueOrDefault("app_id") != _options.AppId)
        {
            return Task.FromResult(NotificationResult.Reject("app_id is not this application's"));
        }

        if (form.GetValueOrDefault("msg_method") == ComplaintChangedMethod || form.GetValueOrDefault("notify_type") == ComplaintChangedMethod)
        {
            return Task.FromResult(ComplaintNotification(form));
        }

        var outTradeNo = form.GetValueOrDefault("out_trade_no");
        var notifyId = form.GetValueOrDefault("notify_id");
        if (string.IsNullOrEmpty(outTradeNo) || string.IsNullOrEmpty(notifyId))
        {
            return Task.FromResult(NotificationResult.Reject("notification without out_trade_no or notify_id"));
        }

        var status = form.GetValueOrDefault("trade_status");
        var tx = new WalletTransaction(
            outTradeNo, AlipayStatusMap.Map(status), status ?? string.Empty, form.GetValueOrDefault("trade_no"),
            AlipayAmount.TryParseFen(form.GetValueOrDefault("total_amount"), out var fen) ? fen : null, "CNY",
            PayerOf(form.GetValueOrDefault("buyer_open_id"), form.GetValueOrDefault("buyer_id") ?? form.GetValueOrDefault("buyer_logon_id")),
            ParseTime(form.GetValueOrDefault("gmt_payment")), form.GetValueOrDefault("seller_id"),
            AlipayStatusMap.Map(status) == WalletStatus.Succeeded
                ? AlipayDiscounts.Report(AlipayAmount.TryParseFen(form.GetValueOrDefault("total_amount"), out var total) ? total : null, form.GetValueOrDefault("buyer_pay_amount"),
                    form.GetValueOrDefault("point_amount"), form.GetValueOrDefault("receipt_amount"), AlipayDiscounts.FromNotification(form.GetValueOrDefault("voucher_detail_list")))
                : null);
        return Task.FromResult(new NotificationResult(true, null, notifyId, form.GetValueOrDefault("notify_type") ?? "trade_status_sync", tx));
    }

    public NotificationAck Acknowledge(bool accepted) =>
        accepted ? new NotificationAck(200, "text/plain", "success") : new NotificationAck(400, "text/plain", "failure");

    public void Dispose()
    {
        _appKey.Dispose();
        _alipayKey.Dispose();
    }

    internal static Dictionary<string, string> ParseForm(string body)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in body.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var key = WebUtility.UrlDecode(eq < 0 ? pair : pair[..eq]);
            var value = eq < 0 ? string.Empty : WebUtility.UrlDecode(pair[(eq + 1)..]);
            if (!result.TryAdd(key, value))
            {
                throw new FormatException($"duplicate form field {key}");
            }
        }

        return result;
    }

    private static JsonObject OrderBiz(CreateOrderRequest request)
    {
        var biz = new JsonObject
        {
            ["out_trade_no"] = request.OutTradeNo,
            ["total_amount"] = AlipayAmount.FromFen(request.Amount.Minor),
            ["subject"] = request.Description.Length > SubjectMaxChars ? request.Description[..SubjectMaxChars] : request.Description,
            ["time_expire"] = request.ExpiresAt.ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
        };
        if (request.Attach is not null)
        {
            biz["passback_params"] = request.Attach;
        }

        return biz;
    }

    private SortedDictionary<string, string> CommonParameters(string method, JsonObject biz, string? notifyUrl)
    {
        var p = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["app_id"] = _options.AppId,
            ["method"] = method,
            ["format"] = "JSON",
            ["charset"] = "utf-8",
            ["sign_type"] = "RSA2",
            ["timestamp"] = AlipaySignature.Timestamp(_time.GetUtcNow()),
            ["version"] = "1.0",
            ["biz_content"] = biz.ToJsonString(),
        };
        if (!string.IsNullOrEmpty(notifyUrl))
        {
            p["notify_url"] = notifyUrl;
        }

        if (!string.IsNullOrEmpty(_options.AppAuthToken))
        {
            p["app_auth_token"] = _options.AppAuthToken;
        }

        return p;
    }

    private sealed record Reply(WalletCallOutcome Outcome, JsonObject? Response, WalletError? Error);

    /// <summary><paramref name="extra"/>: request parameters outside biz_content (alipay.system.oauth.token's grant_type and code).</summary>
    /// <param name="file">A file upload (alipay.merchant.image.upload's image_content): the request goes as multipart/form-data,
    /// the common parameters and sign in the query string, <paramref name="extra"/> as form fields, the file as a part that is
    /// not signed (alipay-sdk-java-all AlipayUploadRequest: getTextParams are signed, getFileParams are not; alipay-sdk (npm)
    /// dist/commonjs/alipay.js #multipartExec: "文件不需要签名", formatUrl puts the common parameters in the URL).</param>
    private async Task<Reply> CallAsync(string method, JsonObject biz, string? notifyUrl, CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? extra = null,
        (string Field, string FileName, string ContentType, byte[] Content)? file = null)
    {
        var parameters = CommonParameters(method, biz, notifyUrl);
        if (extra is not null)
        {
            parameters.Remove("biz_content");
            foreach (var (k, v) in extra)
            {
                parameters[k] = v;
            }
        }

        parameters["sign"] = AlipaySignature.Sign(_appKey, AlipaySignature.Content(parameters!));
        // alipay.trade.query, alipay.trade.fastpay.refund.query, the bill URL query…: reads, retried like a GET.
        using var request = file is { } upload ? Multipart(parameters, extra!, upload) : new HttpRequestMessage(HttpMethod.Post, _options.GatewayUrl)
        {
            Content = new FormUrlEncodedContent(parameters),
        }.AsRead(method.EndsWith(".query", StringComparison.Ordinal));

        string body;
        HttpStatusCode status;
        try
        {
            using var response = await _http.SendAsync(request, cancellationToken);
            status = response.StatusCode;
            body = await response.Content.ReadAsStringAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (ConnectorHttp.IsNoAnswer(e))
        {
            LogNoAnswer(_log, method, e.GetType().Name);
            return new Reply(WalletCallOutcome.Unknown, null, new WalletError("UNKNOWN", $"no answer: {e.GetType().Name}"));
        }

        if (status != HttpStatusCode.OK)
        {
            LogNoAnswer(_log, method, $"HTTP {(int)status}");
            return new Reply(WalletCallOutcome.Unknown, null, new WalletError("UNKNOWN", $"HTTP {(int)status}"));
        }

        var responseKey = method.Replace('.', '_') + "_response";
        var own = AlipaySignature.ExtractResponseText(body, responseKey);
        var raw = own ?? AlipaySignature.ExtractResponseText(body, "error_response");
        string? sign = null;
        JsonObject? parsed = null;
        try
        {
            var doc = JsonNode.Parse(body) as JsonObject;
            sign = doc?["sign"]?.GetValue<string>();
            parsed = raw is null ? null : JsonNode.Parse(raw) as JsonObject;
        }
        catch (JsonException)
        {
        }

        if (raw is null || parsed is null || !AlipaySignature.Verify(_alipayKey, raw, sign))
        {
            LogUnverified(_log, method);
            return new Reply(WalletCallOutcome.Unknown, null, new WalletError("UNVERIFIED", "response signature did not verify"));
        }

        var code = parsed["code"]?.GetValue<string>();
        // alipay.system.oauth.token answers success without a code (see ExchangeCodeAsync); its failures come as error_response.
        if (code == "10000" || (code is null && method == "alipay.system.oauth.token" && own is not null))
        {
            return new Reply(WalletCallOutcome.Ok, parsed, null);
        }

        var subCode = parsed["sub_code"]?.GetValue<string>();
        var error = new WalletError(subCode ?? code ?? "UNKNOWN", parsed["sub_msg"]?.GetValue<string>() ?? parsed["msg"]?.GetValue<string>() ?? string.Empty);
        LogWalletError(_log, method, code ?? "-", error.Code);

        // 20000 (service unavailable) and ACQ.SYSTEM_ERROR leave the outcome open; other codes are definite answers.
        var open = code == "20000" || subCode is "ACQ.SYSTEM_ERROR" or "aop.ACQ.SYSTEM_ERROR";
        return new Reply(open ? WalletCallOutcome.Unknown : WalletCallOutcome.Rejected, parsed, error);
    }

    private HttpRequestMessage Multipart(SortedDictionary<string, string> parameters, IReadOnlyDictionary<string, string> fields, (string Field, string FileName, string ContentType, byte[] Content) file)
    {
        var query = string.Join('&', parameters.Where(p => !fields.ContainsKey(p.Key)).Select(p => $"{Uri.EscapeDataString(p.Key)}={Uri.EscapeDataString(p.Value)}"));
        var separator = _options.GatewayUrl.Contains('?', StringComparison.Ordinal) ? "&" : "?";
        var form = new MultipartFormDataContent();
        foreach (var (k, v) in fields)
        {
            form.Add(new StringContent(v, System.Text.Encoding.UTF8), k);
        }

        var part = new ByteArrayContent(file.Content);
        part.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(file.ContentType);
        form.Add(part, file.Field, file.FileName);
        return new HttpRequestMessage(HttpMethod.Post, _options.GatewayUrl + separator + query) { Content = form };
    }

    private static DateTimeOffset? ParseTime(string? chinaTime) =>
        DateTime.TryParseExact(chinaTime, "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var t)
            ? new DateTimeOffset(t, TimeSpan.FromHours(8))
            : null;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Alipay {Method} got no answer ({Failure}); outcome unknown")]
    private static partial void LogNoAnswer(ILogger logger, string method, string failure);

    [LoggerMessage(Level = LogLevel.Error, Message = "Alipay {Method} response failed signature verification; treated as no answer")]
    private static partial void LogUnverified(ILogger logger, string method);

    [LoggerMessage(Level = LogLevel.Information, Message = "Alipay {Method} answered {Code} {SubCode}")]
    private static partial void LogWalletError(ILogger logger, string method, string code, string subCode);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Alipay returned unrecognised trade_status {TradeStatus} for {OutTradeNo}")]
    private static partial void LogUnrecognisedStatus(ILogger logger, string tradeStatus, string outTradeNo);
}
