using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Hutong.Integration.Tests.Contract;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Server;
using Hutong.Server.Features.Workers;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Hutong.Integration.Tests.Campaign;

/// <summary>
/// A seeded fault campaign on PostgreSQL, with one hub and with three hubs sharing the database (issue 21): a seeded
/// <see cref="Random"/> plans, for each payment, its wallet (all three), the hub the merchant talks to (round-robin), the
/// sandbox faults (timeouts before and after the wallet acts, 5xx, bad response signatures, slow answers; dropped,
/// duplicated, delayed, held and replayed notifications; refund faults), forged notifications, partial and full refunds
/// (some sent to different hubs at once), cancels and late payments. Then every hub's jobs run to quiescence and
/// <see cref="CampaignInvariants"/> must hold. The seed is printed (and named in any failure); HUTONG_CAMPAIGN_SEED
/// replays one, HUTONG_CAMPAIGN_PAYMENTS changes the size.
/// </summary>
[Collection("postgres")]
public sealed class FaultCampaignTests(PostgresHub hub, ITestOutputHelper output)
{
    private const int DefaultPayments = 72;

    /// <summary>How many payments run at once: enough to make the hubs race, few enough for two busy cores.</summary>
    private const int Parallelism = 8;

    private static readonly string[] WalletNames = ["wechatpay", "alipay", "unionpay"];

    [Fact]
    public Task One_hub_keeps_the_money_invariants_under_a_seeded_fault_campaign() => RunAsync(hubs: 1);

    [Fact]
    public Task Three_hubs_on_one_database_keep_the_money_invariants_under_a_seeded_fault_campaign() => RunAsync(hubs: 3);

    /// <summary>
    /// Seeds that once broke an invariant, replayed on every run. 343718013: a UnionPay order paid with its notifications
    /// dropped, whose cancel met a failed query, stayed pending until expiry (nothing queried a pending payment's open order).
    /// </summary>
    [Theory]
    [InlineData(343718013)]
    public Task One_hub_keeps_the_money_invariants_for_a_seed_that_once_broke_them(int seed) => RunAsync(hubs: 1, seed);

    private async Task RunAsync(int hubs, int? fixedSeed = null)
    {
        var seed = fixedSeed ?? (int.TryParse(Environment.GetEnvironmentVariable("HUTONG_CAMPAIGN_SEED"), out var s) ? s : Random.Shared.Next());
        var count = int.TryParse(Environment.GetEnvironmentVariable("HUTONG_CAMPAIGN_PAYMENTS"), out var n) ? Math.Clamp(n, 1, 1_000) : DefaultPayments;
        output.WriteLine($"fault campaign: seed {seed}, {count} payments, {hubs} hub(s) (replay with HUTONG_CAMPAIGN_SEED={seed})");

        var others = new List<HubHandle>();
        var clients = new List<HttpClient>();
        try
        {
            for (var i = 1; i < hubs; i++)
            {
                others.Add(await hub.StartAnotherHubAsync());
            }

            var (m, merchantId, _) = await hub.NewMerchantAsync("故障演练商户");
            var urls = new[] { hub.Hub.BaseUrl }.Concat(others.Select(o => o.BaseUrl)).ToList();
            clients.AddRange(urls.Select(u => new HttpClient { BaseAddress = new Uri(u), Timeout = TimeSpan.FromSeconds(30) }));
            var merchants = clients.Select(c => new ApiClient(c, m.Key, hub.RecentProblems)).ToList();
            var drivers = new Dictionary<string, IWalletDriver>
            {
                ["wechatpay"] = new WeChatPayDriver(hub), ["alipay"] = new AlipayDriver(hub), ["unionpay"] = new UnionPayDriver(hub),
            };

            // The plan is drawn up front from the seed, so a replay injects the same faults whatever the timing.
            var random = new Random(seed);
            var plans = Enumerable.Range(0, count).Select(i => Plan.Draw(random, i, hubs)).ToList();
            var run = new Run(hub, merchants, drivers);
            await Parallel.ForEachAsync(plans, new ParallelOptions { MaxDegreeOfParallelism = Parallelism }, async (plan, _) =>
            {
                try
                {
                    await run.PlayAsync(plan);
                }
                catch (Exception e)
                {
                    run.Problems.Add($"payment #{plan.Index} ({plan.Wallet}, {run.PaymentIds.GetValueOrDefault(plan.Index)}): the scenario broke: {e.GetType().Name}: {e.Message}");
                }
            });

            var invariants = new CampaignInvariants(hub, drivers);
            await QuiesceAsync(run, invariants, merchantId, [hub.Hub, .. others]);
            var planOf = plans.Where(p => run.PaymentIds.ContainsKey(p.Index)).ToDictionary(p => run.PaymentIds[p.Index]);
            var (problems, summary) = await invariants.CheckAsync(merchantId, id => planOf.GetValueOrDefault(id)?.Outcomes());
            problems.InsertRange(0, run.Problems);

            output.WriteLine("faults injected: " + string.Join(", ", run.Faults.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Key} {f.Value}")));
            output.WriteLine($"faults total {run.Faults.Values.Sum()}; forged notifications {run.Forged}; replays {run.Replays}; refunds asked {run.RefundsAsked}; cancels {run.Cancels}");
            output.WriteLine(summary);
            foreach (var p in problems.Take(60))
            {
                output.WriteLine("VIOLATION " + p);
            }

            Assert.True(problems.Count == 0,
                $"fault campaign seed {seed} ({hubs} hub(s), {count} payments; replay with HUTONG_CAMPAIGN_SEED={seed}): {problems.Count} violations:\n" +
                string.Join('\n', problems.Take(40)));
        }
        finally
        {
            foreach (var c in clients)
            {
                c.Dispose();
            }

            foreach (var o in others)
            {
                await o.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// Releases any notification still held, then runs every hub's jobs (all at once, besides their own workers) until the
    /// merchant has nothing in flight, twice in a row; then waits for any pass still running.
    /// </summary>
    private async Task QuiesceAsync(Run run, CampaignInvariants invariants, string merchantId, IReadOnlyList<HubHandle> hubs)
    {
        foreach (var held in run.Held.GroupBy(h => h.Wallet, h => h.PaymentId))
        {
            foreach (var chunk in held.Chunk(SandboxControl.MaxReleased))
            {
                await run.ControlAsync(held.Key, "/notifications/release", new { matches = chunk });
            }
        }

        using var stop = new CancellationTokenSource();
        var loops = hubs.Select(h => Task.Run(async () =>
        {
            var jobs = h.App.Services.GetRequiredService<Jobs>();
            for (var round = 0; round < 10_000 && !stop.IsCancellationRequested; round++)
            {
                try
                {
                    await jobs.RunOnceAsync(CancellationToken.None);
                }
                catch (AggregateException e)
                {
                    run.Problems.Add("a job pass failed: " + e.Message);
                }

                await Task.Delay(20, CancellationToken.None);
            }
        }, CancellationToken.None)).ToList();
        try
        {
            // Not an assertion here: what is left is listed by the invariants (with the seed) rather than a bare timeout.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            for (var quiet = 0; quiet < 2; await Task.Delay(100))
            {
                quiet = await invariants.OutstandingAsync(merchantId) == 0 ? quiet + 1 : 0;
                if (DateTime.UtcNow > deadline)
                {
                    run.Problems.Add("the hubs did not quiesce within 60 s");
                    break;
                }
            }
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(loops);
        }

        await Task.Delay(500); // the hubs' own workers: a pass still running ends, so a late double count is in the tables
    }

    private enum Buyer
    {
        Pays,
        NeverPays,
        CancelsThenPays,
    }

    private enum Told
    {
        Normally,
        Dropped,
        Duplicated,
        Delayed,
        Held,
    }

    /// <summary>One fault for one wallet operation, drawn by the plan.</summary>
    private sealed record Fault(WalletOperation Operation, SandboxFault Kind, int Count, TimeSpan? Delay = null);

    /// <summary>A refund the plan asks for: null amount = all that is left; Together = sent at the same time as the one before, to another hub.</summary>
    private sealed record RefundAsk(long? Amount, bool Together, Fault? Fault);

    private sealed record Plan(
        int Index, string Wallet, int Hub, long Amount, List<Fault> Faults, Buyer Buyer, Told Told, bool Forge, bool Replay, bool CancelAfterPaid,
        List<RefundAsk> Refunds)
    {
        private static readonly SandboxFault[] CallFaults =
            [SandboxFault.TimeoutBefore, SandboxFault.TimeoutAfter, SandboxFault.ServerError, SandboxFault.BadResponseSignature, SandboxFault.Delay];

        /// <summary>
        /// The final statuses this plan allows, whatever the timing and the number of hubs. No fault the campaign draws
        /// makes a wallet refuse or fail an order (they lose, garble or delay answers; a re-send is the same order), so no
        /// payment may end failed. A cancel can be refused by the plan's query fault (the close is checked by a query,
        /// and UnionPay cannot close at all): the payment then stays pending, or is paid by a buyer who pays after it.
        /// </summary>
        public IReadOnlyCollection<string> Outcomes()
        {
            var cancelMayBeRefused = Faults.Any(f => f.Operation == WalletOperation.Query);
            return Buyer switch
            {
                Buyer.Pays => ["succeeded"],
                Buyer.NeverPays => cancelMayBeRefused ? ["canceled", "pending"] : ["canceled"],
                _ => cancelMayBeRefused ? ["canceled", "succeeded"] : ["canceled"],
            };
        }

        public static Plan Draw(Random r, int index, int hubs)
        {
            var wallet = WalletNames[r.Next(WalletNames.Length)];
            var amount = r.Next(100, 50_000);
            var faults = new List<Fault>();
            Fault CallFault(WalletOperation op)
            {
                var kind = CallFaults[r.Next(CallFaults.Length)];
                // A slow answer either within the connector's attempt timeout (HubFixture.AttemptTimeout, 2 s) or beyond it.
                return new Fault(op, kind, r.Next(1, 3), kind == SandboxFault.Delay ? TimeSpan.FromMilliseconds(r.Next(2) == 0 ? 300 : 2_600) : null);
            }

            if (r.NextDouble() < 0.4)
            {
                faults.Add(CallFault(WalletOperation.Create));
            }

            if (r.NextDouble() < 0.25)
            {
                var kind = new[] { SandboxFault.ServerError, SandboxFault.BadResponseSignature, SandboxFault.TimeoutBefore }[r.Next(3)];
                faults.Add(new Fault(WalletOperation.Query, kind, 1));
            }

            var buyer = r.NextDouble() switch { < 0.75 => Buyer.Pays, < 0.88 => Buyer.NeverPays, _ => Buyer.CancelsThenPays };
            var told = r.NextDouble() switch { < 0.55 => Told.Normally, < 0.67 => Told.Dropped, < 0.79 => Told.Duplicated, < 0.9 => Told.Delayed, _ => Told.Held };
            var refunds = new List<RefundAsk>();
            if (buyer == Buyer.Pays && r.NextDouble() < 0.65)
            {
                var left = (long)amount;
                for (var i = r.Next(1, 4); i > 0 && left > 0; i--)
                {
                    long? part = i == 1 || r.NextDouble() < 0.2 ? null : r.Next(1, (int)Math.Max(2, left / 2));
                    left -= part ?? left;
                    refunds.Add(new RefundAsk(part, refunds.Count > 0 && r.NextDouble() < 0.5, r.NextDouble() < 0.35 ? CallFault(WalletOperation.Refund) : null));
                }
            }

            return new Plan(index, wallet, index % hubs, amount, faults, buyer, told, Forge: r.NextDouble() < 0.3, Replay: r.NextDouble() < 0.2,
                CancelAfterPaid: r.NextDouble() < 0.15, refunds);
        }
    }

    /// <summary>Plays the plans against the hubs and sandbox, counting what it injected.</summary>
    private sealed class Run(HubFixture hub, IReadOnlyList<ApiClient> merchants, IReadOnlyDictionary<string, IWalletDriver> drivers)
    {
        public ConcurrentBag<string> Problems { get; } = [];

        public ConcurrentDictionary<string, int> Faults { get; } = new(StringComparer.Ordinal);

        public ConcurrentDictionary<int, string> PaymentIds { get; } = new();

        public ConcurrentBag<(string Wallet, string PaymentId)> Held { get; } = [];

        private int _forged, _replays, _refundsAsked, _cancels;

        public int Forged => _forged;

        public int Replays => _replays;

        public int RefundsAsked => _refundsAsked;

        public int Cancels => _cancels;

        private static readonly TimeSpan Settle = TimeSpan.FromSeconds(25);

        public async Task PlayAsync(Plan plan)
        {
            var m = merchants[plan.Hub];
            var id = await m.CreatePaymentAsync(plan.Amount);
            PaymentIds[plan.Index] = id;
            var driver = drivers[plan.Wallet];
            foreach (var f in plan.Faults)
            {
                Inject(plan.Wallet, f, id);
            }

            switch (plan.Told)
            {
                case Told.Dropped:
                    Inject(plan.Wallet, new Fault(WalletOperation.Notify, SandboxFault.DropNotification, 1), id);
                    break;
                case Told.Duplicated:
                    Inject(plan.Wallet, new Fault(WalletOperation.Notify, SandboxFault.DuplicateNotification, 1), id);
                    break;
                case Told.Delayed:
                    Inject(plan.Wallet, new Fault(WalletOperation.Notify, SandboxFault.Delay, 1, TimeSpan.FromMilliseconds(400)), id);
                    break;
                case Told.Held:
                    await ControlAsync(plan.Wallet, "/notifications/hold", new { match = id });
                    Held.Add((plan.Wallet, id));
                    Count($"{plan.Wallet}/notify/held");
                    break;
            }

            var confirm = await m.ConfirmAsync(id, wallet: plan.Wallet);
            if (confirm.Status != HttpStatusCode.OK)
            {
                Problems.Add($"payment {id} ({plan.Wallet}): confirm answered {confirm}");
                return;
            }

            // Unknown until a re-query finds (or re-sends) the order; then the buyer has a code to pay.
            var pending = await StatusAsync(m, id, s => s != "unknown", "known");
            if (pending.Str("status") != "pending")
            {
                return; // refused by the wallet: nothing to pay
            }

            var nextAction = pending.Json.GetProperty("next_action");
            var other = merchants[(plan.Hub + 1) % merchants.Count];
            if (plan.Buyer == Buyer.NeverPays)
            {
                Interlocked.Increment(ref _cancels);
                await other.PostAsync($"/v1/payments/{id}/cancel");
                return;
            }

            if (plan.Buyer == Buyer.CancelsThenPays)
            {
                Interlocked.Increment(ref _cancels);
                await other.PostAsync($"/v1/payments/{id}/cancel");
                await driver.PayAsync(nextAction); // refused where the wallet closed it; UnionPay cannot: the hub refunds it
                return;
            }

            Assert.Equal(HttpStatusCode.OK, (await driver.PayAsync(nextAction)).StatusCode);
            var outTradeNo = await hub.Db.ReadAsync(c => Dapper.SqlMapper.QuerySingleAsync<string>(c,
                "SELECT out_trade_no FROM payment_attempts WHERE payment_id = @id AND status <> 'failed' ORDER BY created_at DESC LIMIT 1", new { id }), default);
            if (plan.Forge)
            {
                foreach (var forgery in new[] { Forgery.WrongKey, Forgery.TamperedAmount })
                {
                    Interlocked.Increment(ref _forged);
                    using var refused = await driver.NotifyAsync(outTradeNo, forgery);
                    if (refused.StatusCode != driver.RefusedNotificationStatus)
                    {
                        Problems.Add($"payment {id} ({plan.Wallet}): a {forgery} notification was answered {(int)refused.StatusCode}");
                    }
                }
            }

            if (plan.Told is Told.Dropped or Told.Held)
            {
                // Nobody tells the hub: canceling asks the wallet, which says paid (a 409 payment_already_paid). A query
                // fault can fail that ask (the payment stays pending until it expires), so the merchant asks again, as one would.
                for (var tries = 0; tries < 4; tries++)
                {
                    Interlocked.Increment(ref _cancels);
                    if ((await merchants[(plan.Hub + 1 + tries) % merchants.Count].PostAsync($"/v1/payments/{id}/cancel")).Status == HttpStatusCode.Conflict)
                    {
                        break;
                    }
                }
            }

            if (plan.Told == Told.Held)
            {
                await ControlAsync(plan.Wallet, "/notifications/release", new { matches = new[] { id } }); // arrives late: applied never
            }

            await StatusAsync(m, id, s => s == "succeeded", "succeeded");
            if (plan.Replay && driver.Deliveries(outTradeNo).FirstOrDefault() is { } sent)
            {
                Interlocked.Increment(ref _replays);
                await ControlAsync(plan.Wallet, "/notifications/replay", new { notification_id = sent.NotificationId });
            }

            if (plan.CancelAfterPaid)
            {
                Interlocked.Increment(ref _cancels);
                var late = await other.PostAsync($"/v1/payments/{id}/cancel");
                if (late.Status != HttpStatusCode.Conflict)
                {
                    Problems.Add($"payment {id}: canceling the succeeded payment answered {late}");
                }
            }

            // Refunds: each on the next hub round-robin; "together" ones are sent at the same moment as the one before.
            var batch = new List<Func<Task>>();
            var hubOf = plan.Hub;
            foreach (var ask in plan.Refunds)
            {
                if (!ask.Together && batch.Count > 0)
                {
                    await Task.WhenAll(batch.Select(b => b()));
                    batch.Clear();
                }

                if (ask.Fault is { } f)
                {
                    Inject(plan.Wallet, f, id);
                }

                var client = merchants[hubOf++ % merchants.Count];
                batch.Add(async () =>
                {
                    Interlocked.Increment(ref _refundsAsked);
                    var r = await client.PostAsync($"/v1/payments/{id}/refunds", ask.Amount is { } a ? new { amount = a } : new { amount = (long?)null });
                    if (r.Status is not (HttpStatusCode.Created or HttpStatusCode.Conflict))
                    {
                        Problems.Add($"payment {id}: a refund of {ask.Amount?.ToString() ?? "the rest"} answered {r}");
                    }
                });
            }

            await Task.WhenAll(batch.Select(b => b()));
        }

        private async Task<ApiResponse> StatusAsync(ApiClient m, string id, Func<string, bool> done, string what)
        {
            var deadline = DateTime.UtcNow + Settle;
            ApiResponse last;
            do
            {
                last = await m.GetAsync($"/v1/payments/{id}");
                if (last.Status == HttpStatusCode.OK && done(last.Str("status")))
                {
                    return last;
                }

                await Task.Delay(100);
            }
            while (DateTime.UtcNow < deadline);

            throw new TimeoutException($"payment {id} not {what} within {Settle.TotalSeconds} s; last {last}");
        }

        private void Inject(string wallet, Fault f, string paymentId)
        {
            var operation = (wallet, f.Operation) switch
            {
                ("wechatpay", WalletOperation.Create) => "native",
                ("alipay", WalletOperation.Create) => "precreate",
                ("unionpay", WalletOperation.Create or WalletOperation.Refund) => "apply", // both are backTransReq.do
                ("wechatpay", WalletOperation.Refund) => "refund",
                ("alipay", WalletOperation.Refund) => "alipay.trade.refund",
                (_, WalletOperation.Query) => "query",
                _ => "notify",
            };
            hub.Sandbox.Wallet(wallet).Faults.Inject(operation, f.Kind, f.Count, paymentId, f.Delay);
            Count($"{wallet}/{f.Operation.ToString().ToLowerInvariant()}/{f.Kind}", f.Count);
        }

        private void Count(string what, int n = 1) => Faults.AddOrUpdate(what, n, (_, v) => v + n);

        public async Task ControlAsync(string wallet, string path, object body)
        {
            using var http = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl), Timeout = TimeSpan.FromSeconds(30) };
            using var r = await http.PostAsJsonAsync($"/sandbox/{wallet}{path}", body, SandboxJson.Options);
            if (!r.IsSuccessStatusCode)
            {
                Problems.Add($"sandbox {wallet}{path}: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
            }
        }
    }
}
