using System.Net;
using System.Text.Json;
using Dapper;
using Hutong.Connectors.Abstractions;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Server.Features.Ledger;
using Hutong.Server.Features.Reconciliation;

namespace Hutong.Integration.Tests.Contract;

/// <summary>
/// What every wallet must do behind the same API, run against each wallet's sandbox over real HTTP on both stores:
/// create/confirm, query, timeouts (unknown, never failed, resolved by re-query), cancel/close, refunds full and partial
/// (also with a lost answer), notifications applied once (also duplicated), forged notifications refused, the day's bill.
/// The wallet-specific parts live in an <see cref="IWalletDriver"/>; where a wallet lacks a capability the driver says so
/// and the case asserts the wallet's documented alternative (no case is skipped).
/// The cases talk to the hub only through the merchant API, its tables and its services, so a fixture with several hubs
/// on one database can run them unchanged.
/// </summary>
public abstract class WalletContract(HubFixture hub, IWalletDriver wallet)
{
    private sealed record Pending(ApiClient M, string MerchantId, string Id, JsonElement NextAction, string OutTradeNo);

    private async Task<Pending> PendingAsync(long amount = 2_500)
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(amount);
        var confirm = await m.ConfirmAsync(id, wallet: wallet.Wallet);
        Assert.True(confirm.Status == HttpStatusCode.OK && confirm.Str("status") == "pending", confirm.ToString());
        return new Pending(m, merchantId, id, confirm.Json.GetProperty("next_action"), await OutTradeNoAsync(id));
    }

    private async Task<Pending> PaidAsync(long amount)
    {
        var p = await PendingAsync(amount);
        Assert.Equal(HttpStatusCode.OK, (await wallet.PayAsync(p.NextAction)).StatusCode);
        await p.M.WaitForStatusAsync(p.Id, "succeeded");
        return p;
    }

    private async Task<string> OutTradeNoAsync(string paymentId) =>
        (await hub.Db.ReadAsync(c => c.QuerySingleAsync<string>("SELECT out_trade_no FROM payment_attempts WHERE payment_id = @paymentId", new { paymentId }), default))!;

    private Task<long> EventsAsync(string type, string about) =>
        hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE type = @type AND payload LIKE @p", new { type, p = $"%{about}%" });

    private Task<long> CapturesAsync(string paymentId) =>
        hub.CountAsync("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'payment_captured' AND reference = @paymentId", new { paymentId });

    /// <summary>Wallet calls the connectors logged as unanswered ("... got no answer (...); outcome unknown"), so far.</summary>
    private int NoAnswerLogged() => hub.Logs.Lines.Count(l => l.Message.Contains("got no answer", StringComparison.Ordinal));

    /// <summary>Polls the payment until it has <paramref name="status"/>; every status seen on the way.</summary>
    private async Task<List<string>> StatusesUntilAsync(ApiClient m, string id, string status)
    {
        var seen = new List<string>();
        await hub.EventuallyAsync(async () =>
        {
            var s = (await m.GetAsync($"/v1/payments/{id}")).Str("status");
            seen.Add(s);
            return s;
        }, s => s == status, what: $"payment {id} {status}");
        return seen;
    }

    [Fact]
    public async Task Confirm_gives_a_next_action_the_buyer_pays_with_and_confirming_again_returns_it_without_a_new_order()
    {
        var p = await PendingAsync(2_599);
        var codeUrl = p.NextAction.GetProperty("code_url").GetString();
        Assert.False(string.IsNullOrEmpty(codeUrl));
        Assert.Equal(JsonValueKind.String, p.NextAction.GetProperty("qr_png_url").ValueKind);
        Assert.Equal(wallet.Wallet, (await p.M.GetAsync($"/v1/payments/{p.Id}")).Str("wallet"));
        Assert.Equal(new WalletOrderView(WalletOrderState.NotPaid, 2_599, 0, null), wallet.Order(p.OutTradeNo)); // fen on both sides

        var again = await p.M.ConfirmAsync(p.Id, wallet: wallet.Wallet);
        Assert.Equal(codeUrl, again.Json.GetProperty("next_action").GetProperty("code_url").GetString());
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM payment_attempts WHERE payment_id = @Id", new { p.Id }));

        Assert.Equal(HttpStatusCode.OK, (await wallet.PayAsync(p.NextAction)).StatusCode);
        var done = await p.M.WaitForStatusAsync(p.Id, "succeeded");
        var order = wallet.Order(p.OutTradeNo)!;
        Assert.Equal(WalletOrderState.Paid, order.State);
        await hub.AssertPayerAsync(done, wallet.Wallet, order.PayerId!);
        Assert.Equal(wallet.Wallet, done.Json.GetProperty("payer").GetProperty("wallet").GetString());
        Assert.False(string.IsNullOrEmpty(done.Str("wallet_transaction_id")));
        Assert.False(done.Json.TryGetProperty("next_action", out _));
    }

    [Fact]
    public async Task The_wallets_notification_is_acknowledged_on_the_first_delivery_and_applied_once()
    {
        var p = await PaidAsync(1_800);
        // The sandbox logs a delivery once it has read the hub's answer, which can follow the status the test saw.
        var log = await hub.EventuallyAsync(() => Task.FromResult(wallet.Deliveries(p.OutTradeNo)), l => l.Count > 0, what: "the delivery logged");
        await Task.Delay(300); // a retry, had the answer not been an acknowledgement, would come within this (time-scaled)
        log = wallet.Deliveries(p.OutTradeNo);
        var only = Assert.Single(log);
        Assert.InRange(only.HttpStatus ?? 0, 200, 299);
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM wallet_notifications WHERE out_trade_no = @OutTradeNo AND processed_at IS NOT NULL", new { p.OutTradeNo }));
        Assert.Equal(1, await CapturesAsync(p.Id));
        Assert.Equal(1, await EventsAsync("payment.succeeded", p.Id));
    }

    [Fact]
    public async Task A_duplicated_or_replayed_notification_is_applied_once()
    {
        var p = await PendingAsync(1_900);
        wallet.InjectFault(WalletOperation.Notify, SandboxFault.DuplicateNotification, p.Id);
        Assert.Equal(HttpStatusCode.OK, (await wallet.PayAsync(p.NextAction)).StatusCode);
        await p.M.WaitForStatusAsync(p.Id, "succeeded");
        await hub.EventuallyAsync(() => Task.FromResult(wallet.Deliveries(p.OutTradeNo)), l => l.Count(d => d.HttpStatus is >= 200 and < 300) == 2,
            what: "both copies acknowledged");

        // The same success again, sent by hand as a new notification: acknowledged (else the wallet retries), applied never.
        var replay = await wallet.NotifyAsync(p.OutTradeNo, Forgery.None);
        Assert.True(replay.IsSuccessStatusCode, replay.StatusCode.ToString());

        Assert.Equal(1, await CapturesAsync(p.Id));
        Assert.Equal(1, await EventsAsync("payment.succeeded", p.Id));
        Assert.Equal("succeeded", (await p.M.GetAsync($"/v1/payments/{p.Id}")).Str("status"));
    }

    [Fact]
    public async Task A_forged_or_tampered_notification_is_refused_and_changes_nothing()
    {
        var p = await PendingAsync(2_100);
        wallet.InjectFault(WalletOperation.Notify, SandboxFault.DropNotification, p.Id); // paid at the wallet; the hub not told
        Assert.Equal(HttpStatusCode.OK, (await wallet.PayAsync(p.NextAction)).StatusCode);
        var eventsBefore = await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE payload LIKE @p", new { p = $"%{p.Id}%" });
        var rejectedBefore = hub.Logs.Lines.Count(l => l.Message.StartsWith($"Rejected {wallet.Wallet} notification", StringComparison.Ordinal));

        foreach (var forgery in new[] { Forgery.WrongKey, Forgery.TamperedAmount })
        {
            var refused = await wallet.NotifyAsync(p.OutTradeNo, forgery);
            Assert.True(refused.StatusCode == wallet.RefusedNotificationStatus, $"{forgery}: {refused.StatusCode} {await refused.Content.ReadAsStringAsync()}");
        }

        Assert.Equal("pending", (await p.M.GetAsync($"/v1/payments/{p.Id}")).Str("status"));
        Assert.Equal(eventsBefore, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE payload LIKE @p", new { p = $"%{p.Id}%" }));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM wallet_notifications WHERE out_trade_no = @OutTradeNo", new { p.OutTradeNo }));
        Assert.Equal(0, await CapturesAsync(p.Id));
        Assert.Equal(rejectedBefore + 2, hub.Logs.Lines.Count(l => l.Message.StartsWith($"Rejected {wallet.Wallet} notification", StringComparison.Ordinal)));

        // The genuine one still settles it.
        Assert.True((await wallet.NotifyAsync(p.OutTradeNo, Forgery.None)).IsSuccessStatusCode);
        Assert.Equal("succeeded", (await p.M.GetAsync($"/v1/payments/{p.Id}")).Str("status"));
        Assert.Equal(1, await EventsAsync("payment.succeeded", p.Id));
    }

    [Fact]
    public async Task The_payment_follows_the_wallet_when_a_query_finds_it_paid()
    {
        var p = await PendingAsync(2_200);
        wallet.InjectFault(WalletOperation.Notify, SandboxFault.DropNotification, p.Id);
        Assert.Equal(HttpStatusCode.OK, (await wallet.PayAsync(p.NextAction)).StatusCode);
        Assert.Equal("pending", (await p.M.GetAsync($"/v1/payments/{p.Id}")).Str("status")); // not told yet

        // Canceling asks the wallet first: the buyer has paid, so the payment succeeds instead.
        var cancel = await p.M.PostAsync($"/v1/payments/{p.Id}/cancel");
        Assert.Equal(HttpStatusCode.Conflict, cancel.Status);
        Assert.Equal("payment_already_paid", cancel.Str("code"));
        var done = await p.M.GetAsync($"/v1/payments/{p.Id}");
        Assert.Equal("succeeded", done.Str("status"));
        await hub.AssertPayerAsync(done, wallet.Wallet, wallet.Order(p.OutTradeNo)!.PayerId!);
        Assert.Equal(1, await CapturesAsync(p.Id));
        Assert.Equal(1, await EventsAsync("payment.succeeded", p.Id));
    }

    [Fact]
    public async Task A_timeout_after_the_wallet_acted_is_unknown_never_failed_and_a_re_query_finds_the_one_order()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(2_300);
        wallet.InjectFault(WalletOperation.Create, SandboxFault.TimeoutAfter, id, count: 2); // the order is made, every answer lost
        wallet.InjectFault(WalletOperation.Query, SandboxFault.ServerError, id);             // and the first re-query fails too

        var confirm = await m.ConfirmAsync(id, wallet: wallet.Wallet);
        Assert.Equal("unknown", confirm.Str("status"));
        Assert.False(confirm.Json.TryGetProperty("failure", out _)); // a timeout is not a failure

        Assert.DoesNotContain("failed", await StatusesUntilAsync(m, id, "pending"));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM payment_attempts WHERE payment_id = @id", new { id }));
        var outTradeNo = await OutTradeNoAsync(id);
        Assert.Equal(WalletOrderState.NotPaid, wallet.Order(outTradeNo)?.State); // one wallet order, found, not made again

        var pending = await m.GetAsync($"/v1/payments/{id}");
        Assert.Equal(HttpStatusCode.OK, (await wallet.PayAsync(pending.Json.GetProperty("next_action"))).StatusCode);
        await m.WaitForStatusAsync(id, "succeeded");
    }

    [Theory]
    [InlineData(SandboxFault.TimeoutBefore)]
    [InlineData(SandboxFault.ServerError)]
    public async Task A_create_the_wallet_never_acted_on_is_unknown_and_resolved_by_sending_the_same_order_again(SandboxFault fault)
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(2_400);
        wallet.InjectFault(WalletOperation.Create, fault, id, count: 2);

        var confirm = await m.ConfirmAsync(id, wallet: wallet.Wallet);
        Assert.Equal("unknown", confirm.Str("status"));
        var outTradeNo = await OutTradeNoAsync(id);
        Assert.Null(wallet.Order(outTradeNo));

        Assert.DoesNotContain("failed", await StatusesUntilAsync(m, id, "pending"));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM payment_attempts WHERE payment_id = @id", new { id }));
        Assert.Equal(WalletOrderState.NotPaid, wallet.Order(outTradeNo)?.State);
    }

    [Fact]
    public async Task Cancel_closes_the_wallet_order_or_where_the_wallet_cannot_a_late_payment_is_refunded_by_the_hub()
    {
        var p = await PendingAsync(2_600);
        var canceled = await p.M.PostAsync($"/v1/payments/{p.Id}/cancel");
        Assert.Equal(HttpStatusCode.OK, canceled.Status);
        Assert.Equal("canceled", canceled.Str("status"));
        Assert.Equal(HttpStatusCode.Conflict, (await p.M.PostAsync($"/v1/payments/{p.Id}/cancel")).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await p.M.ConfirmAsync(p.Id, wallet: wallet.Wallet)).Status);

        if (wallet.CanClose)
        {
            Assert.Equal(WalletOrderState.Closed, wallet.Order(p.OutTradeNo)!.State);
            Assert.False((await wallet.PayAsync(p.NextAction)).IsSuccessStatusCode); // the code can no longer be paid
            Assert.Equal(WalletOrderState.Closed, wallet.Order(p.OutTradeNo)!.State);
            return;
        }

        // The wallet cannot close the order: the hub keeps watching it until it lapses. A buyer who pays anyway is
        // noticed (an alert), the payment stays canceled, and the hub returns the money through the wallet's refund by itself.
        Assert.Equal(WalletOrderState.NotPaid, wallet.Order(p.OutTradeNo)!.State);
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM payment_attempts WHERE payment_id = @Id AND status = 'open'", new { p.Id }));
        var before = hub.Metrics.Total("hutong.payments.late_success");
        Assert.Equal(HttpStatusCode.OK, (await wallet.PayAsync(p.NextAction)).StatusCode);
        await hub.EventuallyAsync(() => Task.FromResult(hub.Metrics.Total("hutong.payments.late_success")), n => n > before, what: "the late success alert");
        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE payment_id = @Id AND status = 'succeeded' AND initiated_by = 'system'", new { p.Id }),
            n => n == 1, what: "the automatic refund");
        Assert.Equal("canceled", (await p.M.GetAsync($"/v1/payments/{p.Id}")).Str("status"));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE payment_id = @Id", new { p.Id }));
        Assert.Equal(1, await EventsAsync("refund.succeeded", p.Id));
        Assert.Equal(2_600, wallet.Order(p.OutTradeNo)!.Refunded);
        if (wallet.RefundNotificationEvent is { } type)
        {
            await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM wallet_notifications WHERE event_type = @type AND processed_at IS NOT NULL", new { type }),
                n => n >= 1, what: $"the refund's {type} notification processed");
        }
    }

    [Fact]
    public async Task A_full_refund_returns_everything_once()
    {
        var p = await PaidAsync(5_000);
        var r = await p.M.PostAsync($"/v1/payments/{p.Id}/refunds", new { reason = "全额退款" }); // no amount: all of it
        Assert.Equal(HttpStatusCode.Created, r.Status);
        Assert.Equal(5_000, r.Json.GetProperty("amount").GetInt64());
        await RefundedAsync(p, r.Str("id"), 5_000);

        Assert.Equal("refund_exceeds_refundable", (await p.M.PostAsync($"/v1/payments/{p.Id}/refunds", new { amount = 1 })).Str("code"));
        await BalancesSettleAsync(p, refunds: 1);
    }

    [Fact]
    public async Task Partial_refunds_add_up_to_the_capture_each_applied_once()
    {
        var p = await PaidAsync(10_000);
        var first = await p.M.PostAsync($"/v1/payments/{p.Id}/refunds", new { amount = 3_000 });
        Assert.Equal(HttpStatusCode.Created, first.Status);
        await RefundedAsync(p, first.Str("id"), 3_000);

        var rest = await p.M.PostAsync($"/v1/payments/{p.Id}/refunds", new { reason = "the rest" });
        Assert.Equal(7_000, rest.Json.GetProperty("amount").GetInt64());
        await RefundedAsync(p, rest.Str("id"), 10_000);
        await BalancesSettleAsync(p, refunds: 2);
    }

    [Fact]
    public async Task A_refund_whose_answer_is_lost_is_unknown_never_failed_and_resolved_by_re_query_once()
    {
        var p = await PaidAsync(4_000);
        var unanswered = NoAnswerLogged();
        wallet.InjectFault(WalletOperation.Refund, SandboxFault.TimeoutAfter, p.Id, count: 2); // the wallet refunds; the hub never hears
        var r = await p.M.PostAsync($"/v1/payments/{p.Id}/refunds", new { amount = 1_500 });
        Assert.Equal(HttpStatusCode.Created, r.Status);
        var seen = new List<string>();
        await hub.EventuallyAsync(async () =>
        {
            var s = (await p.M.GetAsync($"/v1/refunds/{r.Str("id")}")).Str("status");
            seen.Add(s);
            return s;
        }, s => s == "succeeded", what: "the refund resolved");
        Assert.DoesNotContain("failed", seen);
        Assert.True(NoAnswerLogged() > unanswered, "the refund call was never left unanswered: the fault did not reach it");
        await RefundedAsync(p, r.Str("id"), 1_500);
        Assert.Equal(1_500, wallet.Order(p.OutTradeNo)!.Refunded); // sent again with the same refund number, never twice
    }

    /// <summary>The refund succeeded and was applied once: amount_refunded, the ledger, one refund.succeeded, the wallet's side.</summary>
    private async Task RefundedAsync(Pending p, string refundId, long refundedTotal)
    {
        await hub.EventuallyAsync(() => p.M.GetAsync($"/v1/refunds/{refundId}"), x => x.Str("status") == "succeeded", what: $"refund {refundId} succeeded");
        var payment = await hub.EventuallyAsync(() => p.M.GetAsync($"/v1/payments/{p.Id}"),
            x => x.Json.GetProperty("amount_refunded").GetInt64() == refundedTotal, what: $"amount_refunded {refundedTotal}");
        Assert.Equal("succeeded", payment.Str("status"));
        Assert.Equal(1, await EventsAsync("refund.succeeded", refundId));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'refund' AND reference = @refundId", new { refundId }));
        Assert.Equal(refundedTotal, wallet.Order(p.OutTradeNo)!.Refunded);
    }

    /// <summary>All refunded: the merchant's balance and the wallet's clearing account are back to zero, fees pro rata; the chain verifies.</summary>
    private async Task BalancesSettleAsync(Pending p, int refunds)
    {
        Task<long> BalanceAsync(string account) => hub.CountAsync(
            "SELECT COALESCE(SUM(l.amount), 0) FROM ledger_lines l JOIN ledger_entries e ON e.id = l.entry_id WHERE l.account = @account AND e.merchant_id = @MerchantId",
            new { account, p.MerchantId });
        Assert.Equal(0, await BalanceAsync($"merchant_payable:{p.MerchantId}"));
        Assert.Equal(0, await BalanceAsync($"wallet_clearing:{wallet.Wallet}"));
        Assert.Equal(refunds, await hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE payment_id = @Id AND status = 'succeeded'", new { p.Id }));
        var verified = await hub.Service<LedgerStore>().VerifyAsync(null, default);
        Assert.True(verified.Ok, string.Join('\n', verified.Problems));
        if (wallet.RefundNotificationEvent is { } type)
        {
            // The wallet also announced each refund's result; the hub verified and processed what it sent.
            await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM wallet_notifications WHERE event_type = @type AND processed_at IS NOT NULL", new { type }),
                n => n >= refunds, what: $"{type} notifications processed");
        }
    }

    [Fact]
    public async Task The_days_bill_lists_the_payment_and_refund_and_reconciles()
    {
        var p = await PaidAsync(6_600);
        var refund = await p.M.PostAsync($"/v1/payments/{p.Id}/refunds", new { amount = 600 });
        await RefundedAsync(p, refund.Str("id"), 600);
        var outRefundNo = await hub.Db.ReadAsync(c => c.QuerySingleAsync<string>("SELECT out_refund_no FROM refunds WHERE id = @id", new { id = refund.Str("id") }), default);
        // The China day the wallet settled it on, from the payment itself (not the test's clock).
        var succeededAt = (await p.M.GetAsync($"/v1/payments/{p.Id}")).Json.GetProperty("succeeded_at").GetDateTimeOffset();
        var day = DateOnly.FromDateTime(succeededAt.ToOffset(TimeSpan.FromHours(8)).DateTime);

        var bill = await wallet.BillAsync(day);
        var paid = Assert.Single(bill, l => l.Kind == BillLineKind.Payment && l.OutTradeNo == p.OutTradeNo);
        Assert.Equal(6_600, paid.AmountMinor);
        var back = Assert.Single(bill, l => l.Kind == BillLineKind.Refund && l.OutRefundNo == outRefundNo);
        Assert.Equal(600, back.AmountMinor);

        var report = await hub.Service<ReconciliationService>().RunAsync(day, null, default);
        var channel = Assert.Single(report.Channels, c => c.Channel == wallet.Wallet);
        Assert.Equal("completed", channel.Status);
        // The channel is shared with other tests' orders; of this test's, nothing differs (amounts and fees matched).
        Assert.DoesNotContain(report.Discrepancies, d => d.OutTradeNo == p.OutTradeNo || d.OutRefundNo == outRefundNo);
    }
}
