using Hutong.Sandbox;
using Hutong.Server;

// `--sandbox-only [--url http://127.0.0.1:5081]` runs just the sandbox wallets, for pointing another hub
// (or an SDK) at them; otherwise this is the hub (`--demo` adds the in-process sandbox and the demo shop).
if (args.Contains("--sandbox-only"))
{
    var i = Array.IndexOf(args, "--url");
    await using var sandbox = await SandboxHost.StartAsync(i >= 0 && i + 1 < args.Length ? args[i + 1] : "http://127.0.0.1:5081", Microsoft.Extensions.Logging.LogLevel.Information);
    Console.WriteLine($"Sandbox wallets at {sandbox.BaseUrl} — register merchants with POST /sandbox/wechatpay/merchants. Ctrl+C stops.");
    var stop = new TaskCompletionSource();
    Console.CancelKeyPress += (_, e) =>
    {
        e.Cancel = true;
        stop.TrySetResult();
    };
    await stop.Task;
    return;
}

await using var hub = await HubApp.BuildAsync(args);
await hub.StartAsync();
await hub.App.WaitForShutdownAsync();
