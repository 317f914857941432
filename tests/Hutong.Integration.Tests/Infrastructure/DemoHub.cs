using Hutong.Demo;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Hutong.Integration.Tests.Infrastructure;

/// <summary>The hub as `--demo` runs it (in-process sandbox, demo shop), on free ports, its SQLite store in a folder of the test's.</summary>
public static class DemoHub
{
    public static async Task<DemoHandle> StartAsync(string dir)
    {
        var hub = await DemoHost.BuildAsync([], b =>
        {
            b.WebHost.UseUrls("http://127.0.0.1:0");
            b.Logging.ClearProviders();
            b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Hutong:Sandbox:Url"] = "http://127.0.0.1:0",
                ["Hutong:Sandbox:TimeScale"] = "0.001",
                ["Store:ConnectionString"] = $"Data Source={Path.Combine(dir, "demo.db")}",
            });
        });
        await hub.StartAsync();
        return hub;
    }
}
