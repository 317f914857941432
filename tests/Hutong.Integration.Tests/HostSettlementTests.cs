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
        Assert.Equal(500_000, await hub.BalanceAsync($"host_cost:{merchantId}"));
        Assert.Equal(-420_000, await hub.BalanceAsync(hostAccount));
        Assert.Equal(HttpStatusCode.Conflict, (await m.PostAsync($"/v1/host_contracts/{id}/statements", new { month = "2026-10" })).Status);
        // The boundary (China midnight) is pinned by SettlementCalendarTests on a fake clock; the hub here runs on the real one,
        // so the month not yet over is one no run of this suite will see end.
        Assert.Equal("month_not_over", (await m.PostAsync($"/v1/host_contracts/{id}/statements", new { month = "2999-12" })).Str("code"));
        foreach (var bad in new[] { "9999-12", "0001-01", "2026-13", "2026-1" })
        {
            var refused = await m.PostAsync($"/v1/host_contracts/{id}/statements", new { month = bad });
            Assert.True(refused.Status == HttpStatusCode.BadRequest, $"{bad}: {refused}");
        }

        // No payout account yet: refused, nothing changes.
        var noAccount = await m.PostAsync($"/v1/host_contracts/{id}/statements/2026-10/pay");
        Assert.Equal(HttpStatusCode.Conflict, noAccount.Status);
        Assert.Equal("host_payout_account_missing", noAccount.Str("code"));
        Assert.Equal(HttpStatusCode.OK, (await m.PostAsync($"/v1/hosts/{host.Str("id")}/payout_account", Account(GoodPayee))).Status);
        Assert.Equal(HttpStatusCode.OK, (await m.PostAsync($"/v1/host_contracts/{id}/statements/2026-10/pay")).Status);
        await StatementPaidAsync(m, id, "2026-10");
        Assert.Equal(0, await hub.BalanceAsync(hostAccount));
        Assert.Equal(HttpStatusCode.Conflict, (await m.PostAsync($"/v1/host_contracts/{id}/statements/2026-10/pay")).Status);
        var list = (await m.GetAsync($"/v1/host_contracts/{id}/statements")).Json.GetProperty("data");
        Assert.Single(list.EnumerateArray());
        Assert.NotEqual(System.Text.Json.JsonValueKind.Null, list[0].GetProperty("paid_at").ValueKind);
        Assert.Equal("paid", list[0].GetProperty("status").GetString());

        var september = (await m.PostAsync($"/v1/host_contracts/{id}/statements", new { month = "2026-09" })).Json;
        Assert.Equal(16, september.GetProperty("active_days").GetInt32()); // from the 15th
        Assert.Equal(266_667, september.GetProperty("payable").GetInt64()); // 5,000 × 16/30

        var (other, _, _) = await hub.NewMerchantAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/v1/host_contracts/{id}/statements")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await other.PostAsync($"/v1/host_contracts/{id}/statements", new { month = "2026-08" })).Status);
        Assert.True((await hub.Service<Hutong.Server.Features.Ledger.LedgerStore>().VerifyAsync(null, default)).Ok);
    }

    private const string GoodPayee = "2088102146225135";

    private static object Account(string identity) => new { wallet = "alipay", type = "ALIPAY_USER_ID", identity, name = "李四" };

    private async Task<System.Text.Json.JsonElement> StatementAsync(ApiClient m, string contract, string month) =>
        (await m.GetAsync($"/v1/host_contracts/{contract}/statements")).Json.GetProperty("data").EnumerateArray().Single(s => s.GetProperty("month").GetString() == month);

    private async Task<System.Text.Json.JsonElement> StatementPaidAsync(ApiClient m, string contract, string month, string status = "paid") =>
        await hub.EventuallyAsync(() => StatementAsync(m, contract, month), s => s.GetProperty("status").GetString() == status, what: $"statement {month} {status}");

    private Task<long> EventsAsync(string merchantId, string type) =>
        hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE type = @type AND merchant_id = @merchantId", new { type, merchantId });

    /// <summary>A host on a 10 % revenue share from 2026-08-01, paid to <paramref name="payee"/>.</summary>
    private async Task<(ApiClient M, string MerchantId, string Host, string Contract, string Room)> ShareHostAsync(string payee = GoodPayee)
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var room = "room-" + Guid.NewGuid().ToString("N")[..8];
        var host = await m.PostAsync("/v1/hosts", new { name = "小赵", live_room = room, payout_account = Account(payee) });
        Assert.True(host.Status == HttpStatusCode.Created, host.ToString());
        Assert.Equal(payee, host.Json.GetProperty("payout_account").GetProperty("identity").GetString());
        var contract = await m.PostAsync("/v1/host_contracts", new { host = host.Str("id"), start_date = "2026-08-01", model = "revenue_share", share_basis_points = 1_000 });
        Assert.True(contract.Status == HttpStatusCode.Created, contract.ToString());
        return (m, merchantId, host.Str("id"), contract.Str("id"), room);
    }

    [Fact]
    public async Task A_statement_is_paid_through_one_payout_and_follows_it_to_paid()
    {
        var (m, merchantId, host, contract, room) = await ShareHostAsync();
        var china = TimeSpan.FromHours(8);
        await PaidInRoomAsync(m, 3_000_000, room, new DateTimeOffset(2026, 9, 10, 20, 0, 0, china));
        var september = (await m.PostAsync($"/v1/host_contracts/{contract}/statements", new { month = "2026-09" })).Json;
        Assert.Equal(300_000, september.GetProperty("payable").GetInt64());
        Assert.Equal(44_000, september.GetProperty("tax_withheld").GetInt64()); // (3,000 − 800) × 20 %
        Assert.Equal(256_000, september.GetProperty("net_payout").GetInt64());
        Assert.Equal("payable", september.GetProperty("status").GetString());

        var calls = hub.Sandbox.Alipay.TransferCalls.Count;
        var paying = await m.PostAsync($"/v1/host_contracts/{contract}/statements/2026-09/pay", idempotencyKey: "pay-" + Guid.NewGuid());
        Assert.True(paying.Status == HttpStatusCode.OK, paying.ToString());
        Assert.Equal("paying", paying.Str("status"));
        var payoutId = paying.Str("payout");
        Assert.StartsWith("po_", payoutId);
        var again = await m.PostAsync($"/v1/host_contracts/{contract}/statements/2026-09/pay");
        Assert.Equal(HttpStatusCode.Conflict, again.Status);
        Assert.True(again.Str("code") is "statement_being_paid" or "statement_already_paid", again.ToString());

        var paid = await StatementPaidAsync(m, contract, "2026-09");
        Assert.Equal(payoutId, paid.GetProperty("payout").GetString());
        var payout = await m.GetAsync($"/v1/payouts/{payoutId}");
        Assert.Equal("succeeded", payout.Str("status"));
        Assert.Equal(256_000, payout.Json.GetProperty("amount").GetInt64());
        Assert.Equal(GoodPayee, payout.Json.GetProperty("payee").GetProperty("identity").GetString());
        var outBizNo = await hub.Db.ReadAsync(c => c.ExecuteScalarAsync<string>("SELECT out_biz_no FROM payouts WHERE id = @payoutId", new { payoutId }), default);
        Assert.Equal(1, hub.Sandbox.Alipay.TransferCalls.Skip(calls).Count(x => x.Method == "alipay.fund.trans.uni.transfer" && x.OutBizNo == outBizNo));
        Assert.Equal(0, await hub.BalanceAsync($"host_payable:{host}"));
        Assert.Equal(0, await hub.BalanceAsync(Hutong.Domain.Payouts.PayoutPostings.Reserve(merchantId)));
        Assert.Equal(1, await EventsAsync(merchantId, "host_statement.paying"));
        Assert.Equal(1, await EventsAsync(merchantId, "host_statement.paid"));
        Assert.Equal(1, await EventsAsync(merchantId, "payout.created"));
        Assert.Equal(HttpStatusCode.Conflict, (await m.PostAsync($"/v1/host_contracts/{contract}/statements/2026-09/pay")).Status);
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM payouts WHERE merchant_id = @merchantId", new { merchantId }));

        // Bad payout accounts are 400s naming the field, and change nothing.
        var bad = await m.PostAsync($"/v1/hosts/{host}/payout_account", new { wallet = "alipay", type = "ALIPAY_USER_ID", identity = "12345" });
        Assert.True(bad.Status == HttpStatusCode.BadRequest && bad.Body.Contains("payout_account.identity", StringComparison.Ordinal), bad.ToString());
        var badWallet = await m.PostAsync("/v1/hosts", new { name = "x", live_room = "r-" + Guid.NewGuid().ToString("N")[..8], payout_account = new { type = "ALIPAY_USER_ID", identity = GoodPayee } });
        Assert.True(badWallet.Status == HttpStatusCode.BadRequest && badWallet.Body.Contains("payout_account.wallet", StringComparison.Ordinal), badWallet.ToString());
        Assert.Equal(HttpStatusCode.NotFound, (await m.PostAsync("/v1/hosts/host_nope/payout_account", Account(GoodPayee))).Status);
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task A_statement_whose_payout_fails_is_payable_again_and_paid_once_the_account_is_right()
    {
        var (m, merchantId, host, contract, room) = await ShareHostAsync(payee: "2088000000000404"); // no such Alipay user at the sandbox
        await PaidInRoomAsync(m, 2_000_000, room, new DateTimeOffset(2026, 9, 3, 12, 0, 0, TimeSpan.FromHours(8)));
        Assert.Equal(HttpStatusCode.Created, (await m.PostAsync($"/v1/host_contracts/{contract}/statements", new { month = "2026-09" })).Status);
        var first = await m.PostAsync($"/v1/host_contracts/{contract}/statements/2026-09/pay");
        Assert.Equal("paying", first.Str("status"));
        var failed = await StatementPaidAsync(m, contract, "2026-09", status: "payable");
        Assert.False(failed.TryGetProperty("payout", out var gone) && gone.ValueKind != System.Text.Json.JsonValueKind.Null);
        Assert.Equal("failed", (await m.GetAsync($"/v1/payouts/{first.Str("payout")}")).Str("status"));
        Assert.Equal(1, await EventsAsync(merchantId, "host_statement.payout_failed"));
        Assert.Equal(-(200_000 - 24_000), await hub.BalanceAsync($"host_payable:{host}")); // still owed: (2,000 − 800) × 20 % withheld

        Assert.Equal(HttpStatusCode.OK, (await m.PostAsync($"/v1/hosts/{host}/payout_account", Account(GoodPayee))).Status);
        var second = await m.PostAsync($"/v1/host_contracts/{contract}/statements/2026-09/pay");
        Assert.Equal("paying", second.Str("status"));
        Assert.NotEqual(first.Str("payout"), second.Str("payout"));
        await StatementPaidAsync(m, contract, "2026-09");
        Assert.Equal(0, await hub.BalanceAsync($"host_payable:{host}"));
        Assert.Equal(1, await EventsAsync(merchantId, "host_statement.paid"));
        Assert.Equal(1, await EventsAsync(merchantId, "payout.failed"));
        Assert.Equal(1, await EventsAsync(merchantId, "payout.succeeded"));
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task A_refund_after_a_closed_month_is_clawed_back_in_the_next_statement_and_a_rest_carried_on()
    {
        var (m, merchantId, host, contract, room) = await ShareHostAsync();
        var china = TimeSpan.FromHours(8);
        var big = await PaidInRoomAsync(m, 2_000_000, room, new DateTimeOffset(2026, 8, 20, 21, 0, 0, china));
        var august = (await m.PostAsync($"/v1/host_contracts/{contract}/statements", new { month = "2026-08" })).Json;
        Assert.Equal(200_000, august.GetProperty("payable").GetInt64());
        Assert.Equal(176_000, august.GetProperty("net_payout").GetInt64());
        Assert.Equal(HttpStatusCode.OK, (await m.PostAsync($"/v1/host_contracts/{contract}/statements/2026-08/pay")).Status);
        await StatementPaidAsync(m, contract, "2026-08");

        // After August closed (and was paid), the buyer gets ¥15,000 of ¥20,000 back: the host's share of it (¥1,500) is clawed back.
        Assert.Equal(HttpStatusCode.Created, (await m.PostAsync($"/v1/payments/{big}/refunds", new { amount = 1_500_000 })).Status);
        await hub.EventuallyAsync(() => m.GetAsync($"/v1/payments/{big}"), p => p.Json.GetProperty("amount_refunded").GetInt64() == 1_500_000, what: "refund");

        // September sells ¥5,000: its ¥500 does not cover the ¥1,500 clawed back; nothing is paid and ¥1,000 goes on.
        await PaidInRoomAsync(m, 500_000, room, new DateTimeOffset(2026, 9, 5, 10, 0, 0, china));
        var september = (await m.PostAsync($"/v1/host_contracts/{contract}/statements", new { month = "2026-09" })).Json;
        Assert.Equal(50_000, september.GetProperty("payable").GetInt64());
        Assert.Equal(-150_000, september.GetProperty("carried_in").GetInt64());
        Assert.Equal(0, september.GetProperty("net_payout").GetInt64());
        Assert.Equal(0, september.GetProperty("tax_withheld").GetInt64());
        Assert.Equal(-100_000, september.GetProperty("carry_out").GetInt64());
        var nothing = await m.PostAsync($"/v1/host_contracts/{contract}/statements/2026-09/pay");
        Assert.Equal("paid", nothing.Str("status")); // nothing to send: paid as it stands, no payout
        Assert.False(nothing.Json.TryGetProperty("payout", out var none) && none.ValueKind != System.Text.Json.JsonValueKind.Null);

        // October sells ¥30,000: ¥3,000 less the ¥1,000 still owed → ¥2,000, of which (2,000 − 800) × 20 % = ¥240 is withheld.
        await PaidInRoomAsync(m, 3_000_000, room, new DateTimeOffset(2026, 10, 15, 10, 0, 0, china));
        var october = (await m.PostAsync($"/v1/host_contracts/{contract}/statements", new { month = "2026-10" })).Json;
        Assert.Equal(300_000, october.GetProperty("payable").GetInt64());
        Assert.Equal(-100_000, october.GetProperty("carried_in").GetInt64()); // the rest only: August's clawback is not taken twice
        Assert.Equal(24_000, october.GetProperty("tax_withheld").GetInt64());
        Assert.Equal(176_000, october.GetProperty("net_payout").GetInt64());
        var paying = await m.PostAsync($"/v1/host_contracts/{contract}/statements/2026-10/pay");
        await StatementPaidAsync(m, contract, "2026-10");
        Assert.Equal(176_000, (await m.GetAsync($"/v1/payouts/{paying.Str("payout")}")).Json.GetProperty("amount").GetInt64());

        // The host was paid 1,760 + 1,760 for 20,000 + 5,000 + 30,000 − 15,000 = 40,000 of sales: 10 % less what was withheld.
        Assert.Equal(0, await hub.BalanceAsync($"host_payable:{host}"));
        Assert.Equal(200_000 + 200_000, await hub.BalanceAsync($"host_cost:{merchantId}"));
        Assert.Equal(2, await hub.CountAsync("SELECT COUNT(*) FROM payouts WHERE merchant_id = @merchantId AND status = 'succeeded'", new { merchantId }));
        await hub.LedgerVerifiesAsync();
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
        Assert.Equal(Money.MaxBalance - Money.MaxAmount + 1, await hub.BalanceAsync(cost));
        Assert.Equal([(cost, "CNY", Money.MaxBalance - Money.MaxAmount + 1)], await ledger.BalancesAsync(cost, default));
        var verified = await ledger.VerifyAsync(null, default);
        Assert.True(verified.Ok, string.Join('\n', verified.Problems));
    }
}

[Collection("sqlite")]
public sealed class HostSettlementTests_Sqlite(SqliteHub hub) : HostSettlementTests(hub);

[Collection("postgres")]
public sealed class HostSettlementTests_Postgres(PostgresHub hub) : HostSettlementTests(hub);
