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
    public async Task Mistakes_exit_non_zero_with_a_message()
    {
        var (code, output) = await RunAsync("key", "create", "mch_nope");
        Assert.Equal(1, code);
        Assert.Contains("no merchant", output, StringComparison.Ordinal);
        Assert.NotEqual(0, (await RunAsync("key", "revoke", "key_nope")).Code);
        Assert.NotEqual(0, (await RunAsync("rollout", "set", "mch_x", "alipay", "--percentage", "150")).Code);
        Assert.NotEqual(0, (await RunAsync("merchant", "create")).Code); // missing name
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
