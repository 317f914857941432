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

    private SandboxHost(WebApplication app, WeChatSandboxState weChat, WeChatSandboxNotifier notifier, AlipaySandboxState alipay, AlipaySandboxNotifier alipayNotifier, UnionPaySandbox unionPay, HttpClient notifyHttp)
    {
        UnionPay = unionPay;
        _app = app;
        WeChat = weChat;
        WeChatNotifier = notifier;
        Alipay = alipay;
        AlipayNotifier = alipayNotifier;
        _notifyHttp = notifyHttp;
    }

    public WeChatSandboxState WeChat { get; }

    public WeChatSandboxNotifier WeChatNotifier { get; }

    public AlipaySandboxState Alipay { get; }

    public AlipaySandboxNotifier AlipayNotifier { get; }

    public UnionPaySandbox UnionPay { get; }

    /// <summary>1.0 = the wallets' real retry schedules; tests use 0.001.</summary>
    public double TimeScale
    {
        set
        {
            WeChat.TimeScale = value;
            Alipay.TimeScale = value;
            UnionPay.TimeScale = value;
        }
    }

    public string BaseUrl => _app.Urls.First();

    /// <summary>Starts the sandbox on <paramref name="url"/> (use port 0 for any free port).</summary>
    public static async Task<SandboxHost> StartAsync(string url = "http://127.0.0.1:0", LogLevel logLevel = LogLevel.Warning)
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
        var weChat = new WeChatSandboxState();
        var notifyHttp = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var notifier = new WeChatSandboxNotifier(weChat, notifyHttp);
        app.MapWeChatPaySandbox(weChat, notifier);
        var alipay = new AlipaySandboxState();
        var alipayNotifier = new AlipaySandboxNotifier(alipay, notifyHttp);
        app.MapAlipaySandbox(alipay, alipayNotifier);
        var unionPay = new UnionPaySandbox(notifyHttp);
        unionPay.Map(app);
        await app.StartAsync();
        return new SandboxHost(app, weChat, notifier, alipay, alipayNotifier, unionPay, notifyHttp);
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
        WeChatNotifier.Dispose();
        AlipayNotifier.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _notifyHttp.Dispose();
        WeChat.Dispose();
        Alipay.Dispose();
        UnionPay.Dispose();
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
