using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Dapper;
using Hutong.Server;
using Hutong.Server.Features.Links;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

// Load benchmark: create-payment and link redirects over real HTTP through the hub and its store, N concurrent clients,
// next to ceilings measured in the same run (raw Kestrel JSON POST, single-row durable commits).
// Usage: dotnet run -c Release --project bench/Hutong.Bench -- [--smoke] [--seconds 15] [--connections 64] [--store sqlite|postgres|both]
if (args is ["--child", ..])
{
    await Child.RunAsync(args); // a hub or the sandbox wallets in a process of their own, for the runs that need it
    return;
}

var smoke = args.Contains("--smoke");
var seconds = Arg("--seconds", smoke ? 2 : 15);
var connections = Arg("--connections", 64);
var storeArg = ArgS("--store", "both");
var growthRows = (long)Arg("--growth", smoke ? 100_000 : 0);
var only = ArgS("--only", "all"); // all | create | ledger (PostgreSQL appends from many transactions, and the sealer) | links | e2e | instances | apart (the hub's CPU per flow, hub and sandbox apart) | collab | collab-10m | collab-upload | vfl | vfl-online | vfl-nodes | console-search
var rounds = Arg("--rounds", smoke ? 1 : 3); // PostgreSQL: ceiling and create measured one after the other, this many times
var maxInstances = Arg("--instances", 3); // PostgreSQL: create with 1..N hub processes
var openLoad = Arg("--open-load", 77); // PostgreSQL: the open-loop row's offered rate, % of the same round's ceiling; 2 points over the 75 % target so that a few ms of sender slip at the window's end cannot decide it
// Open loop: room for far more requests in flight than a healthy hub has (~rate × latency, a few dozen), so the schedule
// slips only when the hub falls far behind, and then the slip is charged as latency.
const int OpenLoopInFlight = 512;
var pg = Environment.GetEnvironmentVariable("HUTONG_BENCH_PG") ?? Environment.GetEnvironmentVariable("HUTONG_TEST_PG");

// Cooperation protocols (issue 19): CPU-bound, no hub; first, so that its peak memory is its own.
if (only is "collab" || (only is "all" && !smoke))
{
    CollabBench.Run(smoke, Arg("--psi-items", smoke ? 10_000 : 100_000));
    if (only is "collab")
    {
        return;
    }
}

// Cooperation protocols at 10 M × 10 M (issue 19): memory bucket by bucket (a node holds one bucket at a time).
if (only is "collab-10m")
{
    CollabBench.TenMillion(Arg("--buckets", 2));
    return;
}

// Cooperation data sets (issue 19): a streamed upload of N synthetic rows into each store, peak managed heap at N/10 and N.
if (only is "collab-upload")
{
    await CollabUploadBench.RunAsync(Arg("--upload-rows", smoke ? 100_000 : 2_000_000), storeArg is "postgres" or "both" ? pg : null);
    return;
}

// Vertical federated learning (issue 20): CPU-bound, no hub.
if (only is "vfl" || (only is "all" && !smoke))
{
    await VflBench.RunAsync(Arg("--vfl-epochs", 3), Arg("--vfl-batch", 512), Arg("--vfl-rows", 0));
    if (only is "vfl")
    {
        return;
    }
}

// Vertical federated learning between two hub processes (issue 20): online scoring latency; epochs on default_credit.
if (only is "vfl-online")
{
    await VflNodesBench.OnlineAsync(Arg("--vfl-asks", smoke ? 200 : 2_000));
    return;
}

if (only is "vfl-nodes")
{
    await VflNodesBench.NodesAsync(Arg("--vfl-epochs", 3), Arg("--vfl-batch", 512), Arg("--vfl-rows", 0));
    return;
}

// The console's payments search at a large store (issue 15): PostgreSQL only.
if (only is "console-search")
{
    var rows = (long)Arg("--console-rows", smoke ? 100_000 : 10_000_000);
    await OnFreshDatabaseAsync(pg ?? throw new InvalidOperationException("set HUTONG_BENCH_PG or HUTONG_TEST_PG"), async cs =>
    {
        await ConsoleSearchBench.RunAsync(cs, rows);
        return 0;
    });
    return;
}

Console.WriteLine($"Hutong load benchmark — {Environment.ProcessorCount} cores, {connections} concurrent clients, {seconds}s per run{(smoke ? " (smoke)" : string.Empty)}");
Console.WriteLine($"{"scenario",-44} {"req/s",10} {"p50 ms",8} {"p99 ms",8} {"errors",7} {"vs Kestrel",10} {"CPU µs/req",10} {"CPU busy",8}");

if (args.Contains("--store-only"))
{
    var dir0 = Directory.CreateTempSubdirectory("hutong-w-");
    await using var hub0 = await BenchHub.StartAsync(new Dictionary<string, string?> { ["Store:ConnectionString"] = $"Data Source={Path.Combine(dir0.FullName, "w.db")}" });
    var db0 = hub0.App.Services.GetRequiredService<Db>();
    var ps = hub0.App.Services.GetRequiredService<Hutong.Server.Features.Payments.PaymentService>();
    var (m0, _) = await hub0.App.Services.GetRequiredService<MerchantStore>().CreateMerchantAsync("w", CancellationToken.None);
    foreach (var callers in new[] { 1, 64 })
    {
        long n = 0;
        var swW = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, callers).Select(async _ =>
        {
            while (swW.Elapsed.TotalSeconds < 4)
            {
                var i = Interlocked.Increment(ref n);
                await ps.CreateAsync(m0.Id, new Hutong.Server.Features.Payments.CreatePaymentRequest(1000, "CNY", "w", $"w{callers}-{i}", null, null), null, CancellationToken.None);
            }
        }));
        Console.WriteLine($"create payment in-process (no HTTP), {callers} callers: {n / swW.Elapsed.TotalSeconds:N0}/s");
    }

    var (wk, cm) = db0.WriterTime;
    Console.WriteLine($"   work {wk.TotalMicroseconds / db0.GroupCommitStats.Writes:F1} µs/write, commit {cm.TotalMilliseconds / db0.GroupCommitStats.Commits:F2} ms, {db0.GroupCommitStats.Writes * 1.0 / db0.GroupCommitStats.Commits:F1} writes/commit");
    return;
}

var kestrel = await RunKestrelBaselineAsync(seconds, connections);
Print("Kestrel raw JSON POST (ceiling)", kestrel, kestrel.PerSecond);
var sqliteCommits = await SqliteCommitCeilingAsync(Math.Min(seconds, 5));
Console.WriteLine($"{"SQLite FULL 1-row commits/s (ceiling)",-44} {sqliteCommits,10:N0}");
if (storeArg is "sqlite" or "both")
{
    var dir = Directory.CreateTempSubdirectory("hutong-bench-");
    if (only is "all" or "create")
    {
        var r = await RunHubAsync(StoreProvider.Sqlite, $"Data Source={Path.Combine(dir.FullName, "bench.db")}", seconds, connections);
        Print("create payment, SQLite (WAL, synchronous=FULL)", r, kestrel.PerSecond);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"  writes per SQLite commit (group commit)",-44} {r.WritesPerCommit,10:F1}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"  writer: µs per write / ms per commit",-44} {r.WriterUsPerWrite,10:F0} {r.CommitMs,8:F2}"));
        Console.WriteLine($"{"  ratio to SQLite single-row commit ceiling",-44} {r.PerSecond / sqliteCommits,10:P0}");
    }

    if (only is "all" or "links")
    {
        var links = await RunRedirectsAsync($"Data Source={Path.Combine(dir.FullName, "links.db")}", seconds, connections);
        Print("link redirect /l/{code} → 302 (1,000 links)", links, kestrel.PerSecond);
    }

    if (only is "all" or "e2e")
    {
        var rsa = EndToEnd.RsaSignsPerSecond(1000);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"RSA-2048 signatures/s, one core (ceiling)",-44} {rsa,10:N0}"));
        var (e2e, succeeded, captured, webhooks) = await EndToEnd.RunAsync(StoreProvider.Sqlite, $"Data Source={Path.Combine(dir.FullName, "e2e.db")}", seconds, connections);
        Print("end to end: create→pay→notify→webhook", e2e, kestrel.PerSecond);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{"  3 RSA signatures per flow: ceiling flows/s",-44} {rsa * Environment.ProcessorCount / 3,10:N0} {"",8} {"",8} {"",7} {e2e.PerSecond / (rsa * Environment.ProcessorCount / 3),10:P0}"));
        Console.WriteLine($"  succeeded {succeeded:N0}, captures in the ledger {captured:N0}, webhooks received {webhooks:N0}");
    }

    if (only is "all" or "e2e" or "apart")
    {
        await PrintHubCpuPerFlowAsync(StoreProvider.Sqlite, $"Data Source={Path.Combine(dir.FullName, "e2e-apart.db")}", "SQLite");
    }

    if (growthRows > 0)
    {
        var (empty, grown, fill, bytes) = await RunGrowthAsync(Path.Combine(dir.FullName, "growth.db"), growthRows, seconds, connections);
        Print("create payment, SQLite, empty store", empty, kestrel.PerSecond);
        Print($"create payment, SQLite, {Growth.Rows(growthRows)} payments", grown, kestrel.PerSecond);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{"  p99 grown / p99 empty",-44} {grown.P99 / empty.P99,10:F2}   (filled in {fill.TotalSeconds:F0} s, {bytes / 1e9:F1} GB)"));
    }

    dir.Delete(recursive: true);
}

if (storeArg is "postgres" or "both" && only is "all" or "ledger" && pg is not null)
{
    var ceiling = await PostgresCommitCeilingAsync(pg, Math.Min(seconds, 5), connections);
    Console.WriteLine($"{$"PostgreSQL 1-row commits/s, {connections} conns (ceiling)",-44} {ceiling,10:N0}");
    var (appends, p99, sealedPerSecond, verified) = await OnFreshDatabaseAsync(pg, cs => LedgerAppends.RunAsync(cs, Math.Min(seconds, 5), connections));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{$"ledger appends/s, PostgreSQL, {connections} transactions",-44} {appends,10:N0} {"",8} {p99,8:F2}   ({appends / ceiling:P0} of the ceiling; p99 ms)"));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{"  sealed into the chain per second; verified",-44} {sealedPerSecond,10:N0} {(verified ? "ok" : "BROKEN"),8}"));
}

if (storeArg is "postgres" or "both" && only is "all" or "create" or "instances" or "e2e" or "apart")
{
    if (pg is null)
    {
        Console.WriteLine("create payment, PostgreSQL: skipped (set HUTONG_BENCH_PG or HUTONG_TEST_PG)");
    }
    else
    {
        // The ceiling and the create load one right after the other, several times: on a shared machine the ceiling itself
        // moves from minute to minute, so each create is set against its own neighbour and the medians are reported.
        var ratios = new List<double>();
        var p99s = new List<double>();
        var openRatios = new List<double>();
        var openP99s = new List<double>();
        var pgCommits = 0.0;
        for (var round = 1; round <= rounds && only is "all" or "create"; round++)
        {
            pgCommits = await PostgresCommitCeilingAsync(pg, Math.Min(seconds, 5), connections);
            Console.WriteLine($"{$"PostgreSQL 1-row commits/s, {connections} conns (ceiling)",-44} {pgCommits,10:N0}");
            var r = await OnFreshDatabaseAsync(pg, cs => RunHubAsync(StoreProvider.Postgres, cs, seconds, connections));
            Print("create payment, PostgreSQL", r, kestrel.PerSecond);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"  creates per PostgreSQL commit (group commit)",-44} {r.WritesPerCommit,10:F1}"));
            Console.WriteLine($"{"  ratio to PostgreSQL single-row commit ceiling",-44} {r.PerSecond / pgCommits,10:P0}");
            ratios.Add(r.PerSecond / pgCommits);
            p99s.Add(r.P99);

            // The issue's target (create at >= 75 % of the ceiling with p99 <= 25 ms) is a latency at a given throughput:
            // 64 closed-loop clients cannot show it (by Little's law their mean latency is 64 / rate, ~25 ms at 2,500/s),
            // so the same round also offers creates at a fixed rate, open loop, latency counted from each request's schedule.
            var rate = pgCommits * openLoad / 100;
            var o = await OnFreshDatabaseAsync(pg, cs => RunHubAsync(StoreProvider.Postgres, cs, seconds, OpenLoopInFlight, openRate: rate));
            Print($"create payment, PostgreSQL, open loop {openLoad} %", o, kestrel.PerSecond);
            var met = o.PerSecond / pgCommits >= 0.75 && o.P99 <= 25 && o.Errors == 0;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{"  offered/s; achieved ÷ ceiling; ≥75 %, p99≤25",-44} {o.Offered,10:N0} {o.PerSecond / pgCommits,8:P0} {(met ? "met" : "NOT met"),8}   (after {o.WarmUp.TotalSeconds:F0} s for the JIT to settle and 2 s warm-up; {o.HubJitMethods} methods JIT-compiled in the window)"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{"  creates/commit; ms statements, ms commit",-44} {o.WritesPerCommit,10:F1} {o.WriterUsPerWrite * o.WritesPerCommit / 1000,8:F2} {o.CommitMs,8:F2}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{"  GCs in window, their pauses ms; slowest ms per tenth",-44} {o.Gc?.Count,10} {o.Gc?.PauseMs,8:F0}   {string.Join(' ', o.SlowestPerTenth ?? [])}"));
            openRatios.Add(o.PerSecond / pgCommits);
            openP99s.Add(o.P99);
        }

        if (ratios.Count > 1)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{$"  median of {ratios.Count}: ratio to ceiling, p99 ms",-44} {Median(ratios),10:P0} {"",8} {Median(p99s),8:F2}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{$"  median of {openRatios.Count}, open loop: ratio, p99 ms",-44} {Median(openRatios),10:P0} {"",8} {Median(openP99s),8:F2}"));
        }

        if (only is "all" or "instances")
        {
            // Each hub a process of its own on one database, the load spread round-robin: what scaling out buys on this
            // machine (where the hubs, PostgreSQL and the load generator share the same cores).
            if (pgCommits == 0)
            {
                pgCommits = await PostgresCommitCeilingAsync(pg, Math.Min(seconds, 5), connections);
                Console.WriteLine($"{$"PostgreSQL 1-row commits/s, {connections} conns (ceiling)",-44} {pgCommits,10:N0}");
            }

            // The smoke run shows one hub and the most hubs only.
            foreach (var n in Enumerable.Range(1, maxInstances).Where(n => !smoke || n == 1 || n == maxInstances))
            {
                var count = n;
                var r = await OnFreshDatabaseAsync(pg, cs => RunInstancesAsync(cs, count, seconds, connections));
                Print($"create payment, PostgreSQL, {n} hub process{(n == 1 ? string.Empty : "es")}", r, kestrel.PerSecond);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{"  ratio to ceiling; hubs' own CPU µs/create",-44} {r.PerSecond / pgCommits,10:P0} {r.HubCpuUsPerRequest,8:F0}"));
            }
        }

        if (only is "e2e" or "apart" || (only is "all" && !smoke)) // the smoke run has the SQLite one
        {
            await OnFreshDatabaseAsync(pg, async cs =>
            {
                await PrintHubCpuPerFlowAsync(StoreProvider.Postgres, cs, "PostgreSQL");
                return true;
            });
        }
    }
}

return;

// The hub's own CPU per end-to-end payment: the hub and the sandbox wallets each in a process of their own, so the hub's
// CPU time leaves out the wallets' signing and the load generator; next to one RSA-2048 signature measured just before
// (the one signature the hub itself must make per flow).
async Task PrintHubCpuPerFlowAsync(StoreProvider provider, string connectionString, string store)
{
    var rsa = EndToEnd.RsaSignsPerSecond(1000);
    var (e2e, succeeded, captured, webhooks) = await EndToEnd.RunAsync(provider, connectionString, seconds, connections, separate: true);
    Print($"end to end, hub and sandbox apart ({store})", e2e, kestrel.PerSecond);
    var signMs = 1000 / rsa;
    var hubMs = e2e.HubCpuUsPerRequest!.Value / 1000;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{"  hub CPU ms/flow; RSA-2048 sign ms; ratio",-44} {hubMs,10:F2} {signMs,8:F2} {hubMs / signMs,7:F1}×   (after {e2e.WarmUp.TotalSeconds:F0} s warm-up to a steady rate; {e2e.HubJitMethods} methods JIT-compiled in the window)"));
    Console.WriteLine($"  succeeded {succeeded:N0}, captures in the ledger {captured:N0}, webhooks received {webhooks:N0}");
}

static double Median(List<double> xs) => xs.Order().ElementAt(xs.Count / 2);

// A PostgreSQL database of its own for one run, dropped afterwards.
static async Task<T> OnFreshDatabaseAsync<T>(string admin, Func<string, Task<T>> run)
{
    var name = "hutong_bench_" + Guid.NewGuid().ToString("N")[..8];
    await using (var c = new NpgsqlConnection(admin))
    {
        await c.ExecuteAsync($"CREATE DATABASE {name}");
    }

    try
    {
        return await run(new NpgsqlConnectionStringBuilder(admin) { Database = name, MaxPoolSize = 40 }.ConnectionString);
    }
    finally
    {
        NpgsqlConnection.ClearAllPools();
        await using var drop = new NpgsqlConnection(admin);
        await drop.ExecuteAsync($"DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    }
}

// Create-payment load over N hub processes sharing one PostgreSQL database, requests spread round-robin.
async Task<LoadResult> RunInstancesAsync(string connectionString, int instances, int secs, int conns)
{
    var settings = new Dictionary<string, string?>
    {
        ["Store:Provider"] = nameof(StoreProvider.Postgres),
        ["Store:ConnectionString"] = new NpgsqlConnectionStringBuilder(connectionString) { MaxPoolSize = 16 }.ConnectionString,
        ["Store:PostgresWriters"] = ArgS("--pg-writers", "2"),
    };
    var hubs = new List<Child> { await Child.HubAsync(settings) }; // the first migrates the database
    try
    {
        hubs.AddRange(await Task.WhenAll(Enumerable.Range(1, instances - 1).Select(_ => Child.HubAsync(settings))));
        var (key, _) = await BenchHub.MerchantAsync(hubs[0].BaseUrl);
        return await LoadUrlsAsync(hubs.Select(h => h.BaseUrl + "/v1/payments").ToArray(), key, secs, conns,
            hubCpu: () => hubs.Aggregate(TimeSpan.Zero, (sum, h) => sum + h.Cpu));
    }
    finally
    {
        await Task.WhenAll(hubs.Select(h => h.DisposeAsync().AsTask()));
    }
}

static void Print(string name, LoadResult r, double kestrelRate) =>
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{name,-44} {r.PerSecond,10:N0} {r.P50,8:F2} {r.P99,8:F2} {r.Errors,7} {r.PerSecond / kestrelRate,10:P0} {r.CpuUsPerRequest,10:F0} {r.CpuBusy,8:P0}"));

async Task<LoadResult> RunKestrelBaselineAsync(int secs, int conns)
{
    var builder = WebApplication.CreateSlimBuilder();
    builder.WebHost.UseUrls("http://127.0.0.1:0");
    builder.Logging.ClearProviders();
    var app = builder.Build();
    app.MapPost("/echo", async (HttpRequest req) =>
    {
        var doc = await JsonSerializer.DeserializeAsync<Dictionary<string, JsonElement>>(req.Body);
        return Results.Json(new { id = Guid.NewGuid().ToString("N"), @object = "payment", received = doc!.Count, status = "created", created_at = DateTimeOffset.UtcNow });
    });
    await app.StartAsync();
    try
    {
        return await LoadAsync(app.Urls.First() + "/echo", null, secs, conns);
    }
    finally
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}

async Task<LoadResult> RunHubAsync(StoreProvider provider, string connectionString, int secs, int conns, double? openRate = null)
{
    await using var hub = await BenchHub.StartAsync(new Dictionary<string, string?>
    {
        ["Store:Provider"] = provider.ToString(),
        ["Store:ConnectionString"] = connectionString,
        ["Store:PostgresWriters"] = ArgS("--pg-writers", "2"),
    });
    var (key, _) = await BenchHub.MerchantAsync(hub.BaseUrl);
    var db = hub.App.Services.GetRequiredService<Db>();
    var (commits0, writes0) = db.GroupCommitStats;
    var (work0, commit0) = db.WriterTime;
    var result = openRate is { } rate
        ? await LoadUrlsAsync([hub.BaseUrl + "/v1/payments"], key, secs, conns, openRate: rate)
        : await LoadAsync(hub.BaseUrl + "/v1/payments", key, secs, conns);
    var (commits1, writes1) = db.GroupCommitStats;
    var (work1, commit1) = db.WriterTime;
    var writes = writes1 - writes0;
    var commits = commits1 - commits0;
    return result with
    {
        WritesPerCommit = commits > 0 ? (double)writes / commits : null,
        WriterUsPerWrite = writes > 0 ? (work1 - work0).TotalMicroseconds / writes : null,
        CommitMs = commits > 0 ? (commit1 - commit0).TotalMilliseconds / commits : null,
    };
}

// The same create-payment load on an empty store and after filling it with N payments (and their events and keys).
async Task<(LoadResult Empty, LoadResult Grown, TimeSpan Fill, long Bytes)> RunGrowthAsync(string dbPath, long rows, int secs, int conns)
{
    await using var hub = await BenchHub.StartAsync(new Dictionary<string, string?> { ["Store:ConnectionString"] = $"Data Source={dbPath}" });
    var (key, merchantId) = await BenchHub.MerchantAsync(hub.BaseUrl, "growth");
    var empty = await LoadAsync(hub.BaseUrl + "/v1/payments", key, secs, conns);
    var fill = await Growth.FillAsync(dbPath, merchantId, rows);
    var grown = await LoadAsync(hub.BaseUrl + "/v1/payments", key, secs, conns);
    return (empty, grown, fill, Growth.FileBytes(dbPath));
}

// Link resolution: the redirect path as a clicked link takes it (memory lookup, landing rule, rate limiter, queued
// click count), with the click counter writing to SQLite in the background as it does in production.
async Task<LoadResult> RunRedirectsAsync(string connectionString, int secs, int conns)
{
    await using var hub = await BenchHub.StartAsync(new Dictionary<string, string?>
    {
        ["Store:ConnectionString"] = connectionString,
        ["Hutong:LinkRateLimitPerMinute"] = "1000000000", // the limiter runs, but never refuses the load generator
    }, new WalletAccounts(null, null, null));
    var merchants = hub.App.Services.GetRequiredService<MerchantStore>();
    var linkService = hub.App.Services.GetRequiredService<LinkService>();
    var (merchant, _) = await merchants.CreateMerchantAsync("bench", CancellationToken.None);
    var codes = new List<string>();
    for (var i = 0; i < 1000; i++)
    {
        var created = await linkService.CreateLinkAsync(merchant.Id, new CreateLinkRequest($"https://shop.example.com/p/{i}", $"product {i}", null, null, null, null, null, null, null), null, CancellationToken.None);
        codes.Add(created.Value!.Code);
    }

    var baseUrl = hub.BaseUrl;
    return await LoadAsync(baseUrl, null, secs, conns, n =>
    {
        var req = new HttpRequestMessage(HttpMethod.Get, $"{baseUrl}/l/{codes[(int)(n % codes.Count)]}");
        req.Headers.TryAddWithoutValidation("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36");
        return req;
    }, status => status == 302);
}

static Task<LoadResult> LoadAsync(string url, string? apiKey, int secs, int conns, Func<long, HttpRequestMessage>? request = null, Func<int, bool>? success = null) =>
    LoadUrlsAsync([url], apiKey, secs, conns, request, success);

// Creates against the given URLs in turn (several hubs behind a round-robin balancer): from conns closed-loop clients, or
// open loop at openRate requests/s with at most conns in flight.
static async Task<LoadResult> LoadUrlsAsync(string[] urls, string? apiKey, int secs, int conns, Func<long, HttpRequestMessage>? request = null, Func<int, bool>? success = null, Func<TimeSpan>? hubCpu = null, double? openRate = null)
{
    using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = conns, PooledConnectionLifetime = Timeout.InfiniteTimeSpan, AllowAutoRedirect = false })
    {
        Timeout = TimeSpan.FromSeconds(30),
    };
    if (apiKey is not null)
    {
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
    }

    var run = Guid.NewGuid().ToString("N")[..6];
    long seq = 0;
    async Task<(long Ticks, bool Ok)> OneAsync()
    {
        var n = Interlocked.Increment(ref seq);
        if (request is not null)
        {
            using var get = request(n);
            var s0 = Stopwatch.GetTimestamp();
            using var r = await http.SendAsync(get);
            await r.Content.ReadAsByteArrayAsync();
            return (Stopwatch.GetTimestamp() - s0, success!((int)r.StatusCode));
        }

        var json = string.Create(CultureInfo.InvariantCulture,
            $"{{\"amount\":{1000 + (n % 9000)},\"currency\":\"CNY\",\"description\":\"bench item {n}\",\"merchant_order_id\":\"b{run}-{n}\",\"metadata\":{{\"cart\":\"c{n}\"}}}}");
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var req = new HttpRequestMessage(HttpMethod.Post, urls[n % urls.Length]) { Content = content };
        req.Headers.Add("Idempotency-Key", $"{run}-{n}");
        var t0 = Stopwatch.GetTimestamp();
        using var resp = await http.SendAsync(req);
        await resp.Content.ReadAsByteArrayAsync();
        return (Stopwatch.GetTimestamp() - t0, (int)resp.StatusCode is 200 or 201);
    }

    if (openRate is { } rate)
    {
        var settled = await OpenLoop.SettleJitAsync(rate, conns, secs <= 2 ? 10 : 40, 10, OneAsync);
        var jit0 = System.Runtime.JitInfo.GetCompiledMethodCount();
        var open = await OpenLoop.MeasureAsync(rate, secs, Math.Min(2, secs), conns, OneAsync);
        return open with { WarmUp = settled, HubJitMethods = System.Runtime.JitInfo.GetCompiledMethodCount() - jit0 };
    }

    return await Load.MeasureAsync(secs, conns, OneAsync, hubCpu);
}

static async Task<double> SqliteCommitCeilingAsync(int secs)
{
    var dir = Directory.CreateTempSubdirectory("hutong-ceiling-");
    try
    {
        await using var c = new SqliteConnection($"Data Source={Path.Combine(dir.FullName, "c.db")};Pooling=False");
        await c.OpenAsync();
        await c.ExecuteAsync("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE t (id TEXT PRIMARY KEY, v BIGINT)");
        var sw = Stopwatch.StartNew();
        long n = 0;
        while (sw.Elapsed.TotalSeconds < secs)
        {
            await using var tx = await c.BeginTransactionAsync();
            await c.ExecuteAsync("INSERT INTO t (id, v) VALUES (@id, @n)", new { id = Guid.CreateVersion7().ToString("N"), n }, tx);
            await tx.CommitAsync();
            n++;
        }

        return n / sw.Elapsed.TotalSeconds;
    }
    finally
    {
        SqliteConnection.ClearAllPools();
        dir.Delete(recursive: true);
    }
}

static async Task<double> PostgresCommitCeilingAsync(string cs, int secs, int conns)
{
    var db = "hutong_ceiling_" + Guid.NewGuid().ToString("N")[..8];
    await using (var admin = new NpgsqlConnection(cs))
    {
        await admin.ExecuteAsync($"CREATE DATABASE {db}");
    }

    var target = new NpgsqlConnectionStringBuilder(cs) { Database = db, MaxPoolSize = conns + 4 }.ConnectionString;
    try
    {
        await using (var c = new NpgsqlConnection(target))
        {
            await c.ExecuteAsync("CREATE TABLE t (id TEXT PRIMARY KEY, v BIGINT)");
        }

        long total = 0;
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, conns).Select(async _ =>
        {
            await using var c = new NpgsqlConnection(target);
            await c.OpenAsync();
            while (sw.Elapsed.TotalSeconds < secs)
            {
                await c.ExecuteAsync("INSERT INTO t (id, v) VALUES (@id, 1)", new { id = Guid.CreateVersion7().ToString("N") });
                Interlocked.Increment(ref total);
            }
        }));
        return total / sw.Elapsed.TotalSeconds;
    }
    finally
    {
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(cs);
        await admin.ExecuteAsync($"DROP DATABASE IF EXISTS {db} WITH (FORCE)");
    }
}

int Arg(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}

string ArgS(string name, string fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}

internal sealed record LoadResult(double PerSecond, double P50, double P99, int Errors, double? WritesPerCommit = null, double? WriterUsPerWrite = null, double? CommitMs = null)
{
    /// <summary>Process CPU time per request, load generator included (it runs in the same process).</summary>
    public double CpuUsPerRequest { get; init; }

    /// <summary>Share of all cores the process used during the run.</summary>
    public double CpuBusy { get; init; }

    /// <summary>CPU time of the hub processes alone per request, when the hubs run in processes of their own.</summary>
    public double? HubCpuUsPerRequest { get; init; }

    /// <summary>Open loop: the requests/s offered (<see cref="PerSecond"/> is what was answered).</summary>
    public double? Offered { get; init; }

    /// <summary>How long the load ran before the measured window.</summary>
    public TimeSpan WarmUp { get; init; }

    /// <summary>Methods the hub's JIT compiled during the measured window (a hub apart, or in this process for the open loop): near 0 once it is warm.</summary>
    public long? HubJitMethods { get; init; }

    /// <summary>Open loop: garbage collections of this process (hub and load generator) during the window, and their pauses.</summary>
    public (int Count, double PauseMs)? Gc { get; init; }

    /// <summary>Open loop: the slowest answer per tenth of the window (by scheduled time), in ms: when the p99's answers were slow.</summary>
    public int[]? SlowestPerTenth { get; init; }
}

internal static class Load
{
    /// <summary>Runs <paramref name="one"/> from <paramref name="conns"/> concurrent loops: a warm-up, then the measured run.</summary>
    /// <remarks><paramref name="hubCpu"/>: the CPU time used so far by the hub processes under load, when they run apart.
    /// <paramref name="steadyWarmUp"/>: warm up until the rate is steady rather than for 2 s (see <see cref="LoadResult.WarmUp"/>).</remarks>
    internal static async Task<LoadResult> MeasureAsync(int secs, int conns, Func<Task<(long Ticks, bool Ok)>> one, Func<TimeSpan>? hubCpu = null, bool steadyWarmUp = false, Func<long>? hubJitMethods = null)
    {
        async Task<(List<long> Lat, int Errors)> WorkerAsync(DateTime until)
        {
            var lat = new List<long>(4096);
            var errors = 0;
            while (DateTime.UtcNow < until)
            {
                var (ticks, ok) = await one();
                lat.Add(ticks);
                if (!ok)
                {
                    errors++;
                }
            }

            return (lat, errors);
        }

        // Warm-up (JIT, pools), then the measured run. With steadyWarmUp the warm-up runs in 2 s slices until two slices in a
        // row agree on the rate within 10% and (when the hub reports it) its JIT compiled fewer than 50 methods in the last
        // slice — tiered compilation has moved the hot code to tier 1 by then —, for at most 90 s (the smoke run's 2 s
        // windows allow 30 s: with 8 s, CI's smoke row measured 2,024 methods compiled inside its window and 8.25 ms per
        // flow, a start-up figure). A low flow rate takes long to get there: each method tiers up after enough calls.
        var warm = Stopwatch.StartNew();
        double? previous = null;
        for (var slice = 0; ; slice++)
        {
            var t = Stopwatch.StartNew();
            var jit0 = hubJitMethods?.Invoke() ?? 0;
            var warmed = await Task.WhenAll(Enumerable.Range(0, conns).Select(_ => WorkerAsync(DateTime.UtcNow.AddSeconds(Math.Min(2, secs)))));
            var rate = warmed.Sum(r => r.Lat.Count) / t.Elapsed.TotalSeconds;
            var jitQuiet = hubJitMethods is null || hubJitMethods() - jit0 < 50;
            if (!steadyWarmUp || (slice >= 2 && jitQuiet && previous is { } p && Math.Abs(rate - p) <= 0.1 * p) || warm.Elapsed.TotalSeconds >= (secs <= 2 ? 30 : 90))
            {
                break;
            }

            previous = rate;
        }

        var jitBefore = hubJitMethods?.Invoke() ?? 0;

        warm.Stop();
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var hub0 = hubCpu?.Invoke() ?? TimeSpan.Zero;
        var sw = Stopwatch.StartNew();
        var until = DateTime.UtcNow.AddSeconds(secs);
        var results = await Task.WhenAll(Enumerable.Range(0, conns).Select(_ => Task.Run(() => WorkerAsync(until))));
        sw.Stop();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu0;
        var hub = (hubCpu?.Invoke() ?? TimeSpan.Zero) - hub0;
        var all = results.SelectMany(r => r.Lat).Order().ToArray();
        double Ms(double q) => all.Length == 0 ? 0 : all[Math.Min(all.Length - 1, (int)(q * all.Length))] * 1000.0 / Stopwatch.Frequency;
        return new LoadResult(all.Length / sw.Elapsed.TotalSeconds, Ms(0.50), Ms(0.99), results.Sum(r => r.Errors))
        {
            CpuUsPerRequest = all.Length == 0 ? 0 : cpu.TotalMicroseconds / all.Length,
            CpuBusy = cpu / (sw.Elapsed * Environment.ProcessorCount),
            HubCpuUsPerRequest = hubCpu is null || all.Length == 0 ? null : hub.TotalMicroseconds / all.Length,
            WarmUp = warm.Elapsed,
            HubJitMethods = hubJitMethods is null ? null : hubJitMethods() - jitBefore,
        };
    }
}
