using Hutong.Server;

await using var hub = await HubApp.BuildAsync(args);
await hub.StartAsync();
await hub.App.WaitForShutdownAsync();
