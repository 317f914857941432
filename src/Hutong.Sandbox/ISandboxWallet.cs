using System.Text.Json.Nodes;
using Hutong.Sandbox.Alipay;
using Hutong.Sandbox.UnionPay;
using Hutong.Sandbox.WeChatPay;
using Microsoft.AspNetCore.Builder;

namespace Hutong.Sandbox;

/// <summary>
/// One wallet's side of its protocol in the sandbox: its routes (its gateway and /sandbox/{Name}/…), its injected faults
/// and its clock. <see cref="SandboxHost"/> runs every registered one; adding a wallet is its sandbox folder and one line
/// in <see cref="SandboxWallets.Builtin"/>.
/// </summary>
public interface ISandboxWallet : IDisposable
{
    /// <summary>The wallet's name, as the hub knows it ("wechatpay").</summary>
    string Name { get; }

    SandboxFaults Faults { get; }

    /// <summary>1.0 = the wallet's real retry schedules; tests use 0.001.</summary>
    double TimeScale { set; }

    /// <summary>Maps the wallet's routes; <paramref name="notifyHttp"/> is the sandbox's client for notifications to the hub.</summary>
    void Map(WebApplication app, HttpClient notifyHttp);

    /// <summary>
    /// Makes and registers a fresh merchant account with the sandbox at <paramref name="sandboxUrl"/> (over HTTP, as a
    /// merchant would) and returns the hub's settings for it: the shape of the wallet's Connectors:&lt;Wallet&gt;
    /// configuration section (and of a channel's config), which is how the demo host points the hub at the sandbox.
    /// </summary>
    Task<JsonObject> RegisterAccountAsync(string sandboxUrl, CancellationToken ct = default);
}

/// <summary>The sandbox wallets a <see cref="SandboxHost"/> runs unless told otherwise (fresh ones per host).</summary>
public static class SandboxWallets
{
    public static IReadOnlyList<Func<ISandboxWallet>> Builtin { get; } =
    [
        () => new WeChatPaySandboxWallet(),
        () => new AlipaySandboxWallet(),
        () => new UnionPaySandboxWallet(),
    ];
}
