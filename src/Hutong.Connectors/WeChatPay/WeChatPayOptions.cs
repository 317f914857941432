namespace Hutong.Connectors.WeChatPay;

/// <summary>
/// One WeChat Pay merchant account (direct mode). Pointing <see cref="BaseUrl"/> at the real
/// gateway (https://api.mch.weixin.qq.com) or at the sandbox is the only difference between the two.
/// </summary>
public sealed class WeChatPayOptions
{
    public const string Section = "Connectors:WeChatPay";

    public bool Enabled { get; set; } = true;

    public string BaseUrl { get; set; } = "https://api.mch.weixin.qq.com";

    public string MchId { get; set; } = string.Empty;

    public string AppId { get; set; } = string.Empty;

    /// <summary>Serial number of the merchant's API certificate (apiclient_cert.pem).</summary>
    public string MerchantSerialNo { get; set; } = string.Empty;

    /// <summary>apiclient_key.pem contents. Secret: never logged.</summary>
    public string MerchantPrivateKeyPem { get; set; } = string.Empty;

    /// <summary>The APIv3 key used to decrypt notifications and certificates. Secret: never logged.</summary>
    public string ApiV3Key { get; set; } = string.Empty;

    /// <summary>The v2 API key (API密钥, 32 characters) that signs the payment-code API (pay/micropay); null: no payment codes. Secret: never logged.</summary>
    public string? ApiV2Key { get; set; }

    /// <summary>
    /// apiclient_cert.pem contents: with <see cref="MerchantPrivateKeyPem"/> the TLS client certificate that
    /// secapi/pay/reverse requires. Null (the sandbox): the reversal goes without one.
    /// </summary>
    public string? ApiClientCertificatePem { get; set; }

    /// <summary>spbill_create_ip of payment-code orders: the till's (or this server's) IPv4 address, which WeChat requires.</summary>
    public string PaymentCodeClientIp { get; set; } = "127.0.0.1";

    /// <summary>Platform public key id (PUB_KEY_ID_…) for merchants in public-key mode.</summary>
    public string? PlatformPublicKeyId { get; set; }

    public string? PlatformPublicKeyPem { get; set; }

    /// <summary>Also download platform certificates from /v3/certificates (certificate mode or migration).</summary>
    public bool UsePlatformCertificates { get; set; }

    /// <summary>
    /// Service-provider (服务商) mode: the sub-merchant this account collects for. With it set, <see cref="MchId"/>,
    /// <see cref="AppId"/> and the keys are the service provider's, and the partner endpoints are used.
    /// </summary>
    public string? SubMchId { get; set; }

    /// <summary>The sub-merchant's own app id, when it has one (sub_appid).</summary>
    public string? SubAppId { get; set; }

    public bool IsServiceProvider => !string.IsNullOrEmpty(SubMchId);

    /// <summary>The official account's AppSecret (公众号 AppSecret) for OAuth snsapi_base (JSAPI). Secret: never logged. Without it there is no JSAPI.</summary>
    public string? AppSecret { get; set; }

    /// <summary>Where WeChat's OAuth authorize page is (the in-app browser is sent there).</summary>
    public string OAuthBaseUrl { get; set; } = "https://open.weixin.qq.com";

    /// <summary>Where sns/oauth2/access_token and sns/jscode2session answer.</summary>
    public string SnsBaseUrl { get; set; } = "https://api.weixin.qq.com";

    /// <summary>The mini-program's app id (bound to this merchant); null: no mini-program flow.</summary>
    public string? MiniProgramAppId { get; set; }

    /// <summary>The mini-program's AppSecret for jscode2session. Secret: never logged.</summary>
    public string? MiniProgramSecret { get; set; }

    /// <summary>The mobile app's app id (open platform, bound to this merchant); null: no app flow.</summary>
    public string? MobileAppId { get; set; }

    /// <summary>H5 pay is enabled for this merchant at WeChat (H5 支付 product, with the hub's domain registered).</summary>
    public bool H5Enabled { get; set; }

    /// <summary>
    /// Merchant transfers (payouts): the transfer scene the merchant has at WeChat (商户平台 › 商家转账; 1005 = 佣金报酬).
    /// The scene fixes the report items WeChat requires and the payee's perception text.
    /// </summary>
    public string TransferSceneId { get; set; } = "1005";

    /// <summary>user_recv_perception: what the payee sees as the reason (one of the scene's allowed texts; null: the scene's default).</summary>
    public string? TransferUserRecvPerception { get; set; } = "劳务报酬";

    /// <summary>
    /// transfer_scene_report_infos: info_type → info_content, as the scene requires (1000: 活动名称, 奖励说明; 1005: 岗位类型,
    /// 报酬说明). Empty with scene 1005: 岗位类型=合作伙伴, 报酬说明=佣金结算.
    /// </summary>
    public Dictionary<string, string> TransferSceneReportInfos { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The app whose openids payouts go to (the payee's openid is per app); null: <see cref="AppId"/>.</summary>
    public string? TransferAppId { get; set; }

    /// <summary>Per-attempt timeout; a timed-out call leaves the payment UNKNOWN.</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(5);

    public TimeSpan TotalTimeout { get; set; } = TimeSpan.FromSeconds(12);

    public int MaxRetries { get; set; } = 1;

    public override string ToString() => IsServiceProvider ? $"WeChatPay(sp_mchid={MchId}, sub_mchid={SubMchId}, base={BaseUrl})" : $"WeChatPay(mchid={MchId}, base={BaseUrl})";
}
