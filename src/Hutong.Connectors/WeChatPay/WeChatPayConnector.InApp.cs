using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Hutong.Connectors.Abstractions;
using Hutong.Connectors.WeChatPay.Models;

namespace Hutong.Connectors.WeChatPay;

/// <summary>
/// The in-app flows: JSAPI (in WeChat's browser, with the buyer's openid from OAuth snsapi_base), mini-program, H5 and
/// App orders, their signed pay parameters, and the OAuth code exchanges. Direct-merchant mode only for now.
/// </summary>
public sealed partial class WeChatPayConnector : IInAppPayConnector, IBuyerIdentityConnector
{
    public IReadOnlyList<PayFlow> InAppFlows => _inAppFlows ??= Flows(_options);

    private IReadOnlyList<PayFlow>? _inAppFlows;

    private static List<PayFlow> Flows(WeChatPayOptions o)
    {
        var flows = new List<PayFlow>();
        if (o.IsServiceProvider)
        {
            return flows; // sub_openid/sp_appid orders are not built yet
        }

        if (!string.IsNullOrEmpty(o.AppSecret))
        {
            flows.Add(PayFlow.Jsapi);
        }

        if (!string.IsNullOrEmpty(o.MiniProgramAppId) && !string.IsNullOrEmpty(o.MiniProgramSecret))
        {
            flows.Add(PayFlow.MiniProgram);
        }

        if (o.H5Enabled)
        {
            flows.Add(PayFlow.H5);
        }

        if (!string.IsNullOrEmpty(o.MobileAppId))
        {
            flows.Add(PayFlow.App);
        }

        return flows;
    }

    private string AppIdFor(PayFlow flow) => flow switch
    {
        PayFlow.MiniProgram => _options.MiniProgramAppId!,
        PayFlow.App => _options.MobileAppId!,
        _ => _options.AppId,
    };

    public async Task<CreateOrderResult> CreateInAppOrderAsync(PayFlow flow, CreateOrderRequest request, FlowPayer payer, CancellationToken cancellationToken)
    {
        if (!InAppFlows.Contains(flow))
        {
            return CreateOrderResult.Rejected(new WalletError("FLOW_NOT_SUPPORTED", $"This WeChat Pay account has no {PayFlows.Wire(flow)} flow."));
        }

        if (request.Amount.Currency.Code != "CNY")
        {
            return CreateOrderResult.Rejected(new WalletError("PARAM_ERROR", "WeChat Pay orders are CNY only."));
        }

        var needsPayer = flow is PayFlow.Jsapi or PayFlow.MiniProgram;
        if (needsPayer && string.IsNullOrEmpty(payer.WalletPayerId))
        {
            return CreateOrderResult.Rejected(new WalletError("PARAM_ERROR", "A JSAPI or mini-program order needs the payer's openid."));
        }

        if (flow == PayFlow.H5 && string.IsNullOrEmpty(payer.ClientIp))
        {
            return CreateOrderResult.Rejected(new WalletError("PARAM_ERROR", "An H5 order needs the payer's client IP."));
        }

        var body = JsonSerializer.Serialize(new WxInAppOrderRequest(
            AppIdFor(flow), _options.MchId, TruncateUtf8(request.Description, DescriptionMaxUtf8Bytes), request.OutTradeNo,
            request.ExpiresAt.ToOffset(ChinaOffset).ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture),
            request.Attach, request.NotifyUrl, new WxAmount(request.Amount.Minor),
            Payer: needsPayer ? new WxJsapiPayer(payer.WalletPayerId!) : null,
            SceneInfo: flow == PayFlow.H5 ? new WxSceneInfo(payer.ClientIp!, new WxH5Info("Wap")) : null,
            SettleInfo: request.ProfitSharing ? new WxSettleInfo(true) : null), WxInAppJson.Default.WxInAppOrderRequest);

        // The mini-program places a JSAPI order with its own appid (pay.weixin.qq.com 小程序下单 is /v3/pay/transactions/jsapi).
        var path = flow switch { PayFlow.H5 => "h5", PayFlow.App => "app", _ => "jsapi" };
        var reply = await SendAsync(HttpMethod.Post, $"/v3/pay/transactions/{path}", body, cancellationToken);
        if (reply.Outcome == WalletCallOutcome.Ok)
        {
            var answer = Parse(reply.Body, WxInAppJson.Default.WxPrepayResponse);
            var handle = flow == PayFlow.H5 ? answer?.H5Url : answer?.PrepayId;
            return handle is { Length: > 0 } ? CreateOrderResult.Ok(handle) : CreateOrderResult.Unknown($"verified response without {(flow == PayFlow.H5 ? "h5_url" : "prepay_id")}");
        }

        return reply.Outcome == WalletCallOutcome.Rejected ? CreateOrderResult.Rejected(reply.Error!) : CreateOrderResult.Unknown(reply.Error?.Message ?? "no answer");
    }

    public InAppPayParams? PayParams(PayFlow flow, string orderHandle)
    {
        var timestamp = _time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var nonce = WeChatPaySignature.NewNonce();
        switch (flow)
        {
            case PayFlow.Jsapi or PayFlow.MiniProgram:
                var appId = AppIdFor(flow);
                var package = "prepay_id=" + orderHandle;
                return new InAppPayParams(flow, new Dictionary<string, string>
                {
                    ["appId"] = appId,
                    ["timeStamp"] = timestamp,
                    ["nonceStr"] = nonce,
                    ["package"] = package,
                    ["signType"] = "RSA",
                    ["paySign"] = WeChatPaySignature.Sign(_merchantKey, JsapiPayMessage(appId, timestamp, nonce, package)),
                });
            case PayFlow.App:
                return new InAppPayParams(flow, new Dictionary<string, string>
                {
                    ["appid"] = _options.MobileAppId!,
                    ["partnerid"] = _options.MchId,
                    ["prepayid"] = orderHandle,
                    ["package"] = "Sign=WXPay",
                    ["noncestr"] = nonce,
                    ["timestamp"] = timestamp,
                    ["sign"] = WeChatPaySignature.Sign(_merchantKey, AppPayMessage(_options.MobileAppId!, timestamp, nonce, orderHandle)),
                });
            default:
                return null;
        }
    }

    /// <summary>JSAPI / mini-program paySign message: appId\ntimeStamp\nnonceStr\npackage\n (pay.weixin.qq.com "JSAPI调起支付").</summary>
    public static string JsapiPayMessage(string appId, string timeStamp, string nonceStr, string package) => $"{appId}\n{timeStamp}\n{nonceStr}\n{package}\n";

    /// <summary>App sign message: appid\ntimestamp\nnoncestr\nprepayid\n (pay.weixin.qq.com "APP调起支付").</summary>
    public static string AppPayMessage(string appId, string timestamp, string nonceStr, string prepayId) => $"{appId}\n{timestamp}\n{nonceStr}\n{prepayId}\n";

    public string? AuthorizeUrl(string redirectUri, string state) => string.IsNullOrEmpty(_options.AppSecret) ? null
        : $"{_options.OAuthBaseUrl.TrimEnd('/')}/connect/oauth2/authorize?appid={Uri.EscapeDataString(_options.AppId)}&redirect_uri={Uri.EscapeDataString(redirectUri)}"
          + $"&response_type=code&scope=snsapi_base&state={Uri.EscapeDataString(state)}#wechat_redirect";

    public byte[]? StateKey => string.IsNullOrEmpty(_options.AppSecret) ? null : OAuthStateKey(_options.AppSecret, _options.AppId);

    /// <summary>The OAuth state key of an account: derived from its AppSecret, so it is the same on every hub and secret like it.</summary>
    public static byte[] OAuthStateKey(string appSecret, string appId) =>
        HMACSHA256.HashData(Encoding.UTF8.GetBytes(appSecret), Encoding.UTF8.GetBytes("hutong-oauth-state:" + appId));

    public async Task<BuyerIdResult> ExchangeCodeAsync(string code, bool miniProgram, CancellationToken cancellationToken)
    {
        var (appId, secret) = miniProgram ? (_options.MiniProgramAppId, _options.MiniProgramSecret) : (_options.AppId, _options.AppSecret);
        if (string.IsNullOrEmpty(appId) || string.IsNullOrEmpty(secret))
        {
            return BuyerIdResult.Rejected(new WalletError("NOT_CONFIGURED", miniProgram ? "No mini-program app id and secret." : "No AppSecret for OAuth."));
        }

        var path = miniProgram
            ? $"/sns/jscode2session?appid={Uri.EscapeDataString(appId)}&secret={Uri.EscapeDataString(secret)}&js_code={Uri.EscapeDataString(code)}&grant_type=authorization_code"
            : $"/sns/oauth2/access_token?appid={Uri.EscapeDataString(appId)}&secret={Uri.EscapeDataString(secret)}&code={Uri.EscapeDataString(code)}&grant_type=authorization_code";
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_options.SnsBaseUrl.TrimEnd('/') + path));
        try
        {
            using var response = await _http.SendAsync(request, cancellationToken);
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            var answer = Parse(text, WxInAppJson.Default.WxSnsAnswer);
            if (!response.IsSuccessStatusCode || answer is null)
            {
                return BuyerIdResult.Unknown($"sns answered {(int)response.StatusCode}");
            }

            // errcode 40029 invalid code, 40163 code been used, 40125 invalid secret: a definite no.
            return answer is { ErrCode: null or 0, OpenId: { Length: > 0 } openId } ? BuyerIdResult.Ok(openId)
                : BuyerIdResult.Rejected(new WalletError((answer.ErrCode ?? 0).ToString(CultureInfo.InvariantCulture), answer.ErrMsg ?? "no openid"));
        }
        catch (Exception e) when (ConnectorHttp.IsNoAnswer(e) && !cancellationToken.IsCancellationRequested)
        {
            return BuyerIdResult.Unknown(e.GetType().Name);
        }
    }
}
