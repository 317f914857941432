using Hutong.Server;

// The production hub. The sandbox wallets and the demo shop's host are not part of it: `--demo` and `--sandbox-only`
// belong to the demo host.
if (args.Contains("--demo") || args.Contains("--sandbox-only"))
{
    await Console.Error.WriteLineAsync("--demo and --sandbox-only run from the demo host: dotnet run --project src/Hutong.Demo -- " + string.Join(' ', args));
    return 2;
}

return await HubConsole.RunAsync(async interrupted =>
{
    await using var hub = await HubApp.BuildAsync(args);
    await hub.StartAsync(CancellationToken.None); // as before: a Ctrl+C during start-up stops the host once it runs
    await hub.App.WaitForShutdownAsync(interrupted);
    return 0;
});
