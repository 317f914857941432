using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Hutong.Collab;
using Hutong.Collab.Crypto;
using Hutong.Collab.Ids;
using Hutong.Collab.Psi;
using Hutong.Collab.Sum;

/// <summary>
/// Cooperation protocols (issue 19): the machine's raw ristretto255 scalar-multiplication ceiling (one core and all
/// cores, measured in this run) beside ECDH-PSI cardinality with both parties in this process, and the attribution
/// protocol's cost per conversion, with the public anchors printed beside ours.
/// </summary>
internal static class CollabBench
{
    public static void Run(bool smoke, int items)
    {
        var inv = CultureInfo.InvariantCulture;
        var cores = Environment.ProcessorCount;
        var window = TimeSpan.FromSeconds(smoke ? 0.5 : 3);
        Console.WriteLine($"Cooperation protocols — {cores} cores; both parties in this one process (they share the cores)");

        // 1. Ceilings: scalar multiplications (the protocol's unit of work) and hash-to-group, one core, then all cores.
        Console.WriteLine($"  {Load()}");
        var one = MultsPerSecond(1, window);
        var all = MultsPerSecond(cores, window);
        var (hashes, fromHash) = HashesPerSecond(window);
        Console.WriteLine(string.Create(inv, $"{"ristretto255 scalar mult/s, 1 core (ceiling)",-52} {one,12:N0}"));
        Console.WriteLine(string.Create(inv, $"{$"ristretto255 scalar mult/s, {cores} cores (ceiling)",-52} {all,12:N0}   ({all / one:F2}× one core)"));
        Console.WriteLine(string.Create(inv, $"{"hash-to-group (SHA-512 + from_hash)/s, 1 core",-52} {hashes,12:N0}   (from_hash alone {fromHash:N0}/s: {one / hashes:F2} of a mult per item)"));
        Console.WriteLine(string.Create(inv,
            $"{"  hash-to-group's share of the floor (M+N hashes ÷ 2(M+N) mults)",-52} {one / hashes / 2,12:P1}   (CPU the cores spend besides the multiplications; no core is idle to hide it on)"));

        // 2. PSI cardinality, M = N = items, 78 % overlap: 2(M + N) multiplications, hashing overlapped with them.
        var (a, e) = Ids(items, 0.78);
        Psi($"PSI cardinality {Short(a.Count)} × {Short(e.Count)}", a, e, one, all, window, bucketBits: null);
        a = e = [];

        // 3. Attribution: 4 cohorts (2 campaigns × test/control) against the buyers; ElGamal vs Paillier per encryption.
        var cohortSize = smoke ? 1_000 : 10_000;
        var buyers = smoke ? 2_000 : 20_000;
        var (cohorts, conversions) = Campaigns(cohortSize, buyers);
        var enc = new LimbEncoding();
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        var attribution = InProcess.Attribution("bench-attr", IdRule.Phone, cohorts, conversions, new ReleasePolicy(10), enc, 8_192);
        var attrSeconds = sw.Elapsed.TotalSeconds;
        var attrCpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
        var converted = attribution.Counts.Sum(c => c.Converters.Count ?? 0);
        Console.WriteLine(string.Create(inv,
            $"{$"attribution: {Short(4 * cohortSize)} exposed × {Short(conversions.Count)} buyers, s",-52} {attrSeconds,12:F2}   ({converted:N0} exposed converters in 4 segments)"));
        Console.WriteLine(string.Create(inv,
            $"{"  CPU ms per buyer (whole protocol); bytes per buyer",-52} {attrCpu * 1000 / conversions.Count,12:F2} {attribution.BytesValueHolderToAd / (double)conversions.Count,10:N0}   ({enc.Limbs} ElGamal ciphertexts of {enc.LimbBits}-bit limbs: value and value²)"));
        var elgamal = ElGamalEncryptionsPerSecond(window);
        var (bigInteger, openSsl) = PaillierEncryptMs(smoke ? 2 : 8);
        Console.WriteLine(string.Create(inv,
            $"{"  exp-ElGamal encryption ms (1 core); ×6 per buyer",-52} {1000 / elgamal,12:F3} {6000 / elgamal,10:F2}"));
        Console.WriteLine(string.Create(inv,
            $"{"  Paillier-2048 r^n mod n² ms: BigInteger, OpenSSL",-52} {bigInteger,12:F1} {openSsl?.ToString("F1", inv) ?? "n/a",10}   (×2 per buyer: value and value²)"));

        Console.WriteLine("  anchors (their hardware): SecretFlow ECDH-PSI 10 M × 10 M in 114 s on 8 cores (≈ 22 k curve mults/s per core);");
        Console.WriteLine("  FATE 2.0 PSI 10 M in ~7 min on 16 cores; Google Private Join and Compute: Paillier, ~20× cheaper than generic MPC.");
        Console.WriteLine(string.Create(inv,
            $"  ours at SecretFlow's size would take ≈ {4e7 / all:F0} s of multiplications on this machine ({4e7 / (22_000.0 * 8):F0} s at 22 k/s × 8 cores)"));
    }

    /// <summary>
    /// One PSI cardinality run with both parties in this process, framed by the all-core ceiling measured just before
    /// and just after it (other processes on a shared machine change it while the run goes): the floor is the 2(M + N)
    /// multiplications at the mean of the two, and the ratio is wall time ÷ floor. The CPU ratio (process CPU ÷ the
    /// multiplications' CPU at the one-core rate) does not depend on what else the machine runs. Peak memory: the
    /// managed heap sampled every 20 ms during the run, and the process's peak working set (both parties and the id lists).
    /// </summary>
    internal static PsiFigures Psi(string label, List<string> a, List<string> e, double one, double allBefore, TimeSpan window, int? bucketBits)
    {
        var inv = CultureInfo.InvariantCulture;
        var cores = Environment.ProcessorCount;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var heapBefore = GC.GetTotalMemory(false);
        var loadBefore = Load();
        long peakHeap = 0;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                peakHeap = Math.Max(peakHeap, GC.GetTotalMemory(false));
                await Task.Delay(20);
            }
        });
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        var run = InProcess.Cardinality("bench", IdRule.Phone, a, e, new ReleasePolicy(0), batchSize: 16_384, bucketBits: bucketBits);
        var seconds = sw.Elapsed.TotalSeconds;
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
        stop.Cancel();
        sampler.GetAwaiter().GetResult();
        var loadAfter = Load();
        var allAfter = MultsPerSecond(cores, window);
        var all = (allBefore + allAfter) / 2;
        var mults = 2.0 * (a.Count + e.Count);
        var floor = mults / all;
        var ratio = seconds / floor;
        var itemsPerSecond = (a.Count + e.Count) / seconds;
        var peakWs = Process.GetCurrentProcess().PeakWorkingSet64;
        var bytesPerItem = (run.BytesReceiverToSender + run.BytesSenderToReceiver) / (double)(a.Count + e.Count);
        Console.WriteLine(string.Create(inv, $"{$"{label}: s, items/s, per core",-52} {seconds,12:F2} {itemsPerSecond,10:N0} {itemsPerSecond / cores,10:N0}"));
        Console.WriteLine(string.Create(inv, $"{"  overlap found / expected (78 %)",-52} {run.TrueCount,12:N0} {(long)Math.Round(a.Count * 0.78),10:N0}"));
        Console.WriteLine(string.Create(inv,
            $"{"  all-core ceiling before / after the run, mult/s",-52} {allBefore,12:N0} {allAfter,10:N0}   (floor at their mean, {all:N0}/s = {all / cores:N0} per core)"));
        Console.WriteLine(string.Create(inv,
            $"{"  floor: 2(M+N) mults at the all-core rate, s",-52} {floor,12:F2}   total {seconds:F2} s, ratio {ratio:F2}× (target ≤ 1.2×: {(ratio <= 1.2 ? "met" : "NOT met")}); {1 / ratio:P0} of the ceiling (target ≥ 85 %)"));
        Console.WriteLine(string.Create(inv,
            $"{"  ratio against the ceiling before / after alone",-52} {seconds / (mults / allBefore),12:F2} {seconds / (mults / allAfter),10:F2}"));
        Console.WriteLine(string.Create(inv,
            $"{"  CPU s (both parties); CPU ÷ mults' CPU at 1-core rate",-52} {cpu,12:F1} {cpu / (mults / one),10:F2}×  (load-independent: hash-to-group, copies, sort, GC)"));
        Console.WriteLine(string.Create(inv,
            $"{"  bytes sent per item (both directions ÷ (M+N))",-52} {bytesPerItem,12:F1}   (32 B per item first stage + {run.Suite.TruncatedBytes} B per receiver item second stage; {run.Suite.BucketCount} bucket(s))"));
        Console.WriteLine(string.Create(inv,
            $"{"  peak managed heap MB (run − before) ; peak WS MB",-52} {(peakHeap - heapBefore) / 1e6,12:F0} {peakWs / 1e6,10:F0}   (both parties in one process; per party ≈ half, the states are symmetric)"));
        Console.WriteLine($"  load: before {loadBefore}; after {loadAfter}");
        return new PsiFigures(seconds, floor, ratio, cpu, bytesPerItem, (peakHeap - heapBefore) / 1e6, peakWs / 1e6);
    }

    internal sealed record PsiFigures(double Seconds, double Floor, double Ratio, double Cpu, double BytesPerItem, double PeakHeapMb, double PeakWsMb);

    /// <summary>The machine's load averages (/proc/loadavg), printed beside every figure: the cores are shared.</summary>
    internal static string Load()
    {
        try
        {
            var parts = File.ReadAllText("/proc/loadavg").Split(' ');
            return $"{DateTime.UtcNow:HH:mm:ss} UTC load average {parts[0]}, {parts[1]}, {parts[2]}";
        }
        catch (IOException)
        {
            return "load average n/a";
        }
    }

    /// <summary>
    /// Memory of a 10 M × 10 M job (<c>--only collab-10m</c>): such a job has 2^ceil(log2(10 M / 2^20)) = 16 buckets of
    /// ≈ 625 k items a side, and a node holds one bucket at a time. Runs <paramref name="buckets"/> such buckets one after
    /// the other (each with both parties in this process), printing each bucket's peak heap and the process's peak
    /// working set: the same figure for bucket 1 and bucket n shows the plateau.
    /// </summary>
    public static void TenMillion(int buckets, double overlap = 0.78)
    {
        var inv = CultureInfo.InvariantCulture;
        const long Rows = 10_000_000;
        var bucketCount = 1 << PsiSuite.BucketBitsFor(Rows);
        var perBucket = (int)(Rows / bucketCount);
        var window = TimeSpan.FromSeconds(3);
        Console.WriteLine(string.Create(inv,
            $"Collab 10 M × 10 M, bucket by bucket — {Environment.ProcessorCount} cores; {bucketCount} buckets of {perBucket:N0} items a side; running {buckets} of them"));
        Console.WriteLine($"  {Load()}");
        var one = MultsPerSecond(1, window);
        var all = MultsPerSecond(Environment.ProcessorCount, window);
        Console.WriteLine(string.Create(inv, $"{"ristretto255 scalar mult/s, 1 core / all cores",-52} {one,12:N0} {all,10:N0}"));
        var figures = new List<PsiFigures>();
        for (var b = 0; b < buckets; b++)
        {
            // A bucket's ids: the shared part and the own part, distinct across buckets (as a real bucket's would be).
            var shared = (int)Math.Round(perBucket * overlap);
            var baseId = b * 2 * perBucket;
            var a = Enumerable.Range(baseId, perBucket).Select(Phone).ToList();
            var e = Enumerable.Range(baseId, shared).Select(Phone).Concat(Enumerable.Range(baseId + perBucket, perBucket - shared).Select(Phone)).ToList();
            figures.Add(Psi($"bucket {b + 1}/{bucketCount}: {perBucket / 1000} k × {perBucket / 1000} k", a, e, one, all, window, bucketBits: 0));
            all = MultsPerSecond(Environment.ProcessorCount, window);
        }

        var total = figures.Sum(f => f.Seconds) / figures.Count * bucketCount;
        Console.WriteLine(string.Create(inv,
            $"{"  peak heap per bucket MB (first / last)",-52} {figures[0].PeakHeapMb,12:F0} {figures[^1].PeakHeapMb,10:F0}   (both parties; per party ≈ half)"));
        Console.WriteLine(string.Create(inv,
            $"{"  whole job at this rate, s (buckets × mean bucket time)",-52} {total,12:F0}   mean ratio {figures.Average(f => f.Ratio):F2}×"));
    }

    private static double MultsPerSecond(int threads, TimeSpan window)
    {
        long total = 0;
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ =>
        {
            Span<byte> k = stackalloc byte[32];
            Span<byte> p = stackalloc byte[32];
            Span<byte> q = stackalloc byte[32];
            Ristretto255.RandomScalar(k);
            Ristretto255.MultiplyBase(k, p);
            long n = 0;
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed < window)
            {
                for (var i = 0; i < 64; i++)
                {
                    Ristretto255.TryMultiply(k, p, q);
                }

                n += 64;
            }

            Interlocked.Add(ref total, n);
        });
        return total / window.TotalSeconds;
    }

    private static (double HashToGroup, double FromHash) HashesPerSecond(TimeSpan window)
    {
        var suite = new PsiSuite("bench", IdRule.Phone, 1, 1);
        Span<byte> p = stackalloc byte[32];
        long n = 0;
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < window)
        {
            suite.HashToGroup("+86138" + n.ToString("D8", CultureInfo.InvariantCulture), p);
            n++;
        }

        var hashToGroup = n / sw.Elapsed.TotalSeconds;
        Span<byte> digest = stackalloc byte[Ristretto255.HashBytes];
        RandomNumberGenerator.Fill(digest);
        n = 0;
        sw.Restart();
        while (sw.Elapsed < window)
        {
            digest[0] = (byte)n;
            Ristretto255.FromHash(digest, p);
            n++;
        }

        return (hashToGroup, n / sw.Elapsed.TotalSeconds);
    }

    private static double ElGamalEncryptionsPerSecond(TimeSpan window)
    {
        using var x = SecretScalar.Generate();
        var pub = ExpElGamal.PublicKey(x);
        Span<byte> ct = stackalloc byte[64];
        long n = 0;
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < window)
        {
            ExpElGamal.Encrypt(pub, (ulong)(n & 0xFFFF), ct);
            n++;
        }

        return n / sw.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// Paillier encryption's cost is r^n mod n² (2048-bit n): timed for a random odd 2048-bit n (the cost does not
    /// depend on n being a real key) with System.Numerics.BigInteger and with OpenSSL 3's BN_mod_exp_mont.
    /// </summary>
    private static (double BigIntegerMs, double? OpenSslMs) PaillierEncryptMs(int rounds)
    {
        var nBytes = RandomNumberGenerator.GetBytes(256);
        nBytes[0] |= 1;
        nBytes[255] |= 0x80;
        var n = new BigInteger(nBytes, isUnsigned: true);
        var n2 = n * n;
        var r = new BigInteger(RandomNumberGenerator.GetBytes(256), isUnsigned: true) % n;
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < rounds; i++)
        {
            _ = BigInteger.ModPow(r, n, n2);
        }

        var managed = sw.Elapsed.TotalMilliseconds / rounds;
        double? native = null;
        try
        {
            native = OpenSsl.ModExpMs(r.ToByteArray(isUnsigned: true, isBigEndian: true), n.ToByteArray(isUnsigned: true, isBigEndian: true),
                n2.ToByteArray(isUnsigned: true, isBigEndian: true), rounds * 4);
        }
        catch (DllNotFoundException)
        {
        }

        return (managed, native);
    }

    private static (List<string> A, List<string> E) Ids(int items, double overlap)
    {
        var shared = (int)Math.Round(items * overlap);
        var a = Enumerable.Range(0, items).Select(Phone).ToList();
        var e = Enumerable.Range(0, shared).Select(Phone).Concat(Enumerable.Range(items, items - shared).Select(Phone)).ToList();
        return (a, e);
    }

    private static (Dictionary<string, IReadOnlyList<string>> Cohorts, List<Conversion> Conversions) Campaigns(int cohortSize, int buyers)
    {
        var rng = new Random(19);
        var cohorts = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        for (var c = 0; c < 4; c++)
        {
            cohorts[$"c{c / 2 + 1}:{(c % 2 == 0 ? "test" : "control")}"] = Enumerable.Range(c * cohortSize, cohortSize).Select(Phone).ToList();
        }

        // Buyers: 5 % of the exposed users, the rest not exposed.
        var exposedBuyers = Enumerable.Range(0, 4 * cohortSize).Where(_ => rng.NextDouble() < 0.05).Select(Phone);
        var others = Enumerable.Range(10_000_000, buyers).Select(Phone);
        var conversions = exposedBuyers.Concat(others).Take(buyers).Select(id => new Conversion(id, (ulong)rng.Next(100, 500_000))).ToList();
        return (cohorts, conversions);
    }

    private static string Phone(int i) => "+86138" + i.ToString("D8", CultureInfo.InvariantCulture);

    private static string Short(int n) => n >= 1_000_000 ? $"{n / 1_000_000} M" : $"{n / 1_000} k";

    /// <summary>OpenSSL 3's libcrypto (present wherever .NET runs on Linux): BN_mod_exp_mont, for the Paillier figure.</summary>
    private static class OpenSsl
    {
        private const string Lib = "libcrypto.so.3";

        public static double ModExpMs(byte[] baseBytes, byte[] exponent, byte[] modulus, int rounds)
        {
            var ctx = BN_CTX_new();
            var a = BN_bin2bn(baseBytes, baseBytes.Length, IntPtr.Zero);
            var p = BN_bin2bn(exponent, exponent.Length, IntPtr.Zero);
            var m = BN_bin2bn(modulus, modulus.Length, IntPtr.Zero);
            var result = BN_new();
            try
            {
                var sw = Stopwatch.StartNew();
                for (var i = 0; i < rounds; i++)
                {
                    if (BN_mod_exp_mont(result, a, p, m, ctx, IntPtr.Zero) != 1)
                    {
                        throw new CryptographicException("BN_mod_exp_mont failed.");
                    }
                }

                return sw.Elapsed.TotalMilliseconds / rounds;
            }
            finally
            {
                BN_free(result);
                BN_free(m);
                BN_free(p);
                BN_free(a);
                BN_CTX_free(ctx);
            }
        }

        [DllImport(Lib)]
        private static extern IntPtr BN_CTX_new();

        [DllImport(Lib)]
        private static extern void BN_CTX_free(IntPtr ctx);

        [DllImport(Lib)]
        private static extern IntPtr BN_new();

        [DllImport(Lib)]
        private static extern void BN_free(IntPtr a);

        [DllImport(Lib)]
        private static extern IntPtr BN_bin2bn(byte[] s, int len, IntPtr ret);

        [DllImport(Lib)]
        private static extern int BN_mod_exp_mont(IntPtr r, IntPtr a, IntPtr p, IntPtr m, IntPtr ctx, IntPtr mont);
    }
}
