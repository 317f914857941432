using System.Text.Json.Serialization;

namespace Hutong.Connectors.WeChatPay.Models;

// Wire records of the in-app flows (pay.weixin.qq.com APIv3 "JSAPI下单", "H5下单", "APP下单", "小程序下单"; the same body as
// Native plus payer or scene_info) and of WeChat's OAuth (developers.weixin.qq.com 网页授权, 小程序登录 code2Session).

public sealed record WxJsapiPayer([property: JsonPropertyName("openid")] string OpenId);

public sealed record WxH5Info([property: JsonPropertyName("type")] string Type);

public sealed record WxSceneInfo(
    [property: JsonPropertyName("payer_client_ip")] string PayerClientIp,
    [property: JsonPropertyName("h5_info")] WxH5Info? H5Info);

/// <summary>One body for jsapi, h5 and app orders: payer only for jsapi, scene_info only for h5.</summary>
public sealed record WxInAppOrderRequest(
    [property: JsonPropertyName("appid")] string AppId,
    [property: JsonPropertyName("mchid")] string MchId,
    [property: JsonPropertyName("description")] string Description,
    [property: JsonPropertyName("out_trade_no")] string OutTradeNo,
    [property: JsonPropertyName("time_expire")] string? TimeExpire,
    [property: JsonPropertyName("attach")] string? Attach,
    [property: JsonPropertyName("notify_url")] string NotifyUrl,
    [property: JsonPropertyName("amount")] WxAmount Amount,
    [property: JsonPropertyName("payer")] WxJsapiPayer? Payer = null,
    [property: JsonPropertyName("scene_info")] WxSceneInfo? SceneInfo = null,
    [property: JsonPropertyName("settle_info")] WxSettleInfo? SettleInfo = null);

public sealed record WxPrepayResponse(
    [property: JsonPropertyName("prepay_id")] string? PrepayId,
    [property: JsonPropertyName("h5_url")] string? H5Url);

/// <summary>sns/oauth2/access_token and sns/jscode2session answers: openid, or errcode/errmsg (always HTTP 200).</summary>
public sealed record WxSnsAnswer(
    [property: JsonPropertyName("openid")] string? OpenId,
    [property: JsonPropertyName("errcode")] int? ErrCode,
    [property: JsonPropertyName("errmsg")] string? ErrMsg);

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(WxInAppOrderRequest))]
[JsonSerializable(typeof(WxPrepayResponse))]
[JsonSerializable(typeof(WxSnsAnswer))]
public sealed partial class WxInAppJson : JsonSerializerContext;
