using System.Net;
using Dapper;
using Hutong.Integration.Tests.Contract;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server.Features.Ledger;
using Hutong.Server.Features.ProfitSharing;
using Hutong.Server.Features.Refunds;
using Microsoft.Extensions.DependencyInjection;

namespace Hutong.Integration.Tests;

/// <summary>
/// Two hubs on one PostgreSQL (a documented setup) following the same refunds, splits and split returns: both hubs'
/// passes run at once, over and over, besides their own workers. Each wallet call is made by one hub only, and each
/// outcome is counted once — amount_refunded, the refund.* / split.* events, the ledger, the receivers' returned shares.
/// </summary>
[Collection("postgres")]
public sealed class TwoHubFollowUpTests(PostgresHub hub)
{
    private const int Payments = 6;

    private static string Account() => "19" + Random.Shared.NextInt64(10_000_000, 99_999_999);

    [Fact]
    public async Task Two_hubs_send_each_refund_once_and_count_it_once()
    {
        await using var other = await hub.StartAnotherHubAsync();
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var ids = new List<string>();
        for (var i = 0; i < Payments; i++)
        {
            var id = await m.CreatePaymentAsync(10_000);
            await hub.BuyerPaysAsync((await m.ConfirmAsync(id)).Json.GetProperty("next_action").GetProperty("code_url").GetString()!);
            await m.WaitForStatusAsync(id, "succeeded");
            ids.Add(id);
        }

        // Three refunds a payment (the whole amount), followed by both hubs at once: the wallet answers PROCESSING first,
        // so each refund is sent, then queried until it succeeds.
        await RaceAsync([hub.Service<RefundService>().RunDueAsync, other.App.Services.GetRequiredService<RefundService>().RunDueAsync], async () =>
        {
            foreach (var id in ids)
            {
                foreach (var amount in new[] { 3_000, 3_000, 4_000 })
                {
                    Assert.Equal(HttpStatusCode.Created, (await m.PostAsync($"/v1/payments/{id}/refunds", new { amount })).Status);
                }
            }

            return () => hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE merchant_id = @merchantId AND status IN ('succeeded', 'failed')", new { merchantId });
        }, Payments * 3, "every refund settles");

        var refunds = await hub.Db.ReadAsync(c => c.QueryAsync<(string Id, string PaymentId, string OutRefundNo)>(
            "SELECT id, payment_id, out_refund_no FROM refunds WHERE merchant_id = @merchantId", new { merchantId }), default);
        var sends = hub.Sandbox.WeChat.MoneySends.ToList();
        var problems = new List<string>();
        foreach (var r in refunds)
        {
            Expect(problems, $"refund {r.Id}: sent to the wallet", 1, sends.Count(s => s == r.OutRefundNo));
            Expect(problems, $"refund {r.Id}: succeeded", 1, await hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE id = @Id AND status = 'succeeded'", new { r.Id }));
            Expect(problems, $"refund {r.Id}: refund.succeeded events", 1, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE type = 'refund.succeeded' AND payload LIKE @p", new { p = $"%\"{r.Id}\"%" }));
            Expect(problems, $"refund {r.Id}: ledger refund entries", 1, await hub.CountAsync("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'refund' AND reference = @Id", new { r.Id }));
        }

        foreach (var id in ids)
        {
            var (refunded, succeeded) = await hub.Db.ReadAsync(c => c.QuerySingleAsync<(long, long)>(
                "SELECT amount_refunded, (SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE payment_id = @id AND status = 'succeeded') FROM payments WHERE id = @id",
                new { id }), default);
            Expect(problems, $"payment {id}: amount_refunded (of 10000; succeeded refunds {succeeded})", 10_000, refunded);
        }

        Expect(problems, "merchant payable after refunding everything", 0, await BalanceAsync($"merchant_payable:{merchantId}")); // the fee included
        Assert.True(problems.Count == 0, $"{problems.Count} problems:\n" + string.Join('\n', problems));
        await LedgerHoldsAsync();
    }

    [Fact]
    public async Task Two_hubs_send_each_split_and_split_return_once_and_count_it_once()
    {
        await using var other = await hub.StartAnotherHubAsync();
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var receiver = await m.PostAsync("/v1/split_receivers", new { wallet = "wechatpay", role = "platform", type = "merchant", account = Account(), name = "互通平台科技有限公司" });
        Assert.Equal(HttpStatusCode.Created, receiver.Status);
        var platform = receiver.Str("id");
        var ids = new List<string>();
        for (var i = 0; i < Payments; i++)
        {
            var created = await m.PostAsync("/v1/payments", new
            {
                amount = 10_000, currency = "CNY", description = "直播间商品", merchant_order_id = "two-" + Guid.NewGuid().ToString("N")[..12],
                profit_sharing = new { splits = new[] { new { receiver = platform, ratio_bps = 1_000 } } },
            });
            Assert.Equal(HttpStatusCode.Created, created.Status);
            var id = created.Str("id");
            await hub.BuyerPaysAsync((await m.ConfirmAsync(id)).Json.GetProperty("next_action").GetProperty("code_url").GetString()!);
            await m.WaitForStatusAsync(id, "succeeded");
            ids.Add(id);
        }

        Func<CancellationToken, Task>[] passes =
        [
            hub.Service<SplitFollowUpService>().RunDueAsync, other.App.Services.GetRequiredService<SplitFollowUpService>().RunDueAsync,
            hub.Service<RefundService>().RunDueAsync, other.App.Services.GetRequiredService<RefundService>().RunDueAsync,
        ];
        // The payments' own rules split after the wallet's delay (200 ms here): 10 % of 99.40 each.
        await RaceAsync(passes, () => Task.FromResult<Func<Task<long>>>(() =>
            hub.CountAsync("SELECT COUNT(*) FROM splits WHERE merchant_id = @merchantId AND status IN ('succeeded', 'failed')", new { merchantId })), Payments, "every split settles");

        // Half of each payment refunded: the merchant receiver returns half its share by a return order.
        await RaceAsync(passes, async () =>
        {
            foreach (var id in ids)
            {
                Assert.Equal(HttpStatusCode.Created, (await m.PostAsync($"/v1/payments/{id}/refunds", new { amount = 5_000 })).Status);
            }

            return () => hub.CountAsync(
                "SELECT COUNT(*) FROM refunds WHERE merchant_id = @merchantId AND status IN ('succeeded', 'failed') AND NOT EXISTS (SELECT 1 FROM split_returns x WHERE x.refund_id = refunds.id AND x.status NOT IN ('succeeded', 'failed', 'canceled'))",
                new { merchantId });
        }, Payments, "every refund and split return settles");

        var sends = hub.Sandbox.WeChat.MoneySends.ToList();
        var problems = new List<string>();
        var splits = (await hub.Db.ReadAsync(c => c.QueryAsync<(string Id, string OutOrderNo, string Status)>(
            "SELECT id, out_order_no, status FROM splits WHERE merchant_id = @merchantId", new { merchantId }), default)).ToList();
        Expect(problems, "splits", Payments, splits.Count);
        foreach (var s in splits)
        {
            Expect(problems, $"split {s.Id} ({s.Status}): sent to the wallet", 1, sends.Count(x => x == s.OutOrderNo));
            Expect(problems, $"split {s.Id}: split.succeeded events", 1, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE type = 'split.succeeded' AND payload LIKE @p", new { p = $"%\"{s.Id}\"%" }));
            Expect(problems, $"split {s.Id}: split.* events", 1, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE type LIKE 'split.%' AND payload LIKE @p", new { p = $"%\"{s.Id}\"%" }));
            Expect(problems, $"split {s.Id}: ledger split entries", 1, await hub.CountAsync("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'split' AND reference = @r", new { r = $"{s.Id}:{platform}" }));
            Expect(problems, $"split {s.Id}: the receiver's share returned", 497, await hub.Db.ReadAsync(c => c.ExecuteScalarAsync<long>(
                "SELECT COALESCE(SUM(returned), 0) FROM split_lines WHERE split_id = @Id AND amount = 994", new { s.Id }), default));
        }

        var returns = (await hub.Db.ReadAsync(c => c.QueryAsync<(string Id, string OutReturnNo, string Status)>(
            "SELECT id, out_return_no, status FROM split_returns WHERE merchant_id = @merchantId", new { merchantId }), default)).ToList();
        Expect(problems, "split returns", Payments, returns.Count);
        foreach (var r in returns)
        {
            Expect(problems, $"split return {r.Id} ({r.Status}): sent to the wallet", 1, sends.Count(x => x == r.OutReturnNo));
            Expect(problems, $"split return {r.Id}: ledger entries", 1, await hub.CountAsync("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'split_returned' AND reference = @Id", new { r.Id }));
        }

        // Each payment: 99.40 captured net − 9.94 split − (50.00 − 0.30 fee back) refunded + 4.97 returned.
        Expect(problems, "merchant payable", -Payments * (9_940 - 994 - 4_970 + 497), await BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.True(problems.Count == 0, $"{problems.Count} problems:\n" + string.Join('\n', problems));
        await LedgerHoldsAsync();
    }

    /// <summary>Both hubs' passes race over the work <paramref name="start"/> creates (<see cref="HubRace"/>).</summary>
    private Task RaceAsync(IReadOnlyList<Func<CancellationToken, Task>> passes, Func<Task<Func<Task<long>>>> start, long expected, string what) =>
        HubRace.RunAsync(hub, passes, start, expected, what);

    private static void Expect(List<string> problems, string what, long expected, long actual)
    {
        if (expected != actual)
        {
            problems.Add($"{what}: {actual}, expected {expected}");
        }
    }

    private Task<long> BalanceAsync(string account) =>
        hub.Db.ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT COALESCE(SUM(amount), 0) FROM ledger_lines WHERE account = @account", new { account }), default);

    private async Task LedgerHoldsAsync()
    {
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM (SELECT currency FROM ledger_lines GROUP BY currency HAVING SUM(amount) <> 0) x"));
        var verified = await hub.Service<LedgerStore>().VerifyAsync(null, default);
        Assert.True(verified.Ok, string.Join('\n', verified.Problems));
    }
}
