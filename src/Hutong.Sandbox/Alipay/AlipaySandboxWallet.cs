using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;

namespace Hutong.Sandbox.Alipay;

/// <summary>The sandbox Alipay (OpenAPI v2 gateway, notifications, royalty).</summary>
public sealed class AlipaySandboxWallet : ISandboxWallet
{
    private AlipaySandboxNotifier? _notifier;

    public string Name => "alipay";

    public AlipaySandboxState State { get; } = new();

    public AlipaySandboxNotifier Notifier => _notifier ?? throw new InvalidOperationException("The sandbox wallet is not mapped yet.");

    public SandboxFaults Faults => State.Faults;

    public double TimeScale
    {
        set => State.TimeScale = value;
    }

    public void Map(WebApplication app, HttpClient notifyHttp)
    {
        _notifier = new AlipaySandboxNotifier(State, notifyHttp);
        app.MapAlipaySandbox(State, _notifier);
    }

    public Task<JsonObject> RegisterAccountAsync(string sandboxUrl, CancellationToken ct = default) => RegisterAppAsync(sandboxUrl, ct: ct);

    /// <summary>
    /// Registers a fresh application (RSA2 key pair) over HTTP and returns the hub's settings for it (AlipayOptions' shape);
    /// <paramref name="isv"/> adds an app_auth_token (service-provider mode).
    /// </summary>
    public static async Task<JsonObject> RegisterAppAsync(string sandboxUrl, bool isv = false, CancellationToken ct = default)
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
            token = (await auth.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("app_auth_token").GetString();
        }

        return new JsonObject
        {
            ["GatewayUrl"] = sandboxUrl.TrimEnd('/') + "/gateway.do",
            ["AppId"] = appId,
            ["AppPrivateKeyPem"] = key.ExportPkcs8PrivateKeyPem(),
            ["AlipayPublicKeyPem"] = registered.AlipayPublicKeyPem,
            ["AppAuthToken"] = token,
            ["OAuthBaseUrl"] = sandboxUrl.TrimEnd('/'),
            ["InAppEnabled"] = true,
            ["AppPayEnabled"] = true,
        };
    }

    public void Dispose()
    {
        _notifier?.Dispose();
        State.Dispose();
    }
}
