using System.Net;
using System.Text.Json;
using Dapper;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Server;
using Hutong.Server.Features.Ledger;
using Hutong.Server.Features.Payments;
using Hutong.Server.Features.Refunds;
using Microsoft.Extensions.DependencyInjection;

namespace Hutong.Integration.Tests.Contract;

/// <summary>
/// The wallet contract's followed calls with two hubs on one PostgreSQL (issue 21): both hubs follow the same refund, or
/// the same unknown payment, at once (their follow-up passes in loops, besides their own workers). Each outcome must be
/// applied by one conditional update only, so it is announced by exactly one event and counted once in the amounts and
/// the ledger. PostgreSQL only: several hubs may share PostgreSQL, never SQLite (one writer in one process), so the
/// SQLite contract classes, and the fourth wallet's SQLite-only fixture, cannot run these.
/// </summary>
public abstract class TwoHubWalletContract(PostgresHub hub, IWalletDriver wallet)
{
    private Task<long> EventsAsync(string type, string id) =>
        hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE type = @type AND payload LIKE @p", new { type, p = $"%\"{id}\"%" });

    private Task<long> EntriesAsync(string kind, string reference) =>
        hub.CountAsync("SELECT COUNT(*) FROM ledger_entries WHERE kind = @kind AND reference = @reference", new { kind, reference });

    private Task<string> OutTradeNoAsync(string paymentId) =>
        hub.Db.ReadAsync(c => c.QuerySingleAsync<string>("SELECT out_trade_no FROM payment_attempts WHERE payment_id = @paymentId", new { paymentId }), default);

    /// <summary>The code the buyer scans, read at the wallet: the hub never heard the answer that carried it.</summary>
    private JsonElement CodeAtTheWallet(string outTradeNo)
    {
        var code = wallet.Wallet switch
        {
            "wechatpay" => hub.Sandbox.WeChat.Orders[(hub.WeChat.MchId, outTradeNo)].CodeUrl,
            "alipay" => hub.Sandbox.Alipay.Orders[(hub.Alipay.AppId, outTradeNo)].QrCode,
            "unionpay" => hub.Sandbox.UnionPay.Orders[(hub.UnionPay.MerId, outTradeNo)].QrCode,
            _ => throw new NotSupportedException(wallet.Wallet),
        };
        return JsonSerializer.SerializeToElement(new { code_url = code });
    }

    [Fact]
    public async Task Two_hubs_following_the_same_refunds_apply_each_outcome_once()
    {
        await using var other = await hub.StartAnotherHubAsync();
        var (m, _, _) = await hub.NewMerchantAsync();
        using var otherHttp = new HttpClient { BaseAddress = new Uri(other.BaseUrl) };
        var m2 = new ApiClient(otherHttp, m.Key, hub.RecentProblems);
        var id = await m.CreatePaymentAsync(9_000);
        var confirm = await m.ConfirmAsync(id, wallet: wallet.Wallet);
        Assert.Equal(HttpStatusCode.OK, (await wallet.PayAsync(confirm.Json.GetProperty("next_action"))).StatusCode);
        await m.WaitForStatusAsync(id, "succeeded");
        var outTradeNo = await OutTradeNoAsync(id);

        // The wallet refunds but its answers are lost: both refunds are left unknown, for both hubs to follow at once.
        wallet.InjectFault(WalletOperation.Refund, SandboxFault.TimeoutAfter, id, count: 4);
        await HubRace.RunAsync(hub, [hub.Service<RefundService>().RunDueAsync, other.App.Services.GetRequiredService<RefundService>().RunDueAsync], async () =>
        {
            var created = await Task.WhenAll(m.PostAsync($"/v1/payments/{id}/refunds", new { amount = 2_000 }), m2.PostAsync($"/v1/payments/{id}/refunds", new { amount = 3_000 }));
            Assert.All(created, r => Assert.Equal(HttpStatusCode.Created, r.Status));
            return () => hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE payment_id = @id AND status IN ('succeeded', 'failed')", new { id });
        }, 2, "both refunds settle");

        var refunds = (await hub.Db.ReadAsync(c => c.QueryAsync<(string Id, string Status)>("SELECT id, status FROM refunds WHERE payment_id = @id", new { id }), default)).ToList();
        var problems = new List<string>();
        foreach (var r in refunds)
        {
            HubRace.Expect(problems, $"refund {r.Id} status", "succeeded", r.Status);
            HubRace.Expect(problems, $"refund {r.Id}: refund.succeeded events", 1, await EventsAsync("refund.succeeded", r.Id));
            HubRace.Expect(problems, $"refund {r.Id}: refund.failed events", 0, await EventsAsync("refund.failed", r.Id));
            HubRace.Expect(problems, $"refund {r.Id}: ledger entries", 1, await EntriesAsync("refund", r.Id));
        }

        HubRace.Expect(problems, "amount_refunded", 5_000, (await m.GetAsync($"/v1/payments/{id}")).Json.GetProperty("amount_refunded").GetInt64());
        HubRace.Expect(problems, "refunded at the wallet", 5_000, wallet.Order(outTradeNo)!.Refunded);
        Assert.True(problems.Count == 0, $"{wallet.Wallet}: {problems.Count} problems:\n" + string.Join('\n', problems));
        await HubRace.LedgerVerifiesAsync(hub);
    }

    [Fact]
    public async Task Two_hubs_following_the_same_unknown_payment_apply_its_outcome_once()
    {
        await using var other = await hub.StartAnotherHubAsync();
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(4_200);
        // The order is made but the hub never hears (unknown); the buyer pays it; no notification comes: only a re-query can tell.
        wallet.InjectFault(WalletOperation.Create, SandboxFault.TimeoutAfter, id, count: 2);
        wallet.InjectFault(WalletOperation.Notify, SandboxFault.DropNotification, id);
        wallet.InjectFault(WalletOperation.Query, SandboxFault.ServerError, id, count: 2); // the first re-queries fail: both hubs keep at it
        var confirm = await m.ConfirmAsync(id, wallet: wallet.Wallet);
        Assert.Equal("unknown", confirm.Str("status"));
        var outTradeNo = await OutTradeNoAsync(id);
        Assert.Equal(HttpStatusCode.OK, (await wallet.PayAsync(CodeAtTheWallet(outTradeNo))).StatusCode);

        await HubRace.RunAsync(hub, [hub.Service<UnknownRequeryJob>().RunOnceAsync, other.App.Services.GetRequiredService<UnknownRequeryJob>().RunOnceAsync],
            () => Task.FromResult<Func<Task<long>>>(() => hub.CountAsync("SELECT COUNT(*) FROM payments WHERE id = @id AND status = 'succeeded'", new { id })),
            1, "the re-query finds the payment paid");

        var problems = new List<string>();
        HubRace.Expect(problems, "payment.succeeded events", 1, await EventsAsync("payment.succeeded", id));
        HubRace.Expect(problems, "captures", 1, await EntriesAsync("payment_captured", id));
        HubRace.Expect(problems, "captures to suspense", 0, await hub.CountAsync(
            "SELECT COUNT(*) FROM ledger_entries e JOIN payment_attempts a ON a.id = e.reference WHERE e.kind = 'capture_to_suspense' AND a.payment_id = @id", new { id }));
        HubRace.Expect(problems, "automatic refunds", 0, await hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE payment_id = @id", new { id }));
        HubRace.Expect(problems, "attempts", 1, await hub.CountAsync("SELECT COUNT(*) FROM payment_attempts WHERE payment_id = @id", new { id }));
        Assert.True(problems.Count == 0, $"{wallet.Wallet}: {problems.Count} problems:\n" + string.Join('\n', problems));
        await HubRace.LedgerVerifiesAsync(hub);
    }
    [Fact]
    public async Task An_unknown_order_re_sent_by_another_hub_is_the_very_same_order()
    {
        // Hub B makes the order; its first re-check is an hour away, so only hub A follows it here (as its lease may fall).
        await using var other = await hub.StartAnotherHubAsync(new Dictionary<string, string?> { ["Hutong:UnknownRecheckSchedule:0"] = "01:00:00" });
        var (m, _, _) = await hub.NewMerchantAsync();
        using var otherHttp = new HttpClient { BaseAddress = new Uri(other.BaseUrl) };
        var m2 = new ApiClient(otherHttp, m.Key, hub.RecentProblems);
        var id = await m2.CreatePaymentAsync(3_300);
        wallet.InjectFault(WalletOperation.Create, SandboxFault.TimeoutAfter, id, count: 1); // made, the answer lost (a POST is sent once)
        Assert.Equal("unknown", (await m2.ConfirmAsync(id, wallet: wallet.Wallet)).Str("status"));
        var attempt = await hub.Db.ReadAsync(c => c.QuerySingleAsync<AttemptRow>("SELECT * FROM payment_attempts WHERE payment_id = @id", new { id }), default);

        // Hub A re-queries: unpaid, so it re-sends the order to get its code back. Each hub listens at its own address
        // (no shared PublicBaseUrl), and a wallet refuses an order number re-used with other parameters: the re-send must
        // carry what the first send did, or the open order is refused as a duplicate and the payment failed.
        await hub.Service<PaymentService>().ResolveUnknownAsync(attempt, default);

        var after = await m.GetAsync($"/v1/payments/{id}");
        var problems = new List<string>();
        HubRace.Expect(problems, "payment status", "pending", after.Str("status"));
        var (status, error) = await hub.Db.ReadAsync(c => c.QuerySingleAsync<(string, string?)>(
            "SELECT status, error_code FROM payment_attempts WHERE id = @Id", new { attempt.Id }), default);
        HubRace.Expect(problems, $"attempt status (error {error ?? "none"})", "open", status);
        HubRace.Expect(problems, "payment.failed events", 0, await EventsAsync("payment.failed", id));
        Assert.True(problems.Count == 0, $"{wallet.Wallet}: {problems.Count} problems:\n" + string.Join('\n', problems));

        Assert.Equal(HttpStatusCode.OK, (await wallet.PayAsync(after.Json.GetProperty("next_action"))).StatusCode);
        await m.WaitForStatusAsync(id, "succeeded");
        HubRace.Expect(problems, "payment.succeeded events", 1, await EventsAsync("payment.succeeded", id));
        HubRace.Expect(problems, "captures", 1, await EntriesAsync("payment_captured", id));
        Assert.True(problems.Count == 0, $"{wallet.Wallet}: {problems.Count} problems:\n" + string.Join('\n', problems));
    }
}

/// <summary>Races several hubs' follow-up passes (each in a loop of its own) over the work a test creates.</summary>
public static class HubRace
{
    /// <summary>
    /// Runs every pass in a loop while <paramref name="start"/> creates the work, until the probe it returns reaches
    /// <paramref name="expected"/>; then stops the loops and waits for their last pass and the hubs' own workers, so a late
    /// double count would be in the database before the test looks.
    /// </summary>
    public static async Task RunAsync(HubFixture hub, IReadOnlyList<Func<CancellationToken, Task>> passes, Func<Task<Func<Task<long>>>> start, long expected, string what)
    {
        using var stop = new CancellationTokenSource();
        var loops = passes.Select(pass => Task.Run(async () =>
        {
            for (var round = 0; round < 10_000 && !stop.IsCancellationRequested; round++)
            {
                await pass(CancellationToken.None);
                await Task.Delay(5, CancellationToken.None);
            }
        }, CancellationToken.None)).ToList();
        try
        {
            var probe = await start();
            await hub.EventuallyAsync(probe, n => n >= expected, TimeSpan.FromSeconds(60), what);
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(loops);
        }

        await Task.Delay(500);
    }

    public static void Expect<T>(List<string> problems, string what, T expected, T actual)
    {
        if (!EqualityComparer<T>.Default.Equals(expected, actual))
        {
            problems.Add($"{what}: {actual}, expected {expected}");
        }
    }

    public static async Task LedgerVerifiesAsync(HubFixture hub)
    {
        var verified = await hub.Service<LedgerStore>().VerifyAsync(null, default);
        Assert.True(verified.Ok, string.Join('\n', verified.Problems));
    }
}

[Collection("postgres")]
public sealed class WeChatPayTwoHubContract_Postgres(PostgresHub hub) : TwoHubWalletContract(hub, new WeChatPayDriver(hub));

[Collection("postgres")]
public sealed class AlipayTwoHubContract_Postgres(PostgresHub hub) : TwoHubWalletContract(hub, new AlipayDriver(hub));

[Collection("postgres")]
public sealed class UnionPayTwoHubContract_Postgres(PostgresHub hub) : TwoHubWalletContract(hub, new UnionPayDriver(hub));
