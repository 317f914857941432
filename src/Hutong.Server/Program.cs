using System.Runtime.InteropServices;
using Hutong.Sandbox;
using Hutong.Server;

// A process started in the background of a non-interactive shell (`dotnet run … &`) inherits SIGINT as ignored, and
// .NET's console lifetime then never sees Ctrl+C or `kill -INT`: take SIGINT explicitly, like SIGTERM, in both modes.
using var interrupted = new CancellationTokenSource();
SignalDisposition.DefaultSigint();
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx =>
{
    ctx.Cancel = true; // the cancellation below stops the host gracefully
    interrupted.Cancel();
});

// `--sandbox-only [--url http://127.0.0.1:5081]` runs just the sandbox wallets, for pointing another hub
// (or an SDK) at them; otherwise this is the hub (`--demo` adds the in-process sandbox and the demo shop).
if (args.Contains("--sandbox-only"))
{
    var i = Array.IndexOf(args, "--url");
    await using var sandbox = await SandboxHost.StartAsync(i >= 0 && i + 1 < args.Length ? args[i + 1] : "http://127.0.0.1:5081", Microsoft.Extensions.Logging.LogLevel.Information);
    Console.WriteLine($"Sandbox wallets at {sandbox.BaseUrl} — register merchants with POST /sandbox/wechatpay/merchants. Ctrl+C or SIGTERM stops.");
    // Waiting on Ctrl+C alone left SIGTERM (containers, systemd) to stop the sandbox's web host while the process hung on:
    // the host's own lifetime handles SIGTERM, the registration above SIGINT.
    await sandbox.WaitForShutdownAsync(interrupted.Token);
    return;
}

await using var hub = await HubApp.BuildAsync(args);
await hub.StartAsync();
await hub.App.WaitForShutdownAsync(interrupted.Token);

/// <summary>libc's signal(2): the runtime leaves a signal that was ignored at start ignored, even for a registration.</summary>
internal static class SignalDisposition
{
    [DllImport("libc", EntryPoint = "signal")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
#pragma warning disable SYSLIB1054 // LibraryImport needs unsafe code enabled for the whole project; one blittable call does not
    private static extern nint Signal(int signum, nint handler);
#pragma warning restore SYSLIB1054

    /// <summary>SIGINT back to its default before the registration takes it (Linux and macOS: SIGINT is 2, SIG_DFL is 0).</summary>
    public static void DefaultSigint()
    {
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            Signal(2, 0);
        }
    }
}
