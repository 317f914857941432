using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Hutong.Connectors.Abstractions;
using Microsoft.Extensions.Logging;

namespace Hutong.Connectors.WeChatPay;

/// <summary>
/// The buyer's payment code (付款码支付) over WeChat Pay's v2 XML API (pay.weixin.qq.com/wiki/doc/api/micropay.php):
/// pay/micropay, pay/orderquery and secapi/pay/reverse, each signed with the v2 key (HMAC-SHA256). Every answer's
/// signature is checked before it is believed; an answer that does not verify is no answer.
/// </summary>
public sealed partial class WeChatPayConnector : IPaymentCodeConnector
{
    /// <summary>body is String(128) in pay/micropay, counted in UTF-8 bytes.</summary>
    private const int MicropayBodyMaxUtf8Bytes = 128;

    /// <summary>
    /// micropay err_code values after which the order may or may not have been charged: settled by query, never failed
    /// (SYSTEMERROR/BANKERROR: "调用查询接口确认"; ORDERPAID: the same out_trade_no was paid by an earlier send).
    /// </summary>
    private static readonly HashSet<string> MicropayUncertain = new(StringComparer.Ordinal) { "SYSTEMERROR", "BANKERROR", "ORDERPAID" };

    public async Task<CodePaymentResult> PayWithCodeAsync(CodePaymentRequest request, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(_options.ApiV2Key))
        {
            return CodePaymentResult.Rejected(new WalletError("NO_V2_KEY", "This WeChat Pay account has no v2 API key (ApiV2Key): payment codes need it."));
        }

        if (request.Amount.Currency.Code != "CNY")
        {
            return CodePaymentResult.Rejected(new WalletError("PARAM_ERROR", "WeChat Pay payment codes are CNY only."));
        }

        var fields = V2Fields();
        fields["body"] = TruncateUtf8(request.Description, MicropayBodyMaxUtf8Bytes);
        fields["out_trade_no"] = request.OutTradeNo;
        fields["total_fee"] = request.Amount.Minor.ToString(CultureInfo.InvariantCulture);
        fields["fee_type"] = "CNY";
        fields["spbill_create_ip"] = _options.PaymentCodeClientIp;
        fields["auth_code"] = request.AuthCode;
        if (request.Attach is not null)
        {
            fields["attach"] = request.Attach;
        }

        var (outcome, answer, error) = await SendV2Async("pay/micropay", fields, cancellationToken);
        if (outcome != WalletCallOutcome.Ok)
        {
            return new CodePaymentResult(outcome, null, error);
        }

        if (answer!.GetValueOrDefault("result_code") == "SUCCESS")
        {
            return CodePaymentResult.Ok(ToTransaction(answer, request.OutTradeNo, "SUCCESS"));
        }

        var code = answer.GetValueOrDefault("err_code") ?? "FAIL";
        var message = answer.GetValueOrDefault("err_code_des") ?? code;
        LogV2Error(_log, "pay/micropay", code);
        return code switch
        {
            // The buyer is entering the password: the order exists and is not paid yet (the hub queries it).
            "USERPAYING" => CodePaymentResult.Ok(new WalletTransaction(request.OutTradeNo, WalletStatus.Paying, "USERPAYING", null, null, null, null, null, _options.MchId)),
            _ when MicropayUncertain.Contains(code) => CodePaymentResult.Unknown($"{code}: {message}"),
            _ => CodePaymentResult.Rejected(new WalletError(code, message)),
        };
    }

    public async Task<QueryResult> QueryCodePaymentAsync(string outTradeNo, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(_options.ApiV2Key))
        {
            return QueryResult.Unknown("no v2 API key");
        }

        var fields = V2Fields();
        fields["out_trade_no"] = outTradeNo;
        var (outcome, answer, error) = await SendV2Async("pay/orderquery", fields, cancellationToken);
        if (outcome != WalletCallOutcome.Ok)
        {
            return QueryResult.Unknown(error?.Message ?? "no answer");
        }

        if (answer!.GetValueOrDefault("result_code") == "SUCCESS")
        {
            var state = answer.GetValueOrDefault("trade_state") ?? string.Empty;
            var tx = ToTransaction(answer, outTradeNo, state);
            if (tx.Status == WalletStatus.Unrecognised)
            {
                LogUnrecognisedStatus(_log, state, outTradeNo);
            }

            return QueryResult.Ok(tx);
        }

        return answer.GetValueOrDefault("err_code") == "ORDERNOTEXIST"
            ? QueryResult.NotFound(outTradeNo)
            : QueryResult.Unknown(answer.GetValueOrDefault("err_code") ?? "FAIL");
    }

    public async Task<CloseResult> ReverseAsync(string outTradeNo, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(_options.ApiV2Key))
        {
            return CloseResult.Unknown("no v2 API key");
        }

        var fields = V2Fields();
        fields["out_trade_no"] = outTradeNo;
        var (outcome, answer, error) = await SendV2Async("secapi/pay/reverse", fields, cancellationToken, clientCertificate: true);
        if (outcome != WalletCallOutcome.Ok)
        {
            return new CloseResult(outcome, error);
        }

        if (answer!.GetValueOrDefault("result_code") == "SUCCESS")
        {
            // recall=Y: "需要继续调用撤销" — not reversed yet, call again.
            return answer.GetValueOrDefault("recall") == "Y" ? CloseResult.Unknown("recall=Y") : CloseResult.Ok;
        }

        var code = answer.GetValueOrDefault("err_code") ?? "FAIL";
        LogV2Error(_log, "secapi/pay/reverse", code);
        return code switch
        {
            "SYSTEMERROR" or "USERPAYING" => CloseResult.Unknown(code),
            "ORDERNOTEXIST" => CloseResult.Ok, // never reached WeChat: nothing to charge
            _ => CloseResult.Rejected(new WalletError(code, answer.GetValueOrDefault("err_code_des") ?? code)),
        };
    }

    private Dictionary<string, string> V2Fields()
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["appid"] = _options.AppId,
            ["mch_id"] = _options.MchId,
            ["nonce_str"] = RandomNumberGenerator.GetHexString(32, lowercase: false),
            ["sign_type"] = WeChatPayV2.SignType,
        };
        if (_options.IsServiceProvider)
        {
            fields["sub_mch_id"] = _options.SubMchId!;
            if (!string.IsNullOrEmpty(_options.SubAppId))
            {
                fields["sub_appid"] = _options.SubAppId;
            }
        }

        return fields;
    }

    /// <summary>
    /// Sends one signed v2 request. Ok: return_code SUCCESS with a verified signature (result_code is the caller's to read);
    /// Rejected: return_code FAIL (a communication-level refusal: bad signature, bad parameters; nothing was done);
    /// Unknown: no answer, or an answer that does not verify.
    /// </summary>
    private async Task<(WalletCallOutcome Outcome, Dictionary<string, string> Answer, WalletError? Error)> SendV2Async(
        string path, Dictionary<string, string> fields, CancellationToken cancellationToken, bool clientCertificate = false)
    {
        fields["sign"] = WeChatPayV2.Sign(fields, _options.ApiV2Key!);
        var uri = new Uri(new Uri(_options.BaseUrl.TrimEnd('/') + "/"), path);
        using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new StringContent(WeChatPayV2.ToXml(fields), Encoding.UTF8, "text/xml") };
        request.Headers.UserAgent.ParseAdd("Hutong/1.0");
        using var certified = clientCertificate ? ClientCertificateHttp() : null;
        string text;
        try
        {
            using var response = await (certified ?? _http).SendAsync(request, cancellationToken);
            text = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                return (WalletCallOutcome.Unknown, [], new WalletError("UNKNOWN", $"HTTP {(int)response.StatusCode}"));
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (ConnectorHttp.IsNoAnswer(e))
        {
            LogNoAnswer(_log, "POST", uri.AbsolutePath, e.GetType().Name);
            return (WalletCallOutcome.Unknown, [], new WalletError("UNKNOWN", $"no answer: {e.GetType().Name}"));
        }

        if (WeChatPayV2.ParseXml(text) is not { } answer)
        {
            return (WalletCallOutcome.Unknown, [], new WalletError("UNKNOWN", "answer is not v2 XML"));
        }

        if (answer.GetValueOrDefault("return_code") != "SUCCESS")
        {
            // return_code FAIL answers carry no signature (签名失败, 参数格式校验错误): the request was refused as sent.
            var message = answer.GetValueOrDefault("return_msg") ?? "FAIL";
            LogV2Error(_log, path, message);
            return (WalletCallOutcome.Rejected, answer, new WalletError("FAIL", message));
        }

        if (!WeChatPayV2.Verify(answer, _options.ApiV2Key!))
        {
            LogUnverifiedResponse(_log, uri.AbsolutePath);
            return (WalletCallOutcome.Unknown, [], new WalletError("UNVERIFIED", "response signature did not verify"));
        }

        return (WalletCallOutcome.Ok, answer, null);
    }

    /// <summary>
    /// secapi/ calls need the merchant's API certificate as the TLS client certificate. Made per call: reversals are
    /// rare (a till's wait ran out), and the channel's certificate never sits in a handler shared by other channels.
    /// </summary>
    private HttpClient? ClientCertificateHttp()
    {
        if (string.IsNullOrEmpty(_options.ApiClientCertificatePem))
        {
            return null;
        }

        var certificate = X509Certificate2.CreateFromPem(_options.ApiClientCertificatePem, _options.MerchantPrivateKeyPem);
        var handler = new SocketsHttpHandler();
        handler.SslOptions.ClientCertificates = new X509CertificateCollection { certificate };
        return new HttpClient(handler, disposeHandler: true) { Timeout = _options.TotalTimeout };
    }

    private WalletTransaction ToTransaction(IReadOnlyDictionary<string, string> a, string outTradeNo, string state) => new(
        a.GetValueOrDefault("out_trade_no") ?? outTradeNo,
        WeChatPayStatusMap.Map(state),
        state,
        a.GetValueOrDefault("transaction_id"),
        long.TryParse(a.GetValueOrDefault("total_fee"), NumberStyles.None, CultureInfo.InvariantCulture, out var fee) ? fee : null,
        a.GetValueOrDefault("fee_type") ?? (a.ContainsKey("total_fee") ? "CNY" : null), // fee_type defaults to CNY when absent
        a.GetValueOrDefault("openid") ?? a.GetValueOrDefault("sub_openid"),
        DateTime.TryParseExact(a.GetValueOrDefault("time_end"), "yyyyMMddHHmmss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var end)
            ? new DateTimeOffset(end, ChinaOffset)
            : null,
        a.GetValueOrDefault("sub_mch_id") ?? a.GetValueOrDefault("mch_id") ?? _options.MchId);

    [LoggerMessage(Level = LogLevel.Information, Message = "WeChat Pay v2 {Path} answered {Code}")]
    private static partial void LogV2Error(ILogger logger, string path, string code);
}
