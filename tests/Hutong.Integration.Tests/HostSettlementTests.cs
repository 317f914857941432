using System.Net;
using Dapper;
using Hutong.Domain;
using Hutong.Domain.Ledger;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server.Features.Ledger;

namespace Hutong.Integration.Tests;

/// <summary>A livestream host's month, end to end: attributed sales, the greater-of contract, tax withheld, ledger, payout.</summary>
public abstract class HostSettlementTests(HubFixture hub)
{
    private async Task<string> PaidInRoomAsync(ApiClient m, long amount, string room, DateTimeOffset succeededAt)
    {
        var created = await m.PostAsync("/v1/payments", new
        {
            amount, currency = "CNY", description = "直播间商品", merchant_order_id = "live-" + Guid.NewGuid().ToString("N")[..10],
            metadata = new Dictionary<string, string> { ["live_room"] = room },
        });
        var id = created.Str("id");
        var code = (await m.ConfirmAsync(id)).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        await hub.BuyerPaysAsync(code);
        await m.WaitForStatusAsync(id, "succeeded");
        await hub.ExecAsync("UPDATE payments SET succeeded_at = @at WHERE id = @id", new { at = succeededAt.ToUnixTimeMilliseconds(), id }); // as if sold then
        return id;
    }

    private Task<long> BalanceAsync(string account) =>
        hub.Db.ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT COALESCE(SUM(amount), 0) FROM ledger_lines WHERE account = @account", new { account }), default);

    [Fact]
    public async Task A_month_is_settled_with_its_true_up_and_tax_posted_once_then_paid_out()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync("互通 MCN");
        var room = "room-" + Guid.NewGuid().ToString("N")[..6];
        var host = await m.PostAsync("/v1/hosts", new { name = "小李", live_room = room });
        Assert.Equal(HttpStatusCode.Created, host.Status);
        var contract = await m.PostAsync("/v1/host_contracts", new
        {
            host = host.Str("id"), start_date = "2026-09-15", model = "greater_of", monthly_guarantee = 500_000, share_basis_points = 1_000,
        });
        Assert.Equal(HttpStatusCode.Created, contract.Status);
        Assert.Equal("2027-03-15", contract.Str("end_date")); // six months, then it ends by itself
        var id = contract.Str("id");

        var china = TimeSpan.FromHours(8);
        var sold = await PaidInRoomAsync(m, 1_000_000, room, new DateTimeOffset(2026, 10, 1, 0, 0, 0, china)); // first minute of October in China
        await PaidInRoomAsync(m, 1_000_000, room, new DateTimeOffset(2026, 10, 31, 23, 59, 0, china));
        await PaidInRoomAsync(m, 1_000_000, room, new DateTimeOffset(2026, 11, 1, 0, 0, 0, china)); // November: not this statement
        await PaidInRoomAsync(m, 1_000_000, "another-room", new DateTimeOffset(2026, 10, 10, 12, 0, 0, china)); // not this host
        Assert.Equal(HttpStatusCode.Created, (await m.PostAsync($"/v1/payments/{sold}/refunds", new { amount = 250_000 })).Status);
        await hub.EventuallyAsync(() => m.GetAsync($"/v1/payments/{sold}"), p => p.Json.GetProperty("amount_refunded").GetInt64() == 250_000, what: "refund");

        var statement = await m.PostAsync($"/v1/host_contracts/{id}/statements", new { month = "2026-10" });
        Assert.Equal(HttpStatusCode.Created, statement.Status);
        var s = statement.Json;
        Assert.Equal(1_750_000, s.GetProperty("attributed_sales").GetInt64()); // 10,000 + 10,000 − 2,500 refunded
        Assert.Equal(175_000, s.GetProperty("share").GetInt64()); // 10 %
        Assert.Equal(500_000, s.GetProperty("payable").GetInt64()); // the guarantee is greater
        Assert.Equal(0, s.GetProperty("true_up").GetInt64());
        Assert.Equal(400_000, s.GetProperty("taxable_income").GetInt64()); // 5,000 × 80 %
        Assert.Equal(80_000, s.GetProperty("tax_withheld").GetInt64()); // 4,000 × 20 %
        Assert.Equal(420_000, s.GetProperty("net_payout").GetInt64());

        var hostAccount = $"host_payable:{host.Str("id")}";
        Assert.Equal(500_000, await BalanceAsync($"host_cost:{merchantId}"));
        Assert.Equal(-420_000, await BalanceAsync(hostAccount));
        Assert.Equal(HttpStatusCode.Conflict, (await m.PostAsync($"/v1/host_contracts/{id}/statements", new { month = "2026-10" })).Status);
        // The boundary (China midnight) is pinned by SettlementCalendarTests on a fake clock; the hub here runs on the real one,
        // so the month not yet over is one no run of this suite will see end.
        Assert.Equal("month_not_over", (await m.PostAsync($"/v1/host_contracts/{id}/statements", new { month = "2999-12" })).Str("code"));
        foreach (var bad in new[] { "9999-12", "0001-01", "2026-13", "2026-1" })
        {
            var refused = await m.PostAsync($"/v1/host_contracts/{id}/statements", new { month = bad });
            Assert.True(refused.Status == HttpStatusCode.BadRequest, $"{bad}: {refused}");
        }


        Assert.Equal(HttpStatusCode.OK, (await m.PostAsync($"/v1/host_contracts/{id}/statements/2026-10/pay")).Status);
        Assert.Equal(0, await BalanceAsync(hostAccount));
        Assert.Equal(HttpStatusCode.Conflict, (await m.PostAsync($"/v1/host_contracts/{id}/statements/2026-10/pay")).Status);
        var list = (await m.GetAsync($"/v1/host_contracts/{id}/statements")).Json.GetProperty("data");
        Assert.Single(list.EnumerateArray());
        Assert.NotEqual(System.Text.Json.JsonValueKind.Null, list[0].GetProperty("paid_at").ValueKind);

        var september = (await m.PostAsync($"/v1/host_contracts/{id}/statements", new { month = "2026-09" })).Json;
        Assert.Equal(16, september.GetProperty("active_days").GetInt32()); // from the 15th
        Assert.Equal(266_667, september.GetProperty("payable").GetInt64()); // 5,000 × 16/30

        var (other, _, _) = await hub.NewMerchantAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/v1/host_contracts/{id}/statements")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await other.PostAsync($"/v1/host_contracts/{id}/statements", new { month = "2026-08" })).Status);
        Assert.True((await hub.Service<Hutong.Server.Features.Ledger.LedgerStore>().VerifyAsync(null, default)).Ok);
    }

    [Fact]
    public async Task A_host_who_leaves_is_paid_only_for_the_days_under_contract()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var host = await m.PostAsync("/v1/hosts", new { name = "小王", live_room = "room-" + Guid.NewGuid().ToString("N")[..6] });
        var id = (await m.PostAsync("/v1/host_contracts", new { host = host.Str("id"), start_date = "2026-09-01", model = "guaranteed_minimum", monthly_guarantee = 300_000 })).Str("id");
        var exited = await m.PostAsync($"/v1/host_contracts/{id}/exit", new { date = "2026-10-11" });
        Assert.Equal("2026-10-11", exited.Str("end_date"));
        Assert.Equal("exited", exited.Str("status"));
        var october = (await m.PostAsync($"/v1/host_contracts/{id}/statements", new { month = "2026-10" })).Json;
        Assert.Equal(10, october.GetProperty("active_days").GetInt32());
        Assert.Equal(96_774, october.GetProperty("payable").GetInt64()); // 3,000 × 10/31 = 967.74
        Assert.Equal(3_355, october.GetProperty("tax_withheld").GetInt64()); // 167.74 × 20 % = 33.548
        Assert.Equal(HttpStatusCode.Conflict, (await m.PostAsync($"/v1/host_contracts/{id}/exit", new { date = "2026-10-20" })).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await m.PostAsync("/v1/host_contracts", new { host = host.Str("id"), start_date = "2026-13-01", model = "bonus" })).Status);
    }

    [Fact]
    public async Task Amounts_past_the_maximum_are_refused_and_the_ledger_refuses_a_posting_past_its_limit()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var host = (await m.PostAsync("/v1/hosts", new { name = "大主播", live_room = "room-" + Guid.NewGuid().ToString("N")[..8] })).Str("id");

        // Issue 12: a guarantee of 2^63 − 1 was taken and its statement wrapped to 0.
        foreach (var huge in new[] { long.MaxValue, Money.MaxAmount + 1 })
        {
            var refused = await m.PostAsync("/v1/host_contracts", new { host, start_date = "2026-09-01", model = "guaranteed_minimum", monthly_guarantee = huge });
            Assert.True(refused.Status == HttpStatusCode.BadRequest, refused.ToString());
            Assert.Equal("monthly_guarantee", refused.Str("param"));
        }

        var contract = await m.PostAsync("/v1/host_contracts", new { host, start_date = "2026-09-01", model = "guaranteed_minimum", monthly_guarantee = Money.MaxAmount });
        Assert.True(contract.Status == HttpStatusCode.Created, contract.ToString());
        var id = contract.Str("id");
        var september = await m.PostAsync($"/v1/host_contracts/{id}/statements", new { month = "2026-09" });
        Assert.True(september.Status == HttpStatusCode.Created, september.ToString());
        Assert.Equal(Money.MaxAmount, september.Json.GetProperty("payable").GetInt64());
        Assert.Equal(31_999_300_000, september.Json.GetProperty("tax_withheld").GetInt64()); // 10^9 × 80 % × 40 % − 7,000 yuan

        // The merchant's host cost is brought to just under the ledger's limit; October's pay would take it past.
        var cost = $"host_cost:{merchantId}";
        var seed = Money.MaxBalance - (2 * Money.MaxAmount) + 1;
        var ledger = hub.Service<LedgerStore>();
        await hub.Db.WriteAsync((c, t) => ledger.AppendAsync(c, t, "test_seed", "seed-" + merchantId, merchantId,
            [new LedgerLine(cost, "CNY", seed), new LedgerLine($"test_offset:{merchantId}", "CNY", -seed)], DateTimeOffset.UtcNow), default);
        var october = await m.PostAsync($"/v1/host_contracts/{id}/statements", new { month = "2026-10" });
        Assert.True(october.Status == HttpStatusCode.Conflict, october.ToString());
        Assert.Equal("ledger_limit", october.Str("code"));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM host_statements WHERE contract_id = @id AND month = '2026-10'", new { id }));
        Assert.Equal(Money.MaxBalance - Money.MaxAmount + 1, await BalanceAsync(cost));
        Assert.Equal([(cost, "CNY", Money.MaxBalance - Money.MaxAmount + 1)], await ledger.BalancesAsync(cost, default));
        var verified = await ledger.VerifyAsync(null, default);
        Assert.True(verified.Ok, string.Join('\n', verified.Problems));
    }
}

[Collection("sqlite")]
public sealed class HostSettlementTests_Sqlite(SqliteHub hub) : HostSettlementTests(hub);

[Collection("postgres")]
public sealed class HostSettlementTests_Postgres(PostgresHub hub) : HostSettlementTests(hub);
