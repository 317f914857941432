using System.Threading.Channels;
using Dapper;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.Links;

/// <summary>
/// Counts link clicks off the request path: the redirect only writes to a bounded in-memory queue (never waits; a
/// full queue drops the count, not the click), and this service folds the queue into one upsert per link and
/// platform about once a second. A crash loses at most that last second of counts — never a redirect.
/// </summary>
public sealed partial class ClickCounter(Db db, HubMetrics metrics, ILogger<ClickCounter> log) : BackgroundService
{
    private readonly Channel<(string LinkId, string Platform)> _queue =
        Channel.CreateBounded<(string, string)>(new BoundedChannelOptions(100_000) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    public void Count(string linkId, string platform)
    {
        if (!_queue.Writer.TryWrite((linkId, platform)))
        {
            metrics.ClickDropped();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var pending = new Dictionary<(string, string), long>();
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stoppingToken))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), stoppingToken); // let a burst gather into one write
                await FlushAsync(pending, stoppingToken);
            }
        }
        catch (OperationCanceledException)
        {
        }

        await FlushAsync(pending, CancellationToken.None); // counts gathered before shutdown
    }

    private async Task FlushAsync(Dictionary<(string, string), long> pending, CancellationToken ct)
    {
        while (_queue.Reader.TryRead(out var click))
        {
            pending[click] = pending.GetValueOrDefault(click) + 1;
        }

        if (pending.Count == 0)
        {
            return;
        }

        try
        {
            var rows = pending.Select(kv => new { LinkId = kv.Key.Item1, Platform = kv.Key.Item2, Clicks = kv.Value }).ToList();
            await db.WriteAsync((c, t) => c.ExecuteAsync(
                """
                INSERT INTO link_clicks (link_id, platform, clicks) VALUES (@LinkId, @Platform, @Clicks)
                ON CONFLICT (link_id, platform) DO UPDATE SET clicks = link_clicks.clicks + excluded.clicks
                """, rows, t), ct);
            pending.Clear();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogFlushFailed(log, e, pending.Count); // kept in memory and retried with the next batch
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not write {Count} link click counts; retrying with the next batch")]
    private static partial void LogFlushFailed(ILogger logger, Exception e, int count);
}
