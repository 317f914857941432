namespace Hutong.Connectors.WeChatPay;

/// <summary>
/// Signs each HTTP attempt as it leaves, inside the resilience pipeline, so a retried request
/// carries a fresh timestamp and nonce (SKIT's signing interceptor, as a DelegatingHandler).
/// </summary>
public sealed class WeChatPaySigningHandler : DelegatingHandler
{
    public static readonly HttpRequestOptionsKey<Func<string, string, string, string>> SignerKey = new("Hutong.WeChatPay.Signer");

    /// <summary>
    /// What a multipart upload is signed over instead of its body: the meta JSON (WeChat's 图片上传 rule, see
    /// wechatpay-im/website openapi/v3/merchant-service/images/upload.md and wechatpay-axios-plugin lib/decorator.js).
    /// </summary>
    public static readonly HttpRequestOptionsKey<string> SignedPayloadKey = new("Hutong.WeChatPay.SignedPayload");

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Options.TryGetValue(SignerKey, out var sign))
        {
            var body = request.Options.TryGetValue(SignedPayloadKey, out var payload) ? payload
                : request.Content is null ? string.Empty : await request.Content.ReadAsStringAsync(cancellationToken);
            var canonicalUrl = request.RequestUri!.PathAndQuery;
            request.Headers.Remove("Authorization");
            request.Headers.TryAddWithoutValidation("Authorization", sign(request.Method.Method, canonicalUrl, body));
        }

        return await base.SendAsync(request, cancellationToken);
    }
}
