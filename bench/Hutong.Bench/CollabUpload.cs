using System.Diagnostics;
using System.Globalization;
using System.Text;
using Hutong.Collab.Data;
using Hutong.Collab.Ids;
using Hutong.Server.Collab.DataSets;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

/// <summary>
/// Cooperation data sets (issue 19): a synthetic conversions CSV of N rows, generated on the fly (never a file, never in
/// memory), streamed through the upload pipeline (parse, normalise phone ids, bucket, write in chunks) into a real store;
/// the peak managed heap sampled every 20 ms, at N/10 and at N rows, so a flat figure shows memory does not grow with N.
/// </summary>
internal static class CollabUploadBench
{
    public static async Task RunAsync(int rows, string? pg)
    {
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine($"Collab data set upload — {Environment.ProcessorCount} cores; synthetic conversions CSV (phone ids, values in fen, Unix times), streamed");
        Console.WriteLine($"{"store / rows",-34} {"seconds",8} {"rows/s",10} {"MB read",8} {"peak heap MB",13} {"peak WS MB",11}");
        Console.WriteLine($"  {CollabBench.Load()}");
        var stores = new List<(string Name, StoreOptions Options)>();
        var dir = Directory.CreateTempSubdirectory("hutong-collab-");
        stores.Add(("sqlite", new StoreOptions { Provider = StoreProvider.Sqlite, ConnectionString = $"Data Source={Path.Combine(dir.FullName, "c.db")}" }));
        if (pg is not null)
        {
            stores.Add(("postgres", new StoreOptions { Provider = StoreProvider.Postgres, ConnectionString = await BenchPg.CreateDatabaseAsync(pg, "hutong_bench_collab") }));
        }

        foreach (var (name, options) in stores)
        {
            await using var db = new Db(options);
            await Migrator.MigrateAsync(db, CancellationToken.None);
            var svc = new CollabDataSetService(db, new CollabDataSetStore(db), Options.Create(new CollabDataSetLimits { MaxRows = 50_000_000, MaxBytes = 1L << 40 }), TimeProvider.System);
            foreach (var n in new[] { Math.Max(1, rows / 10), rows })
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                GC.Collect();
                long peak = 0;
                using var cts = new CancellationTokenSource();
                var sampler = Task.Run(async () =>
                {
                    while (!cts.IsCancellationRequested)
                    {
                        peak = Math.Max(peak, GC.GetTotalMemory(false));
                        await Task.Delay(20);
                    }
                });
                var sw = Stopwatch.StartNew();
                var stream = new SyntheticCsv(n);
                var outcome = await svc.UploadAsync(stream, DataSetSource.Csv, new DataSetUploadOptions
                {
                    Name = $"bench {n}",
                    Kind = CollabDataSetKind.Conversions,
                    Rule = IdRule.Phone,
                    IdColumn = "phone",
                    ValueColumn = "value",
                    TimeColumn = "time",
                }, null, CancellationToken.None);
                sw.Stop();
                cts.Cancel();
                await sampler;
                if (outcome.Failure is { } f)
                {
                    throw new InvalidOperationException($"upload refused: {f.Code} {f.Detail}");
                }

                Console.WriteLine(string.Create(inv, $"{$"{name} {n:N0}",-34} {sw.Elapsed.TotalSeconds,8:F1} {n / sw.Elapsed.TotalSeconds,10:N0} {stream.Produced / 1e6,8:F0} {peak / 1e6,13:F0} {Process.GetCurrentProcess().PeakWorkingSet64 / 1e6,11:F0}"));
                Console.WriteLine($"  {CollabBench.Load()}");
                if (outcome.Value!.Rows != n)
                {
                    throw new InvalidOperationException($"stored {outcome.Value.Rows} rows, expected {n}");
                }
            }
        }

        Console.WriteLine("(peak heap: the managed heap sampled every 20 ms; flat between N/10 and N rows = bounded by the chunk, not the file:"
            + " the same figure is the estimate at 10 M rows. Peak WS: the process's peak working set so far (VmHWM), runtime and SQLite's page cache included.)");
    }

    /// <summary>A read-only stream of CSV text: header, then row i = a distinct CN mobile number, a value, a time.</summary>
    private sealed class SyntheticCsv(long rows) : Stream
    {
        private long _next = -1;
        private byte[] _pending = [];
        private int _at;

        public long Produced { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => Produced; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var written = 0;
            while (written < count)
            {
                if (_at == _pending.Length)
                {
                    if (_next >= rows)
                    {
                        break;
                    }

                    var sb = new StringBuilder(64 * 1024);
                    if (_next < 0)
                    {
                        sb.Append("phone,value,time\r\n");
                        _next = 0;
                    }

                    for (var i = 0; i < 1000 && _next < rows; i++, _next++)
                    {
                        // "138 0000 0001" style, spaces on every other row: the normaliser has work to do.
                        var digits = (13_800_000_000L + _next).ToString(CultureInfo.InvariantCulture);
                        sb.Append(_next % 2 == 0 ? digits : $"+86 {digits[..3]} {digits[3..7]} {digits[7..]}")
                            .Append(',').Append(_next % 100_000).Append(',').Append(1_700_000_000 + _next).Append("\r\n");
                    }

                    _pending = Encoding.UTF8.GetBytes(sb.ToString());
                    _at = 0;
                }

                var n = Math.Min(count - written, _pending.Length - _at);
                Array.Copy(_pending, _at, buffer, offset + written, n);
                _at += n;
                written += n;
            }

            Produced += written;
            return written;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

/// <summary>A fresh PostgreSQL database for one bench section.</summary>
internal static class BenchPg
{
    public static async Task<string> CreateDatabaseAsync(string server, string name)
    {
        await using (var c = new Npgsql.NpgsqlConnection(server))
        {
            await c.OpenAsync();
            await using var drop = new Npgsql.NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)", c);
            await drop.ExecuteNonQueryAsync();
            await using var create = new Npgsql.NpgsqlCommand($"CREATE DATABASE {name}", c);
            await create.ExecuteNonQueryAsync();
        }

        return new Npgsql.NpgsqlConnectionStringBuilder(server) { Database = name }.ConnectionString;
    }
}
