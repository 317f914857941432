using System.Diagnostics;
using System.Globalization;
using Dapper;
using Hutong.Server;
using Hutong.Server.Features.Console;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Storage;
using Microsoft.Extensions.DependencyInjection;

/// <summary>
/// The console's payments search on a large PostgreSQL store (issue 15): seeds N payments with generate_series in
/// 1 M-row statements (20 merchants, 7 statuses, 3 wallets, 1 M buyers, one payment every 3 s per merchant) with the
/// payments table's secondary indexes dropped and built again afterwards (minutes for 10 M rows, not the hours of
/// maintaining every index row by row), runs ANALYZE, then times the typical searches through
/// <see cref="ConsolePaymentQueries"/> (the page's own query, no HTTP) and prints p50/p99 per search with the load
/// average. Usage: --only console-search [--console-rows 10000000].
/// </summary>
internal static class ConsoleSearchBench
{
    private const int Merchants = 20;
    private const int Runs = 200;

    public static async Task RunAsync(string connectionString, long rows)
    {
        await using var hub = await BenchHub.StartAsync(new Dictionary<string, string?>
        {
            ["Store:Provider"] = nameof(StoreProvider.Postgres),
            ["Store:ConnectionString"] = connectionString,
        });
        var db = hub.App.Services.GetRequiredService<Db>();
        var merchants = new List<string>();
        for (var i = 0; i < Merchants; i++)
        {
            merchants.Add((await hub.App.Services.GetRequiredService<MerchantStore>().CreateMerchantAsync($"search-{i}", CancellationToken.None)).Merchant.Id);
        }

        var start = DateTimeOffset.UtcNow.AddDays(-400).ToUnixTimeMilliseconds();
        var seed = Stopwatch.StartNew();
        // The secondary indexes (not those behind a primary key or unique constraint): dropped for the load, built after.
        List<string> indexes;
        await using (var c = await db.OpenAsync(CancellationToken.None))
        {
            indexes = (await c.QueryAsync<string>(
                """
                SELECT i.indexdef FROM pg_indexes i
                WHERE i.tablename = 'payments' AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conname = i.indexname)
                """)).AsList();
            foreach (var def in indexes)
            {
                var name = def.Split(' ')[def.StartsWith("CREATE UNIQUE", StringComparison.Ordinal) ? 3 : 2];
                await c.ExecuteAsync($"DROP INDEX {name}");
            }
        }

        const long chunk = 1_000_000;
        for (long from = 1; from <= rows; from += chunk)
        {
            var to = Math.Min(rows, from + chunk - 1);
            await using var c = await db.OpenAsync(CancellationToken.None);
            await c.ExecuteAsync(
                """
                INSERT INTO payments (id, merchant_id, amount, currency, status, description, merchant_order_id, checkout_token, wallet, payer_id,
                                      expires_at, created_at, updated_at, version)
                SELECT 'pay_' || lpad(g::text, 12, '0'), (@merchants::text[])[1 + g % 20], 100 + (g * 7919) % 100000, 'CNY',
                       (ARRAY['succeeded','succeeded','succeeded','succeeded','expired','canceled','failed'])[1 + g % 7], 'bench',
                       'ord-' || g, 'ct-' || g, (ARRAY['wechatpay','alipay','unionpay'])[1 + g % 3],
                       CASE WHEN g % 7 < 4 THEN 'buyer-' || (g % 1000000) END,
                       @start + g * 150 + 900000, @start + g * 150, @start + g * 150, 1
                FROM generate_series(@from::bigint, @to::bigint) g
                """, new { merchants = merchants.ToArray(), start, from, to }, commandTimeout: 3600);
            Console.WriteLine($"  seeded {to:N0} payments ({seed.Elapsed.TotalSeconds:F0} s)");
        }

        await using (var c = await db.OpenAsync(CancellationToken.None))
        {
            await c.ExecuteAsync("SET maintenance_work_mem = '256MB'");
            foreach (var def in indexes)
            {
                await c.ExecuteAsync(def, commandTimeout: 3600);
            }

            Console.WriteLine($"  built {indexes.Count} indexes ({seed.Elapsed.TotalSeconds:F0} s)");
            await c.ExecuteAsync("ANALYZE payments", commandTimeout: 3600);
        }

        var queries = hub.App.Services.GetRequiredService<ConsolePaymentQueries>();
        var rnd = new Random(15);
        string M() => merchants[rnd.Next(Merchants)];
        long G() => rnd.NextInt64(1, rows + 1);
        long Day(long g) => start + g * 150 - (start + g * 150) % 86_400_000;
        var searches = new (string Name, Func<Task<PaymentPage>> Run)[]
        {
            ("merchant: newest page", () => queries.SearchAsync(M(), new PaymentFilter(), null, default)),
            ("merchant: status=failed", () => queries.SearchAsync(M(), new PaymentFilter(Status: "failed"), null, default)),
            ("merchant: wallet=unionpay", () => queries.SearchAsync(M(), new PaymentFilter(Wallet: "unionpay"), null, default)),
            ("merchant: date range (one day)", () => { var g = G(); return queries.SearchAsync(merchants[(int)(g % 20)], new PaymentFilter(From: Day(g), To: Day(g) + 86_400_000), null, default); }),
            ("merchant: wallet + one day", () => { var g = G(); return queries.SearchAsync(merchants[(int)(g % 20)], new PaymentFilter(Wallet: "alipay", From: Day(g), To: Day(g) + 86_400_000), null, default); }),
            ("merchant: order id", () => { var g = G(); return queries.SearchAsync(merchants[(int)(g % 20)], new PaymentFilter(MerchantOrderId: $"ord-{g}"), null, default); }),
            ("merchant: payment id", () => { var g = G(); return queries.SearchAsync(merchants[(int)(g % 20)], new PaymentFilter(PaymentId: $"pay_{g:D12}"), null, default); }),
            ("merchant: buyer id", () => queries.SearchAsync(M(), new PaymentFilter(BuyerId: $"buyer-{rnd.Next(1_000_000)}"), null, default)),
            ("merchant: exact amount (scan within merchant)", () => queries.SearchAsync(M(), new PaymentFilter(Amount: 100 + rnd.Next(100_000)), null, default)),
            ("operator: all merchants, newest page", () => queries.SearchAsync(null, new PaymentFilter(), null, default)),
            ("merchant: page 2 (keyset cursor)", async () => { var m = M(); var p1 = await queries.SearchAsync(m, new PaymentFilter(), null, default); return await queries.SearchAsync(m, new PaymentFilter(), p1.Next, default); }),
        };
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"console payments search, PostgreSQL, {rows:N0} payments ({seed.Elapsed.TotalSeconds:F0} s to seed), {Runs} runs each, one caller"));
        Console.WriteLine($"load average before the searches: {Load()}");
        Console.WriteLine($"{"search",-46} {"p50 ms",8} {"p99 ms",8} {"rows",6}");
        foreach (var (name, run) in searches)
        {
            await run(); // warm
            var times = new List<double>();
            var found = 0;
            for (var i = 0; i < Runs; i++)
            {
                var sw = Stopwatch.StartNew();
                found += (await run()).Rows.Count;
                times.Add(sw.Elapsed.TotalMilliseconds);
            }

            times.Sort();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name,-46} {times[Runs / 2],8:F2} {times[(int)Math.Ceiling(Runs * 0.99) - 1],8:F2} {found / Runs,6}"));
        }

        Console.WriteLine($"load average after the searches: {Load()}");
    }

    private static string Load() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";
}
