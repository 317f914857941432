using System.Diagnostics;
using Hutong.Domain;
using Hutong.Domain.Ledger;
using Hutong.Server.Features.Ledger;
using Hutong.Server.Storage;

/// <summary>
/// PostgreSQL ledger appends from many concurrent transactions (each one capture entry, as a payment's success posts),
/// next to the same round's single-row commit ceiling: an append that waits for a lock every append shares is bounded by
/// one commit at a time, whatever the hardware; one that does not commits in groups like any insert. The sealer runs
/// beside them as in a hub; then its rate on what is left (entries linked into the hash chain per second) and a verify.
/// </summary>
internal static class LedgerAppends
{
    public static async Task<(double PerSecond, double P99, double SealedPerSecond, bool Verified)> RunAsync(string connectionString, int secs, int conns)
    {
        await using var db = new Db(new StoreOptions { Provider = StoreProvider.Postgres, ConnectionString = connectionString, MaxPoolSize = conns + 4 });
        await Migrator.MigrateAsync(db, default);
        var ledger = new LedgerStore(db);
        var money = new Money(1234, Currency.Parse("CNY"));
        long n = 0;
        var latencies = new List<double>[conns];
        var sw = Stopwatch.StartNew();

        // The hub's ledger-seal job, as it runs beside the appends (every 250 ms): it keeps each account's unsealed rows,
        // which every append's balance read adds up, to a quarter second or so of postings.
        using var stop = new CancellationTokenSource();
        var sealer = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await ledger.SealAsync(default);
                await Task.Delay(250, stop.Token).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        });
        await Task.WhenAll(Enumerable.Range(0, conns).Select(async w =>
        {
            var mine = latencies[w] = [];
            var merchant = "mch_" + (w % 8); // a few merchants: their payable rows are shared, as in a real cluster
            while (sw.Elapsed.TotalSeconds < secs)
            {
                var reference = "pay_" + Interlocked.Increment(ref n);
                var t0 = Stopwatch.GetTimestamp();
                await db.WriteAsync((c, t) => ledger.AppendAsync(c, t, "payment_captured", reference, merchant, Postings.Captured("wechatpay", merchant, money), DateTimeOffset.UtcNow), default);
                mine.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }
        }));
        var elapsed = sw.Elapsed.TotalSeconds;
        await stop.CancelAsync();
        await sealer;
        var all = latencies.SelectMany(l => l).Order().ToList();
        var perSecond = all.Count / elapsed;
        var p99 = all[(int)(all.Count * 0.99)];

        var seal = Stopwatch.StartNew();
        long sealedCount = 0;
        while (await ledger.SealAsync(default) is var sealedNow and > 0)
        {
            sealedCount += sealedNow;
        }

        var sealedPerSecond = sealedCount / seal.Elapsed.TotalSeconds;
        var verified = await ledger.VerifyAsync(null, default);
        return (perSecond, p99, sealedPerSecond, verified.Ok && verified.Entries == all.Count);
    }
}
