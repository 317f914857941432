namespace Hutong.Connectors.Alipay;

/// <summary>
/// One Alipay application (OpenAPI v2 gateway, RSA2). Pointing <see cref="GatewayUrl"/> at the real gateway
/// (https://openapi.alipay.com/gateway.do) or at the sandbox is the only difference between the two.
/// </summary>
public sealed class AlipayOptions
{
    public const string Section = "Connectors:Alipay";

    public bool Enabled { get; set; } = true;

    public string GatewayUrl { get; set; } = "https://openapi.alipay.com/gateway.do";

    public string AppId { get; set; } = string.Empty;

    /// <summary>The application's RSA private key (PKCS#1 or PKCS#8 PEM). Secret: never logged.</summary>
    public string AppPrivateKeyPem { get; set; } = string.Empty;

    /// <summary>Alipay's public key, used to verify responses and notifications.</summary>
    public string AlipayPublicKeyPem { get; set; } = string.Empty;

    /// <summary>Service-provider (ISV) mode: the merchant's authorisation token, sent as app_auth_token.</summary>
    public string? AppAuthToken { get; set; }

    /// <summary>
    /// Where the buyer's Alipay app is sent for the silent auth_base sign-in (publicAppAuthorize.htm); the sandbox in tests.
    /// </summary>
    public string OAuthBaseUrl { get; set; } = "https://openauth.alipay.com";

    /// <summary>
    /// Pay inside Alipay (the cashier opened in the Alipay app): auth_base OAuth, alipay.system.oauth.token,
    /// alipay.trade.create and the page's AlipayJSBridge tradePay. Needs 网页/移动应用 with 获取会员信息 and JSAPI 支付 at Alipay.
    /// </summary>
    public bool InAppEnabled { get; set; }

    /// <summary>App pay (alipay.trade.app.pay): the signed order string a merchant's app hands to the Alipay SDK. Needs APP支付 at Alipay.</summary>
    public bool AppPayEnabled { get; set; }

    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(5);

    public TimeSpan TotalTimeout { get; set; } = TimeSpan.FromSeconds(12);

    public int MaxRetries { get; set; } = 1;

    public override string ToString() => $"Alipay(app_id={AppId}, gateway={GatewayUrl})";
}
