using System.Net;
using Dapper;
using Hutong.Domain;
using Hutong.Domain.Ledger;
using Hutong.Integration.Tests.Contract;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Server.Features.Ledger;
using Hutong.Server.Features.Payouts;
using Microsoft.Extensions.DependencyInjection;

namespace Hutong.Integration.Tests;

/// <summary>
/// Two hubs on one PostgreSQL racing over the same payouts: each create sent to both hubs with the same Idempotency-Key,
/// both hubs' payout passes running at once besides their own workers, some transfers' answers lost (UNKNOWN, resolved
/// by whichever hub queries first), and a host statement paid through both hubs at once. Each payout reaches Alipay once,
/// each change has one event and one ledger entry, and the ledger verifies.
/// </summary>
[Collection("postgres")]
public sealed class TwoHubPayoutTests(PostgresHub hub)
{
    private const int Count = 8;

    [Fact]
    public async Task Two_hubs_send_each_payout_once_and_count_it_once()
    {
        await using var other = await hub.StartAnotherHubAsync();
        using var httpB = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(other.BaseUrl) };
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var onB = new ApiClient(httpB, m.Key);
        await hub.Db.WriteAsync((c, t) => hub.Service<LedgerStore>().AppendAsync(c, t, "payment_captured", Ids.New("pay"), merchantId,
            Postings.Captured("alipay", merchantId, new Money(1_000_000, Currency.Parse("CNY"))), DateTimeOffset.UtcNow), default);

        hub.Sandbox.Alipay.Faults.Inject("transfer", SandboxFault.TimeoutAfter, 3); // three transfers made, their answers lost
        var keys = Enumerable.Range(0, Count).Select(i => $"two-po-{i}-{Guid.NewGuid():N}").ToList();
        Func<CancellationToken, Task>[] passes = [hub.Service<PayoutService>().RunDueAsync, other.App.Services.GetRequiredService<PayoutService>().RunDueAsync];
        await HubRace.RunAsync(hub, passes, async () =>
        {
            foreach (var (key, i) in keys.Select((k, i) => (k, i)))
            {
                var body = new
                {
                    amount = 10_000 + i, currency = "CNY", wallet = "alipay", description = "佣金结算",
                    payee = new { type = "ALIPAY_USER_ID", identity = $"20881021462252{i:00}" },
                };
                var answers = await Task.WhenAll(m.PostAsync("/v1/payouts", body, idempotencyKey: key), onB.PostAsync("/v1/payouts", body, idempotencyKey: key));
                // One of the two may be told the first is still in progress (409); none is a second payout.
                Assert.All(answers, a => Assert.True(a.Status is HttpStatusCode.Created or HttpStatusCode.Conflict, a.ToString()));
                Assert.Contains(answers, a => a.Status == HttpStatusCode.Created);
                Assert.Single(answers.Where(a => a.Status == HttpStatusCode.Created).Select(a => a.Str("id")).Distinct());
            }

            return () => hub.CountAsync("SELECT COUNT(*) FROM payouts WHERE merchant_id = @merchantId AND status IN ('succeeded', 'failed')", new { merchantId });
        }, Count, "every payout settles");

        var rows = (await hub.Db.ReadAsync(c => c.QueryAsync<(string Id, string OutBizNo, string Status, long Amount)>(
            "SELECT id, out_biz_no, status, amount FROM payouts WHERE merchant_id = @merchantId", new { merchantId }), default)).ToList();
        var calls = hub.Sandbox.Alipay.TransferCalls.ToList();
        var problems = new List<string>();
        HubRace.Expect(problems, "payouts (one per key)", Count, rows.Count);
        foreach (var p in rows)
        {
            HubRace.Expect(problems, $"payout {p.Id}: status", "succeeded", p.Status);
            HubRace.Expect(problems, $"payout {p.Id}: transfers sent", 1, calls.Count(x => x.Method == "alipay.fund.trans.uni.transfer" && x.OutBizNo == p.OutBizNo));
            HubRace.Expect(problems, $"payout {p.Id}: transfers at Alipay", 1, hub.Sandbox.Alipay.Transfers.Values.Count(t => t.OutBizNo == p.OutBizNo));
            foreach (var type in new[] { "payout.created", "payout.succeeded" })
            {
                HubRace.Expect(problems, $"payout {p.Id}: {type} events", 1L, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE type = @type AND payload LIKE @like", new { type, like = $"%\"{p.Id}\"%" }));
            }

            HubRace.Expect(problems, $"payout {p.Id}: payout.* events", 2L, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE type LIKE 'payout.%' AND payload LIKE @like", new { like = $"%\"{p.Id}\"%" }));
            foreach (var kind in new[] { "payout_reserved", "payout_sent" })
            {
                HubRace.Expect(problems, $"payout {p.Id}: {kind} entries", 1L, await hub.CountAsync("SELECT COUNT(*) FROM ledger_entries WHERE kind = @kind AND reference = @Id", new { kind, p.Id }));
            }
        }

        HubRace.Expect(problems, "queries made (the lost answers were resolved by query)", true, calls.Any(x => x.Method == "alipay.fund.trans.common.query" && rows.Any(r => r.OutBizNo == x.OutBizNo)));
        HubRace.Expect(problems, "merchant payable", -(1_000_000 - rows.Sum(r => r.Amount)), await BalanceAsync($"merchant_payable:{merchantId}"));
        HubRace.Expect(problems, "payout reserve", 0L, await BalanceAsync(Hutong.Domain.Payouts.PayoutPostings.Reserve(merchantId)));
        Assert.True(problems.Count == 0, $"{problems.Count} problems:\n" + string.Join('\n', problems));
        await HubRace.LedgerVerifiesAsync(hub);
    }

    [Fact]
    public async Task A_host_statement_paid_through_both_hubs_at_once_is_paid_by_one_payout()
    {
        await using var other = await hub.StartAnotherHubAsync();
        using var httpB = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(other.BaseUrl) };
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var onB = new ApiClient(httpB, m.Key);
        await hub.Db.WriteAsync((c, t) => hub.Service<LedgerStore>().AppendAsync(c, t, "payment_captured", Ids.New("pay"), merchantId,
            Postings.Captured("alipay", merchantId, new Money(1_000_000, Currency.Parse("CNY"))), DateTimeOffset.UtcNow), default);
        var host = await m.PostAsync("/v1/hosts", new
        {
            name = "小周", live_room = "room-" + Guid.NewGuid().ToString("N")[..8],
            payout_account = new { wallet = "alipay", type = "ALIPAY_USER_ID", identity = "2088102146225299", name = "周五" },
        });
        var contract = (await m.PostAsync("/v1/host_contracts", new { host = host.Str("id"), start_date = "2026-09-01", model = "guaranteed_minimum", monthly_guarantee = 300_000 })).Str("id");
        Assert.Equal(HttpStatusCode.Created, (await m.PostAsync($"/v1/host_contracts/{contract}/statements", new { month = "2026-09" })).Status);

        Func<CancellationToken, Task>[] passes = [hub.Service<PayoutService>().RunDueAsync, other.App.Services.GetRequiredService<PayoutService>().RunDueAsync];
        var answers = Array.Empty<ApiResponse>();
        await HubRace.RunAsync(hub, passes, async () =>
        {
            answers = await Task.WhenAll(Enumerable.Range(0, 4).Select(i =>
                (i % 2 == 0 ? m : onB).PostAsync($"/v1/host_contracts/{contract}/statements/2026-09/pay", idempotencyKey: $"stmt-{i}-{Guid.NewGuid():N}")));
            return () => hub.CountAsync("SELECT COUNT(*) FROM host_statements WHERE contract_id = @contract AND status = 'paid'", new { contract });
        }, 1, "the statement is paid");

        Assert.Single(answers, a => a.Status == HttpStatusCode.OK);
        Assert.All(answers.Where(a => a.Status != HttpStatusCode.OK), a => Assert.Equal(HttpStatusCode.Conflict, a.Status));
        var payouts = (await hub.Db.ReadAsync(c => c.QueryAsync<string>("SELECT out_biz_no FROM payouts WHERE merchant_id = @merchantId", new { merchantId }), default)).ToList();
        Assert.Single(payouts);
        Assert.Equal(1, hub.Sandbox.Alipay.TransferCalls.Count(x => x.Method == "alipay.fund.trans.uni.transfer" && x.OutBizNo == payouts[0]));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE type = 'host_statement.paid' AND merchant_id = @merchantId", new { merchantId }));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE type = 'host_statement.paying' AND merchant_id = @merchantId", new { merchantId }));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'host_payout' AND merchant_id = @merchantId", new { merchantId }));
        Assert.Equal(0, await BalanceAsync($"host_payable:{host.Str("id")}"));
        await HubRace.LedgerVerifiesAsync(hub);
    }

    private Task<long> BalanceAsync(string account) =>
        hub.Db.ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT COALESCE(SUM(amount), 0) FROM ledger_lines WHERE account = @account", new { account }), default);
}
