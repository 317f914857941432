using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Hutong.Integration.Tests;

/// <summary>
/// SIGTERM (what containers and systemd send) under load: the hub stops taking connections, answers the requests it
/// has, drains the writer and the workers, and exits 0; nothing it acknowledged is lost and no answer is cut off.
/// The hub and the sandbox run as processes of their own, signalled with kill(1).
/// </summary>
[Collection("crash")]
public sealed class ShutdownTests(Xunit.Abstractions.ITestOutputHelper log) : IDisposable
{
    private static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(20);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("hutong-sigterm-");

    private string DbPath => Path.Combine(_dir.FullName, "sigterm.db");

    [Fact]
    public async Task SIGTERM_drains_in_flight_requests_and_exits_0_and_a_restart_has_every_acknowledged_payment()
    {
        var port = FreePort();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        var acknowledged = new ConcurrentDictionary<string, string>(); // payment id → merchant_order_id
        var cutOff = new ConcurrentQueue<string>();
        var unanswered = new ConcurrentDictionary<string, string>(); // merchant_order_id → error: no answer at all
        var answeredAfterSignal = 0;
        var signalled = 0;

        var (hub, hubOutput) = StartHub(port);
        using (hub)
        {
            await WaitAnsweringAsync(http, hub, "/healthz");
            var apiKey = await OnboardAsync(http);
            using var stop = new CancellationTokenSource();
            var load = Enumerable.Range(0, 16).Select(worker => Task.Run(async () =>
            {
                for (var n = 0; n < 100_000 && !stop.IsCancellationRequested; n++)
                {
                    var orderId = $"w{worker}-{n}";
                    using var req = new HttpRequestMessage(HttpMethod.Post, "/v1/payments")
                    {
                        Content = JsonContent.Create(new { amount = 100 + n, currency = "CNY", description = "sigterm", merchant_order_id = orderId }),
                    };
                    req.Headers.Authorization = new("Bearer", apiKey);
                    req.Headers.Add("Idempotency-Key", orderId);
                    HttpResponseMessage resp;
                    try
                    {
                        resp = await http.SendAsync(req);
                    }
                    catch (HttpRequestException e) when (e.HttpRequestError == HttpRequestError.ConnectionError)
                    {
                        // No connection: refused once the hub stopped listening, or reset while still in the listen backlog
                        // when the listener closed. Either way this request never reached the hub.
                        return;
                    }
                    catch (HttpRequestException e)
                    {
                        // Closed (or reset) with no answer at all: HTTP/1.1's keep-alive race (the hub closed an idle
                        // connection as this request was sent on it), fine only if the hub never processed it: checked after
                        // the restart. A client retries such a request with its Idempotency-Key.
                        unanswered[orderId] = e.Message;
                        return;
                    }

                    try
                    {
                        using var _ = resp;
                        var body = await resp.Content.ReadAsStringAsync();
                        if (resp.StatusCode == HttpStatusCode.Created)
                        {
                            acknowledged.TryAdd(JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!, orderId);
                            if (Volatile.Read(ref signalled) == 1)
                            {
                                Interlocked.Increment(ref answeredAfterSignal);
                            }
                        }
                        else
                        {
                            cutOff.Enqueue($"{orderId}: {(int)resp.StatusCode} {body}");
                        }
                    }
                    catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
                    {
                        cutOff.Enqueue($"{orderId}: {e.GetType().Name} {e.Message} {e.InnerException?.Message}"); // an answer cut off
                        return;
                    }
                }
            })).ToList();

            await Task.Delay(1500);
            Assert.True(acknowledged.Count > 10, $"only {acknowledged.Count} payments before the signal");
            Volatile.Write(ref signalled, 1);
            Signal(hub, "TERM");
            var exited = hub.WaitForExitAsync();
            Assert.True(await Task.WhenAny(exited, Task.Delay(ShutdownTimeout)) == exited, "the hub did not exit within the shutdown timeout\n" + hubOutput);
            await Task.WhenAll(load).WaitAsync(TimeSpan.FromSeconds(30));
            stop.Cancel();

            Assert.True(hub.ExitCode == 0, $"exit code {hub.ExitCode}\n{hubOutput}");
            Assert.True(cutOff.IsEmpty, "requests cut off by the shutdown:\n" + string.Join('\n', cutOff.Take(10)));
            log.WriteLine($"acknowledged {acknowledged.Count}, answered after the signal {answeredAfterSignal}, closed unanswered {unanswered.Count}");
            Assert.True(answeredAfterSignal > 0, "no request in flight at the signal was answered");
            Assert.DoesNotContain("fail:", hubOutput.ToString(), StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled exception", hubOutput.ToString(), StringComparison.Ordinal);

            // Restart: everything acknowledged is there, with its event; and it stops cleanly again.
            var (again, againOutput) = StartHub(port);
            using (again)
            {
                await WaitAnsweringAsync(http, again, "/healthz/ready");
                foreach (var (id, orderId) in acknowledged)
                {
                    using var req = new HttpRequestMessage(HttpMethod.Get, $"/v1/payments/{id}");
                    req.Headers.Authorization = new("Bearer", apiKey);
                    using var resp = await http.SendAsync(req);
                    Assert.True(resp.StatusCode == HttpStatusCode.OK, $"acknowledged payment {id} ({orderId}) is missing after SIGTERM and restart");
                }

                Signal(again, "TERM");
                Assert.True(again.WaitForExit(ShutdownTimeout), "the restarted hub did not exit\n" + againOutput);
                Assert.Equal(0, again.ExitCode);
            }
        }

        await using var c = new SqliteConnection($"Data Source={DbPath};Pooling=False");
        var created = (await c.QueryAsync<string>("SELECT payload FROM outbox WHERE type = 'payment.created'")).ToList();
        Assert.Equal(acknowledged.Count, acknowledged.Keys.Count(id => created.Any(p => p.Contains(id, StringComparison.Ordinal))));
        // A request closed with no answer was never processed: nothing was done that its client did not hear of.
        foreach (var (orderId, error) in unanswered)
        {
            Assert.True(await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM payments WHERE merchant_order_id = @orderId", new { orderId }) == 0,
                $"{orderId} was processed but its answer was lost ({error})");
        }
    }

    [Fact]
    public async Task Sandbox_only_stops_on_SIGTERM_and_exits_0()
    {
        var port = FreePort();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
        var (sandbox, output) = Start(Path.Combine(AppContext.BaseDirectory, "Hutong.Demo.dll"), "--sandbox-only", "--url", $"http://127.0.0.1:{port}");
        using (sandbox)
        {
            await WaitAnsweringAsync(http, sandbox, "/sandbox/wechatpay/buyer", anyStatus: true);
            Signal(sandbox, "TERM");
            var stopped = sandbox.WaitForExit(TimeSpan.FromSeconds(15));
            if (!stopped)
            {
                sandbox.Kill(entireProcessTree: true);
            }

            Assert.True(stopped, "--sandbox-only ignored SIGTERM\n" + output);
            Assert.Equal(0, sandbox.ExitCode);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Started_in_the_background_it_still_stops_on_SIGINT(bool sandboxOnly)
    {
        // `cmd &` in a non-interactive shell starts cmd with SIGINT ignored; the trap reproduces that exactly.
        var port = FreePort();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
        var dll = Path.Combine(AppContext.BaseDirectory, "Hutong.Server.dll");
        string[] args = sandboxOnly
            ? [Path.Combine(AppContext.BaseDirectory, "Hutong.Demo.dll"), "--sandbox-only", "--url", $"http://127.0.0.1:{port}"]
            : [dll, "--urls", $"http://127.0.0.1:{port}", "--Store:ConnectionString", $"Data Source={DbPath}", "--Logging:LogLevel:Default", "Warning"];
        var (p, output) = Start(["bash", "-c", "trap '' INT; exec dotnet \"$@\"", "bash", .. args], viaShell: true);
        using (p)
        {
            await WaitAnsweringAsync(http, p, sandboxOnly ? "/sandbox/wechatpay/buyer" : "/healthz", anyStatus: true);
            Signal(p, "INT");
            var stopped = p.WaitForExit(TimeSpan.FromSeconds(15));
            if (!stopped)
            {
                p.Kill(entireProcessTree: true);
            }

            Assert.True(stopped, "SIGINT was ignored\n" + output);
            Assert.Equal(0, p.ExitCode);
        }
    }

    private static async Task<string> OnboardAsync(HttpClient http)
    {
        using var req = new HttpRequestMessage(HttpMethod.Post, "/admin/merchants") { Content = JsonContent.Create(new { name = "sigterm" }) };
        req.Headers.Authorization = new("Bearer", "sigterm-admin");
        req.Headers.Add("Idempotency-Key", "onboard");
        using var resp = await http.SendAsync(req);
        Assert.Equal(HttpStatusCode.Created, resp.StatusCode);
        return (await resp.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("api_key").GetProperty("secret").GetString()!;
    }

    private (Process, System.Text.StringBuilder) StartHub(int port) => Start(
        Path.Combine(AppContext.BaseDirectory, "Hutong.Server.dll"), "--urls", $"http://127.0.0.1:{port}", "--Store:ConnectionString", $"Data Source={DbPath}",
        "--Hutong:AdminToken", "sigterm-admin", "--Logging:LogLevel:Default", "Warning", "--shutdownTimeoutSeconds", "15");

    private static (Process, System.Text.StringBuilder) Start(params string[] args) => Start(args, viaShell: false);

    private static (Process, System.Text.StringBuilder) Start(string[] args, bool viaShell)
    {
        var psi = new ProcessStartInfo(viaShell ? args[0] : "dotnet") { WorkingDirectory = AppContext.BaseDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in viaShell ? args[1..] : args)
        {
            psi.ArgumentList.Add(a);
        }

        var output = new System.Text.StringBuilder();
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, e) => Append(output, e.Data);
        p.ErrorDataReceived += (_, e) => Append(output, e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return (p, output);
    }

    private static void Append(System.Text.StringBuilder output, string? line)
    {
        if (line is not null)
        {
            lock (output)
            {
                output.AppendLine(line);
            }
        }
    }

    /// <summary>A real signal, as a container runtime or systemd sends it.</summary>
    private static void Signal(Process p, string signal)
    {
        using var kill = Process.Start("kill", ["-s", signal, p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    private static async Task WaitAnsweringAsync(HttpClient http, Process p, string path, bool anyStatus = false)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            Assert.False(p.HasExited, "the process exited during start");
            try
            {
                using var r = await http.GetAsync(path);
                if (anyStatus || r.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(50);
        }

        Assert.Fail("the process did not start answering");
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _dir.Delete(recursive: true);
    }
}
