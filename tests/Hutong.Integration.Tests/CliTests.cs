using Microsoft.Extensions.DependencyInjection;
using Hutong.Connectors.WeChatPay;
using System.Text.RegularExpressions;
using Hutong.Cli;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Storage;

namespace Hutong.Integration.Tests;

/// <summary>The `hutong` operator CLI against a real SQLite store.</summary>
public sealed partial class CliTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("hutong-cli-");

    private string Connection => $"Data Source={Path.Combine(_dir.FullName, "cli.db")}";

    private async Task<(int Code, string Output)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        var code = await HutongCli.RunAsync([.. args, "--store", "Sqlite", "--connection", Connection], output);
        return (code, output.ToString());
    }

    [Fact]
    public async Task Onboard_a_merchant_rotate_and_revoke_its_keys_and_stage_a_rollout()
    {
        Assert.Equal(0, (await RunAsync("migrate")).Code);

        var (code, created) = await RunAsync("merchant", "create", "互通茶庄");
        Assert.Equal(0, code);
        var merchantId = MerchantPattern().Match(created).Value;
        var first = KeyPattern().Match(created);
        Assert.True(first.Success, created);

        await using var db = new Db(new StoreOptions { Provider = StoreProvider.Sqlite, ConnectionString = Connection });
        Assert.Equal(merchantId, await new MerchantStore(db, TimeProvider.System).AuthenticateAsync(first.Groups["secret"].Value, default));

        var second = KeyPattern().Match((await RunAsync("key", "create", merchantId)).Output);
        Assert.Equal(0, (await RunAsync("key", "revoke", first.Groups["id"].Value)).Code);
        var fresh = new MerchantStore(db, TimeProvider.System);
        Assert.Null(await fresh.AuthenticateAsync(first.Groups["secret"].Value, default));
        Assert.Equal(merchantId, await fresh.AuthenticateAsync(second.Groups["secret"].Value, default));

        Assert.Equal(0, (await RunAsync("rollout", "set", merchantId, "alipay", "--percentage", "0", "--allow", "vip-1")).Code);
        Assert.Contains("not offered", (await RunAsync("rollout", "explain", merchantId, "alipay", "--user", "someone")).Output, StringComparison.Ordinal);
        Assert.Contains("allow list", (await RunAsync("rollout", "explain", merchantId, "alipay", "--user", "vip-1")).Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ledger_verify_finds_an_entry_edited_behind_the_databases_back()
    {
        Assert.Equal(0, (await RunAsync("migrate")).Code);
        await using (var db = new Db(new StoreOptions { Provider = StoreProvider.Sqlite, ConnectionString = Connection }))
        {
            var ledger = new Hutong.Server.Features.Ledger.LedgerStore(db);
            for (var i = 0; i < 5; i++)
            {
                await db.WriteAsync((c, t) => ledger.AppendAsync(c, t, "payment_captured", $"pay_{i}", "mch_1",
                    Hutong.Domain.Ledger.Postings.Captured("wechatpay", "mch_1", Hutong.Domain.Money.Of(100 + i, "CNY")), DateTimeOffset.UtcNow), default);
            }

            Assert.Equal(5L, await db.ReadAsync(c => Dapper.SqlMapper.ExecuteScalarAsync<long>(c, "SELECT COUNT(*) FROM ledger_entries"), default));
        }

        var ok = await RunAsync("ledger", "verify");
        Assert.Equal(0, ok.Code);
        Assert.Contains("5 entries", ok.Output, StringComparison.Ordinal);
        Assert.Contains("merchant_payable:mch_1\tCNY\t-510", (await RunAsync("ledger", "balances", "--account", "merchant_payable:")).Output, StringComparison.Ordinal);

        // Someone with database access drops the guard and moves one fen: the chain no longer matches.
        await using (var c = new Microsoft.Data.Sqlite.SqliteConnection(Connection))
        {
            await c.OpenAsync();
            await Dapper.SqlMapper.ExecuteAsync(c, "DROP TRIGGER ledger_lines_no_update; UPDATE ledger_lines SET amount = amount - 1 WHERE amount = -102; UPDATE ledger_lines SET amount = amount + 1 WHERE amount = 102");
        }

        var broken = await RunAsync("ledger", "verify");
        Assert.Equal(1, broken.Code);
        Assert.Single(broken.Output.Split('\n'), l => l.StartsWith("BROKEN", StringComparison.Ordinal) && l.Contains("edited", StringComparison.Ordinal));
        Assert.Contains("verification failed", broken.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_ledger_refuses_a_posting_past_its_balance_limit_so_balances_can_always_be_summed()
    {
        // Issue 12: host payouts pushed the shared payout_clearing balance past a 64-bit integer, and from then on
        // `ledger balances` failed with SQLite's "integer overflow" for good.
        Assert.Equal(0, (await RunAsync("migrate")).Code);
        const long half = Hutong.Domain.Money.MaxBalance / 2;
        await using (var db = new Db(new StoreOptions { Provider = StoreProvider.Sqlite, ConnectionString = Connection }))
        {
            var ledger = new Hutong.Server.Features.Ledger.LedgerStore(db);
            Task<bool> Payout(string reference, string host, long amount) => db.WriteAsync((c, t) => ledger.AppendAsync(c, t, "host_payout", reference, "mch_1",
                [new($"host_payable:{host}", "CNY", amount), new(Hutong.Domain.Ledger.Accounts.PayoutClearing, "CNY", -amount)], DateTimeOffset.UtcNow), default);

            Assert.True(await Payout("hst_1", "host_1", half));
            Assert.True(await Payout("hst_2", "host_2", half)); // exactly at the limit: allowed
            await Assert.ThrowsAsync<Hutong.Domain.Ledger.LedgerLimitException>(() => Payout("hst_3", "host_3", 1));
            for (var i = 0; i < 3; i++)
            {
                await Assert.ThrowsAsync<Hutong.Domain.Ledger.LedgerLimitException>(() => Payout($"hst_big_{i}", $"host_big_{i}", 4_000_000_000_000_000_000));
            }

            Assert.Equal(2L, await db.ReadAsync(c => Dapper.SqlMapper.ExecuteScalarAsync<long>(c, "SELECT COUNT(*) FROM ledger_entries"), default));
        }

        var balances = await RunAsync("ledger", "balances");
        Assert.True(balances.Code == 0, balances.Output);
        Assert.Contains($"payout_clearing\tCNY\t{-2 * half}", balances.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("host_3", balances.Output, StringComparison.Ordinal);
        var verified = await RunAsync("ledger", "verify");
        Assert.True(verified.Code == 0, verified.Output);
    }

    [Fact]
    public async Task Reconcile_shows_progress_and_a_summary_writes_the_reports_and_fails_on_open_discrepancies()
    {
        await using var sandbox = await Hutong.Sandbox.SandboxHost.StartAsync();
        var wx = await Hutong.Demo.SandboxWiring.RegisterWeChatMerchantAsync(sandbox.BaseUrl, "1900000700");
        var accounts = new Hutong.Server.WalletAccounts(wx, null);
        var html = Path.Combine(_dir.FullName, "report.html");
        var csv = Path.Combine(_dir.FullName, "report.csv");
        var today = DateOnly.FromDateTime(DateTimeOffset.UtcNow.ToOffset(TimeSpan.FromHours(8)).DateTime).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        async Task<(int Code, string Output)> ReconcileAsync()
        {
            using var output = new StringWriter();
            var code = await HutongCli.RunAsync(["reconcile", "--date", today, "--html", html, "--csv", csv, "--store", "Sqlite", "--connection", Connection], output, accounts);
            return (code, output.ToString());
        }

        Assert.Equal(0, (await RunAsync("migrate")).Code);
        var clean = await ReconcileAsync();
        Assert.True(clean.Code == 0, clean.Output);
        Assert.Contains("all bills reconciled", clean.Output, StringComparison.Ordinal);

        // An order paid at the wallet that this hub never made.
        await using var services = new ServiceCollection().AddLogging().AddWeChatPayConnector(wx).BuildServiceProvider();
        var connector = services.GetRequiredService<WeChatPayConnector>();
        var outTradeNo = Guid.CreateVersion7().ToString("N");
        var order = await connector.CreateQrOrderAsync(new Hutong.Connectors.Abstractions.CreateOrderRequest(outTradeNo, Hutong.Domain.Money.Of(800, "CNY"), "x", DateTimeOffset.UtcNow.AddMinutes(5), "http://127.0.0.1:9/none"), default);
        using (var http = new HttpClient { BaseAddress = new Uri(sandbox.BaseUrl) })
        {
            Assert.True((await System.Net.Http.Json.HttpClientJsonExtensions.PostAsJsonAsync(http, "/sandbox/wechatpay/buyer/pay", new { code_url = order.CodeUrl }, Hutong.Sandbox.SandboxJson.Options)).IsSuccessStatusCode);
        }

        var found = await ReconcileAsync();
        Assert.Equal(1, found.Code);
        Assert.Contains($"OPEN missing_in_hub wechatpay {outTradeNo}", found.Output, StringComparison.Ordinal);
        Assert.Contains("1 open discrepancies", found.Output, StringComparison.Ordinal);
        Assert.Contains("missing_in_hub", await File.ReadAllTextAsync(html), StringComparison.Ordinal);
        Assert.Contains(outTradeNo, await File.ReadAllTextAsync(csv), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Channels_are_added_with_sealed_credentials_and_routes_point_merchants_at_them()
    {
        await using var sandbox = await Hutong.Sandbox.SandboxHost.StartAsync();
        var sp = await Hutong.Demo.SandboxWiring.RegisterWeChatMerchantAsync(sandbox.BaseUrl, "1900000600", subMchId: "1900000601");
        var configFile = Path.Combine(_dir.FullName, "acquirer.json");
        await File.WriteAllTextAsync(configFile, System.Text.Json.JsonSerializer.Serialize(sp));
        Assert.Equal(0, (await RunAsync("migrate")).Code);
        var merchantId = MerchantPattern().Match((await RunAsync("merchant", "create", "路由商户")).Output).Value;

        var withoutKey = await RunAsync("channel", "add", "wx-acquirer", "--wallet", "wechatpay", "--mode", "acquirer", "--config-file", configFile);
        Assert.Equal(1, withoutKey.Code);
        Assert.Contains("master key", withoutKey.Output, StringComparison.OrdinalIgnoreCase);

        Environment.SetEnvironmentVariable("Hutong__MasterKey", Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)));
        try
        {
            var added = await RunAsync("channel", "add", "wx-acquirer", "--wallet", "wechatpay", "--mode", "acquirer", "--config-file", configFile);
            Assert.True(added.Code == 0, added.Output);
            var list = await RunAsync("channel", "list");
            Assert.Contains("wx-acquirer\twechatpay\tacquirer", list.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("PRIVATE KEY", list.Output, StringComparison.Ordinal);

            Assert.Equal(0, (await RunAsync("route", "set", merchantId, "wechatpay", "--channels", "wx-acquirer")).Code);
            Assert.Equal(1, (await RunAsync("route", "set", merchantId, "alipay", "--channels", "wx-acquirer")).Code);

            await using var db = new Db(new StoreOptions { Provider = StoreProvider.Sqlite, ConnectionString = Connection });
            var sealedConfig = await db.ReadAsync(c => Dapper.SqlMapper.ExecuteScalarAsync<string>(c, "SELECT config_ciphertext FROM channels WHERE id = 'wx-acquirer'"), default);
            Assert.DoesNotContain(sp.ApiV3Key, sealedConfig, StringComparison.Ordinal);
            var rules = await new Hutong.Server.Features.Channels.RoutingService(db, TimeProvider.System).RulesAsync(merchantId, "wechatpay", default);
            Assert.Equal("wx-acquirer", Assert.Single(rules).Channel);
        }
        finally
        {
            Environment.SetEnvironmentVariable("Hutong__MasterKey", null);
        }
    }

    [Fact]
    public async Task Commands_never_create_a_database_of_their_own_and_say_which_store_they_need()
    {
        var file = Path.Combine(_dir.FullName, "cli.db");
        foreach (var command in new[] { new[] { "ledger", "verify" }, ["ledger", "balances"], ["merchant", "create", "x"], ["channel", "list"], ["reconcile"] })
        {
            var (code, output) = await RunAsync(command);
            Assert.True(code == 1, $"{string.Join(' ', command)}: {output}");
            Assert.Contains($"no Hutong database at {file}", output, StringComparison.Ordinal);
            Assert.False(File.Exists(file), string.Join(' ', command));
        }

        Assert.Equal(0, (await RunAsync("migrate")).Code);
        Assert.True(File.Exists(file));
        Assert.Contains("ledger ok: 0 entries", (await RunAsync("ledger", "verify")).Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reconcile_with_no_wallet_channel_fails_instead_of_reporting_all_reconciled()
    {
        Assert.Equal(0, (await RunAsync("migrate")).Code);
        var (code, output) = await RunAsync("reconcile", "--date", "2026-11-30");
        Assert.Equal(1, code);
        Assert.Contains("no wallet channel", output, StringComparison.Ordinal);
        Assert.DoesNotContain("all bills reconciled", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Hub_and_CLI_share_one_default_store_whatever_the_working_directory()
    {
        var options = new StoreOptions();
        Assert.True(Path.IsPathRooted(options.SqlitePath), options.SqlitePath);
        Assert.Equal(StoreOptions.DefaultSqlitePath, options.SqlitePath);
        Assert.Equal($"SQLite {StoreOptions.DefaultSqlitePath}", options.Describe());
        Assert.Equal("PostgreSQL db.example:5433/hutong", new StoreOptions { Provider = StoreProvider.Postgres, ConnectionString = "Host=db.example;Port=5433;Database=hutong;Password=secret" }.Describe());
    }

    [Fact]
    public async Task Mistakes_exit_non_zero_with_a_message()
    {
        Assert.Equal(0, (await RunAsync("migrate")).Code);
        var (code, output) = await RunAsync("key", "create", "mch_nope");
        Assert.Equal(1, code);
        Assert.Contains("no merchant", output, StringComparison.Ordinal);
        Assert.NotEqual(0, (await RunAsync("key", "revoke", "key_nope")).Code);
        Assert.NotEqual(0, (await RunAsync("rollout", "set", "mch_x", "alipay", "--percentage", "150")).Code);
        Assert.NotEqual(0, (await RunAsync("merchant", "create")).Code); // missing name
    }

    [Fact]
    public async Task Events_are_listed_shown_resent_and_replayed_for_a_merchant()
    {
        Assert.Equal(0, (await RunAsync("migrate")).Code);
        var merchantId = MerchantPattern().Match((await RunAsync("merchant", "create", "事件商户")).Output).Value;
        // The CLI's clock is the system's (events older than the retention are not shown): these events are made now.
        var at = DateTimeOffset.UtcNow;
        string eventId;
        await using (var db = new Db(new StoreOptions { Provider = StoreProvider.Sqlite, ConnectionString = Connection }))
        {
            eventId = await db.WriteAsync((c, t) => Outbox.AddAsync(c, t, merchantId, "payment.created", new { Id = "pay_cli", Amount = 100 }, at), default);
            await db.WriteAsync((c, t) => Outbox.AddAsync(c, t, merchantId, "payment.succeeded", new { Id = "pay_cli", Amount = 100 }, at), default);
            await db.WriteAsync((c, t) => Hutong.Server.Features.Webhooks.WebhookStore.InsertEndpointAsync(c, t, "we_cli", merchantId, "https://shop.example/hooks", "secret", at.ToUnixTimeMilliseconds(), null), default);
        }

        var list = await RunAsync("event", "list", merchantId, "--type", "payment.created");
        Assert.Equal(0, list.Code);
        Assert.Contains($"{eventId}\tpayment.created", list.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("payment.succeeded", list.Output, StringComparison.Ordinal);

        var resend = await RunAsync("event", "resend", merchantId, eventId);
        Assert.Equal(0, resend.Code);
        Assert.Contains("\"queued\": 1", resend.Output, StringComparison.Ordinal);

        var show = await RunAsync("event", "show", merchantId, eventId);
        Assert.Equal(0, show.Code);
        Assert.Contains("\"endpoint\": \"we_cli\"", show.Output, StringComparison.Ordinal);
        Assert.Contains("\"status\": \"pending\"", show.Output, StringComparison.Ordinal);

        var replay = await RunAsync("event", "replay", merchantId, "--from", at.AddMinutes(-1).ToString("O"), "--to", at.AddMinutes(1).ToString("O"));
        Assert.Equal(0, replay.Code);
        Assert.Contains("\"events\": 2", replay.Output, StringComparison.Ordinal);

        var tooWide = await RunAsync("event", "replay", merchantId, "--from", at.AddDays(-20).ToString("O"), "--to", at.ToString("O"));
        Assert.Equal(1, tooWide.Code);
        Assert.Contains("created[lt]", tooWide.Output, StringComparison.Ordinal);
        Assert.Equal(1, (await RunAsync("event", "show", "mch_other", eventId)).Code);
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _dir.Delete(recursive: true);
    }

    [GeneratedRegex("mch_[0-9a-f]{32}")]
    private static partial Regex MerchantPattern();

    [GeneratedRegex("api key (?<id>key_[0-9a-f]+): (?<secret>sk_\\S+)")]
    private static partial Regex KeyPattern();
}
