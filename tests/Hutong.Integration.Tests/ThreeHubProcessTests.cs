using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Dapper;
using Hutong.Cli;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Sandbox.WeChatPay;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Hutong.Integration.Tests;

/// <summary>
/// Three production hub processes (src/Hutong.Server) on one PostgreSQL, a round-robin client driving payments through
/// all of them (create → confirm → the buyer pays at the sandbox → notification → partial and full refunds → webhooks),
/// and one hub SIGKILLed while it holds a refund's lease. Afterwards nothing acknowledged is lost and nothing is done
/// twice: each wallet order and refund exists once at the sandbox and each refund request reaches it once, each webhook event reaches the merchant once, the
/// dead hub's leased refund is finished by the others, amount_refunded is the sum of the succeeded refunds and the ledger
/// verifies. Then a revoked API key is refused by all three hubs: by the NOTIFY within <see cref="NoticeBound"/>, and with
/// the notice lost (a revocation written straight to the table) within the cache TTL.
/// </summary>
[Collection("crash")]
public sealed class ThreeHubProcessTests(Xunit.Abstractions.ITestOutputHelper log) : IAsyncLifetime
{
    private const string AdminToken = "three-hubs-admin-token-0123456789";
    private const int Workers = 6;
    private const int MaxPayments = 90;

    /// <summary>Hutong:CacheTtl of the hubs: the worst case for a revocation whose notice was lost.</summary>
    private static readonly TimeSpan CacheTtl = TimeSpan.FromSeconds(5);

    /// <summary>What "by the notice" means here: well below <see cref="CacheTtl"/>, so only the NOTIFY explains it.</summary>
    private static readonly TimeSpan NoticeBound = TimeSpan.FromSeconds(2);

    /// <summary>Every refund's wallet call is answered this late, so a hub holds refund leases most of the time.</summary>
    private static readonly TimeSpan RefundLatency = TimeSpan.FromMilliseconds(600); // wide enough that the victim is still inside a wallet call when the kill lands on a busy box

    /// <summary>
    /// How long the hubs may take to finish everything once the load ended (about 10–25 s here): generous for a busy 2-core
    /// CI machine, still bounded. A hub's refund pass is sequential, so refunds drain at about one wallet call per hub at a time.
    /// </summary>
    private static readonly TimeSpan QuiescenceBound = TimeSpan.FromSeconds(90);

    /// <summary>Hutong:Workers:ItemTimeout + LeaseMargin below: how long a claim lasts.</summary>
    private static readonly TimeSpan LeaseFor = TimeSpan.FromSeconds(4);

    private readonly string _database = "hutong_three_" + Guid.NewGuid().ToString("N")[..10];
    private readonly HubProcess?[] _hubs = new HubProcess?[3];
    private SandboxHost _sandbox = null!;
    private WebhookReceiver _receiver = null!;
    private NotifyBalancer _balancer = null!;
    private string _connectionString = string.Empty;
    private Dictionary<string, string> _env = [];

    public async Task InitializeAsync()
    {
        _connectionString = await PostgresHub.CreateDatabaseAsync(_database);
        _sandbox = await SandboxHost.StartAsync();
        _sandbox.TimeScale = 0.001;
        _receiver = await WebhookReceiver.StartAsync();
        _receiver.Latency = TimeSpan.FromMilliseconds(30); // a slow merchant: deliveries are in flight on every hub
        var ports = Enumerable.Range(0, 3).Select(_ => FreePort()).ToArray();
        _balancer = await NotifyBalancer.StartAsync(ports.Select(p => $"http://127.0.0.1:{p}").ToArray());
        var wechat = await WeChatPaySandboxWallet.RegisterMerchantAsync(_sandbox.BaseUrl);
        _env = new Dictionary<string, string>
        {
            ["Store__Provider"] = "Postgres",
            ["Store__ConnectionString"] = _connectionString,
            ["Store__MaxPoolSize"] = "8", // three hubs and the other suites share one server's max_connections
            ["Hutong__AdminToken"] = AdminToken,
            ["Hutong__MasterKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
            // Wallets notify the load balancer, as in production; it passes each notification to a live hub.
            ["Hutong__PublicBaseUrl"] = _balancer.Url,
            ["Hutong__CacheTtl"] = CacheTtl.ToString("c"),
            ["Hutong__WorkerPollInterval"] = "00:00:00.100",
            ["Hutong__Workers__BackoffBase"] = "00:00:00.200",
            // A dead hub's leases lapse after ItemTimeout + LeaseMargin (4 s here, 60 s by default).
            ["Hutong__Workers__ItemTimeout"] = "00:00:03",
            ["Hutong__Workers__LeaseMargin"] = "00:00:01",
            ["Hutong__Webhooks__AllowPrivateTargets"] = "true",
            ["Hutong__Webhooks__TimeScale"] = "0.001",
            ["Hutong__Webhooks__Timeout"] = "00:00:02", // a delivery's lease is twice this
            ["Hutong__Reconciliation__Enabled"] = "false",
            ["Hutong__PublicRateLimitPerMinute"] = "0",
            ["Hutong__LinkRateLimitPerMinute"] = "0",
            ["Hutong__ApiRateLimitPerAddressPerMinute"] = "0",
            ["Hutong__ApiRateLimitPerKeyPerMinute"] = "0",
            ["Connectors__WeChatPay__AttemptTimeout"] = "00:00:02",
            ["Connectors__WeChatPay__TotalTimeout"] = "00:00:02.500",
            ["Logging__LogLevel__Default"] = "Warning",
            // Which hub lost a refund to another (a step that outlived its lease) shows in a failure's hub output.
            ["Logging__LogLevel__Hutong.Server.Features.Refunds"] = "Information",
        };
        for (var i = 0; i < 8; i++)
        {
            _env[$"Hutong__UnknownRecheckSchedule__{i}"] = "00:00:00.300";
        }

        foreach (var (name, value) in wechat)
        {
            if (value is not null)
            {
                _env[$"Connectors__WeChatPay__{name}"] = value.ToString();
            }
        }

        // All three start together: one migrates (advisory lock), the others wait and find the schema applied.
        for (var i = 0; i < 3; i++)
        {
            _hubs[i] = HubProcess.Start(i, ports[i], _env);
        }

        await Task.WhenAll(_hubs.Select(h => h!.WaitReadyAsync()));
    }

    [Fact]
    public async Task Three_hub_processes_one_killed_mid_load_lose_nothing_do_nothing_twice_and_all_refuse_a_revoked_key()
    {
        var started = Stopwatch.StartNew();
        var client = new RoundRobin(_hubs);
        var admin = await client.SendAsync(() => Post("/admin/merchants", new { name = "三个互通" }, AdminToken, "onboard"));
        Assert.True(admin.Status == HttpStatusCode.Created, admin.ToString());
        var apiKey = admin.Json.GetProperty("api_key").GetProperty("secret").GetString()!;
        var merchantId = admin.Json.GetProperty("merchant").GetProperty("id").GetString()!;
        var endpoint = await client.SendAsync(() => Post("/v1/webhook_endpoints", new { url = _receiver.Url("/hooks/three") }, apiKey, "endpoint"));
        Assert.True(endpoint.Status == HttpStatusCode.Created, endpoint.ToString());
        _sandbox.WeChat.Faults.Inject("refund", SandboxFault.Delay, SandboxFaults.MaxCount, delay: RefundLatency);

        // The load: workers take payments through the whole flow, every request to the next hub in turn; a request that
        // meets a dead hub is sent again to the next with the same Idempotency-Key, as a client behind a load balancer does.
        var payments = new ConcurrentDictionary<string, long>(); // acknowledged payment → amount
        var refunds = new ConcurrentDictionary<string, string>(); // acknowledged refund → payment
        using var stop = new CancellationTokenSource();
        var sequence = 0;
        var load = Enumerable.Range(0, Workers).Select(worker => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested && Interlocked.Increment(ref sequence) is var n && n <= MaxPayments)
            {
                await PaymentFlowAsync(client, apiKey, n, payments, refunds);
            }
        })).ToList();

        // The victim dies inside a refund's wallet call: it holds the refund's lease, the wallet has the request, and its
        // answer (RefundLatency) is still to come when the kill lands — so the hub that takes the refund over must find it
        // at the wallet, not send it again. Its claims name its process (leased_by host/pid/…).
        var victim = _hubs[2]!;
        string? victimInstance = null;
        string? leasedRefund = null;
        var killedAt = DateTimeOffset.MaxValue;
        await using (var db = await OpenAsync())
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(40);
            var reachedWallet = new Dictionary<string, DateTime>();
            while (victimInstance is null && DateTime.UtcNow < deadline)
            {
                Assert.False(load.All(t => t.IsCompleted), "the load ended before the victim held a refund's lease");
                var leased = payments.Count < 12 ? [] : await db.QueryAsync<(string Id, string LeasedBy, string OutRefundNo)>(
                    "SELECT id, leased_by, out_refund_no FROM refunds WHERE status = 'pending' AND leased_by LIKE @mine AND lease_until > @now",
                    new { mine = $"%/{victim.ProcessId}/%", now = NowMs() });
                // When each refund request reached the wallet (to this loop's precision): one that arrived within the last
                // 300 ms is still half a RefundLatency from its answer, so the kill lands inside the call.
                foreach (var sent in _sandbox.WeChat.MoneySends)
                {
                    reachedWallet.TryAdd(sent, DateTime.UtcNow);
                }

                var fresh = DateTime.UtcNow - TimeSpan.FromMilliseconds(300);
                if (leased.Where(x => reachedWallet.TryGetValue(x.OutRefundNo, out var at) && at > fresh)
                    .Select(x => ((string Id, string LeasedBy)?)(x.Id, x.LeasedBy)).FirstOrDefault() is { } l)
                {
                    victim.Kill();
                    killedAt = DateTimeOffset.UtcNow;
                    (victimInstance, leasedRefund) = (l.LeasedBy, l.Id);
                }
                else
                {
                    await Task.Delay(5);
                }
            }
        }

        Assert.True(victimInstance is not null, "the victim was never inside a refund's wallet call\n" + victim.Output());
        log.WriteLine($"killed hub 2 ({victimInstance}) at {started.Elapsed.TotalSeconds:F1} s holding refund {leasedRefund}; {payments.Count} payments so far");
        await using var store = await OpenAsync();
        var heldByVictim = (await store.QueryAsync<string>("SELECT id FROM refunds WHERE leased_by = @victimInstance", new { victimInstance })).ToList();
        // What reached the wallet by now: the killed hub's refunds among it were sent mid-call (their leases lapse only later).
        var sentBeforeKill = _sandbox.WeChat.MoneySends.ToHashSet();
        // The deliveries some hub held at the kill (a delivery's lease is its next_attempt_at, pushed ahead when claimed):
        // the victim's among them, including those it had sent and had answered but whose outcome was not yet committed.
        // Judged at the kill instant, not at this query's: a lease that ran out between the two (a victim slow to record
        // an answered send on a busy box) was still the victim's at the kill. A row the victim recorded meanwhile is not
        // 'pending' any more, and its outcome stands: no hub sends it again.
        var deliveriesLeasedAtKill = (await store.QueryAsync<string>(
            "SELECT message_id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at > @killedAtMs",
            new { killedAtMs = killedAt.ToUnixTimeMilliseconds() })).ToHashSet();

        // The survivors go on for a while, then the load ends.
        await Task.Delay(TimeSpan.FromSeconds(3));
        await stop.CancelAsync();
        await Task.WhenAll(load).WaitAsync(TimeSpan.FromSeconds(60));
        log.WriteLine($"load ended at {started.Elapsed.TotalSeconds:F1} s: {payments.Count} payments, {refunds.Count} refunds");
        Assert.True(payments.Count >= 20, $"only {payments.Count} payments were acknowledged");

        // Quiescence: every refund final, every webhook delivered, the outbox fanned out.
        var quiet = await EventuallyAsync(store, async () => (
            Refunds: await store.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM refunds WHERE status NOT IN ('succeeded', 'failed')"),
            Deliveries: await store.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM webhook_deliveries WHERE status <> 'delivered'"),
            Outbox: await store.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM outbox WHERE dispatched_at IS NULL"),
            Payments: await store.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM payments WHERE status NOT IN ('succeeded', 'canceled', 'expired')")),
            q => q is { Refunds: 0, Deliveries: 0, Outbox: 0, Payments: 0 }, QuiescenceBound, "quiescence");
        log.WriteLine($"quiet at {started.Elapsed.TotalSeconds:F1} s");

        var problems = new List<string>();

        // Nothing acknowledged is lost: every payment and refund a hub answered 2xx exists, in a final state.
        var rows = (await store.QueryAsync<(string Id, string Status, long Amount, long AmountRefunded, long Succeeded)>(
            """
            SELECT p.id, p.status, p.amount, p.amount_refunded,
                   (SELECT COALESCE(SUM(r.amount), 0) FROM refunds r WHERE r.payment_id = p.id AND r.status = 'succeeded')
            FROM payments p WHERE p.merchant_id = @merchantId
            """, new { merchantId })).ToDictionary(r => r.Id);
        foreach (var (id, amount) in payments)
        {
            if (!rows.TryGetValue(id, out var row))
            {
                problems.Add($"payment {id}: acknowledged, missing");
                continue;
            }

            Expect(problems, $"payment {id}: status", "succeeded", row.Status);
            Expect(problems, $"payment {id}: amount_refunded = sum of its succeeded refunds", row.Succeeded, row.AmountRefunded);
        }

        Expect(problems, "payments in the store that no hub acknowledged", 0, rows.Keys.Except(payments.Keys).Count());
        var refundRows = (await store.QueryAsync<(string Id, string PaymentId, string OutRefundNo, string Status, long Amount)>(
            "SELECT id, payment_id, out_refund_no, status, amount FROM refunds WHERE merchant_id = @merchantId", new { merchantId })).ToDictionary(r => r.Id);
        foreach (var id in refunds.Keys)
        {
            Expect(problems, $"refund {id}: status", "succeeded", refundRows.TryGetValue(id, out var r) ? r.Status : "missing");
        }

        Expect(problems, "refunds in the store that no hub acknowledged", 0, refundRows.Keys.Except(refunds.Keys).Count());

        // The dead hub's claims were finished by the others.
        Assert.NotEmpty(heldByVictim);
        foreach (var id in heldByVictim)
        {
            Expect(problems, $"refund {id} (leased by the killed hub): status", "succeeded", refundRows[id].Status);
        }

        // Nothing done twice at the wallet: each paid payment is one paid wallet order; each refund one wallet refund, of
        // its amount, sent once — also one the killed hub held mid-call, whose lapsed claim the next hub took over by
        // querying the wallet first (sent_at) — and none the hub does not know.
        var orders = _sandbox.WeChat.Orders.Values.Where(o => o.Attach is not null && payments.ContainsKey(o.Attach)).ToList();
        foreach (var (id, _) in payments)
        {
            var mine = orders.Where(o => o.Attach == id).ToList();
            Expect(problems, $"payment {id}: paid wallet orders", 1, mine.Count(o => o.TradeState is "SUCCESS" or "REFUND"));
            Expect(problems, $"payment {id}: wallet orders left open", 0, mine.Count(o => o.TradeState is "NOTPAY" or "USERPAYING"));
        }

        var walletRefunds = orders.SelectMany(o => o.Refunds.Values.Select(x => (Order: o, Refund: x))).ToList();
        var sends = _sandbox.WeChat.MoneySends.GroupBy(x => x).ToDictionary(g => g.Key, g => g.Count());
        foreach (var r in refundRows.Values)
        {
            var atWallet = walletRefunds.Where(w => w.Refund.OutRefundNo == r.OutRefundNo).ToList();
            Expect(problems, $"refund {r.Id}: refunds at the wallet", 1, atWallet.Count);
            Expect(problems, $"refund {r.Id}: amount at the wallet", r.Amount, atWallet.Sum(w => w.Refund.Amount));
            Expect(problems, $"refund {r.Id}: wallet refund's order", r.PaymentId, atWallet.FirstOrDefault().Order?.Attach ?? "none");
            Expect(problems, $"refund {r.Id}: sent to the wallet (same out_refund_no){(heldByVictim.Contains(r.Id) ? ", held by the killed hub" : string.Empty)}",
                1, sends.GetValueOrDefault(r.OutRefundNo));
        }

        log.WriteLine($"refunds leased by the killed hub: {heldByVictim.Count}, of them sent to the wallet by the killed hub before it died: "
            + $"{heldByVictim.Count(id => sentBeforeKill.Contains(refundRows[id].OutRefundNo))}");
        Expect(problems, $"refund {leasedRefund}: still held by the killed hub, and at the wallet, after the kill (the case this test is for)",
            true, heldByVictim.Contains(leasedRefund!) && sentBeforeKill.Contains(refundRows[leasedRefund!].OutRefundNo));
        Expect(problems, "wallet refunds the hubs do not know", 0, walletRefunds.Count(w => refundRows.Values.All(r => r.OutRefundNo != w.Refund.OutRefundNo)));

        // Each webhook event reaches the merchant exactly once. Standard Webhooks is at-least-once, and the operations doc
        // allows a second send (same webhook-id) only for a delivery the killed hub had sent but not yet recorded: so a
        // duplicate's first copy must have arrived before the kill (the merchant may answer it after: it cannot tell), and
        // the delivery must have been held (leased) at the kill. Their number is not
        // bounded by Webhooks:MaxConcurrentDeliveriesPerEndpoint: a send's slot is freed when its answer arrives and the
        // outcomes are committed in batches behind it, so sends answered but not yet recorded can outnumber the slots.
        var events = (await store.QueryAsync<(string Id, string Type)>("SELECT id, type FROM outbox WHERE merchant_id = @merchantId", new { merchantId })).ToList();
        var messages = (await store.QueryAsync<(string EventId, string MessageId)>(
            "SELECT event_id, message_id FROM webhook_deliveries WHERE endpoint_id = @id", new { id = endpoint.Json.GetProperty("id").GetString() })).ToList();
        var received = _receiver.Deliveries.Where(d => d.Path == "/hooks/three" && d.AnsweredWith == 204).ToList();
        var distinct = received.Select(d => d.Id).Distinct().Count();
        log.WriteLine($"{events.Count} events, {messages.Count} deliveries, {received.Count} received ({distinct} distinct webhook-ids)");
        Expect(problems, "deliveries (one per event)", events.Count, messages.Count);
        Expect(problems, "events received (distinct webhook-ids)", messages.Count, distinct);
        Expect(problems, "received webhook-ids that are no delivery's", 0, received.Select(d => d.Id).Except(messages.Select(m => m.MessageId)).Count());
        var duplicates = received.GroupBy(d => d.Id).Where(g => g.Count() > 1).ToList();
        foreach (var d in duplicates)
        {
            if (d.Count() > 2 || d.Min(x => x.ArrivedAt) > killedAt || !deliveriesLeasedAtKill.Contains(d.Key))
            {
                var row = await store.QuerySingleAsync<(string Status, int Attempts, int? LastStatus, string? LastError)>(
                    "SELECT status, attempts, last_status, last_error FROM webhook_deliveries WHERE message_id = @id", new { id = d.Key });
                problems.Add($"webhook {d.Key} received {d.Count()} times at {string.Join(", ", d.Select(x => x.ArrivedAt.ToString("O")))} (kill at {killedAt:O}), "
                    + (deliveriesLeasedAtKill.Contains(d.Key) ? "leased" : "not leased") + $" at the kill; its delivery now: {row}");
            }
        }

        log.WriteLine($"webhooks received twice: {duplicates.Count} (deliveries leased at the kill: {deliveriesLeasedAtKill.Count})");
        foreach (var type in new[] { "payment.created", "payment.succeeded", "refund.succeeded" })
        {
            log.WriteLine($"{type}: {events.Count(e => e.Type == type)}");
        }

        Expect(problems, "refund.succeeded events (one per refund)", refundRows.Values.Count(r => r.Status == "succeeded"), events.Count(e => e.Type == "refund.succeeded"));
        Expect(problems, "payment.succeeded events (one per paid payment)", payments.Count, events.Count(e => e.Type == "payment.succeeded"));

        // The ledger verifies (the operator's `hutong ledger verify`).
        using (var output = new StringWriter())
        {
            var code = await HutongCli.RunAsync(["ledger", "verify", "--store", "Postgres", "--connection", _connectionString], output);
            if (code != 0)
            {
                problems.Add("ledger verify: " + output);
            }
        }

        Assert.True(problems.Count == 0, $"{problems.Count} problems:\n" + string.Join('\n', problems.Take(40)) + "\n" + string.Join('\n', _hubs.Select(h => h!.Output())));

        // The killed hub comes back (new process, same port) and all three refuse a revoked key: by the notice, within
        // NoticeBound; with the notice lost, within the cache TTL.
        _hubs[2] = HubProcess.Start(2, victim.Port, _env);
        await _hubs[2]!.WaitReadyAsync();
        // What is bounded is how long a hub accepts the key: the send time of the last request it answered 200. When the
        // first 401 came back also counts a request's round trip, which a busy machine can stretch.
        var notice = await RevocationLatencyAsync(client, merchantId, byNotice: true);
        log.WriteLine("revoked (notice): " + Describe(notice));
        Assert.All(notice, t => Assert.True(t.Accepted <= NoticeBound && t.Refused < TimeSpan.MaxValue, $"revoked (notice, bound {NoticeBound}): {Describe(notice)}"));
        var lost = await RevocationLatencyAsync(client, merchantId, byNotice: false);
        log.WriteLine("revoked (no notice): " + Describe(lost));
        Assert.All(lost, t => Assert.True(t.Accepted <= CacheTtl && t.Refused < TimeSpan.MaxValue, $"revoked (no notice, TTL {CacheTtl}): {Describe(lost)}"));
        log.WriteLine($"done at {started.Elapsed.TotalSeconds:F1} s");
    }

    /// <summary>
    /// Issues a key, has every hub cache it (one authenticated request each), revokes it — through the admin API of one
    /// hub (which sends the notice) or straight in the table (no notice) — and measures, per hub, since the revocation began:
    /// when it was last sent a request it accepted, and when its first refusal came back.
    /// </summary>
    private async Task<(TimeSpan Accepted, TimeSpan Refused)[]> RevocationLatencyAsync(RoundRobin client, string merchantId, bool byNotice)
    {
        var issued = await client.SendAsync(() => Post($"/admin/merchants/{merchantId}/api_keys", new { }, AdminToken, "key-" + byNotice));
        Assert.True(issued.Status == HttpStatusCode.Created, issued.ToString());
        var (keyId, secret) = (issued.Json.GetProperty("id").GetString()!, issued.Json.GetProperty("secret").GetString()!);
        foreach (var hub in _hubs)
        {
            Assert.Equal(HttpStatusCode.OK, (await hub!.SendAsync(Get("/v1/capabilities", secret))).Status);
        }

        var revokedAt = Stopwatch.StartNew();
        if (byNotice)
        {
            Assert.Equal(HttpStatusCode.OK, (await _hubs[0]!.SendAsync(Post($"/admin/api_keys/{keyId}/revoke", null, AdminToken, "revoke-" + keyId))).Status);
        }
        else
        {
            await using var db = await OpenAsync();
            await db.ExecuteAsync("UPDATE api_keys SET revoked_at = @now WHERE id = @keyId", new { now = NowMs(), keyId });
            // Still served from the caches: what follows measures the TTL, not a database read.
            Assert.Equal(HttpStatusCode.OK, (await _hubs[1]!.SendAsync(Get("/v1/capabilities", secret))).Status);
        }

        return await Task.WhenAll(_hubs.Select(async hub =>
        {
            var accepted = TimeSpan.Zero;
            while (revokedAt.Elapsed < CacheTtl + TimeSpan.FromSeconds(20))
            {
                var sent = revokedAt.Elapsed;
                var status = (await hub!.SendAsync(Get("/v1/capabilities", secret))).Status;
                if (status == HttpStatusCode.Unauthorized)
                {
                    return (accepted, revokedAt.Elapsed);
                }

                Assert.Equal(HttpStatusCode.OK, status);
                accepted = sent;
                await Task.Delay(10);
            }

            return (accepted, TimeSpan.MaxValue);
        }));
    }

    private static string Describe((TimeSpan Accepted, TimeSpan Refused)[] hubs) => string.Join(", ", hubs.Select((t, i) =>
        $"hub {i} last accepted at {t.Accepted.TotalMilliseconds:F0} ms, refused at {(t.Refused == TimeSpan.MaxValue ? "never" : $"{t.Refused.TotalMilliseconds:F0} ms")}"));

    /// <summary>One payment through the whole flow; what the hubs acknowledged is recorded as it is acknowledged.</summary>
    private async Task PaymentFlowAsync(RoundRobin client, string apiKey, int n, ConcurrentDictionary<string, long> payments,
        ConcurrentDictionary<string, string> refunds)
    {
        var amount = 1_000 + (n * 37 % 9_000);
        var created = await client.SendAsync(() => Post("/v1/payments", new { amount, currency = "CNY", description = "三个互通 load", merchant_order_id = $"three-{n}" }, apiKey, $"create-{n}"));
        Assert.True(created.Status == HttpStatusCode.Created, created.ToString());
        var id = created.Str("id");
        payments[id] = amount;

        // A confirm cut off by the kill leaves its attempt 'requested': the other hubs answer 409 attempt_in_progress (the
        // client retries) until one re-queries it, within the lease bound, and then answer with the QR.
        var confirmed = await client.SendAsync(() => Post($"/v1/payments/{id}/confirm", new { wallet = "wechatpay" }, apiKey, $"confirm-{n}"));
        Assert.True(confirmed.Status == HttpStatusCode.OK, confirmed.ToString());
        Assert.True(confirmed.Json.TryGetProperty("next_action", out var next) && next.ValueKind == JsonValueKind.Object, "confirmed without a QR code: " + confirmed);

        using (var sandbox = new HttpClient { BaseAddress = new Uri(_sandbox.BaseUrl) })
        {
            var paid = await sandbox.PostAsJsonAsync("/sandbox/wechatpay/buyer/pay", new { code_url = next.GetProperty("code_url").GetString() }, SandboxJson.Options);
            Assert.True(paid.IsSuccessStatusCode, await paid.Content.ReadAsStringAsync());
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        ApiResponse got;
        while ((got = await client.SendAsync(() => Get($"/v1/payments/{id}", apiKey))).Str("status") != "succeeded")
        {
            Assert.True(DateTime.UtcNow < deadline, $"payment {id} did not succeed: {got}");
            await Task.Delay(20);
        }

        // A partial refund, and for every other payment the rest as well.
        foreach (var (k, refund) in n % 2 == 0 ? new[] { ("a", (long?)(amount * 3 / 10)), ("b", null) } : [("a", (long?)(amount / 4))])
        {
            var r = await client.SendAsync(() => Post($"/v1/payments/{id}/refunds", new { amount = refund }, apiKey, $"refund-{n}-{k}"));
            Assert.True(r.Status == HttpStatusCode.Created, r.ToString());
            refunds[r.Str("id")] = id;
        }
    }

    private static HttpRequestMessage Get(string path, string bearer)
    {
        var req = new HttpRequestMessage(HttpMethod.Get, path);
        req.Headers.Authorization = new("Bearer", bearer);
        return req;
    }

    private static HttpRequestMessage Post(string path, object? body, string bearer, string idempotencyKey)
    {
        var req = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body ?? new { }) };
        req.Headers.Authorization = new("Bearer", bearer);
        req.Headers.Add("Idempotency-Key", idempotencyKey);
        return req;
    }

    private async Task<NpgsqlConnection> OpenAsync()
    {
        var c = new NpgsqlConnection(_connectionString);
        await c.OpenAsync();
        return c;
    }

    private static long NowMs() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    private async Task<T> EventuallyAsync<T>(NpgsqlConnection _, Func<Task<T>> probe, Func<T, bool> done, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        var report = DateTime.UtcNow;
        T last;
        do
        {
            last = await probe();
            if (DateTime.UtcNow >= report)
            {
                log.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} waiting for {what}: {last}");
                report = DateTime.UtcNow.AddSeconds(2);
            }

            if (done(last))
            {
                return last;
            }

            await Task.Delay(100);
        }
        while (DateTime.UtcNow < deadline);

        Assert.Fail($"timed out waiting for {what}; last: {last}\n" + string.Join('\n', _hubs.Select(h => h?.Output())));
        return last;
    }

    private static void Expect<T>(List<string> problems, string what, T expected, T actual)
    {
        if (!EqualityComparer<T>.Default.Equals(expected, actual))
        {
            problems.Add($"{what}: {actual}, expected {expected}");
        }
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public async Task DisposeAsync()
    {
        foreach (var hub in _hubs)
        {
            hub?.Dispose();
        }

        await _balancer.DisposeAsync();
        await _receiver.DisposeAsync();
        await _sandbox.DisposeAsync();
        await PostgresHub.DropDatabaseAsync(_database);
    }

    /// <summary>A client behind no balancer: each request goes to the next hub; on a connection failure (a dead hub) to the one after.</summary>
    private sealed class RoundRobin(HubProcess?[] hubs)
    {
        private int _next;

        public async Task<ApiResponse> SendAsync(Func<HttpRequestMessage> make)
        {
            var first = (Interlocked.Increment(ref _next) & int.MaxValue) % hubs.Length;
            Exception? lastError = null;
            for (var attempt = 0; attempt < 40; attempt++)
            {
                var hub = hubs[(first + attempt) % hubs.Length]!;
                try
                {
                    var r = await hub.SendAsync(make());
                    if (r.Status == HttpStatusCode.Conflict && r.Body.Contains("idempotency_request_in_progress", StringComparison.Ordinal))
                    {
                        await Task.Delay(100); // the same request still runs on that hub
                        continue;
                    }

                    if (r.Status == HttpStatusCode.Conflict && r.Body.Contains("\"attempt_in_progress\"", StringComparison.Ordinal))
                    {
                        // The payment's wallet order is being opened by another request, or was by the hub that died mid-call
                        // (re-queried within the lease bound): the same request again, as told, a bounded number of times.
                        await Task.Delay(r.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1));
                        continue;
                    }

                    return r;
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
                {
                    lastError = e; // a dead hub (refused, reset, or no answer): the next one, same Idempotency-Key
                    await Task.Delay(20);
                }
            }

            throw new InvalidOperationException("no hub answered", lastError);
        }
    }

    /// <summary>One `dotnet Hutong.Server.dll` process configured through environment variables, as in production.</summary>
    private sealed class HubProcess : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();
        private readonly HttpClient _http;

        private HubProcess(int index, int port, Process process)
        {
            Index = index;
            Port = port;
            _process = process;
            _http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(2) })
            {
                BaseAddress = new Uri($"http://127.0.0.1:{port}"),
                Timeout = TimeSpan.FromSeconds(15),
            };
        }

        public int Index { get; }

        public int Port { get; }

        public int ProcessId => _process.Id;

        public static HubProcess Start(int index, int port, IReadOnlyDictionary<string, string> env)
        {
            var psi = new ProcessStartInfo("dotnet")
            {
                WorkingDirectory = AppContext.BaseDirectory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Hutong.Server.dll"));
            psi.ArgumentList.Add("--urls");
            psi.ArgumentList.Add($"http://127.0.0.1:{port}");
            foreach (var (k, v) in env)
            {
                psi.Environment[k] = v;
            }

            var hub = new HubProcess(index, port, Process.Start(psi)!);
            hub._process.OutputDataReceived += (_, e) => hub.Append(e.Data);
            hub._process.ErrorDataReceived += (_, e) => hub.Append(e.Data);
            hub._process.BeginOutputReadLine();
            hub._process.BeginErrorReadLine();
            return hub;
        }

        private void Append(string? line)
        {
            if (line is not null)
            {
                lock (_output)
                {
                    if (_output.Length < 200_000)
                    {
                        _output.AppendLine(line);
                    }
                }
            }
        }

        public string Output()
        {
            lock (_output)
            {
                return $"--- hub {Index} (port {Port}){(_process.HasExited ? $", exited {_process.ExitCode}" : string.Empty)}:\n{_output}";
            }
        }

        public async Task WaitReadyAsync()
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (DateTime.UtcNow < deadline)
            {
                Assert.False(_process.HasExited, "a hub exited during start\n" + Output());
                try
                {
                    using var r = await _http.GetAsync("/healthz/ready");
                    if (r.IsSuccessStatusCode)
                    {
                        return;
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                }

                await Task.Delay(100);
            }

            Assert.Fail("a hub did not become ready\n" + Output());
        }

        public async Task<ApiResponse> SendAsync(HttpRequestMessage request)
        {
            using (request)
            {
                using var response = await _http.SendAsync(request);
                return new ApiResponse(response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers, response.Content.Headers);
            }
        }

        /// <summary>SIGKILL: no shutdown hooks, no lease given back, no outcome recorded.</summary>
        public void Kill()
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit();
            }

            _process.Dispose();
            _http.Dispose();
        }
    }

    /// <summary>
    /// The load balancer in front of the hubs, for the wallets' notifications (Hutong:PublicBaseUrl): each to the next
    /// hub, and to the one after when a hub does not take the connection (dead). Anything else goes back to the wallet,
    /// which sends again.
    /// </summary>
    private sealed class NotifyBalancer : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly HttpClient _http = new(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(1) }) { Timeout = TimeSpan.FromSeconds(10) };
        private readonly string[] _targets;
        private int _next;

        private NotifyBalancer(WebApplication app, string[] targets) => (_app, _targets) = (app, targets);

        public string Url => _app.Urls.First();

        public static async Task<NotifyBalancer> StartAsync(string[] targets)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var app = builder.Build();
            var balancer = new NotifyBalancer(app, targets);
            app.Run(balancer.ForwardAsync);
            await app.StartAsync();
            return balancer;
        }

        private async Task ForwardAsync(HttpContext ctx)
        {
            using var body = new MemoryStream();
            await ctx.Request.Body.CopyToAsync(body);
            for (var i = 0; i < _targets.Length * 2; i++)
            {
                var target = _targets[(Interlocked.Increment(ref _next) & int.MaxValue) % _targets.Length];
                using var request = new HttpRequestMessage(new HttpMethod(ctx.Request.Method), target + ctx.Request.Path + ctx.Request.QueryString)
                {
                    Content = new ByteArrayContent(body.ToArray()),
                };
                foreach (var (name, values) in ctx.Request.Headers)
                {
                    if (name.StartsWith("Content-", StringComparison.OrdinalIgnoreCase))
                    {
                        request.Content.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
                    }
                    else if (name is not ("Host" or "Connection" or "Transfer-Encoding"))
                    {
                        request.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
                    }
                }

                try
                {
                    using var response = await _http.SendAsync(request, ctx.RequestAborted);
                    ctx.Response.StatusCode = (int)response.StatusCode;
                    ctx.Response.ContentType = response.Content.Headers.ContentType?.ToString();
                    await response.Content.CopyToAsync(ctx.Response.Body);
                    return;
                }
                catch (HttpRequestException e) when (e.HttpRequestError == HttpRequestError.ConnectionError)
                {
                    // A dead hub: the next one.
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
                {
                    ctx.Response.StatusCode = 502; // it may have been applied: the wallet sends it again
                    return;
                }
            }

            ctx.Response.StatusCode = 502;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _http.Dispose();
        }
    }
}
