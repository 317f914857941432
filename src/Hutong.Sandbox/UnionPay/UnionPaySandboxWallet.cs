using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;

namespace Hutong.Sandbox.UnionPay;

/// <summary>The sandbox UnionPay 全渠道 (ACP back-end gateway, notifications, settlement files).</summary>
public sealed class UnionPaySandboxWallet : ISandboxWallet
{
    private UnionPaySandbox? _sandbox;

    public string Name => "unionpay";

    public UnionPaySandbox Sandbox => _sandbox ?? throw new InvalidOperationException("The sandbox wallet is not mapped yet.");

    public SandboxFaults Faults => Sandbox.Faults;

    public double TimeScale
    {
        set => Sandbox.TimeScale = value;
    }

    public void Map(WebApplication app, HttpClient notifyHttp)
    {
        _sandbox = new UnionPaySandbox(notifyHttp);
        _sandbox.Map(app);
    }

    public Task<JsonObject> RegisterAccountAsync(string sandboxUrl, CancellationToken ct = default) => RegisterMerchantAsync(sandboxUrl, ct);

    /// <summary>Registers a fresh merchant (signing key and certId) over HTTP and returns the hub's settings for it (UnionPayOptions' shape).</summary>
    public static async Task<JsonObject> RegisterMerchantAsync(string sandboxUrl, CancellationToken ct = default)
    {
        using var key = RSA.Create(2048);
        var merId = "777290058" + RandomNumberGenerator.GetString("0123456789", 6);
        var certId = RandomNumberGenerator.GetString("123456789", 1) + RandomNumberGenerator.GetString("0123456789", 10);
        using var http = new HttpClient { BaseAddress = new Uri(sandboxUrl) };
        var response = await http.PostAsJsonAsync("/sandbox/unionpay/merchants", new RegisterUnionPayMerchantRequest(merId, certId, key.ExportSubjectPublicKeyInfoPem()), SandboxJson.Options, ct);
        response.EnsureSuccessStatusCode();
        var registered = (await response.Content.ReadFromJsonAsync<RegisterUnionPayMerchantResponse>(SandboxJson.Options, ct))!;
        return new JsonObject
        {
            ["GatewayUrl"] = sandboxUrl,
            ["MerId"] = merId,
            ["CertId"] = certId,
            ["SigningPrivateKeyPem"] = key.ExportPkcs8PrivateKeyPem(),
            ["UnionPaySigningCertPem"] = registered.UnionPaySigningCertPem,
            ["AppPay"] = true, // the sandbox opens 手机控件支付 for every merchant
        };
    }

    public void Dispose() => _sandbox?.Dispose();
}
