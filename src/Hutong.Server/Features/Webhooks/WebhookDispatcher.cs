using System.Globalization;
using System.Data.Common;
using System.Net;
using System.Text;
using Dapper;
using Hutong.Domain;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Webhooks;

/// <summary>
/// Drains the outbox into per-endpoint deliveries and sends them: at-least-once, Standard Webhooks
/// headers, retries on the spec's schedule (honouring Retry-After), 410 Gone disables the endpoint.
/// </summary>
public sealed partial class WebhookDispatcher(Db db, SecretBox secretBox, IOptions<HubOptions> options, TimeProvider time, HubMetrics metrics, ILogger<WebhookDispatcher> log)
    : BackgroundService
{
    private const int Batch = 1000;
    private readonly HttpClient _http = new(WebhookUrlGuard.CreateHandler(options.Value.Webhooks.AllowPrivateTargets))
    {
        Timeout = options.Value.Webhooks.Timeout,
    };

    private WebhookOptions Options => options.Value.Webhooks;

    public override void Dispose()
    {
        _http.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var busy = false;
            try
            {
                busy |= await FanOutAsync(stoppingToken) > 0;
                busy |= await DeliverDueAsync(stoppingToken) > 0;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogLoopError(log, e);
            }

            if (!busy)
            {
                try
                {
                    await Task.Delay(options.Value.WorkerPollInterval / 4, time, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>
    /// Turns undispatched outbox events into one pending delivery per enabled endpoint, atomically, in three set-based
    /// statements per batch however many events it holds (on SQLite this runs on the one writer, beside every payment).
    /// </summary>
    public Task<int> FanOutAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        return db.WriteAsync(async (c, t) =>
        {
            var (count, last) = await c.QuerySingleAsync<(long Count, long? Last)>(
                "SELECT COUNT(*), MAX(seq) FROM (SELECT seq FROM outbox WHERE dispatched_at IS NULL ORDER BY seq LIMIT @Batch) b", new { Batch }, t);
            if (count == 0)
            {
                return 0;
            }

            await c.ExecuteAsync(
                """
                INSERT INTO webhook_deliveries (event_id, endpoint_id, message_id, status, attempts, next_attempt_at, created_at)
                SELECT o.id, w.id, o.id, 'pending', 0, @now, @now
                FROM outbox o JOIN webhook_endpoints w ON w.merchant_id = o.merchant_id AND w.enabled = 1
                    AND (w.enabled_events IS NULL OR w.enabled_events LIKE '%,' || o.type || ',%')
                WHERE o.dispatched_at IS NULL AND o.seq <= @last
                ON CONFLICT DO NOTHING
                """, new { now, last }, t);
            await c.ExecuteAsync("UPDATE outbox SET dispatched_at = @now WHERE dispatched_at IS NULL AND seq <= @last", new { now, last }, t);
            return (int)count;
        }, ct);
    }

    private sealed class Due
    {
        public long Id { get; set; }

        public string EventId { get; set; } = string.Empty;

        public string EndpointId { get; set; } = string.Empty;

        public int Attempts { get; set; }

        public string Url { get; set; } = string.Empty;

        public string Secret { get; set; } = string.Empty;

        public string? PreviousSecret { get; set; }

        public long? PreviousSecretExpiresAt { get; set; }

        public string Payload { get; set; } = string.Empty;
    }

    public async Task<int> DeliverDueAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var nowMs = now.ToUnixTimeMilliseconds();
        var lease = nowMs + (long)(Options.Timeout.TotalMilliseconds * 2);

        // Claim due deliveries by pushing their next attempt past the send timeout (safe with several hubs).
        var due = await db.WriteAsync(async (c, t) =>
        {
            var rows = (await c.QueryAsync<Due>(
                """
                SELECT d.id, d.event_id, d.endpoint_id, d.attempts, e.url, e.secret, e.previous_secret, e.previous_secret_expires_at, o.payload
                FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id JOIN outbox o ON o.id = d.event_id
                WHERE d.status = 'pending' AND d.next_attempt_at <= @nowMs AND e.enabled = 1
                ORDER BY d.next_attempt_at LIMIT @Batch
                """, new { nowMs, Batch }, t)).ToList();
            foreach (var r in rows)
            {
                await c.ExecuteAsync("UPDATE webhook_deliveries SET next_attempt_at = @lease WHERE id = @Id", new { lease, r.Id }, t);
            }

            return rows;
        }, ct);

        var results = new System.Collections.Concurrent.ConcurrentBag<(Due Delivery, int? Status, string? Error, TimeSpan? RetryAfter)>();
        await Parallel.ForEachAsync(due, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = ct }, async (d, token) =>
        {
            var (status, error, retryAfter) = await SendAsync(d, token);
            results.Add((d, status, error, retryAfter));
        });

        // One write records the whole pass (a crash before it only means those deliveries are sent again: at least once).
        if (!results.IsEmpty)
        {
            await db.WriteAsync(async (c, t) =>
            {
                foreach (var (d, status, error, retryAfter) in results)
                {
                    await RecordAsync(c, t, d, status, error, retryAfter);
                }
            }, ct);
        }

        return due.Count;
    }

    private async Task<(int? Status, string? Error, TimeSpan? RetryAfter)> SendAsync(Due d, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var ts = now.ToUnixTimeSeconds();
        var secrets = new List<string> { secretBox.OpenIfSealed(d.Secret, d.EndpointId) };
        if (d.PreviousSecret is not null && d.PreviousSecretExpiresAt > now.ToUnixTimeMilliseconds())
        {
            secrets.Add(secretBox.OpenIfSealed(d.PreviousSecret, d.EndpointId));
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, d.Url)
        {
            Content = new StringContent(d.Payload, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("webhook-id", d.EventId);
        request.Headers.Add("webhook-timestamp", ts.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add("webhook-signature", WebhookSigner.SignatureHeader(secrets, d.EventId, ts, d.Payload));
        request.Headers.UserAgent.ParseAdd("Hutong-Webhooks/1.0");
        try
        {
            using var response = await _http.SendAsync(request, ct);
            var retryAfter = response.Headers.RetryAfter switch
            {
                { Delta: { } delta } => delta,
                { Date: { } date } => date - now,
                _ => (TimeSpan?)null,
            };
            return ((int)response.StatusCode, null, retryAfter);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return (null, e.GetType().Name + ": " + e.Message, null);
        }
    }

    private async Task RecordAsync(DbConnection c, DbTransaction t, Due d, int? status, string? error, TimeSpan? retryAfter)
    {
        var now = time.GetUtcNow();
        var attempts = d.Attempts + 1;
        if (status is >= 200 and < 300)
        {
            await c.ExecuteAsync("UPDATE webhook_deliveries SET status = 'delivered', attempts = @attempts, last_status = @status, last_error = NULL, delivered_at = @at WHERE id = @Id",
                new { attempts, status, at = now.ToUnixTimeMilliseconds(), d.Id }, t);
            return;
        }

        if (status == (int)HttpStatusCode.Gone)
        {
            // 410 Gone: the receiver asks us to stop. Disable the endpoint and drop its queue.
            await c.ExecuteAsync("UPDATE webhook_endpoints SET enabled = 0, disabled_reason = 'gone' WHERE id = @EndpointId", new { d.EndpointId }, t);
            await c.ExecuteAsync("UPDATE webhook_deliveries SET status = 'canceled' WHERE endpoint_id = @EndpointId AND status = 'pending' AND id <> @Id", new { d.EndpointId, d.Id }, t);
            await c.ExecuteAsync("UPDATE webhook_deliveries SET status = 'failed', attempts = @attempts, last_status = 410 WHERE id = @Id", new { attempts, d.Id }, t);
            LogDisabled(log, d.EndpointId);
            return;
        }

        if (attempts >= Options.Schedule.Count)
        {
            await c.ExecuteAsync("UPDATE webhook_deliveries SET status = 'failed', attempts = @attempts, last_status = @status, last_error = @error WHERE id = @Id",
                new { attempts, status, error, d.Id }, t);
            metrics.WebhookFailed();
            LogGaveUp(log, d.EventId, d.EndpointId, attempts);
            return;
        }

        var delay = NextDelay(attempts, retryAfter);
        await c.ExecuteAsync("UPDATE webhook_deliveries SET attempts = @attempts, last_status = @status, last_error = @error, next_attempt_at = @next WHERE id = @Id",
            new { attempts, status, error, next = (now + delay).ToUnixTimeMilliseconds(), d.Id }, t);
    }

    /// <summary>The next gap on the schedule, with ±10% jitter; a longer Retry-After (429/503) wins.</summary>
    private TimeSpan NextDelay(int attempts, TimeSpan? retryAfter)
    {
        var baseDelay = Options.Schedule[attempts] * Options.TimeScale;
        var jitter = 1 + ((Random.Shared.NextDouble() * 0.2) - 0.1);
        var delay = baseDelay * jitter;
        if (retryAfter is { } ra && ra * Options.TimeScale > delay)
        {
            delay = ra * Options.TimeScale;
        }

        return delay;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Webhook dispatcher loop failed; continuing")]
    private static partial void LogLoopError(ILogger logger, Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook endpoint {EndpointId} answered 410 Gone and was disabled")]
    private static partial void LogDisabled(ILogger logger, string endpointId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Webhook event {EventId} to {EndpointId} failed after {Attempts} attempts")]
    private static partial void LogGaveUp(ILogger logger, string eventId, string endpointId, int attempts);
}
