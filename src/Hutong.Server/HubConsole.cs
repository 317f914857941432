using System.Runtime.InteropServices;

namespace Hutong.Server;

/// <summary>The console programs' shared start (the hub, the demo host): SIGINT stops them gracefully, like SIGTERM.</summary>
public static class HubConsole
{
    /// <summary>Runs <paramref name="body"/> with a token that SIGINT (Ctrl+C, <c>kill -INT</c>) cancels.</summary>
    public static async Task<int> RunAsync(Func<CancellationToken, Task<int>> body)
    {
        // A process started in the background of a non-interactive shell (`dotnet run … &`) inherits SIGINT as ignored, and
        // .NET's console lifetime then never sees Ctrl+C or `kill -INT`: take SIGINT explicitly, like SIGTERM.
        using var interrupted = new CancellationTokenSource();
        SignalDisposition.DefaultSigint();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx =>
        {
            ctx.Cancel = true; // the cancellation below stops the host gracefully
            interrupted.Cancel();
        });
        return await body(interrupted.Token);
    }
}

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
