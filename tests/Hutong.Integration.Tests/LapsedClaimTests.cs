using Dapper;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Server.Features.Payments;
using Hutong.Server.Features.Refunds;

namespace Hutong.Integration.Tests;

/// <summary>
/// A refund or split whose claim lapsed while its wallet call was in flight (the hub holding it was killed, or stalled on
/// a busy machine) is taken over by the next pass, which asks the wallet before it sends: it reaches the wallet once.
/// </summary>
public abstract class LapsedClaimTests(HubFixture hub)
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

    private int Sends(string outRefundNo) => hub.Sandbox.WeChat.MoneySends.Count(s => s == outRefundNo);

    private Task RefundSucceedsAsync(string refundId) => hub.EventuallyAsync(
        () => hub.Db.ReadAsync(c => c.QuerySingleAsync<string>("SELECT status FROM refunds WHERE id = @refundId", new { refundId }), default),
        s => s == "succeeded", TimeSpan.FromSeconds(15), $"refund {refundId} to succeed");

    [Fact]
    public async Task A_refund_whose_claim_lapsed_mid_call_is_queried_not_sent_again()
    {
        var (m, _, id) = await PaidAsync(10_000);
        // The wallet takes the refund at once and answers 700 ms later: the sending hub is inside its call meanwhile.
        hub.Sandbox.WeChat.Faults.Inject("refund", SandboxFault.Delay, match: id, delay: TimeSpan.FromMilliseconds(700));
        var created = await m.PostAsync($"/v1/payments/{id}/refunds", new { amount = 4_000 });
        Assert.Equal(System.Net.HttpStatusCode.Created, created.Status);
        var refundId = created.Str("id");
        var outRefundNo = await hub.Db.ReadAsync(c => c.QuerySingleAsync<string>("SELECT out_refund_no FROM refunds WHERE id = @refundId", new { refundId }), default);
        await hub.EventuallyAsync(() => Task.FromResult(Sends(outRefundNo)), n => n >= 1, TimeSpan.FromSeconds(10), "the refund at the wallet");

        // While its call is in flight, the claim becomes a dead hub's that lapsed: its answer is dropped (the claim is no
        // longer its own), and the next pass takes the refund over, still pending.
        var lapsed = await hub.Db.WriteAsync((c, t) => c.ExecuteAsync(
            "UPDATE refunds SET leased_by = 'dead-hub', lease_until = 1 WHERE id = @refundId AND status = 'pending' AND leased_by IS NOT NULL",
            new { refundId }, t), default);
        Assert.True(lapsed == 1, "the refund's wallet call was answered before the claim could lapse");

        await RefundSucceedsAsync(refundId);
        Assert.Equal(1, Sends(outRefundNo)); // queried, not sent again
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE type = 'refund.succeeded' AND payload LIKE @p", new { p = $"%\"{refundId}\"%" }));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'refund' AND reference = @refundId", new { refundId }));
        Assert.Equal(4_000, await hub.CountAsync("SELECT amount_refunded FROM payments WHERE id = @id", new { id }));
    }

    [Fact]
    public async Task A_refund_a_dead_hub_claimed_but_never_sent_is_sent_once_after_the_wallet_says_it_has_none()
    {
        var (_, _, id) = await PaidAsync(10_000);
        var payment = (await hub.Service<PaymentStore>().GetByIdAsync(id, default))!;
        var now = hub.Service<TimeProvider>().GetUtcNow(); // the hub's clock: the row is due by it
        var row = RefundStore.NewRow(payment, payment.CurrentAttemptId!, 3_000, "requested_by_merchant", "merchant", now);
        row.NextCheckAt = now.AddHours(1).ToUnixTimeMilliseconds(); // not due until the claim below is in place
        await hub.Db.WriteAsync((c, t) => hub.Service<RefundStore>().InsertAsync(c, t, row, now), default);

        // A hub claimed it to send, and died before its request left: the wallet has no such refund.
        await hub.ExecAsync("UPDATE refunds SET sent_at = 1, leased_by = 'dead-hub', lease_until = 1, next_check_at = 0 WHERE id = @Id", new { row.Id });

        await RefundSucceedsAsync(row.Id);
        Assert.Equal(1, Sends(row.OutRefundNo));
        Assert.Equal(3_000, await hub.CountAsync("SELECT amount_refunded FROM payments WHERE id = @id", new { id }));
    }

    [Fact]
    public async Task A_split_whose_claim_lapsed_mid_call_is_queried_not_sent_again()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var receiver = await m.PostAsync("/v1/split_receivers", new
        {
            wallet = "wechatpay", role = "platform", type = "merchant", account = "19" + Random.Shared.NextInt64(10_000_000, 99_999_999), name = "互通平台科技有限公司",
        });
        Assert.Equal(System.Net.HttpStatusCode.Created, receiver.Status);
        var payment = await m.PostAsync("/v1/payments", new
        {
            amount = 10_000, currency = "CNY", description = "直播间商品", merchant_order_id = "lapse-" + Guid.NewGuid().ToString("N")[..12],
            profit_sharing = new { splits = new[] { new { receiver = receiver.Str("id"), ratio_bps = 1_000 } } },
        });
        Assert.Equal(System.Net.HttpStatusCode.Created, payment.Status);
        var id = payment.Str("id");

        // The wallet takes the split at once and answers 700 ms later (the sandbox scopes this fault to no order: the
        // next split call anywhere takes it, and this payment's split is the only one due).
        hub.Sandbox.WeChat.Faults.Inject("profitsharing", SandboxFault.Delay, delay: TimeSpan.FromMilliseconds(700));
        await hub.BuyerPaysAsync((await m.ConfirmAsync(id)).Json.GetProperty("next_action").GetProperty("code_url").GetString()!);
        await m.WaitForStatusAsync(id, "succeeded");
        var (splitId, outOrderNo) = await hub.EventuallyAsync(
            () => hub.Db.ReadAsync(c => c.QuerySingleOrDefaultAsync<(string, string)>("SELECT id, out_order_no FROM splits WHERE payment_id = @id", new { id }), default),
            s => s.Item1 is not null, TimeSpan.FromSeconds(10), "the payment's split");
        await hub.EventuallyAsync(() => Task.FromResult(Sends(outOrderNo)), n => n >= 1, TimeSpan.FromSeconds(10), "the split at the wallet");

        var lapsed = await hub.Db.WriteAsync((c, t) => c.ExecuteAsync(
            "UPDATE splits SET leased_by = 'dead-hub', lease_until = 1 WHERE id = @splitId AND status = 'pending' AND leased_by IS NOT NULL",
            new { splitId }, t), default);
        Assert.True(lapsed == 1, "the split's wallet call was answered before the claim could lapse");

        await hub.EventuallyAsync(
            () => hub.Db.ReadAsync(c => c.QuerySingleAsync<string>("SELECT status FROM splits WHERE id = @splitId", new { splitId }), default),
            s => s == "succeeded", TimeSpan.FromSeconds(15), $"split {splitId} to succeed");
        Assert.Equal(1, Sends(outOrderNo)); // queried, not sent again
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE type LIKE 'split.%' AND merchant_id = @merchantId", new { merchantId }));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'split' AND reference LIKE @p", new { p = splitId + ":%" }));
    }
}

[Collection("sqlite")]
public sealed class LapsedClaimTests_Sqlite(SqliteHub hub) : LapsedClaimTests(hub);

[Collection("postgres")]
public sealed class LapsedClaimTests_Postgres(PostgresHub hub) : LapsedClaimTests(hub);
