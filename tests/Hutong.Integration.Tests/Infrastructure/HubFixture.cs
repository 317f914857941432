using System.Diagnostics.Metrics;
using System.Net.Http.Json;
using Dapper;
using Hutong.Connectors.Abstractions;
using Hutong.Connectors.Alipay;
using Hutong.Connectors.UnionPay;
using Hutong.Connectors.WeChatPay;
using Hutong.Sandbox;
using Hutong.Server;
using Hutong.Server.Features;
using Hutong.Demo;
using Hutong.Server.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Hutong.Integration.Tests.Infrastructure;

/// <summary>
/// A real hub on Kestrel (loopback, random port) with a real store, talking real HTTP to a sandbox WeChat Pay,
/// plus a merchant webhook receiver. Time-scaled schedules keep retries and re-queries fast.
/// </summary>
public abstract class HubFixture : IAsyncLifetime
{
    public const string AdminToken = "test-admin-token-0123456789";

    public SandboxHost Sandbox { get; private set; } = null!;

    public HubHandle Hub { get; private set; } = null!;

    public WebhookReceiver Receiver { get; private set; } = null!;

    public LogCapture Logs { get; } = new();

    public HttpClient Http { get; private set; } = null!;

    public WeChatPayOptions WeChat { get; private set; } = null!;

    public AlipayOptions Alipay { get; private set; } = null!;

    public UnionPayOptions UnionPay { get; private set; } = null!;

    public MeterCapture Metrics { get; private set; } = null!;

    public abstract StoreProvider Provider { get; }

    public Db Db => Hub.App.Services.GetRequiredService<Db>();

    public T Service<T>()
        where T : notnull => Hub.App.Services.GetRequiredService<T>();

    protected abstract Task<string> CreateDatabaseAsync();

    protected virtual Task DropDatabaseAsync() => Task.CompletedTask;

    /// <summary>
    /// Wallets besides the built-in ones (a test's own): each module is registered with the hub, its sandbox side runs in
    /// <see cref="Sandbox"/>, and the hub collects with a fresh sandbox account. Called once.
    /// </summary>
    protected virtual IEnumerable<(IWalletModule Module, ISandboxWallet Sandbox)> MoreWallets() => [];

    /// <summary>
    /// The sub-merchant the hub's WeChat Pay account acts for: set, the account is a service provider's (服务商,
    /// WeChatPay:SubMchId; the sandbox registers the sub-merchant as authorised); null (the default), a direct merchant's.
    /// </summary>
    protected virtual string? WeChatSubMchId => null;

    /// <summary>Lets a fixture of its own change the hub's setup after the defaults (e.g. add a trace exporter).</summary>
    protected virtual void Configure(WebApplicationBuilder builder)
    {
    }

    /// <summary>
    /// The connectors' attempt timeout in tests: short, so timeouts are cheap to test, yet long enough that a wallet's
    /// answer delayed by a busy 2-core CI box (PostgreSQL, Chromium and the hub sharing it) is not taken for no answer.
    /// The sandbox's hang (4 s) is past the total; "slow but within" delays stay well under the attempt timeout.
    /// </summary>
    public static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(2);

    /// <summary>The connectors' total timeout in tests (attempt and retry), still under the sandbox's 4 s hang.</summary>
    public static readonly TimeSpan TotalTimeout = TimeSpan.FromSeconds(3.5);

    public async Task InitializeAsync()
    {
        var more = MoreWallets().ToList();
        Sandbox = await SandboxHost.StartAsync(more: more.Select(w => w.Sandbox));
        Sandbox.TimeScale = 0.001;
        Sandbox.WeChat.Faults.HangFor = TimeSpan.FromSeconds(4);
        Sandbox.Alipay.Faults.HangFor = TimeSpan.FromSeconds(4);
        WeChat = await SandboxWiring.RegisterWeChatMerchantAsync(Sandbox.BaseUrl, subMchId: WeChatSubMchId);
        WeChat.AttemptTimeout = AttemptTimeout;
        WeChat.TotalTimeout = TotalTimeout;
        WeChat.MaxRetries = 1;
        Alipay = await SandboxWiring.RegisterAlipayAppAsync(Sandbox.BaseUrl);
        Alipay.AttemptTimeout = AttemptTimeout;
        Alipay.TotalTimeout = TotalTimeout;
        UnionPay = await SandboxWiring.RegisterUnionPayMerchantAsync(Sandbox.BaseUrl);
        UnionPay.AttemptTimeout = AttemptTimeout;
        UnionPay.TotalTimeout = TotalTimeout;
        Sandbox.UnionPay.Faults.HangFor = TimeSpan.FromSeconds(4);
        // Every other wallet (a new built-in one, or a test's own) collects with a fresh account at its sandbox side.
        var accounts = new List<object> { WeChat, Alipay, UnionPay };
        foreach (var module in Wallets.Builtin.Concat(more.Select(w => w.Module)).Where(m => !accounts.Any(a => a.GetType() == m.OptionsType)))
        {
            accounts.Add(SandboxWiring.As(await Sandbox.Wallet(module.Name).RegisterAccountAsync(Sandbox.BaseUrl), module.OptionsType));
        }

        Receiver = await WebhookReceiver.StartAsync();

        var connectionString = await CreateDatabaseAsync();
        Hub = await HubApp.BuildAsync([], b =>
        {
            b.WebHost.UseUrls("http://127.0.0.1:0");
            b.Logging.ClearProviders();
            b.Logging.SetMinimumLevel(LogLevel.Debug);
            b.Logging.AddProvider(Logs);
            b.Configuration.AddInMemoryCollection(_settings = new Dictionary<string, string?>
            {
                ["Store:Provider"] = Provider.ToString(),
                ["Store:ConnectionString"] = connectionString,
                ["Hutong:AdminToken"] = AdminToken,
                ["Hutong:MasterKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
                ["Hutong:WorkerPollInterval"] = "00:00:00.100",
                ["Hutong:Workers:BackoffBase"] = "00:00:00.200", // a row a wallet fault left due is retried soon, as tests expect
                ["Hutong:UnknownRecheckSchedule:0"] = "00:00:00.300",
                ["Hutong:UnknownRecheckSchedule:1"] = "00:00:00.300",
                ["Hutong:UnknownRecheckSchedule:2"] = "00:00:00.300",
                ["Hutong:UnknownRecheckSchedule:3"] = "00:00:00.300",
                // More checks than the faults any test injects: under a loaded CI machine a re-query can time out by itself.
                ["Hutong:UnknownRecheckSchedule:4"] = "00:00:00.300",
                ["Hutong:UnknownRecheckSchedule:5"] = "00:00:00.300",
                ["Hutong:UnknownRecheckSchedule:6"] = "00:00:00.300",
                ["Hutong:UnknownRecheckSchedule:7"] = "00:00:00.300",
                ["Hutong:Webhooks:AllowPrivateTargets"] = "true",
                ["Hutong:Webhooks:TimeScale"] = "0.001",
                ["Hutong:Webhooks:Timeout"] = "00:00:03",
                ["Hutong:PayerClaim"] = "00:00:30",
                ["Hutong:PaymentCodeWait"] = "00:00:02", // a till's wait for the buyer's password (30 s in production)
                ["Hutong:PaymentCodePollInterval"] = "00:00:00.200",
                ["Hutong:SplitDelay"] = "00:00:00.200", // with the sandbox at 1/1000 time, its 1-minute rule is 60 ms
                ["Hutong:Reconciliation:Enabled"] = "false", // ReconciliationTests run it on demand
                // The whole suite shares 127.0.0.1; RateLimitTests checks the limits on a hub of its own.
                ["Hutong:PublicRateLimitPerMinute"] = "0",
                ["Hutong:LinkRateLimitPerMinute"] = "0",
                ["Hutong:ApiRateLimitPerAddressPerMinute"] = "0",
                ["Hutong:ApiRateLimitPerKeyPerMinute"] = "0",
            });
            foreach (var (module, _) in more)
            {
                b.Services.AddSingleton(module);
            }

            Configure(b);
        }, new WalletAccounts([.. accounts]));
        await Hub.StartAsync();
        Http = new HttpClient { BaseAddress = new Uri(Hub.BaseUrl), Timeout = TimeSpan.FromSeconds(30) };
        Metrics = new MeterCapture(Service<HubMetrics>().Meter);
    }

    /// <summary>The first hub's settings (store, master key, schedules), for <see cref="StartAnotherHubAsync"/>.</summary>
    private Dictionary<string, string?> _settings = [];

    /// <summary>
    /// Another hub instance on this fixture's database, with the same settings, master key and wallets (as several hubs
    /// behind one load balancer): it migrates (a no-op), runs its own workers, and is the caller's to dispose.
    /// <paramref name="url"/> (default: any free port) lets a test restart a hub where the wallets already send.
    /// </summary>
    public async Task<HubHandle> StartAnotherHubAsync(string url = "http://127.0.0.1:0")
    {
        var hub = await HubApp.BuildAsync([], b =>
        {
            b.WebHost.UseUrls(url);
            b.Logging.ClearProviders();
            b.Logging.SetMinimumLevel(LogLevel.Debug);
            b.Logging.AddProvider(Logs);
            b.Configuration.AddInMemoryCollection(_settings);
            Configure(b);
        }, new WalletAccounts(WeChat, Alipay, UnionPay));
        await hub.StartAsync();
        return hub;
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Hub.DisposeAsync();
        await Receiver.DisposeAsync();
        await Sandbox.DisposeAsync();
        await DropDatabaseAsync();
        Metrics.Dispose();
    }

    /// <summary>Another hub on this fixture's database with some settings of its own (e.g. Hutong:CacheTtl); the caller disposes it.</summary>
    public async Task<HubHandle> StartAnotherHubAsync(IReadOnlyDictionary<string, string?> overrides)
    {
        var hub = await HubApp.BuildAsync([], b =>
        {
            b.WebHost.UseUrls("http://127.0.0.1:0");
            b.Logging.ClearProviders();
            b.Logging.SetMinimumLevel(LogLevel.Debug);
            b.Logging.AddProvider(Logs);
            b.Configuration.AddInMemoryCollection(_settings).AddInMemoryCollection(overrides);
            Configure(b);
        }, new WalletAccounts(WeChat, Alipay, UnionPay));
        await hub.StartAsync();
        return hub;
    }

    /// <summary>The hub's recent warnings and errors, appended to timeout failures so they explain themselves.</summary>
    public string RecentProblems() =>
        string.Join('\n', Logs.Lines.Where(l => l.Level >= LogLevel.Warning).TakeLast(15).Select(l => $"{l.Level} {l.Category}: {l.Message}"));

    public ApiClient Admin() => new(Http, AdminToken);

    public ApiClient Anonymous() => new(Http, string.Empty);

    /// <summary>Onboards a fresh merchant through the admin API and returns a client holding its key.</summary>
    public async Task<(ApiClient Client, string MerchantId, string KeyId)> NewMerchantAsync(string name = "测试商户")
    {
        var r = await Admin().PostAsync("/admin/merchants", new { name });
        Assert.True(r.Status == System.Net.HttpStatusCode.Created, r.ToString());
        var key = r.Json.GetProperty("api_key");
        return (new ApiClient(Http, key.GetProperty("secret").GetString()!, RecentProblems), r.Json.GetProperty("merchant").GetProperty("id").GetString()!, key.GetProperty("id").GetString()!);
    }

    /// <summary>The sandbox buyer scans <paramref name="codeUrl"/> and pays (real HTTP to the sandbox).</summary>
    public async Task<HttpResponseMessage> BuyerPaysAsync(string codeUrl, string? openId = null, string result = "SUCCESS")
    {
        using var http = new HttpClient { BaseAddress = new Uri(Sandbox.BaseUrl) };
        return await http.PostAsJsonAsync("/sandbox/wechatpay/buyer/pay", new { code_url = codeUrl, open_id = openId, result }, SandboxJson.Options);
    }

    /// <summary>The sandbox Alipay app scans <paramref name="qrCode"/> and pays.</summary>
    public async Task<HttpResponseMessage> AlipayBuyerPaysAsync(string qrCode, string? buyerId = null)
    {
        using var http = new HttpClient { BaseAddress = new Uri(Sandbox.BaseUrl) };
        return await http.PostAsJsonAsync("/sandbox/alipay/buyer/pay", new { qr_code = qrCode, buyer_id = buyerId }, SandboxJson.Options);
    }

    public Task<long> CountAsync(string sql, object? args = null) =>
        Db.ReadAsync(c => c.ExecuteScalarAsync<long>(sql, args), CancellationToken.None);

    public Task ExecAsync(string sql, object? args = null) =>
        Db.WriteAsync((c, t) => c.ExecuteAsync(sql, args, t), CancellationToken.None);

    public async Task<T> EventuallyAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan? timeout = null, string? what = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        T last;
        do
        {
            last = await probe();
            if (done(last))
            {
                return last;
            }

            await Task.Delay(50);
        }
        while (DateTime.UtcNow < deadline);

        Assert.Fail($"timed out waiting for {what ?? "condition"}; last value: {last}\n{RecentProblems()}");
        return last;
    }
}

public class SqliteHub : HubFixture
{
    private string _dir = string.Empty;

    public override StoreProvider Provider => StoreProvider.Sqlite;

    protected override Task<string> CreateDatabaseAsync()
    {
        _dir = Path.Combine(Path.GetTempPath(), "hutong-test-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_dir);
        return Task.FromResult($"Data Source={Path.Combine(_dir, "hutong.db")}");
    }

    protected override Task DropDatabaseAsync()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }

        return Task.CompletedTask;
    }
}

/// <summary>A fresh database on the PostgreSQL server named by HUTONG_TEST_PG (scripts/test.sh starts one).</summary>
public class PostgresHub : HubFixture
{
    private string _database = string.Empty;

    public override StoreProvider Provider => StoreProvider.Postgres;

    public static string ServerConnectionString =>
        Environment.GetEnvironmentVariable("HUTONG_TEST_PG")
        ?? throw new InvalidOperationException("HUTONG_TEST_PG is not set: run the tests through scripts/test.sh, which starts PostgreSQL.");

    protected override async Task<string> CreateDatabaseAsync()
    {
        _database = "hutong_test_" + Guid.NewGuid().ToString("N")[..10];
        return await CreateDatabaseAsync(_database);
    }

    protected override Task DropDatabaseAsync() => DropDatabaseAsync(_database);

    /// <summary>Creates an empty database on the test server; returns its connection string.</summary>
    public static async Task<string> CreateDatabaseAsync(string name)
    {
        await using (var c = new NpgsqlConnection(ServerConnectionString))
        {
            await c.OpenAsync();
            await c.ExecuteAsync($"CREATE DATABASE {name}");
        }

        return new NpgsqlConnectionStringBuilder(ServerConnectionString) { Database = name }.ConnectionString;
    }

    public static async Task DropDatabaseAsync(string name)
    {
        NpgsqlConnection.ClearAllPools();
        await using var c = new NpgsqlConnection(ServerConnectionString);
        await c.OpenAsync();
        await c.ExecuteAsync($"DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    }
}

/// <summary>Listens to the hub's "Hutong" meter.</summary>
public sealed class MeterCapture : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _totals = new();

    public MeterCapture(Meter meter)
    {
        _listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, meter))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => _totals.AddOrUpdate(instrument.Name, value, (_, v) => v + value));
        _listener.Start();
    }

    public long Total(string name) => _totals.GetValueOrDefault(name);

    public void Dispose() => _listener.Dispose();
}

[CollectionDefinition("sqlite")]
public sealed class SqliteCollection : ICollectionFixture<SqliteHub>;

[CollectionDefinition("postgres")]
public sealed class PostgresCollection : ICollectionFixture<PostgresHub>;
