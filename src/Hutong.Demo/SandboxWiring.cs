using System.Text.Json;
using System.Text.Json.Nodes;
using Hutong.Connectors.Alipay;
using Hutong.Connectors.UnionPay;
using Hutong.Connectors.WeChatPay;
using Hutong.Sandbox.Alipay;
using Hutong.Sandbox.UnionPay;
using Hutong.Sandbox.WeChatPay;

namespace Hutong.Demo;

/// <summary>
/// Typed sandbox accounts for tests and benchmarks that need a particular kind (certificate mode, a service provider,
/// an ISV app): each registers with a sandbox over HTTP through the sandbox wallet's own helper and returns the
/// connector's options, the same shape as production. The demo host itself needs none of these: it asks every
/// sandbox wallet for an account generically (<see cref="DemoHost"/>).
/// </summary>
public static class SandboxWiring
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static async Task<WeChatPayOptions> RegisterWeChatMerchantAsync(
        string sandboxUrl, string mchId = "1900000109", string mode = "public_key", string? subMchId = null, CancellationToken ct = default) =>
        As<WeChatPayOptions>(await WeChatPaySandboxWallet.RegisterMerchantAsync(sandboxUrl, mchId, mode, subMchId, ct));

    /// <summary>Registers a fresh Alipay application (RSA2 key pair) with a sandbox; <paramref name="isv"/> adds an app_auth_token.</summary>
    public static async Task<AlipayOptions> RegisterAlipayAppAsync(string sandboxUrl, bool isv = false, CancellationToken ct = default) =>
        As<AlipayOptions>(await AlipaySandboxWallet.RegisterAppAsync(sandboxUrl, isv, ct));

    /// <summary>Registers a fresh UnionPay ACP merchant (signing key and certId) with a sandbox.</summary>
    public static async Task<UnionPayOptions> RegisterUnionPayMerchantAsync(string sandboxUrl, CancellationToken ct = default) =>
        As<UnionPayOptions>(await UnionPaySandboxWallet.RegisterMerchantAsync(sandboxUrl, ct));

    /// <summary>A sandbox account's settings as the connector's options (the configuration binder's names, matched case-insensitively).</summary>
    public static object As(JsonObject settings, Type optionsType) =>
        settings.Deserialize(optionsType, Json) ?? throw new JsonException("no settings");

    private static T As<T>(JsonObject settings) => (T)As(settings, typeof(T));
}
