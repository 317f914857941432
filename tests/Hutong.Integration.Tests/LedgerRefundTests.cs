using System.Net;
using Dapper;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server.Features.Ledger;

namespace Hutong.Integration.Tests;

/// <summary>The ledger posts with each state change and the database holds it to double entry; merchant refunds.</summary>
public abstract class LedgerRefundTests(HubFixture hub)
{
    private async Task<(ApiClient M, string MerchantId, string Id)> PaidAsync(long amount)
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(amount);
        var code = (await m.ConfirmAsync(id)).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        await hub.BuyerPaysAsync(code);
        await m.WaitForStatusAsync(id, "succeeded");
        return (m, merchantId, id);
    }

    private Task<long> BalanceAsync(string account) =>
        hub.Db.ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT COALESCE(SUM(amount), 0) FROM ledger_lines WHERE account = @account", new { account }), default);

    [Fact]
    public async Task A_payment_posts_its_capture_and_fee_once_and_every_entry_balances()
    {
        var (_, merchantId, id) = await PaidAsync(10_050);
        // 0.6 % of 100.50 is 0.603 → 0.60 (half up at the fen).
        Assert.Equal(-(10_050 - 60), await BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM ledger_entries WHERE reference = @id AND kind = 'payment_captured'", new { id }));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM ledger_entries WHERE reference = @id AND kind = 'wallet_fee'", new { id }));

        // The same success again (a re-delivered notification, a re-query) posts nothing more.
        await hub.ExecAsync("UPDATE payment_attempts SET status = 'open' WHERE payment_id = @id", new { id });
        var attempt = await hub.Db.ReadAsync(c => c.QuerySingleAsync<string>("SELECT out_trade_no FROM payment_attempts WHERE payment_id = @id", new { id }), default);
        await hub.Service<Hutong.Server.Features.Payments.PaymentService>().ApplyWalletTransactionAsync(
            new Hutong.Connectors.Abstractions.WalletTransaction(attempt, Hutong.Connectors.Abstractions.WalletStatus.Succeeded, "SUCCESS", "4200x", 10_050, "CNY", "o", null, null), "test", default);
        Assert.Equal(-(10_050 - 60), await BalanceAsync($"merchant_payable:{merchantId}"));

        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM (SELECT currency FROM ledger_lines GROUP BY currency HAVING SUM(amount) <> 0) x"));
        var verified = await hub.Service<LedgerStore>().VerifyAsync(null, default);
        Assert.True(verified.Ok, string.Join('\n', verified.Problems));
    }

    [Fact]
    public async Task The_database_refuses_unbalanced_entries_edits_and_deletes()
    {
        await PaidAsync(500);
        var entry = await hub.Db.ReadAsync(c => c.QueryFirstAsync<string>("SELECT id FROM ledger_entries"), default);
        await Assert.ThrowsAnyAsync<Exception>(() => hub.ExecAsync("UPDATE ledger_lines SET amount = amount + 1 WHERE entry_id = @entry", new { entry }));
        await Assert.ThrowsAnyAsync<Exception>(() => hub.ExecAsync("DELETE FROM ledger_lines WHERE entry_id = @entry", new { entry }));
        await Assert.ThrowsAnyAsync<Exception>(() => hub.ExecAsync("UPDATE ledger_entries SET reference = 'x' WHERE id = @entry", new { entry }));
        await Assert.ThrowsAnyAsync<Exception>(() => hub.ExecAsync("INSERT INTO ledger_lines (entry_id, account, currency, amount) VALUES (@entry, 'x', 'CNY', 1)", new { entry }));
        await Assert.ThrowsAnyAsync<Exception>(() => hub.Db.WriteAsync(async (c, t) =>
        {
            await c.ExecuteAsync("INSERT INTO ledger_lines (entry_id, account, currency, amount) VALUES ('le_bad', 'a', 'CNY', 100), ('le_bad', 'b', 'CNY', -99)", transaction: t);
            await c.ExecuteAsync("INSERT INTO ledger_entries (id, kind, reference, created_at, prev_hash, hash) VALUES ('le_bad', 'manual', 'x', 0, 'p', 'h')", transaction: t);
        }, default));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM ledger_lines WHERE entry_id = 'le_bad'"));
    }

    [Fact]
    public async Task Partial_refunds_never_exceed_the_capture_even_when_sent_at_once()
    {
        var (m, merchantId, id) = await PaidAsync(10_000);
        var attempts = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => m.PostAsync($"/v1/payments/{id}/refunds", new { amount = 3_000 })));
        Assert.Equal(3, attempts.Count(r => r.Status == HttpStatusCode.Created));
        Assert.All(attempts.Where(r => r.Status != HttpStatusCode.Created), r => Assert.Equal("refund_exceeds_refundable", r.Str("code")));

        var rest = await m.PostAsync($"/v1/payments/{id}/refunds", new { reason = "the rest" }); // no amount: what is left
        Assert.Equal(HttpStatusCode.Created, rest.Status);
        Assert.Equal(1_000, rest.Json.GetProperty("amount").GetInt64());
        Assert.Equal(HttpStatusCode.Conflict, (await m.PostAsync($"/v1/payments/{id}/refunds", new { amount = 1 })).Status);

        var done = await hub.EventuallyAsync(() => m.GetAsync($"/v1/payments/{id}"), p => p.Json.GetProperty("amount_refunded").GetInt64() == 10_000, what: "all refunds succeed");
        Assert.Equal("succeeded", done.Str("status"));
        var list = (await m.GetAsync($"/v1/payments/{id}/refunds")).Json.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(4, list.Count);
        Assert.All(list, r => Assert.Equal("succeeded", r.GetProperty("status").GetString()));
        Assert.Equal(10_000, hub.Sandbox.WeChat.Orders.Values.Single(o => o.Attach == id).Refunds.Values.Sum(r => r.Amount));
        // Captured 100.00, fee 0.60, all refunded: the wallets return fees pro rata, so nothing is left either way.
        Assert.Equal(0, await BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(0, await hub.CountAsync(
            "SELECT COALESCE(SUM(l.amount), 0) FROM ledger_lines l JOIN ledger_entries e ON e.id = l.entry_id WHERE l.account = 'wallet_clearing:wechatpay' AND e.merchant_id = @merchantId",
            new { merchantId }));
        Assert.Equal(4, await hub.CountAsync("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'refund' AND merchant_id = @merchantId", new { merchantId }));
        Assert.Equal(4, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE type = 'refund.succeeded' AND merchant_id = @merchantId", new { merchantId }));
        // WeChat Pay also announced each refund with an encrypted, signed REFUND.SUCCESS notification, verified and processed.
        var outTradeNo = await hub.Db.ReadAsync(c => c.ExecuteScalarAsync<string>("SELECT out_trade_no FROM payment_attempts WHERE payment_id = @id", new { id }), default);
        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM wallet_notifications WHERE event_type = 'REFUND.SUCCESS' AND out_trade_no IS NULL AND processed_at IS NOT NULL AND body LIKE '%REFUND.SUCCESS%'"),
            n => n >= 4, what: "refund notifications processed");
        await hub.EventuallyAsync(() => Task.FromResult(hub.Sandbox.WeChat.NotificationLog.Any(a => a.OutTradeNo == outTradeNo && a.HttpStatus is 200 or 204)),
            acked => acked, what: "the payment notification acknowledged");
    }

    [Fact]
    public async Task WeChat_Pay_takes_fifty_refunds_of_a_payment_and_the_hub_refuses_the_fifty_first_itself()
    {
        // WeChat Pay refuses a 51st refund of one order (Submit Refund API; WeChatPayConnector.Capabilities).
        var (m, _, id) = await PaidAsync(1_000);
        var made = await Task.WhenAll(Enumerable.Range(0, 52).Select(_ => m.PostAsync($"/v1/payments/{id}/refunds", new { amount = 1 })));
        Assert.Equal(50, made.Count(r => r.Status == HttpStatusCode.Created));
        var refused = made.Where(r => r.Status != HttpStatusCode.Created).ToList();
        Assert.Equal(2, refused.Count);
        Assert.All(refused, r =>
        {
            Assert.Equal(HttpStatusCode.Conflict, r.Status);
            Assert.Equal("application/problem+json", r.ContentHeaders?.ContentType?.MediaType);
            Assert.Equal("refund_limit_reached", r.Str("code"));
        });

        await hub.EventuallyAsync(() => m.GetAsync($"/v1/payments/{id}"), p => p.Json.GetProperty("amount_refunded").GetInt64() == 50, what: "the fifty refunds succeed");
        Assert.Equal(50, hub.Sandbox.WeChat.Orders.Values.Single(o => o.Attach == id).Refunds.Count);
        Assert.Equal("refund_limit_reached", (await m.PostAsync($"/v1/payments/{id}/refunds", new { amount = 1 })).Str("code"));
        Assert.Equal(50, await hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE payment_id = @id", new { id }));
    }

    [Fact]
    public async Task A_one_fen_refund_that_returns_a_one_fen_share_of_the_fee_succeeds_and_the_ledger_balances()
    {
        // 100 fen paid, fee 1 fen. After 49 back, the next fen takes the fee returned to 1 fen: the refund's net lines are
        // zero. Found by an outside probe: the ledger refused the entry, and the refund stayed processing for good.
        var (m, merchantId, id) = await PaidAsync(100);
        foreach (var amount in new[] { 49, 1 })
        {
            var refund = await m.PostAsync($"/v1/payments/{id}/refunds", new { amount });
            Assert.Equal(HttpStatusCode.Created, refund.Status);
            await hub.EventuallyAsync(() => m.GetAsync($"/v1/refunds/{refund.Str("id")}"), r => r.Str("status") == "succeeded", what: $"the refund of {amount} succeeds");
        }

        Assert.Equal(50, (await m.GetAsync($"/v1/payments/{id}")).Json.GetProperty("amount_refunded").GetInt64());
        Assert.Equal(2, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE type = 'refund.succeeded' AND merchant_id = @merchantId", new { merchantId }));
        // Captured 100 less the 1-fen fee, 50 refunded with the whole fee returned: 50 left.
        Assert.Equal(-50, await BalanceAsync($"merchant_payable:{merchantId}"));
        var verified = await hub.Service<LedgerStore>().VerifyAsync(null, default);
        Assert.True(verified.Ok, string.Join('\n', verified.Problems));
    }

    [Fact]
    public async Task WeChat_Pay_refunds_a_payment_for_365_days_after_its_success_and_the_hub_refuses_a_later_refund_itself()
    {
        // "Only the transaction orders completed in the last 365 days are refundable" (WeChatPayConnector.Capabilities).
        // The hub's clock is real here, so the payment's success is moved back instead of the clock forward.
        var (m, _, id) = await PaidAsync(1_000);
        var day = (long)TimeSpan.FromDays(1).TotalMilliseconds;
        await hub.ExecAsync("UPDATE payments SET succeeded_at = succeeded_at - @back WHERE id = @id", new { id, back = 365 * day + 60_000 });

        var late = await m.PostAsync($"/v1/payments/{id}/refunds", new { amount = 100 });
        Assert.Equal(HttpStatusCode.Conflict, late.Status);
        Assert.Equal("application/problem+json", late.ContentHeaders?.ContentType?.MediaType);
        Assert.Equal("refund_window_closed", late.Str("code"));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE payment_id = @id", new { id }));

        await hub.ExecAsync("UPDATE payments SET succeeded_at = succeeded_at + @forward WHERE id = @id", new { id, forward = 2 * day });
        var inTime = await m.PostAsync($"/v1/payments/{id}/refunds", new { amount = 100 });
        Assert.Equal(HttpStatusCode.Created, inTime.Status);
        await hub.EventuallyAsync(() => m.GetAsync($"/v1/payments/{id}"), p => p.Json.GetProperty("amount_refunded").GetInt64() == 100, what: "the refund in time succeeds");
        Assert.Equal(100, hub.Sandbox.WeChat.Orders.Values.Single(o => o.Attach == id).Refunds.Values.Single().Amount);
    }

    [Fact]
    public async Task Refunds_are_idempotent_scoped_to_the_merchant_and_validated()
    {
        var (m, _, id) = await PaidAsync(2_000);
        var first = await m.PostAsync($"/v1/payments/{id}/refunds", new { amount = 500 }, idempotencyKey: "refund-once");
        var again = await m.PostAsync($"/v1/payments/{id}/refunds", new { amount = 500 }, idempotencyKey: "refund-once");
        Assert.Equal(first.Str("id"), again.Str("id"));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE payment_id = @id", new { id }));

        var (other, _, _) = await hub.NewMerchantAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await other.PostAsync($"/v1/payments/{id}/refunds", new { amount = 1 })).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/v1/refunds/{first.Str("id")}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/v1/payments/{id}/refunds")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await m.PostAsync($"/v1/payments/{id}/refunds", new { amount = -5 })).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await m.PostAsync($"/v1/payments/{id}/refunds", null, rawBody: "{\"amount\":1.5}")).Status);

        var unpaid = await m.CreatePaymentAsync(700);
        Assert.Equal("payment_not_refundable", (await m.PostAsync($"/v1/payments/{unpaid}/refunds", new { amount = 100 })).Str("code"));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE payment_id = @id", new { id }));
    }
}

[Collection("sqlite")]
public sealed class LedgerRefundTests_Sqlite(SqliteHub hub) : LedgerRefundTests(hub);

[Collection("postgres")]
public sealed class LedgerRefundTests_Postgres(PostgresHub hub) : LedgerRefundTests(hub);
