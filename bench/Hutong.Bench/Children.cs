using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hutong.Connectors.WeChatPay;
using Hutong.Demo;
using Hutong.Sandbox;
using Hutong.Server;
using Microsoft.Extensions.Logging;

/// <summary>
/// A hub or the sandbox wallets in a process of their own: this benchmark started again with <c>--child hub|sandbox</c>.
/// Their CPU time is then theirs alone, without the load generator's, the other hubs' or (for a hub) the wallets' signing,
/// as in production where each runs on its own. The child prints <c>READY url</c> and runs until its standard input closes.
/// </summary>
internal sealed class Child : IAsyncDisposable
{
    private const string Ready = "READY ";
    private readonly Process _process;

    private Child(Process process, string baseUrl) => (_process, BaseUrl) = (process, baseUrl);

    public string BaseUrl { get; }

    private long _jitMethods = -1;

    /// <summary>Methods the child's JIT has compiled so far, as it last reported (-1 before its first report).</summary>
    public long JitMethods => Interlocked.Read(ref _jitMethods);

    /// <summary>User plus system CPU time the child has used so far.</summary>
    public TimeSpan Cpu
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    /// <summary>A hub with these settings (as BenchHub takes them) and, when given, the WeChat Pay sandbox account it collects with.</summary>
    public static Task<Child> HubAsync(IDictionary<string, string?> settings, JsonObject? wechat = null) =>
        StartAsync("hub", new JsonObject { ["settings"] = JsonSerializer.SerializeToNode(settings), ["wechat"] = wechat?.DeepClone() });

    public static Task<Child> SandboxAsync() => StartAsync("sandbox", new JsonObject());

    private static async Task<Child> StartAsync(string kind, JsonObject config)
    {
        var file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, config.ToJsonString());
        // Started as this process was: through the dotnet host (dotnet Hutong.Bench.dll) or the app host.
        var host = Environment.ProcessPath!;
        var start = new ProcessStartInfo(host) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            start.ArgumentList.Add(typeof(Child).Assembly.Location);
        }

        foreach (var a in new[] { "--child", kind, file })
        {
            start.ArgumentList.Add(a);
        }

        var process = Process.Start(start)!;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                if (line.StartsWith(Ready, StringComparison.Ordinal))
                {
                    var child = new Child(process, line[Ready.Length..].Trim());
                    _ = child.ReadReportsAsync(); // and never let a full pipe block the child
                    return child;
                }
            }

            throw new InvalidOperationException($"the {kind} child exited before it was ready (exit code {(process.HasExited ? process.ExitCode : -1)})");
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            throw;
        }
        finally
        {
            File.Delete(file);
        }
    }

    private async Task ReadReportsAsync()
    {
        try
        {
            while (await _process.StandardOutput.ReadLineAsync() is { } line)
            {
                if (line.StartsWith(JitReport, StringComparison.Ordinal) && long.TryParse(line.AsSpan(JitReport.Length), CultureInfo.InvariantCulture, out var n))
                {
                    Interlocked.Exchange(ref _jitMethods, n);
                }
                else if (line.StartsWith(HeReport, StringComparison.Ordinal) && line[HeReport.Length..].Split(' ') is [var e, var d, var m, var i])
                {
                    var p = CultureInfo.InvariantCulture;
                    lock (_heGate)
                    {
                        _heOps = new Hutong.Collab.Vfl.Crypto.HeOpCount(long.Parse(e, p), long.Parse(d, p), long.Parse(m, p), long.Parse(i, p));
                    }
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
            // the child is gone
        }
    }

    private const string JitReport = "JIT ";
    private const string HeReport = "HE ";
    private readonly Lock _heGate = new();
    private Hutong.Collab.Vfl.Crypto.HeOpCount _heOps;

    /// <summary>The homomorphic operations the child ran so far (a vfl-train job's party), as it last reported (every 500 ms).</summary>
    public Hutong.Collab.Vfl.Crypto.HeOpCount HeOps
    {
        get
        {
            lock (_heGate)
            {
                return _heOps;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close(); // the child's signal to stop
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await _process.WaitForExitAsync(grace.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException)
        {
            _process.Kill(entireProcessTree: true);
        }
        finally
        {
            _process.Dispose();
        }
    }

    /// <summary>The child's side: <c>--child hub|sandbox FILE</c>.</summary>
    public static async Task RunAsync(string[] args)
    {
        var config = JsonNode.Parse(await File.ReadAllTextAsync(args[2]))!.AsObject();
        IAsyncDisposable running;
        string url;
        if (args[1] == "sandbox")
        {
            var sandbox = await SandboxHost.StartAsync(logLevel: LogLevel.None);
            (running, url) = (sandbox, sandbox.BaseUrl);
        }
        else
        {
            var settings = config["settings"].Deserialize<Dictionary<string, string?>>()!;
            var wechat = config["wechat"] is JsonObject w ? SandboxWiring.As(w, typeof(WeChatPayOptions)) : null;
            var hub = await BenchHub.StartAsync(settings, wechat is null ? null : new WalletAccounts(wechat, null, null));
            (running, url) = (hub, hub.BaseUrl);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{Ready}{url}"));
        // How far the JIT has got, so the parent measures once the hot code is compiled (as in a hub up for a while).
        using var stop = new CancellationTokenSource();
        var reports = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{JitReport}{System.Runtime.JitInfo.GetCompiledMethodCount()}"));
                var he = Hutong.Collab.Vfl.Crypto.HeCounters.Snapshot();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{HeReport}{he.Encryptions} {he.Decryptions} {he.Multiplications} {he.Inversions}"));
                await Task.Delay(500, stop.Token).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        });
        await Console.In.ReadToEndAsync(); // until the parent closes our input (or dies)
        await stop.CancelAsync();
        await reports;
        await running.DisposeAsync();
    }
}
