using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server;
using Hutong.Server.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Hutong.Integration.Tests;

/// <summary>
/// The dispatcher is woken when its hub commits deliveries (Db.DeliveriesCommitted, added with their event), not on every
/// send or outcome: with the poll ten minutes apart, a payment's webhook still arrives at once, and each event costs
/// about one dispatcher pass.
/// </summary>
public abstract class WebhookSignalTests
{
    private const string AdminToken = "signal-admin-token";

    protected abstract Task<(string ConnectionString, Func<Task> Drop)> StoreAsync();

    protected abstract StoreProvider Provider { get; }

    [Fact]
    public async Task A_committed_event_is_fanned_out_without_waiting_for_the_poll()
    {
        var arrived = new ConcurrentQueue<string>();
        var receiverBuilder = WebApplication.CreateSlimBuilder();
        receiverBuilder.WebHost.UseUrls("http://127.0.0.1:0");
        receiverBuilder.Logging.ClearProviders();
        await using var receiver = receiverBuilder.Build();
        receiver.MapPost("/hook", async (HttpRequest req) =>
        {
            using var doc = await JsonDocument.ParseAsync(req.Body);
            arrived.Enqueue(doc.RootElement.GetProperty("id").GetString()!);
            return Results.NoContent();
        });
        await receiver.StartAsync();

        var (cs, drop) = await StoreAsync();
        try
        {
            await using var hub = await HubApp.BuildAsync([], b =>
            {
                b.WebHost.UseUrls("http://127.0.0.1:0");
                b.Logging.ClearProviders();
                b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
                {
                    ["Store:Provider"] = Provider.ToString(),
                    ["Store:ConnectionString"] = cs,
                    ["Hutong:AdminToken"] = AdminToken,
                    ["Hutong:WorkerPollInterval"] = "00:10:00", // the dispatcher's poll: every 2.5 minutes
                    ["Hutong:Webhooks:AllowPrivateTargets"] = "true",
                });
            }, new WalletAccounts(null, null, null));
            await hub.StartAsync();
            using var passes = new DispatcherPasses(hub.App.Services.GetRequiredService<HubMetrics>().Meter);
            using var http = new HttpClient { BaseAddress = new Uri(hub.BaseUrl) };
            var key = await NewMerchantAsync(http);
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            Assert.True((await PostAsync(http, "/v1/webhook_endpoints", new { url = receiver.Urls.First() + "/hook" })).IsSuccessStatusCode);
            await Task.Delay(200); // the dispatcher's first pass (at start) is over

            const int payments = 10;
            var before = passes.Count;
            for (var i = 0; i < payments; i++)
            {
                var created = await PostAsync(http, "/v1/payments", new { amount = 100 + i, currency = "CNY", description = "signal", merchant_order_id = $"s{i}" });
                Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
                var count = i + 1;
                var deadline = DateTime.UtcNow.AddSeconds(10); // well inside the 2.5-minute poll
                while (arrived.Count < count && DateTime.UtcNow < deadline)
                {
                    await Task.Delay(10);
                }

                Assert.True(arrived.Count == count, $"payment {count}'s payment.created webhook did not arrive within 10 s (the poll is 2.5 minutes away)");
            }

            // About one pass per event (the signal), not one per event, per send ending and per outcome recorded.
            var perEvent = (passes.Count - before) / (double)payments;
            Assert.True(perEvent <= 1.5, $"{perEvent:F1} dispatcher passes per event");
        }
        finally
        {
            await drop();
        }
    }

    /// <summary>Counts the webhook dispatcher's passes (its "webhooks" series of hutong.jobs.pass.duration).</summary>
    private sealed class DispatcherPasses : IDisposable
    {
        private readonly System.Diagnostics.Metrics.MeterListener _listener = new();
        private long _count;

        public DispatcherPasses(System.Diagnostics.Metrics.Meter meter)
        {
            _listener.InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter, meter) && instrument.Name == "hutong.jobs.pass.duration")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag is { Key: "job", Value: "webhooks" })
                    {
                        Interlocked.Increment(ref _count);
                    }
                }
            });
            _listener.Start();
        }

        public long Count => Interlocked.Read(ref _count);

        public void Dispose() => _listener.Dispose();
    }

    private static async Task<string> NewMerchantAsync(HttpClient http)
    {
        using var req = new HttpRequestMessage(HttpMethod.Post, "/admin/merchants") { Content = JsonContent.Create(new { name = "signal" }) };
        req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
        req.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
        using var resp = await http.SendAsync(req);
        using var doc = JsonDocument.Parse(await resp.Content.ReadAsStringAsync());
        return doc.RootElement.GetProperty("api_key").GetProperty("secret").GetString()!;
    }

    private static Task<HttpResponseMessage> PostAsync(HttpClient http, string path, object body)
    {
        var req = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        req.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
        return http.SendAsync(req);
    }
}

public sealed class WebhookSignalTests_Sqlite : WebhookSignalTests
{
    protected override StoreProvider Provider => StoreProvider.Sqlite;

    protected override Task<(string, Func<Task>)> StoreAsync()
    {
        var dir = Directory.CreateTempSubdirectory("hutong-signal-");
        return Task.FromResult<(string, Func<Task>)>(($"Data Source={Path.Combine(dir.FullName, "s.db")}", () =>
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            dir.Delete(recursive: true);
            return Task.CompletedTask;
        }));
    }
}

public sealed class WebhookSignalTests_Postgres : WebhookSignalTests
{
    protected override StoreProvider Provider => StoreProvider.Postgres;

    protected override async Task<(string, Func<Task>)> StoreAsync()
    {
        var name = "hutong_signal_" + Guid.NewGuid().ToString("N")[..10];
        return (await PostgresHub.CreateDatabaseAsync(name), () => PostgresHub.DropDatabaseAsync(name));
    }
}
