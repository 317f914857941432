using System.Net;
using Dapper;
using Hutong.Integration.Tests.Contract;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;

namespace Hutong.Integration.Tests;

/// <summary>
/// A pending payment's open wallet order is queried on a schedule (Hutong:OpenOrderPollFirst / Max), so a payment whose
/// notifications were all lost is found paid before it expires — also after a cancel whose check the wallet did not
/// answer (the fault campaign's seed 343718013 left such a UnionPay payment pending for its whole 15 minutes).
/// The fixture's first poll is 15 s away; a test moves poll_at to now, as if that time had come.
/// </summary>
public abstract class OpenOrderPollTests(HubFixture hub)
{
    private IWalletDriver Driver(string wallet) => wallet switch
    {
        "wechatpay" => new WeChatPayDriver(hub),
        "alipay" => new AlipayDriver(hub),
        _ => new UnionPayDriver(hub),
    };

    [Theory]
    [InlineData("wechatpay")]
    [InlineData("alipay")]
    [InlineData("unionpay")]
    public async Task A_paid_order_whose_notifications_were_lost_is_found_by_its_poll_also_after_a_cancel_that_could_not_check(string wallet)
    {
        var driver = Driver(wallet);
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(3_100);
        var confirm = await m.ConfirmAsync(id, wallet: wallet);
        Assert.True(confirm.Status == HttpStatusCode.OK, confirm.ToString());
        var attempt = await AttemptAsync(id);

        // Opening the order scheduled its first poll at the configured first interval, well before the payment expires.
        var payment = await hub.Db.ReadAsync(c => c.QuerySingleAsync<(long CreatedAt, long ExpiresAt)>(
            "SELECT created_at AS CreatedAt, expires_at AS ExpiresAt FROM payments WHERE id = @id", new { id }), default);
        Assert.NotNull(attempt.PollAt);
        Assert.InRange(attempt.PollAt!.Value, attempt.CreatedAt + 14_000, payment.ExpiresAt - 1);

        // The buyer pays; every notification is lost; the merchant's cancel finds the order unclosable and its check unanswered.
        driver.InjectFault(WalletOperation.Notify, SandboxFault.DropNotification, id, count: 20);
        Assert.Equal(HttpStatusCode.OK, (await driver.PayAsync(confirm.Json.GetProperty("next_action"))).StatusCode);
        driver.InjectFault(WalletOperation.Query, SandboxFault.ServerError, id, count: 2); // a read is retried once
        var cancel = await m.PostAsync($"/v1/payments/{id}/cancel");
        Assert.True(cancel.Status == HttpStatusCode.ServiceUnavailable, cancel.ToString());
        Assert.Equal("pending", (await m.GetAsync($"/v1/payments/{id}")).Str("status"));

        // Its poll comes (again, should a fault be left for it): the wallet says paid, and the payment follows — once.
        await hub.EventuallyAsync(async () =>
        {
            await hub.ExecAsync("UPDATE payment_attempts SET poll_at = @now WHERE id = @Id AND status = 'open'", new { now = Now(), attempt.Id });
            return (await m.GetAsync($"/v1/payments/{id}")).Str("status");
        }, s => s == "succeeded", TimeSpan.FromSeconds(20), "the poll finds the payment");
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'payment_captured' AND reference = @id", new { id }));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE type = 'payment.succeeded' AND payload LIKE @p", new { p = $"%{id}%" }));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM wallet_notifications WHERE out_trade_no = @OutTradeNo", new { attempt.OutTradeNo }));
        var settled = await AttemptAsync(id);
        Assert.Equal("succeeded", settled.Status);
        Assert.Null(settled.PollAt); // nothing left to poll
    }

    [Fact]
    public async Task An_unpaid_order_is_polled_again_later_each_time_and_stays_pending()
    {
        var driver = Driver("wechatpay");
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(3_200);
        Assert.Equal(HttpStatusCode.OK, (await m.ConfirmAsync(id, wallet: "wechatpay")).Status);
        var attempt = await AttemptAsync(id);

        // As if the order were 40 s old and its poll due: the wallet says unpaid, so the next poll waits as long as the order is old.
        var now = Now();
        await hub.ExecAsync("UPDATE payment_attempts SET created_at = @created, poll_at = @now WHERE id = @Id", new { created = now - 40_000, now, attempt.Id });
        var polled = await hub.EventuallyAsync(() => AttemptAsync(id), a => a.PollAt > now, TimeSpan.FromSeconds(20), "the poll scheduled the next one");
        Assert.Equal("open", polled.Status);
        Assert.InRange(polled.PollAt!.Value, now + 39_000, now + 60_000);
        Assert.Equal("pending", (await m.GetAsync($"/v1/payments/{id}")).Str("status"));
        Assert.Equal(WalletOrderState.NotPaid, driver.Order(attempt.OutTradeNo)?.State); // asked, never closed
    }

    private long Now() => hub.Service<TimeProvider>().GetUtcNow().ToUnixTimeMilliseconds();

    private Task<AttemptRow> AttemptAsync(string paymentId) => hub.Db.ReadAsync(c => c.QuerySingleAsync<AttemptRow>(
        "SELECT id AS Id, out_trade_no AS OutTradeNo, status AS Status, poll_at AS PollAt, created_at AS CreatedAt FROM payment_attempts WHERE payment_id = @paymentId",
        new { paymentId }), default);

    private sealed record AttemptRow(string Id, string OutTradeNo, string Status, long? PollAt, long CreatedAt);
}

[Collection("sqlite")]
public sealed class OpenOrderPollTests_Sqlite(SqliteHub hub) : OpenOrderPollTests(hub);

[Collection("postgres")]
public sealed class OpenOrderPollTests_Postgres(PostgresHub hub) : OpenOrderPollTests(hub);
