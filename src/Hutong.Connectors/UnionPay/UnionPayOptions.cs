namespace Hutong.Connectors.UnionPay;

/// <summary>
/// One UnionPay 全渠道 (ACP) merchant. <see cref="GatewayUrl"/> is https://gateway.95516.com (test: gateway.test.95516.com)
/// or the sandbox; back-end requests go to {GatewayUrl}/gateway/api/backTransReq.do and queries to …/queryTrans.do.
/// </summary>
public sealed class UnionPayOptions
{
    public const string Section = "Connectors:UnionPay";

    public bool Enabled { get; set; } = true;

    public string GatewayUrl { get; set; } = "https://gateway.95516.com";

    public string MerId { get; set; } = string.Empty;

    /// <summary>Serial (certId) of the merchant's signing certificate, in decimal as UnionPay writes it.</summary>
    public string CertId { get; set; } = string.Empty;

    /// <summary>The merchant's signing private key. Secret: never logged.</summary>
    public string SigningPrivateKeyPem { get; set; } = string.Empty;

    /// <summary>UnionPay's signing certificate, pinned: a response's signPubKeyCert must be this certificate.</summary>
    public string UnionPaySigningCertPem { get; set; } = string.Empty;

    /// <summary>
    /// The merchant has UnionPay's 手机控件支付 (app consumption, appTransReq) opened: confirms with flow app get a tn for
    /// the merchant's app to pay with UnionPay's SDK. Off by default: it is a product UnionPay opens per merchant.
    /// </summary>
    public bool AppPay { get; set; }

    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(5);

    public TimeSpan TotalTimeout { get; set; } = TimeSpan.FromSeconds(12);

    public int MaxRetries { get; set; } = 1;

    public override string ToString() => $"UnionPay(merId={MerId}, gateway={GatewayUrl})";
}
