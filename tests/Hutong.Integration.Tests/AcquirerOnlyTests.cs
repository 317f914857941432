using System.Net;
using System.Security.Cryptography;
using Dapper;
using Hutong.Domain;
using Hutong.Domain.Ledger;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Server;
using Hutong.Server.Features.Ledger;
using Hutong.Server.Storage;
using Hutong.Demo;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Hutong.Integration.Tests;

/// <summary>
/// How the first interconnection went live: the platform has no direct WeChat Pay account yet, only a licensed
/// acquirer's, added at run time. WeChat Pay is offered and paid through it.
/// </summary>
public sealed class AcquirerOnlyTests
{
    [Fact]
    public async Task A_wallet_reachable_only_through_an_acquirer_is_offered_and_paid()
    {
        await using var sandbox = await SandboxHost.StartAsync();
        sandbox.TimeScale = 0.001;
        var dir = Directory.CreateTempSubdirectory("hutong-acq-");
        await using var hub = await HubApp.BuildAsync([], b =>
        {
            b.WebHost.UseUrls("http://127.0.0.1:0");
            b.Logging.ClearProviders();
            b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Store:ConnectionString"] = $"Data Source={Path.Combine(dir.FullName, "acq.db")}",
                ["Hutong:AdminToken"] = "admin-acq",
                ["Hutong:MasterKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            });
        }, new WalletAccounts(null, await SandboxWiring.RegisterAlipayAppAsync(sandbox.BaseUrl)));
        await hub.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(hub.BaseUrl) };
        var admin = new ApiClient(http, "admin-acq");

        var sp = await SandboxWiring.RegisterWeChatMerchantAsync(sandbox.BaseUrl, "1900000500", subMchId: "1900000501");
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsync("/admin/channels", new { id = "wechat-via-acquirer", wallet = "wechatpay", mode = "acquirer", config = sp })).Status);
        var onboarded = await admin.PostAsync("/admin/merchants", new { name = "先行商户" });
        var merchantId = onboarded.Json.GetProperty("merchant").GetProperty("id").GetString()!;
        var m = new ApiClient(http, onboarded.Json.GetProperty("api_key").GetProperty("secret").GetString()!);
        await admin.PostAsync($"/admin/merchants/{merchantId}/routes/wechatpay", new { rules = new[] { new { channel = "wechat-via-acquirer" } } });

        var caps = await m.GetAsync("/v1/capabilities");
        Assert.Contains("wechatpay", caps.Body, StringComparison.Ordinal);
        var id = await m.CreatePaymentAsync(6600);
        var page = await http.GetStringAsync((await m.GetAsync($"/v1/payments/{id}")).Str("checkout_url"));
        Assert.Contains("id=\"pay-wechatpay\"", page, StringComparison.Ordinal);

        var confirm = await m.ConfirmAsync(id);
        Assert.Equal("pending", confirm.Str("status"));
        var order = sandbox.WeChat.Orders.Values.Single(o => o.Attach == id);
        Assert.Equal("1900000500", order.SpMchId);
        Assert.Equal("1900000501", order.MchId);

        using var buyer = new HttpClient { BaseAddress = new Uri(sandbox.BaseUrl) };
        using var pay = await buyer.PostAsync("/sandbox/wechatpay/buyer/pay", System.Net.Http.Json.JsonContent.Create(new { code_url = order.CodeUrl }, options: SandboxJson.Options));
        Assert.Equal(HttpStatusCode.OK, pay.StatusCode);
        await m.WaitForStatusAsync(id, "succeeded");

        await hub.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        dir.Delete(recursive: true);
    }

    /// <summary>
    /// Payouts leave through the wallet's own configured account (WeChatPay:*), never through an operator-added channel: on a
    /// hub that reaches WeChat Pay only through an acquirer, a payout is refused before anything is reserved (it used to be
    /// admitted, reserved, and left waiting for an account that does not exist).
    /// </summary>
    [Theory]
    [InlineData("Sqlite")]
    [InlineData("Postgres")]
    public async Task A_payout_on_a_wallet_reachable_only_through_an_acquirer_is_refused_and_nothing_is_reserved(string store)
    {
        await using var sandbox = await SandboxHost.StartAsync();
        sandbox.TimeScale = 0.001;
        var dir = Directory.CreateTempSubdirectory("hutong-acq-po-");
        var pgName = "hutong_acq_" + Guid.NewGuid().ToString("N")[..10];
        var connectionString = store == "Postgres"
            ? await PostgresHub.CreateDatabaseAsync(pgName)
            : $"Data Source={Path.Combine(dir.FullName, "acq.db")}";
        try
        {
            await using var hub = await HubApp.BuildAsync([], b =>
            {
                b.WebHost.UseUrls("http://127.0.0.1:0");
                b.Logging.ClearProviders();
                b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
                {
                    ["Store:Provider"] = store,
                    ["Store:ConnectionString"] = connectionString,
                    ["Hutong:AdminToken"] = "admin-acq",
                    ["Hutong:MasterKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
                });
            }, new WalletAccounts(null, await SandboxWiring.RegisterAlipayAppAsync(sandbox.BaseUrl)));
            await hub.StartAsync();
            using var http = new HttpClient { BaseAddress = new Uri(hub.BaseUrl) };
            var admin = new ApiClient(http, "admin-acq");
            var sp = await SandboxWiring.RegisterWeChatMerchantAsync(sandbox.BaseUrl, "1900000510", subMchId: "1900000511");
            Assert.Equal(HttpStatusCode.Created, (await admin.PostAsync("/admin/channels", new { id = "wechat-via-acquirer", wallet = "wechatpay", mode = "acquirer", config = sp })).Status);
            var onboarded = await admin.PostAsync("/admin/merchants", new { name = "先行商户" });
            var merchantId = onboarded.Json.GetProperty("merchant").GetProperty("id").GetString()!;
            var m = new ApiClient(http, onboarded.Json.GetProperty("api_key").GetProperty("secret").GetString()!);
            await admin.PostAsync($"/admin/merchants/{merchantId}/routes/wechatpay", new { rules = new[] { new { channel = "wechat-via-acquirer" } } });
            var db = hub.App.Services.GetRequiredService<Db>();
            var ledger = hub.App.Services.GetRequiredService<LedgerStore>();
            await db.WriteAsync((c, t) => ledger.AppendAsync(c, t, "payment_captured", Ids.New("pay"), merchantId,
                Postings.Captured("wechatpay", merchantId, new Money(50_000, Currency.Parse("CNY"))), DateTimeOffset.UtcNow), default);

            var refused = await m.PostAsync("/v1/payouts", new
            {
                amount = 10_000, currency = "CNY", wallet = "wechatpay", payee = new { type = "WECHAT_OPENID", identity = "oAcqPayee0123456789" }, description = "佣金",
            }, idempotencyKey: "acq-po-" + Guid.NewGuid());
            Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
            Assert.Contains("\"wallet\"", refused.Body, StringComparison.Ordinal);
            Assert.Equal(0, await db.ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM payouts"), default));
            Assert.Equal(-50_000, await db.ReadAsync(c => c.ExecuteScalarAsync<long>(
                "SELECT COALESCE(SUM(amount), 0) FROM ledger_lines WHERE account = @a", new { a = $"merchant_payable:{merchantId}" }), default));
            Assert.Empty(sandbox.WeChat.TransferCalls);
            Assert.True((await ledger.VerifyAsync(null, default)).Ok);
            await hub.DisposeAsync();
        }
        finally
        {
            if (store == "Postgres")
            {
                await PostgresHub.DropDatabaseAsync(pgName);
            }

            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            dir.Delete(recursive: true);
        }
    }
}
