using Hutong.Demo;
using Hutong.Sandbox;
using Hutong.Server;

// The demo host. `dotnet run --project src/Hutong.Demo` (or with `--demo`, as before) runs the hub with the sandbox
// wallets in-process and the demo shop; `--sandbox-only [--url http://127.0.0.1:5081]` runs just the sandbox wallets,
// for pointing another hub (or an SDK) at them.
return await HubConsole.RunAsync(async interrupted =>
{
    if (args.Contains("--sandbox-only"))
    {
        var i = Array.IndexOf(args, "--url");
        await using var sandbox = await SandboxHost.StartAsync(i >= 0 && i + 1 < args.Length ? args[i + 1] : "http://127.0.0.1:5081", Microsoft.Extensions.Logging.LogLevel.Information);
        Console.WriteLine($"Sandbox wallets at {sandbox.BaseUrl} — register merchants with POST /sandbox/wechatpay/merchants. Ctrl+C or SIGTERM stops.");
        // Waiting on Ctrl+C alone left SIGTERM (containers, systemd) to stop the sandbox's web host while the process hung on:
        // the host's own lifetime handles SIGTERM, the registration in HubConsole SIGINT.
        await sandbox.WaitForShutdownAsync(interrupted);
        return 0;
    }

    await using var demo = await DemoHost.BuildAsync(args.Where(a => a != "--demo").ToArray());
    await demo.StartAsync(CancellationToken.None);
    await demo.App.WaitForShutdownAsync(interrupted);
    return 0;
});
