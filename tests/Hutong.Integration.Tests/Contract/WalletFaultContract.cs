using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Sandbox.WeChatPay;
using Hutong.Server;

namespace Hutong.Integration.Tests.Contract;

/// <summary>
/// The faults the sandbox injects through its control API, the same for every wallet (over real HTTP, both stores): slow
/// answers within and beyond the connector's timeout, notifications held and released late or out of order, replayed
/// notifications, the time scale, and a notification that falls due while the hub is down. Each shows the hub behaves:
/// a late answer is used or left unknown and resolved, every notification is applied once, final states are right.
/// </summary>
public abstract class WalletFaultContract(HubFixture hub, IWalletDriver wallet)
{
    private sealed record Pending(ApiClient M, string Id, JsonElement NextAction, string OutTradeNo);

    private string Control => $"/sandbox/{wallet.Wallet}";

    private HttpClient Sandbox() => new() { BaseAddress = new Uri(hub.Sandbox.BaseUrl), Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>The operation names each wallet's sandbox uses for its faults.</summary>
    private string Operation(WalletOperation op) => (wallet.Wallet, op) switch
    {
        ("wechatpay", WalletOperation.Create) => "native",
        ("alipay", WalletOperation.Create) => "precreate",
        ("unionpay", WalletOperation.Create) => "apply",
        (_, WalletOperation.Query) => "query",
        (_, WalletOperation.Notify) => "notify",
        _ => throw new NotSupportedException($"{wallet.Wallet} {op}"),
    };

    private async Task<HttpResponseMessage> ControlAsync(string path, object body)
    {
        using var http = Sandbox();
        return await http.PostAsJsonAsync(Control + path, body, SandboxJson.Options);
    }

    private async Task DelayAsync(WalletOperation op, string paymentId, int delayMs, int count = 1)
    {
        var r = await ControlAsync("/faults", new { operation = Operation(op), fault = "delay", count, match = paymentId, delay_ms = delayMs });
        Assert.True(r.StatusCode == HttpStatusCode.NoContent, await r.Content.ReadAsStringAsync());
    }

    private async Task<Pending> PendingAsync(long amount)
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        return await PendingAsync(m, amount);
    }

    private async Task<Pending> PendingAsync(ApiClient m, long amount)
    {
        var id = await m.CreatePaymentAsync(amount);
        var confirm = await m.ConfirmAsync(id, wallet: wallet.Wallet);
        Assert.True(confirm.Status == HttpStatusCode.OK && confirm.Str("status") == "pending", confirm.ToString());
        return new Pending(m, id, confirm.Json.GetProperty("next_action"), await OutTradeNoAsync(id));
    }

    private Task<string> OutTradeNoAsync(string paymentId) =>
        hub.Db.ReadAsync(c => Dapper.SqlMapper.QuerySingleAsync<string>(c, "SELECT out_trade_no FROM payment_attempts WHERE payment_id = @paymentId", new { paymentId }), default);

    private Task<long> EventsAsync(string type, string about) =>
        hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE type = @type AND payload LIKE @p", new { type, p = $"%{about}%" });

    private Task<long> CapturesAsync(string paymentId) =>
        hub.CountAsync("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'payment_captured' AND reference = @paymentId", new { paymentId });

    private int NoAnswerLogged() => hub.Logs.Lines.Count(l => l.Message.Contains("got no answer", StringComparison.Ordinal));

    private async Task HoldAsync(string paymentId) =>
        Assert.Equal(HttpStatusCode.NoContent, (await ControlAsync("/notifications/hold", new { match = paymentId })).StatusCode);

    private async Task<List<HeldNotification>> HeldAsync(string paymentId)
    {
        using var http = Sandbox();
        var all = await http.GetFromJsonAsync<List<HeldNotification>>(Control + "/notifications/held", SandboxJson.Options);
        return [.. all!.Where(h => h.Match == paymentId)];
    }

    private async Task<JsonElement> ReleaseAsync(object body)
    {
        var r = await ControlAsync("/notifications/release", body);
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement.GetProperty("released");
    }

    /// <summary>The payment succeeded once: one capture, one payment.succeeded, and every delivery the hub answered was acknowledged.</summary>
    private async Task SucceededOnceAsync(Pending p)
    {
        await p.M.WaitForStatusAsync(p.Id, "succeeded");
        Assert.Equal(1, await CapturesAsync(p.Id));
        Assert.Equal(1, await EventsAsync("payment.succeeded", p.Id));
        Assert.All(wallet.Deliveries(p.OutTradeNo), d => Assert.InRange(d.HttpStatus ?? 0, 200, 299));
    }

    [Fact]
    public async Task A_slow_answer_within_the_connectors_timeout_is_used()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(2_700);
        var unanswered = NoAnswerLogged();
        await DelayAsync(WalletOperation.Create, id, delayMs: 400); // the attempt timeout is 2 s (HubFixture.AttemptTimeout)

        var clock = Stopwatch.StartNew();
        var confirm = await m.ConfirmAsync(id, wallet: wallet.Wallet);
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(400), $"answered in {clock.Elapsed}: the delay did not reach the call");
        Assert.Equal("pending", confirm.Str("status"));
        Assert.Equal(unanswered, NoAnswerLogged());
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM payment_attempts WHERE payment_id = @id", new { id }));

        Assert.Equal(HttpStatusCode.OK, (await wallet.PayAsync(confirm.Json.GetProperty("next_action"))).StatusCode);
        await m.WaitForStatusAsync(id, "succeeded");
    }

    [Fact]
    public async Task A_slow_answer_beyond_the_connectors_timeout_is_unknown_never_failed_and_resolved_by_re_query()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(2_800);
        var unanswered = NoAnswerLogged();
        await DelayAsync(WalletOperation.Create, id, delayMs: 3_000, count: 2); // the order is made at once; both answers come too late (attempt 2 s)

        var confirm = await m.ConfirmAsync(id, wallet: wallet.Wallet);
        Assert.Equal("unknown", confirm.Str("status"));
        Assert.False(confirm.Json.TryGetProperty("failure", out _));
        Assert.True(NoAnswerLogged() > unanswered);

        var seen = new List<string>();
        var pending = await hub.EventuallyAsync(async () =>
        {
            var r = await m.GetAsync($"/v1/payments/{id}");
            seen.Add(r.Str("status"));
            return r;
        }, r => r.Str("status") == "pending", what: "the re-query found the order");
        Assert.DoesNotContain("failed", seen);
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM payment_attempts WHERE payment_id = @id", new { id }));
        Assert.Equal(WalletOrderState.NotPaid, wallet.Order(await OutTradeNoAsync(id))?.State);

        Assert.Equal(HttpStatusCode.OK, (await wallet.PayAsync(pending.Json.GetProperty("next_action"))).StatusCode);
        await m.WaitForStatusAsync(id, "succeeded");
        Assert.Equal(1, await CapturesAsync(id));
    }

    [Fact]
    public async Task A_held_notification_arrives_late_when_released_and_is_applied_once()
    {
        var p = await PendingAsync(2_900);
        await HoldAsync(p.Id);
        Assert.Equal(HttpStatusCode.OK, (await wallet.PayAsync(p.NextAction)).StatusCode);

        var held = Assert.Single(await HeldAsync(p.Id));
        Assert.Equal(p.OutTradeNo, held.OutTradeNo);
        await Task.Delay(300); // time-scaled: a notification sent at once would have been applied by now
        Assert.Equal("pending", (await p.M.GetAsync($"/v1/payments/{p.Id}")).Str("status"));
        Assert.Empty(wallet.Deliveries(p.OutTradeNo));

        var released = await ReleaseAsync(new { matches = new[] { p.Id } });
        Assert.Equal(held.NotificationId, Assert.Single(released.EnumerateArray()).GetProperty("notification_id").GetString());
        Assert.Empty(await HeldAsync(p.Id));
        await SucceededOnceAsync(p);
        Assert.Equal(held.NotificationId, Assert.Single(wallet.Deliveries(p.OutTradeNo)).NotificationId);
    }

    [Fact]
    public async Task Notifications_of_several_payments_released_out_of_order_each_leave_their_payment_succeeded_once()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var first = await PendingAsync(m, 3_100);
        var second = await PendingAsync(m, 3_200);
        var third = await PendingAsync(m, 3_300);
        foreach (var p in new[] { first, second, third })
        {
            await HoldAsync(p.Id);
            Assert.Equal(HttpStatusCode.OK, (await wallet.PayAsync(p.NextAction)).StatusCode);
        }

        // Paid first, second, third; told third, first, second.
        var released = await ReleaseAsync(new { matches = new[] { third.Id, first.Id, second.Id } });
        Assert.Equal([third.OutTradeNo, first.OutTradeNo, second.OutTradeNo], released.EnumerateArray().Select(r => r.GetProperty("out_trade_no").GetString()));
        foreach (var p in new[] { first, second, third })
        {
            await SucceededOnceAsync(p);
        }

        // The sandbox logs a delivery once the hub has answered it, so the log shows the order the hub was told in.
        Assert.Equal([third.OutTradeNo, first.OutTradeNo, second.OutTradeNo], LoggedOrder(first, second, third));
    }

    private List<string> LoggedOrder(params Pending[] payments)
    {
        var all = payments.SelectMany(p => wallet.Deliveries(p.OutTradeNo)).OrderBy(d => d.At).ToList();
        return [.. all.Select(d => d.OutTradeNo).Distinct()];
    }

    [Fact]
    public async Task A_payments_notifications_released_newest_first_after_a_refund_leave_it_succeeded_with_the_refund_once()
    {
        var p = await PendingAsync(4_100);
        await HoldAsync(p.Id);
        Assert.Equal(HttpStatusCode.OK, (await wallet.PayAsync(p.NextAction)).StatusCode);
        // Not told: canceling asks the wallet, which says paid, so the payment succeeds without the notification.
        Assert.Equal("payment_already_paid", (await p.M.PostAsync($"/v1/payments/{p.Id}/cancel")).Str("code"));
        var refund = await p.M.PostAsync($"/v1/payments/{p.Id}/refunds", new { amount = 1_000 });
        Assert.Equal(HttpStatusCode.Created, refund.Status);
        var refundId = refund.Str("id");
        await hub.EventuallyAsync(() => p.M.GetAsync($"/v1/refunds/{refundId}"), x => x.Str("status") == "succeeded", what: "the refund succeeded");

        // Every notification of the payment (its success, and the refund's result where the wallet sends one), newest first.
        var expected = wallet.RefundNotificationEvent is null ? 1 : 2;
        var held = await hub.EventuallyAsync(() => HeldAsync(p.Id), h => h.Count == expected, what: $"{expected} notifications held");
        var released = await ReleaseAsync(new { notification_ids = held.Select(h => h.NotificationId).Reverse().ToArray() });
        Assert.Equal(expected, released.GetArrayLength());

        await hub.EventuallyAsync(() => Task.FromResult(wallet.Deliveries(p.OutTradeNo).Count + Deliveries(held).Count),
            n => n >= expected, what: "the released notifications answered");
        Assert.All(Deliveries(held), d => Assert.InRange(d.HttpStatus ?? 0, 200, 299));
        var payment = await p.M.GetAsync($"/v1/payments/{p.Id}");
        Assert.Equal("succeeded", payment.Str("status"));
        Assert.Equal(1_000, payment.Json.GetProperty("amount_refunded").GetInt64());
        Assert.Equal("succeeded", (await p.M.GetAsync($"/v1/refunds/{refundId}")).Str("status"));
        Assert.Equal(1, await CapturesAsync(p.Id));
        Assert.Equal(1, await EventsAsync("payment.succeeded", p.Id));
        Assert.Equal(1, await EventsAsync("refund.succeeded", refundId));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'refund' AND reference = @refundId", new { refundId }));
        await ReleaseAsync(new { matches = new[] { p.Id } }); // stop holding
    }

    /// <summary>Deliveries of these notifications (a 退货 result is logged under its own order number, so by id).</summary>
    private List<NotificationAttempt> Deliveries(List<HeldNotification> held) =>
        [.. held.SelectMany(h => wallet.Deliveries(h.OutTradeNo).Where(d => d.NotificationId == h.NotificationId))];

    [Fact]
    public async Task A_replayed_notification_same_id_and_body_is_acknowledged_and_applied_once()
    {
        var p = await PendingAsync(3_400);
        Assert.Equal(HttpStatusCode.OK, (await wallet.PayAsync(p.NextAction)).StatusCode);
        await p.M.WaitForStatusAsync(p.Id, "succeeded");
        var delivered = await hub.EventuallyAsync(() => Task.FromResult(wallet.Deliveries(p.OutTradeNo)), l => l.Count > 0, what: "the delivery logged");

        foreach (var _ in Enumerable.Range(0, 2))
        {
            var r = await ControlAsync("/notifications/replay", new { notification_id = delivered[0].NotificationId });
            var text = await r.Content.ReadAsStringAsync();
            Assert.True(r.StatusCode == HttpStatusCode.OK, text);
            var replay = JsonDocument.Parse(text).RootElement;
            Assert.Equal(delivered[0].NotificationId, replay.GetProperty("notification_id").GetString());
            Assert.InRange(replay.GetProperty("http_status").GetInt32(), 200, 299); // acknowledged, else the wallet would go on resending
        }

        Assert.Equal(2, wallet.Deliveries(p.OutTradeNo).Count(d => d.Attempt == 0));
        await SucceededOnceAsync(p);
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM wallet_notifications WHERE out_trade_no = @OutTradeNo", new { p.OutTradeNo }));

        var unknown = await ControlAsync("/notifications/replay", new { notification_id = "never-sent" });
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task The_control_api_sets_the_time_scale_and_refuses_bad_scales_and_faults()
    {
        using var http = Sandbox();
        async Task<double> ScaleAsync() => (await http.GetFromJsonAsync<JsonElement>(Control + "/time-scale")).GetProperty("scale").GetDouble();
        Assert.Equal(0.001, await ScaleAsync());
        foreach (var bad in new[] { "0", "-1", "NaN", "Infinity", "1001" })
        {
            var r = await http.PostAsync($"{Control}/time-scale?scale={bad}", null);
            Assert.True(r.StatusCode == HttpStatusCode.BadRequest, $"{bad}: {r.StatusCode}");
        }

        Assert.Equal(0.001, await ScaleAsync());
        try
        {
            Assert.Equal(HttpStatusCode.NoContent, (await http.PostAsync($"{Control}/time-scale?scale=0.002", null)).StatusCode);
            Assert.Equal(0.002, await ScaleAsync());
        }
        finally
        {
            await http.PostAsync($"{Control}/time-scale?scale=0.001", null);
        }

        foreach (var bad in new object[]
        {
            new { operation = "query", fault = "delay" },                              // no delay_ms
            new { operation = "query", fault = "delay", delay_ms = 600_001 },          // longer than 10 minutes
            new { operation = "query", fault = "server_error", delay_ms = 100 },       // delay_ms on another fault
            new { operation = "query", fault = "server_error", count = 0 },
            new { operation = "query", fault = "server_error", count = 1_001 },
            new { operation = "", fault = "server_error" },
        })
        {
            var r = await ControlAsync("/faults", bad);
            Assert.True(r.StatusCode == HttpStatusCode.BadRequest, $"{JsonSerializer.Serialize(bad)}: {r.StatusCode}");
        }

        Assert.Equal(HttpStatusCode.BadRequest, (await ControlAsync("/notifications/release", new { matches = Array.Empty<string>() })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await ControlAsync("/notifications/hold", new { match = "" })).StatusCode);
    }

    [Fact]
    public async Task A_notification_due_while_the_hub_is_down_is_applied_once_by_the_wallets_resend_after_it_restarts()
    {
        // A hub of its own on the fixture's store, so it can be stopped and restarted where the wallet sends.
        var created = await hub.Admin().PostAsync("/admin/merchants", new { name = "停机商户" });
        var secret = created.Json.GetProperty("api_key").GetProperty("secret").GetString()!;
        var down = await hub.StartAnotherHubAsync();
        var url = down.BaseUrl;
        Pending p;
        using (var http = new HttpClient { BaseAddress = new Uri(url) })
        {
            p = await PendingAsync(new ApiClient(http, secret, hub.RecentProblems), 3_500);
        }

        using var scale = Sandbox();
        // Slow enough that the wallet is still resending when the hub is back (UnionPay gives up after 31 scaled minutes).
        Assert.Equal(HttpStatusCode.NoContent, (await scale.PostAsync($"{Control}/time-scale?scale=0.01", null)).StatusCode);
        HubHandle? restarted = null;
        try
        {
            await down.DisposeAsync();
            Assert.Equal(HttpStatusCode.OK, (await wallet.PayAsync(p.NextAction)).StatusCode);
            await hub.EventuallyAsync(() => Task.FromResult(wallet.Deliveries(p.OutTradeNo)), l => l.Any(d => d.HttpStatus is null),
                what: "a delivery that found the hub down");

            restarted = await hub.StartAnotherHubAsync(url);
            var m = new ApiClient(hub.Http, secret, hub.RecentProblems); // the fixture's hub reads the same store
            await m.WaitForStatusAsync(p.Id, "succeeded", TimeSpan.FromSeconds(30));
            var log = await hub.EventuallyAsync(() => Task.FromResult(wallet.Deliveries(p.OutTradeNo)), l => l.Any(d => d.HttpStatus is >= 200 and < 300),
                what: "the resend acknowledged");
            Assert.Single(log.Select(d => d.NotificationId).Distinct()); // one notification, resent on the wallet's schedule
            Assert.Contains(log, d => d.HttpStatus is null && d.Attempt == 1);
            Assert.Equal(1, await CapturesAsync(p.Id));
            Assert.Equal(1, await EventsAsync("payment.succeeded", p.Id));
            Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM wallet_notifications WHERE out_trade_no = @OutTradeNo AND processed_at IS NOT NULL", new { p.OutTradeNo }));
        }
        finally
        {
            await scale.PostAsync($"{Control}/time-scale?scale=0.001", null);
            if (restarted is not null)
            {
                await restarted.DisposeAsync();
            }
        }
    }
}

[Collection("sqlite")]
public sealed class WeChatPayFaults_Sqlite(SqliteHub hub) : WalletFaultContract(hub, new WeChatPayDriver(hub));

[Collection("postgres")]
public sealed class WeChatPayFaults_Postgres(PostgresHub hub) : WalletFaultContract(hub, new WeChatPayDriver(hub));

[Collection("sqlite")]
public sealed class AlipayFaults_Sqlite(SqliteHub hub) : WalletFaultContract(hub, new AlipayDriver(hub));

[Collection("postgres")]
public sealed class AlipayFaults_Postgres(PostgresHub hub) : WalletFaultContract(hub, new AlipayDriver(hub));

[Collection("sqlite")]
public sealed class UnionPayFaults_Sqlite(SqliteHub hub) : WalletFaultContract(hub, new UnionPayDriver(hub));

[Collection("postgres")]
public sealed class UnionPayFaults_Postgres(PostgresHub hub) : WalletFaultContract(hub, new UnionPayDriver(hub));
