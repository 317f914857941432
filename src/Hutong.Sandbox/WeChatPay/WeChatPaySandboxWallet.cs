using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;

namespace Hutong.Sandbox.WeChatPay;

/// <summary>The sandbox WeChat Pay (APIv3 gateway, platform keys, notifications, profit sharing).</summary>
public sealed class WeChatPaySandboxWallet : ISandboxWallet
{
    private WeChatSandboxNotifier? _notifier;

    public string Name => "wechatpay";

    public WeChatSandboxState State { get; } = new();

    public WeChatSandboxNotifier Notifier => _notifier ?? throw new InvalidOperationException("The sandbox wallet is not mapped yet.");

    public SandboxFaults Faults => State.Faults;

    public double TimeScale
    {
        set => State.TimeScale = value;
    }

    public void Map(WebApplication app, HttpClient notifyHttp)
    {
        _notifier = new WeChatSandboxNotifier(State, notifyHttp);
        app.MapWeChatPaySandbox(State, _notifier);
    }

    public Task<JsonObject> RegisterAccountAsync(string sandboxUrl, CancellationToken ct = default) => RegisterMerchantAsync(sandboxUrl, ct: ct);

    /// <summary>
    /// Makes a fresh merchant identity (RSA key, serial, APIv3 key), registers it over HTTP and returns the hub's
    /// settings for it (WeChatPayOptions' shape). <paramref name="mode"/> is public_key or certificate; <paramref name="subMchId"/>
    /// makes it a service provider collecting for that sub-merchant.
    /// </summary>
    public static async Task<JsonObject> RegisterMerchantAsync(
        string sandboxUrl, string mchId = "1900000109", string mode = "public_key", string? subMchId = null, CancellationToken ct = default)
    {
        using var key = RSA.Create(2048);
        var apiV3Key = RandomNumberGenerator.GetString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 32);
        var serial = Convert.ToHexString(RandomNumberGenerator.GetBytes(20));
        var appId = "wx" + Convert.ToHexString(RandomNumberGenerator.GetBytes(8)).ToLowerInvariant();
        var appSecret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var miniAppId = "wx" + Convert.ToHexString(RandomNumberGenerator.GetBytes(8)).ToLowerInvariant();
        var miniSecret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var mobileAppId = "wx" + Convert.ToHexString(RandomNumberGenerator.GetBytes(8)).ToLowerInvariant();
        using var http = new HttpClient { BaseAddress = new Uri(sandboxUrl) };
        var response = await http.PostAsJsonAsync("/sandbox/wechatpay/merchants",
            new RegisterMerchantRequest(mchId, appId, serial, key.ExportSubjectPublicKeyInfoPem(), apiV3Key, mode, subMchId is null ? null : [subMchId],
                appSecret, miniAppId, miniSecret, mobileAppId), SandboxJson.Options, ct);
        response.EnsureSuccessStatusCode();
        var platform = (await response.Content.ReadFromJsonAsync<RegisterMerchantResponse>(SandboxJson.Options, ct))!;
        var apiV2Key = RandomNumberGenerator.GetString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 32);
        (await http.PostAsJsonAsync("/sandbox/wechatpay/micropay/keys", new MicropayKeyRequest(mchId, apiV2Key), SandboxJson.Options, ct)).EnsureSuccessStatusCode();
        return new JsonObject
        {
            ["BaseUrl"] = sandboxUrl,
            ["MchId"] = mchId,
            ["AppId"] = appId,
            ["MerchantSerialNo"] = serial,
            ["MerchantPrivateKeyPem"] = key.ExportPkcs8PrivateKeyPem(),
            ["ApiV3Key"] = apiV3Key,
            ["ApiV2Key"] = apiV2Key,
            ["PlatformPublicKeyId"] = mode == "public_key" ? platform.PlatformPublicKeyId : null,
            ["PlatformPublicKeyPem"] = mode == "public_key" ? platform.PlatformPublicKeyPem : null,
            ["UsePlatformCertificates"] = mode == "certificate",
            ["SubMchId"] = subMchId,
            ["AppSecret"] = appSecret,
            ["OAuthBaseUrl"] = sandboxUrl,
            ["SnsBaseUrl"] = sandboxUrl,
            ["MiniProgramAppId"] = miniAppId,
            ["MiniProgramSecret"] = miniSecret,
            ["MobileAppId"] = mobileAppId,
            ["H5Enabled"] = true,
        };
    }

    public void Dispose()
    {
        _notifier?.Dispose();
        State.Dispose();
    }
}
