using System.Text;
using Dapper;
using Hutong.Connectors.Abstractions;
using Hutong.Server;
using Hutong.Server.Features.Ledger;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Features.Payments;
using Hutong.Server.Features.Refunds;
using Hutong.Server.Features.Workers;
using Hutong.Server.Http;
using Hutong.Server.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Hutong.Integration.Tests.Simulation;

/// <summary>
/// Deterministic simulation: the real payment service, workers, refunds and ledger on a real SQLite store, driven step
/// by step under a hand-moved clock against <see cref="FakeWallet"/>, every choice (the test's and the wallet's) drawn from
/// one seed. Buyers pay at random moments, notifications arrive late, twice and out of order, wallet answers are lost.
/// After draining, the books must agree with the wallet's truth. A failing seed is printed and replays exactly.
/// </summary>
public sealed class DeterministicSimulationTests
{
    private sealed record Notice(WalletTransaction Tx);

    private static async Task<string> RunAsync(int seed, int steps)
    {
        var rng = new Random(seed);
        var clock = new SimClock(new DateTimeOffset(2026, 11, 1, 2, 0, 0, TimeSpan.Zero));
        var wallet = new FakeWallet(rng, clock, canClose: seed % 2 == 1); // even seeds: a wallet that cannot close orders
        // The store's fsyncs are real; on tmpfs they are cheap, which keeps a dozen seeds within seconds.
        var dir = Directory.Exists("/dev/shm") ? Directory.CreateDirectory(Path.Combine("/dev/shm", "hutong-sim-" + Guid.NewGuid().ToString("N")[..8])) : Directory.CreateTempSubdirectory("hutong-sim-");
        try
        {
            await using var hub = await HubApp.BuildAsync([], b =>
            {
                b.Logging.ClearProviders();
                b.Services.AddSingleton<TimeProvider>(clock);
                b.Services.AddSingleton<IWalletConnector>(wallet);
                b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
                {
                    ["Store:ConnectionString"] = $"Data Source={Path.Combine(dir.FullName, "sim.db")}",
                    ["Hutong:SendRefundsImmediately"] = "false",
                    ["Hutong:WalletFeeBasisPoints:wechatpay"] = "0", // so the wallet's money and the ledger's compare one to one
                    ["Hutong:Reconciliation:Enabled"] = "false",
                    ["Hutong:Workers:Parallelism"] = "1", // one wallet call at a time, in order: the seed replays exactly
                    ["Hutong:UnknownRecheckSchedule:0"] = "00:00:10",
                    ["Hutong:UnknownRecheckSchedule:1"] = "00:00:30",
                    ["Hutong:UnknownRecheckSchedule:2"] = "00:01:00",
                    ["Hutong:UnknownRecheckSchedule:3"] = "00:02:00",
                    ["Hutong:UnknownRecheckSchedule:4"] = "00:05:00",
                    ["Hutong:UnknownRecheckSchedule:5"] = "00:05:00",
                    ["Hutong:UnknownRecheckSchedule:6"] = "00:05:00",
                    ["Hutong:UnknownRecheckSchedule:7"] = "00:05:00",
                    ["Hutong:UnknownRecheckSchedule:8"] = "00:05:00",
                    ["Hutong:UnknownRecheckSchedule:9"] = "00:05:00",
                    ["Hutong:UnknownRecheckSchedule:10"] = "00:05:00",
                    ["Hutong:UnknownRecheckSchedule:11"] = "00:05:00",
                    ["Hutong:UnknownRecheckSchedule:12"] = "00:05:00",
                    ["Hutong:UnknownRecheckSchedule:13"] = "00:05:00",
                    ["Hutong:UnknownRecheckSchedule:14"] = "00:05:00",
                    ["Hutong:UnknownRecheckSchedule:15"] = "00:05:00",
                });
            }, new WalletAccounts(null, null, null));
            // The hosted services are never started: the simulation is the only thing that moves.
            var services = hub.App.Services;
            var db = services.GetRequiredService<Db>();
            await Migrator.MigrateAsync(db, default);
            var payments = services.GetRequiredService<PaymentService>();
            var store = services.GetRequiredService<PaymentStore>();
            var workers = services.GetRequiredService<Jobs>();
            var refunds = services.GetRequiredService<RefundService>();
            var (merchant, _) = await services.GetRequiredService<MerchantStore>().CreateMerchantAsync("sim", default);
            var ids = new List<string>();
            var inbox = new List<Notice>();

            async Task ConfirmAsync()
            {
                if (ids.Count > 0 && await store.GetAsync(merchant.Id, ids[rng.Next(Math.Max(0, ids.Count - 5), ids.Count)], default) is { } p)
                {
                    // The merchant's server, or one of two friends on a friend-pay link: claims, takeovers and switches.
                    var payer = rng.Next(10) switch { < 4 => null, < 7 => new PayerContext("friend", "session-a"), _ => new PayerContext("friend", "session-b") };
                    await payments.ConfirmAsync(p, "wechatpay", default, payer);
                }
            }

            for (var step = 0; step < steps; step++)
            {
                switch (rng.Next(20))
                {
                    case 0 or 1 or 2:
                        var created = await payments.CreateAsync(merchant.Id, new CreatePaymentRequest(
                            rng.Next(1, 100_000), "CNY", "sim item", $"sim-{step}", 600, null), null, default);
                        ids.Add(created.Value!.Id);
                        break;
                    case 3 or 4 or 5 or 6 or 7:
                        await ConfirmAsync();
                        break;
                    case 8 or 9 or 10 or 11 when wallet.OrderNumbers.Count > 0: // a buyer pays some open order; the wallet will tell, maybe twice
                        var no = wallet.OrderNumbers[rng.Next(Math.Max(0, wallet.OrderNumbers.Count - 6), wallet.OrderNumbers.Count)];
                        if (wallet.Pay(no))
                        {
                            inbox.Add(new Notice(wallet.Truth(no)));
                            if (rng.Next(4) == 0)
                            {
                                inbox.Add(new Notice(wallet.Truth(no)));
                            }
                        }

                        break;
                    case 12 or 13 when inbox.Count > 0: // a notification arrives, in any order; some are lost for good
                        var n = inbox[rng.Next(inbox.Count)];
                        inbox.Remove(n);
                        if (rng.Next(5) != 0)
                        {
                            await payments.ApplyWalletTransactionAsync(n.Tx, "notification", default);
                        }

                        break;
                    case 14 or 15 when ids.Count > 0:
                        if (rng.Next(3) == 0)
                        {
                            await payments.CancelAsync(merchant.Id, ids[rng.Next(ids.Count)], null, default);
                        }
                        else if (await store.GetAsync(merchant.Id, ids[rng.Next(ids.Count)], default) is { Status: "succeeded" } paid)
                        {
                            await refunds.CreateAsync(merchant.Id, paid.Id, new CreateRefundRequest(rng.Next(1, (int)paid.Amount + 1), null), null, default);
                        }

                        break;
                    default:
                        clock.Advance(TimeSpan.FromSeconds(rng.Next(1, 90))); // payer claims last 3 minutes, payments 10
                        await workers.RunOnceAsync(default);
                        break;
                }
            }

            // Drain: the remaining notifications, then time enough for every schedule and expiry to play out.
            foreach (var n in inbox)
            {
                await payments.ApplyWalletTransactionAsync(n.Tx, "notification", default);
            }

            for (var i = 0; i < 150; i++)
            {
                clock.Advance(TimeSpan.FromMinutes(5));
                await workers.RunOnceAsync(default);
            }

            return await CheckAsync(seed, db, wallet, services.GetRequiredService<LedgerStore>(), ids);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>The invariants; returns a digest of the final state (for the replay check).</summary>
    private static async Task<string> CheckAsync(int seed, Db db, FakeWallet wallet, LedgerStore ledger, List<string> ids)
    {
        var why = $"seed {seed}: ";
        var attempts = (await db.ReadAsync(c => c.QueryAsync<AttemptRow>("SELECT * FROM payment_attempts ORDER BY id"), default)).ToList();
        var paymentsById = (await db.ReadAsync(c => c.QueryAsync<PaymentRow>("SELECT * FROM payments"), default)).ToDictionary(p => p.Id);
        var refundRows = (await db.ReadAsync(c => c.QueryAsync<RefundRow>("SELECT * FROM refunds ORDER BY id"), default)).ToList();

        Assert.DoesNotContain(paymentsById.Values, p => p.Status == "unknown"); // UNKNOWN is always resolved
        Assert.DoesNotContain(attempts, a => a.Status is "unknown" or "requested" or "stuck");
        Assert.DoesNotContain(refundRows, r => r.Status is "pending" or "processing" or "unknown");

        foreach (var (no, order) in wallet.Orders)
        {
            var attempt = Assert.Single(attempts, a => a.OutTradeNo == no); // every wallet order is one the hub made
            var payment = paymentsById[attempt.PaymentId];
            if (order.State == "PAID")
            {
                // Money taken is either the payment's one capture or returned in full by the hub — never kept twice.
                var isTheCapture = payment.Status == "succeeded" && payment.CurrentAttemptId == attempt.Id;
                var returned = refundRows.Any(r => r.AttemptId == attempt.Id && r.InitiatedBy == "system" && r.Status == "succeeded");
                Assert.True(isTheCapture ^ returned, why + $"order {no} (paid {order.PaidAt:HH:mm:ss}, expires {order.ExpiresAt:HH:mm:ss}): capture {isTheCapture}, returned {returned}; "
                    + $"attempt {attempt.Status} (current: {payment.CurrentAttemptId == attempt.Id}), payment {payment.Status}, refunds [{string.Join(", ", refundRows.Where(r => r.AttemptId == attempt.Id).Select(r => $"{r.InitiatedBy} {r.Status} {r.ErrorCode}"))}]");
                Assert.True(order.Refunds.Values.Sum() <= order.Amount, why + "over-refunded at the wallet");
            }
        }

        foreach (var p in paymentsById.Values.Where(p => p.Status == "succeeded"))
        {
            var current = Assert.Single(attempts, a => a.Id == p.CurrentAttemptId);
            Assert.Equal("PAID", wallet.Orders[current.OutTradeNo].State); // no success the wallet did not confirm
            Assert.True(p.AmountRefunded <= p.Amount, why + "refunded more than captured");
            Assert.Equal(p.AmountRefunded, refundRows.Where(r => r.PaymentId == p.Id && r.InitiatedBy == "merchant" && r.Status == "succeeded").Sum(r => r.Amount));
        }

        var verified = await ledger.VerifyAsync(null, default);
        Assert.True(verified.Ok, why + string.Join("; ", verified.Problems));
        var balances = await ledger.BalancesAsync(null, default);
        long Balance(string prefix) => balances.Where(b => b.Account.StartsWith(prefix, StringComparison.Ordinal)).Sum(b => b.Balance);
        Assert.Equal(0, balances.Sum(b => b.Balance));
        Assert.Equal(0, Balance("suspense:")); // every extra capture went back
        // The money the wallet holds for the hub, to the fen: paid in, less refunds paid out.
        var walletHolds = wallet.Orders.Values.Where(o => o.State == "PAID").Sum(o => o.Amount - o.Refunds.Values.Sum());
        Assert.True(walletHolds == Balance("wallet_clearing:"), why + $"wallet holds {walletHolds}, ledger says {Balance("wallet_clearing:")}");
        Assert.Equal(-walletHolds, Balance("merchant_payable:"));

        var digest = new StringBuilder();
        foreach (var id in ids)
        {
            var p = paymentsById[id];
            digest.Append(p.Status).Append(':').Append(p.AmountRefunded).Append(':')
                .AppendJoin(',', attempts.Where(a => a.PaymentId == id).Select(a => a.Status)).Append('|');
        }

        digest.Append(string.Join(',', refundRows.Select(r => $"{r.InitiatedBy}:{r.Amount}:{r.Status}"))).Append('|').Append(walletHolds);
        return digest.ToString();
    }

    public static TheoryData<int> Seeds()
    {
        var data = new TheoryData<int>();
        foreach (var seed in Enumerable.Range(1, 12))
        {
            data.Add(seed);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task Books_agree_with_the_wallet_whatever_it_does(int seed) => await RunAsync(seed, 160);

    [Fact]
    public async Task A_seed_replays_exactly() => Assert.Equal(await RunAsync(20261123, 120), await RunAsync(20261123, 120));
}
