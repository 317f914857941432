using System.Text.Json;
using System.Text.Json.Serialization;
using Hutong.Sandbox.Alipay;
using Hutong.Sandbox.UnionPay;
using Hutong.Sandbox.WeChatPay;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Hutong.Sandbox;

/// <summary>A running set of sandbox wallets on their own Kestrel port (real HTTP, like the real wallets).</summary>
public sealed class SandboxHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HttpClient _notifyHttp;

    private SandboxHost(WebApplication app, IReadOnlyList<ISandboxWallet> wallets, HttpClient notifyHttp)
    {
        _app = app;
        Wallets = wallets;
        _notifyHttp = notifyHttp;
    }

    /// <summary>The wallets this sandbox runs, in registration order.</summary>
    public IReadOnlyList<ISandboxWallet> Wallets { get; }

    /// <summary>The running wallet of type <typeparamref name="T"/>.</summary>
    public T Wallet<T>()
        where T : ISandboxWallet => Wallets.OfType<T>().Single();

    /// <summary>The running wallet named <paramref name="name"/> ("wechatpay").</summary>
    public ISandboxWallet Wallet(string name) => Wallets.Single(w => w.Name == name);

    // The built-in wallets' state, for tests that reach inside them.
    public WeChatSandboxState WeChat => Wallet<WeChatPaySandboxWallet>().State;

    public WeChatSandboxNotifier WeChatNotifier => Wallet<WeChatPaySandboxWallet>().Notifier;

    public AlipaySandboxState Alipay => Wallet<AlipaySandboxWallet>().State;

    public AlipaySandboxNotifier AlipayNotifier => Wallet<AlipaySandboxWallet>().Notifier;

    public UnionPaySandbox UnionPay => Wallet<UnionPaySandboxWallet>().Sandbox;

    /// <summary>1.0 = the wallets' real retry schedules; tests use 0.001.</summary>
    public double TimeScale
    {
        set
        {
            foreach (var w in Wallets)
            {
                w.TimeScale = value;
            }
        }
    }

    public string BaseUrl => _app.Urls.First();

    /// <summary>
    /// Starts the sandbox on <paramref name="url"/> (use port 0 for any free port) with the built-in wallets and
    /// <paramref name="more"/> (a wallet a test defines).
    /// </summary>
    public static async Task<SandboxHost> StartAsync(string url = "http://127.0.0.1:0", LogLevel logLevel = LogLevel.Warning, IEnumerable<ISandboxWallet>? more = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(url);
        builder.Logging.SetMinimumLevel(logLevel);
        builder.Services.AddRoutingCore();
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = SandboxJson.Options.PropertyNamingPolicy;
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
        });
        var app = builder.Build();
        var notifyHttp = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var wallets = SandboxWallets.Builtin.Select(create => create()).Concat(more ?? []).ToList();
        foreach (var wallet in wallets)
        {
            wallet.Map(app, notifyHttp);
        }

        await app.StartAsync();
        return new SandboxHost(app, wallets, notifyHttp);
    }

    /// <summary>
    /// Completes when the sandbox's host is told to stop: Ctrl+C, SIGTERM (what containers and systemd send) or SIGQUIT,
    /// all handled by its console lifetime. Used by <c>--sandbox-only</c>.
    /// </summary>
    public Task WaitForShutdownAsync(CancellationToken ct = default) => _app.WaitForShutdownAsync(ct);

    private bool _disposed;

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await _app.StopAsync();
        await _app.DisposeAsync();
        foreach (var wallet in Wallets)
        {
            wallet.Dispose(); // its notifier stops resending, then its keys go
        }

        _notifyHttp.Dispose();
    }
}

/// <summary>JSON of the sandbox's own control API (not the wallets' wire formats): snake_case.</summary>
public static class SandboxJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };
}
