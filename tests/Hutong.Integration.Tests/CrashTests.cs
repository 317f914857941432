using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Hutong.Integration.Tests;

/// <summary>
/// kill -9 under load, 20 times: every payment the hub acknowledged with 201 must be there after the restart, with its
/// payment.created outbox event, and nothing acknowledged twice. This is what "acknowledge only after the (group) commit"
/// buys. The hub runs as its own process on a real SQLite file.
/// </summary>
[Collection("crash")]
public sealed class CrashTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("hutong-crash-");

    private string DbPath => Path.Combine(_dir.FullName, "crash.db");

    [Fact]
    public async Task Every_acknowledged_payment_survives_kill_9_twenty_times()
    {
        var port = FreePort();
        var baseUrl = $"http://127.0.0.1:{port}";
        using var http = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(10) };
        var acknowledged = new ConcurrentDictionary<string, string>(); // payment id → merchant_order_id
        string? apiKey = null;
        var random = new Random(20261122);

        for (var cycle = 0; cycle < 20; cycle++)
        {
            using var hub = StartHub(port);
            await WaitHealthyAsync(http, hub);
            if (apiKey is null)
            {
                using var req = new HttpRequestMessage(HttpMethod.Post, "/admin/merchants") { Content = JsonContent.Create(new { name = "crash" }) };
                req.Headers.Authorization = new("Bearer", "crash-admin");
                req.Headers.Add("Idempotency-Key", "onboard");
                var body = await (await http.SendAsync(req)).Content.ReadFromJsonAsync<JsonElement>();
                apiKey = body.GetProperty("api_key").GetProperty("secret").GetString()!;
            }

            // Everything acknowledged before this crash is still there after the previous ones.
            await AssertAllPresentAsync(http, apiKey, acknowledged);

            using var stop = new CancellationTokenSource();
            var load = Enumerable.Range(0, 16).Select(worker => Task.Run(async () =>
            {
                var n = 0;
                while (!stop.IsCancellationRequested)
                {
                    var orderId = $"c{cycle}-w{worker}-{n++}";
                    try
                    {
                        using var req = new HttpRequestMessage(HttpMethod.Post, "/v1/payments")
                        {
                            Content = JsonContent.Create(new { amount = 100 + n, currency = "CNY", description = "crash", merchant_order_id = orderId }),
                        };
                        req.Headers.Authorization = new("Bearer", apiKey);
                        req.Headers.Add("Idempotency-Key", orderId);
                        using var resp = await http.SendAsync(req);
                        if (resp.StatusCode == HttpStatusCode.Created)
                        {
                            var id = (await resp.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
                            Assert.True(acknowledged.TryAdd(id, orderId), $"{id} acknowledged twice");
                        }
                    }
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
                    {
                        return; // the hub died mid-request: that request was never acknowledged
                    }
                }
            })).ToList();

            await Task.Delay(random.Next(200, 700));
            hub.Kill(entireProcessTree: true); // SIGKILL: no shutdown hooks, no flush
            await hub.WaitForExitAsync();
            stop.Cancel();
            await Task.WhenAll(load);
        }

        using (var last = StartHub(port))
        {
            await WaitHealthyAsync(http, last);
            await AssertAllPresentAsync(http, apiKey!, acknowledged);
            last.Kill(entireProcessTree: true);
            await last.WaitForExitAsync();
        }

        Assert.True(acknowledged.Count > 100, $"only {acknowledged.Count} payments were acknowledged across 20 crashes");
        await using var c = new SqliteConnection($"Data Source={DbPath};Pooling=False");
        var createdEvents = (await c.QueryAsync<string>("SELECT payload FROM outbox WHERE type = 'payment.created'")).ToList();
        var withEvent = acknowledged.Keys.Count(id => createdEvents.Any(p => p.Contains(id, StringComparison.Ordinal)));
        Assert.Equal(acknowledged.Count, withEvent); // every acknowledged payment committed with its outbox event
        Assert.Equal(0L, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM (SELECT merchant_order_id FROM payments GROUP BY merchant_order_id HAVING COUNT(*) > 1)"));
    }

    private static async Task AssertAllPresentAsync(HttpClient http, string apiKey, ConcurrentDictionary<string, string> acknowledged)
    {
        foreach (var (id, orderId) in acknowledged)
        {
            using var req = new HttpRequestMessage(HttpMethod.Get, $"/v1/payments/{id}");
            req.Headers.Authorization = new("Bearer", apiKey);
            using var resp = await http.SendAsync(req);
            Assert.True(resp.StatusCode == HttpStatusCode.OK, $"acknowledged payment {id} ({orderId}) is missing after a crash");
        }
    }

    private Process StartHub(int port)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Hutong.Server.dll");
        var psi = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { dll, "--urls", $"http://127.0.0.1:{port}", "--Store:ConnectionString", $"Data Source={DbPath}", "--Hutong:AdminToken", "crash-admin", "--Logging:LogLevel:Default", "Warning" })
        {
            psi.ArgumentList.Add(a);
        }

        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    private static async Task WaitHealthyAsync(HttpClient http, Process hub)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            Assert.False(hub.HasExited, "the hub exited during start");
            try
            {
                if ((await http.GetAsync("/healthz")).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(50);
        }

        Assert.Fail("the hub did not start");
    }

    private static int FreePort()
    {
        using var l = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _dir.Delete(recursive: true);
    }
}

/// <summary>Runs alone: killing processes under load must not starve the timing of the other suites.</summary>
[CollectionDefinition("crash", DisableParallelization = true)]
public sealed class CrashCollection;
