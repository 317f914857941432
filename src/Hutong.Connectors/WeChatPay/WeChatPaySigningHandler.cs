namespace Hutong.Connectors.WeChatPay;

/// <summary>
/// Signs each HTTP attempt as it leaves, inside the resilience pipeline, so a retried request
/// carries a fresh timestamp and nonce (SKIT's signing interceptor, as a DelegatingHandler).
/// </summary>
public sealed class WeChatPaySigningHandler : DelegatingHandler
{
    public static readonly HttpRequestOptionsKey<Func<string, string, string, string>> SignerKey = new("Hutong.WeChatPay.Signer");

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Options.TryGetValue(SignerKey, out var sign))
        {
            var body = request.Content is null ? string.Empty : await request.Content.ReadAsStringAsync(cancellationToken);
            var canonicalUrl = request.RequestUri!.PathAndQuery;
            request.Headers.Remove("Authorization");
            request.Headers.TryAddWithoutValidation("Authorization", sign(request.Method.Method, canonicalUrl, body));
        }

        return await base.SendAsync(request, cancellationToken);
    }
}
