using System.Diagnostics;

/// <summary>
/// Open-loop load: requests are sent on a fixed schedule (request i at start + i / rate) whether or not earlier ones have
/// answered, as independent merchants' requests arrive, instead of N clients each waiting for its last answer (closed
/// loop, where a slow hub lowers the offered load and the latency it is charged for: coordinated omission). Latency is
/// counted from the time a request was scheduled, so a request that had to wait for a free in-flight slot, or for the
/// dispatcher, is charged that wait too. The achieved rate is the answers that arrived inside the measured window.
/// </summary>
internal static class OpenLoop
{
    /// <summary>
    /// Runs the same schedule in 1 s slices until this process's JIT compiled fewer than <paramref name="quietMethods"/>
    /// methods in one slice, for at most <paramref name="maxSeconds"/>; returns how long that took. The hub runs in this
    /// process, and a fresh process tiers its hot code up for tens of seconds (tier 0, instrumented, tier 1: in one run 667
    /// methods and 0.6 s of JIT inside a 12 s window right after a 2 s warm-up); that is start-up, not what a hub that has
    /// been up for a while does at this rate, and on two cores it shows up as queueing in the p99. The end-to-end rows
    /// wait for the same thing (the hub child's JIT count).
    /// </summary>
    internal static async Task<TimeSpan> SettleJitAsync(double rate, int maxInFlight, int maxSeconds, int quietMethods, Func<Task<(long Ticks, bool Ok)>> one)
    {
        var settling = Stopwatch.StartNew();
        while (settling.Elapsed.TotalSeconds < maxSeconds)
        {
            var before = System.Runtime.JitInfo.GetCompiledMethodCount();
            await MeasureAsync(rate, 1, 0, maxInFlight, one);
            if (System.Runtime.JitInfo.GetCompiledMethodCount() - before < quietMethods)
            {
                break;
            }
        }

        return settling.Elapsed;
    }

    /// <summary>
    /// Sends <paramref name="one"/> at <paramref name="rate"/> per second: a warm-up, then <paramref name="secs"/> measured,
    /// with at most <paramref name="maxInFlight"/> outstanding (beyond it the schedule slips, and the slip counts as latency).
    /// </summary>
    internal static async Task<LoadResult> MeasureAsync(double rate, int secs, int warmupSecs, int maxInFlight, Func<Task<(long Ticks, bool Ok)>> one)
    {
        var freq = (double)Stopwatch.Frequency;
        var warm = (long)(rate * warmupSecs);
        var total = warm + (long)(rate * secs);
        if (total > 10_000_000)
        {
            throw new ArgumentOutOfRangeException(nameof(rate), "more than 10 M scheduled requests in one run");
        }

        var latency = new long[total]; // from the scheduled time to the answer, in Stopwatch ticks
        var done = new long[total]; // when the answer arrived
        var ok = new bool[total];
        using var slots = new SemaphoreSlim(maxInFlight, maxInFlight);
        var running = new List<Task>((int)total);
        var start = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 100; // 10 ms from now: the first requests are on time
        long Due(long i) => start + (long)(i * freq / rate);
        var windowStart = Due(warm);
        var windowEnd = Due(total);
        var cpu0 = TimeSpan.Zero;
        var gc0 = (Count: 0, Pause: TimeSpan.Zero);

        async Task RunAsync(long i, long scheduled)
        {
            try
            {
                (_, ok[i]) = await one();
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
            {
                ok[i] = false; // counted as an error, with the time it took to fail
            }
            finally
            {
                var now = Stopwatch.GetTimestamp();
                done[i] = now;
                latency[i] = now - scheduled;
                slots.Release();
            }
        }

        for (long i = 0; i < total; i++)
        {
            var scheduled = Due(i);
            var wait = scheduled - Stopwatch.GetTimestamp();
            if (wait > Stopwatch.Frequency / 1000)
            {
                // Sleep to within a millisecond of the schedule (timer resolution); requests due meanwhile go out together.
                await Task.Delay(TimeSpan.FromSeconds((wait - Stopwatch.Frequency / 1000) / freq));
            }

            if (i == warm)
            {
                cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
                gc0 = (GC.CollectionCount(0), GC.GetTotalPauseDuration());
            }

            await slots.WaitAsync(); // a full house delays this and later sends; their latency still counts from the schedule
            var at = i;
            running.Add(Task.Run(() => RunAsync(at, scheduled)));
        }

        // The window is over when its last request was due; then every answer is awaited (the client times out at 30 s).
        var late = windowEnd - Stopwatch.GetTimestamp();
        if (late > 0)
        {
            await Task.Delay(TimeSpan.FromSeconds(late / freq));
        }

        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu0;
        var gc = (GC.CollectionCount(0) - gc0.Count, (GC.GetTotalPauseDuration() - gc0.Pause).TotalMilliseconds);
        await Task.WhenAll(running);
        var tenth = Math.Max(1, (total - warm) / 10);
        var slowest = new int[(total - warm + tenth - 1) / tenth];
        for (var k = warm; k < total; k++)
        {
            var b = (int)((k - warm) / tenth);
            slowest[b] = Math.Max(slowest[b], (int)(latency[k] * 1000 / Stopwatch.Frequency));
        }

        var inWindow = done.Count(t => t >= windowStart && t <= windowEnd);
        var measured = latency[(int)warm..].Order().ToArray();
        double Ms(double q) => measured.Length == 0 ? 0 : measured[Math.Min(measured.Length - 1, (int)(q * measured.Length))] * 1000.0 / freq;
        var window = TimeSpan.FromSeconds((windowEnd - windowStart) / freq);
        return new LoadResult(inWindow / window.TotalSeconds, Ms(0.50), Ms(0.99), ok[(int)warm..].Count(x => !x))
        {
            CpuUsPerRequest = inWindow == 0 ? 0 : cpu.TotalMicroseconds / inWindow,
            CpuBusy = cpu / (window * Environment.ProcessorCount),
            Offered = rate,
            Gc = gc,
            SlowestPerTenth = slowest,
        };
    }
}
