using System.Net.Http.Json;
using System.Security.Cryptography;
using Hutong.Connectors.Alipay;
using Hutong.Connectors.UnionPay;
using Hutong.Connectors.WeChatPay;
using Hutong.Sandbox;
using Hutong.Sandbox.Alipay;
using Hutong.Sandbox.UnionPay;
using Hutong.Sandbox.WeChatPay;

namespace Hutong.Server.Features.Demo;

/// <summary>
/// Makes a fresh WeChat Pay merchant identity (RSA key, serial, APIv3 key), registers it with a sandbox over
/// HTTP and returns connector options pointing at that sandbox — the same options shape as production.
/// </summary>
public static class SandboxWiring
{
    public static async Task<WeChatPayOptions> RegisterWeChatMerchantAsync(
        string sandboxUrl, string mchId = "1900000109", string mode = "public_key", string? subMchId = null, CancellationToken ct = default)
    {
        using var key = RSA.Create(2048);
        var apiV3Key = RandomNumberGenerator.GetString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 32);
        var serial = Convert.ToHexString(RandomNumberGenerator.GetBytes(20));
        var appId = "wx" + Convert.ToHexString(RandomNumberGenerator.GetBytes(8)).ToLowerInvariant();
        using var http = new HttpClient { BaseAddress = new Uri(sandboxUrl) };
        var response = await http.PostAsJsonAsync("/sandbox/wechatpay/merchants",
            new RegisterMerchantRequest(mchId, appId, serial, key.ExportSubjectPublicKeyInfoPem(), apiV3Key, mode, subMchId is null ? null : [subMchId]), SandboxJson.Options, ct);
        response.EnsureSuccessStatusCode();
        var platform = (await response.Content.ReadFromJsonAsync<RegisterMerchantResponse>(SandboxJson.Options, ct))!;
        return new WeChatPayOptions
        {
            BaseUrl = sandboxUrl,
            MchId = mchId,
            AppId = appId,
            MerchantSerialNo = serial,
            MerchantPrivateKeyPem = key.ExportPkcs8PrivateKeyPem(),
            ApiV3Key = apiV3Key,
            PlatformPublicKeyId = mode == "public_key" ? platform.PlatformPublicKeyId : null,
            PlatformPublicKeyPem = mode == "public_key" ? platform.PlatformPublicKeyPem : null,
            UsePlatformCertificates = mode == "certificate",
            SubMchId = subMchId,
        };
    }

    /// <summary>Registers a fresh Alipay application (RSA2 key pair) with a sandbox; <paramref name="isv"/> adds an app_auth_token.</summary>
    public static async Task<AlipayOptions> RegisterAlipayAppAsync(string sandboxUrl, bool isv = false, CancellationToken ct = default)
    {
        using var key = RSA.Create(2048);
        var appId = "2021" + RandomNumberGenerator.GetString("0123456789", 12);
        using var http = new HttpClient { BaseAddress = new Uri(sandboxUrl) };
        var response = await http.PostAsJsonAsync("/sandbox/alipay/apps", new RegisterAlipayAppRequest(appId, key.ExportSubjectPublicKeyInfoPem(), null), SandboxJson.Options, ct);
        response.EnsureSuccessStatusCode();
        var registered = (await response.Content.ReadFromJsonAsync<RegisterAlipayAppResponse>(SandboxJson.Options, ct))!;
        string? token = null;
        if (isv)
        {
            var sub = "2088" + RandomNumberGenerator.GetString("0123456789", 12);
            var auth = await http.PostAsync($"/sandbox/alipay/app_auth_tokens?sellerId={sub}", null, ct);
            auth.EnsureSuccessStatusCode();
            token = (await auth.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>(ct)).GetProperty("app_auth_token").GetString();
        }

        return new AlipayOptions
        {
            GatewayUrl = sandboxUrl.TrimEnd('/') + "/gateway.do",
            AppId = appId,
            AppPrivateKeyPem = key.ExportPkcs8PrivateKeyPem(),
            AlipayPublicKeyPem = registered.AlipayPublicKeyPem,
            AppAuthToken = token,
        };
    }

    /// <summary>Registers a fresh UnionPay ACP merchant (signing key and certId) with a sandbox.</summary>
    public static async Task<UnionPayOptions> RegisterUnionPayMerchantAsync(string sandboxUrl, CancellationToken ct = default)
    {
        using var key = RSA.Create(2048);
        var merId = "777290058" + RandomNumberGenerator.GetString("0123456789", 6);
        var certId = RandomNumberGenerator.GetString("123456789", 1) + RandomNumberGenerator.GetString("0123456789", 10);
        using var http = new HttpClient { BaseAddress = new Uri(sandboxUrl) };
        var response = await http.PostAsJsonAsync("/sandbox/unionpay/merchants", new RegisterUnionPayMerchantRequest(merId, certId, key.ExportSubjectPublicKeyInfoPem()), SandboxJson.Options, ct);
        response.EnsureSuccessStatusCode();
        var registered = (await response.Content.ReadFromJsonAsync<RegisterUnionPayMerchantResponse>(SandboxJson.Options, ct))!;
        return new UnionPayOptions
        {
            GatewayUrl = sandboxUrl,
            MerId = merId,
            CertId = certId,
            SigningPrivateKeyPem = key.ExportPkcs8PrivateKeyPem(),
            UnionPaySigningCertPem = registered.UnionPaySigningCertPem,
        };
    }
}
