using System.Net;
using System.Text.Json;
using Dapper;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server;
using Hutong.Server.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Hutong.Integration.Tests;

/// <summary>/healthz/live answers while the process runs; /healthz/ready (and /healthz) only while the store can serve.</summary>
public sealed class HealthTests
{
    [Fact]
    public async Task A_stopped_writer_makes_the_hub_not_ready_but_still_live()
    {
        var dir = Directory.CreateTempSubdirectory("hutong-health-");
        await using (var hub = await BuildAsync(new() { ["Store:ConnectionString"] = $"Data Source={Path.Combine(dir.FullName, "h.db")}" }))
        {
            await hub.StartAsync();
            using var http = new HttpClient { BaseAddress = new Uri(hub.BaseUrl) };
            var ready = await GetAsync(http, "/healthz/ready");
            Assert.Equal(HttpStatusCode.OK, ready.Status);
            Assert.Equal("healthy", ready.Json.GetProperty("checks").GetProperty("store").GetProperty("status").GetString());
            Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, "/healthz")).Status);

            await hub.App.Services.GetRequiredService<Db>().DisposeAsync(); // the writer drains and ends

            var notReady = await GetAsync(http, "/healthz/ready");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.Status);
            Assert.Contains("writer has stopped", notReady.Json.GetProperty("checks").GetProperty("store").GetProperty("description").GetString(), StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await GetAsync(http, "/healthz")).Status); // /healthz is readiness
            Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, "/healthz/live")).Status);
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        dir.Delete(recursive: true);
    }

    [Fact]
    public async Task A_schema_behind_this_build_is_not_ready()
    {
        var dir = Directory.CreateTempSubdirectory("hutong-health-");
        await using (var hub = await BuildAsync(new() { ["Store:ConnectionString"] = $"Data Source={Path.Combine(dir.FullName, "h.db")}" }))
        {
            await hub.StartAsync();
            using var http = new HttpClient { BaseAddress = new Uri(hub.BaseUrl) };
            var db = hub.App.Services.GetRequiredService<Db>();
            var latest = Migrator.Versions[^1];
            await db.WriteAsync((c, t) => c.ExecuteAsync("DELETE FROM schema_migrations WHERE version = @latest", new { latest }, t), default);

            var notReady = await GetAsync(http, "/healthz/ready");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.Status);
            Assert.Equal($"Migrations not applied: {latest}.", notReady.Json.GetProperty("checks").GetProperty("store").GetProperty("description").GetString());
            Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, "/healthz/live")).Status);
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        dir.Delete(recursive: true);
    }

    [Fact]
    public async Task An_unreachable_PostgreSQL_is_not_ready_but_the_process_is_live()
    {
        // Nothing listens on port 1. The hub is started without its migrations (they would fail): the web host alone.
        await using var hub = await BuildAsync(new()
        {
            ["Store:Provider"] = "Postgres",
            ["Store:ConnectionString"] = "Host=127.0.0.1;Port=1;Username=nobody;Database=nothing;Timeout=2",
        });
        await hub.App.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(hub.BaseUrl) };

        var notReady = await GetAsync(http, "/healthz/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.Status);
        var checks = notReady.Json.GetProperty("checks");
        Assert.Equal("unhealthy", checks.GetProperty("store").GetProperty("status").GetString());
        Assert.Equal("unhealthy", checks.GetProperty("postgresql").GetProperty("status").GetString()); // AspNetCore.HealthChecks.NpgSql
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, "/healthz/live")).Status);
    }

    [Fact]
    public async Task During_the_drain_delay_the_hub_is_not_ready_yet_still_serves_and_closes_each_connection_after_its_answer()
    {
        var dir = Directory.CreateTempSubdirectory("hutong-health-");
        await using (var hub = await BuildAsync(new()
        {
            ["Store:ConnectionString"] = $"Data Source={Path.Combine(dir.FullName, "h.db")}",
            ["Hutong:Shutdown:DrainDelay"] = "00:00:05",
        }))
        {
            await hub.StartAsync();
            using var http = new HttpClient { BaseAddress = new Uri(hub.BaseUrl) };
            using (var before = await http.GetAsync("/healthz/live"))
            {
                Assert.False(before.Headers.ConnectionClose ?? false);
            }

            var stopping = hub.App.StopAsync(); // what SIGTERM starts
            var notReady = await GetAsync(http, "/healthz/ready");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.Status);
            Assert.Equal("Shutting down.", notReady.Json.GetProperty("checks").GetProperty("accepting").GetProperty("description").GetString());
            using (var during = await http.GetAsync("/healthz/live"))
            {
                Assert.Equal(HttpStatusCode.OK, during.StatusCode); // still listening and serving
                Assert.True(during.Headers.ConnectionClose, "an answer during shutdown keeps its connection open");
            }

            Assert.False(stopping.IsCompleted);
            await stopping;
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        dir.Delete(recursive: true);
    }

    private static Task<HubHandle> BuildAsync(Dictionary<string, string?> settings) => HubApp.BuildAsync([], b =>
    {
        b.WebHost.UseUrls("http://127.0.0.1:0");
        b.Logging.ClearProviders();
        b.Configuration.AddInMemoryCollection(settings);
    }, new WalletAccounts(null, null, null));

    private static async Task<(HttpStatusCode Status, JsonElement Json)> GetAsync(HttpClient http, string path)
    {
        using var r = await http.GetAsync(path);
        var body = await r.Content.ReadAsStringAsync();
        return (r.StatusCode, JsonDocument.Parse(body).RootElement.Clone());
    }
}

/// <summary>The shared PostgreSQL hub is ready, with the NpgSql probe among its checks.</summary>
[Collection("postgres")]
public sealed class HealthTests_Postgres(PostgresHub hub)
{
    [Fact]
    public async Task A_migrated_PostgreSQL_hub_is_ready()
    {
        using var r = await hub.Http.GetAsync("/healthz/ready");
        var json = JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("healthy", json.GetProperty("checks").GetProperty("postgresql").GetProperty("status").GetString());
        Assert.Equal("healthy", json.GetProperty("checks").GetProperty("store").GetProperty("status").GetString());
    }
}
