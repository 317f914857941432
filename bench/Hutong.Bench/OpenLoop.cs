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
        await Task.WhenAll(running);
        var inWindow = done.Count(t => t >= windowStart && t <= windowEnd);
        var measured = latency[(int)warm..].Order().ToArray();
        double Ms(double q) => measured.Length == 0 ? 0 : measured[Math.Min(measured.Length - 1, (int)(q * measured.Length))] * 1000.0 / freq;
        var window = TimeSpan.FromSeconds((windowEnd - windowStart) / freq);
        return new LoadResult(inWindow / window.TotalSeconds, Ms(0.50), Ms(0.99), ok[(int)warm..].Count(x => !x))
        {
            CpuUsPerRequest = inWindow == 0 ? 0 : cpu.TotalMicroseconds / inWindow,
            CpuBusy = cpu / (window * Environment.ProcessorCount),
            Offered = rate,
        };
    }
}
