using Hutong.Sandbox;
using Hutong.Server;

// `--sandbox-only [--url http://127.0.0.1:5081]` runs just the sandbox wallets, for pointing another hub
// (or an SDK) at them; otherwise this is the hub (`--demo` adds the in-process sandbox and the demo shop).
if (args.Contains("--sandbox-only"))
{
    var i = Array.IndexOf(args, "--url");
    await using var sandbox = await SandboxHost.StartAsync(i >= 0 && i + 1 < args.Length ? args[i + 1] : "http://127.0.0.1:5081", Microsoft.Extensions.Logging.LogLevel.Information);
    Console.WriteLine($"Sandbox wallets at {sandbox.BaseUrl} — register merchants with POST /sandbox/wechatpay/merchants. Ctrl+C or SIGTERM stops.");
    // Waiting on Ctrl+C alone left SIGTERM (containers, systemd) to stop the sandbox's web host while the process hung on:
    // the host's own lifetime handles both signals, so wait for it.
    await sandbox.WaitForShutdownAsync();
    return;
}

await using var hub = await HubApp.BuildAsync(args);
await hub.StartAsync();
await hub.App.WaitForShutdownAsync();
