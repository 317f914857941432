using System.Globalization;
using System.Data.Common;
using System.Net;
using System.Text;
using System.Threading.Channels;
using Dapper;
using Hutong.Domain;
using Hutong.Server.Observability;
using Hutong.Server.Storage;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Webhooks;

/// <summary>
/// Drains the outbox into per-endpoint deliveries and sends them: at-least-once, Standard Webhooks
/// headers, retries on the spec's schedule (honouring Retry-After), 410 Gone disables the endpoint.
/// Each endpoint has at most a few sends in flight, and nothing waits for one send before starting the others, so a slow
/// or dead endpoint delays only its own deliveries, never another merchant's.
/// </summary>
public sealed partial class WebhookDispatcher(Db db, SecretBox secretBox, IOptions<HubOptions> options, TimeProvider time, HubMetrics metrics, ILogger<WebhookDispatcher> log)
    : BackgroundService
{
    private const int FanOutBatch = 1000;
    private const int RecordBatch = 256;

    /// <summary>
    /// The most of a response body ever read. The body does not decide anything (the status does); up to this much is
    /// drained so the connection can be reused, and a longer one closes the connection instead of being read (or held) whole.
    /// </summary>
    public const int ResponseDrainBytes = 4096;

    /// <summary>The most of a response body kept with an attempt (GET /v1/events/{id}): enough to show a receiver's error.</summary>
    public const int ResponseSnippetBytes = 512;

    private readonly WebhookStore _store = new(db);

    private readonly HttpClient _http = new(CreateHandler(options.Value.Webhooks.AllowPrivateTargets))
    {
        Timeout = options.Value.Webhooks.Timeout,
    };

    // Sends in flight: all of them (a slot each), and per endpoint (guarded by the dictionary's lock).
    private readonly SemaphoreSlim _slots = new(MaxInFlight(options.Value.Webhooks));
    private readonly Dictionary<string, int> _inFlight = new(StringComparer.Ordinal);

    // Nudges the loop when this hub commits deliveries (with their events), when a send ends while due deliveries were
    // left waiting for a free send, or when a failed attempt's retry was recorded. Not on every send or outcome: each
    // pass costs a scan for due deliveries, and a pass per send and outcome was most of the hub's CPU per webhook.
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    // 1 when the next pass should fan out without waiting for the poll: the first pass, and after a fan-out that filled
    // its batch. Only events an older version of the hub left pending are fanned out there (this version fans each event
    // out as it inserts it, Outbox.InsertAsync).
    private int _fanOutNow = 1;

    // True when the last pass left due deliveries for want of a free send: a send ending should then start the next one.
    private volatile bool _starved;
    private long _lastFanOut;
    private readonly Channel<Outcome> _outcomes = Channel.CreateUnbounded<Outcome>(new UnboundedChannelOptions { SingleReader = true });

    // This job's metrics: a delivery attempt is an item (processed when the receiver took it, failed otherwise); a pass
    // is one round of fan-out and claiming.
    private readonly JobMeter _meter = metrics.Job("webhooks");

    private WebhookOptions Options => options.Value.Webhooks;

    private static int MaxInFlight(WebhookOptions o) => Math.Max(1, o.MaxConcurrentDeliveries);

    private int MaxInFlightPerEndpoint => Math.Max(1, Options.MaxConcurrentDeliveriesPerEndpoint);

    private static SocketsHttpHandler CreateHandler(bool allowPrivate)
    {
        var handler = WebhookUrlGuard.CreateHandler(allowPrivate);
        handler.MaxResponseDrainSize = ResponseDrainBytes;
        return handler;
    }

    public override void Dispose()
    {
        db.DeliveriesCommitted -= OnDeliveriesCommitted;
        _http.Dispose();
        _slots.Dispose();
        base.Dispose();
    }

    // Deliveries committed with their events (Outbox.InsertAsync): sends to start.
    private void OnDeliveriesCommitted() => _wake.Writer.TryWrite(true);

    /// <summary>How often the loop looks without being nudged: for events other hubs committed and retries coming due.</summary>
    private TimeSpan Poll => options.Value.WorkerPollInterval / 4;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        db.DeliveriesCommitted += OnDeliveriesCommitted;
        var recorder = Task.Run(RecordOutcomesAsync, CancellationToken.None);
        try
        {
            await RunLoopAsync(stoppingToken);
        }
        finally
        {
            // The sends stop with stoppingToken; wait for them, then record what they learned.
            for (var i = 0; i < MaxInFlight(Options); i++)
            {
                await _slots.WaitAsync(CancellationToken.None);
            }

            _outcomes.Writer.TryComplete();
            await recorder;
        }
    }

    private async Task RunLoopAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var busy = false;
            var started = time.GetTimestamp();
            try
            {
                // Fan out on the poll (events an older hub version left pending), at the first pass, and again at once
                // while a fan-out fills its batch.
                if (Interlocked.Exchange(ref _fanOutNow, 0) == 1 || time.GetElapsedTime(_lastFanOut) >= Poll)
                {
                    _lastFanOut = started;
                    if (await FanOutAsync(stoppingToken) == FanOutBatch)
                    {
                        busy = true;
                        Volatile.Write(ref _fanOutNow, 1);
                    }
                }

                busy |= await StartDueAsync(stoppingToken);
                _meter.Pass(time.GetElapsedTime(started), "ok");
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _meter.Pass(time.GetElapsedTime(started), "failed");
                if (!StoreLog.WhenUnavailable(log, e, "Webhook dispatcher"))
                {
                    LogLoopError(log, e);
                }
            }

            if (!busy)
            {
                // Until a send ends or an outcome is recorded, or the next poll for new events.
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                await Task.WhenAny(Task.Delay(Poll, time, wait.Token), _wake.Reader.WaitToReadAsync(wait.Token).AsTask());
                await wait.CancelAsync();
                _wake.Reader.TryRead(out _);
            }
        }
    }

    /// <summary>Turns undispatched outbox events into pending deliveries (see <see cref="WebhookStore.FanOutAsync"/>); returns how many events.</summary>
    public Task<int> FanOutAsync(CancellationToken ct) => _store.FanOutAsync(time.GetUtcNow().ToUnixTimeMilliseconds(), FanOutBatch, ct);

    private sealed record Outcome(DueDelivery Delivery, long Lease, Sent Sent);

    /// <summary>What one send learned: the answer's status (null: none) or the error, Retry-After, and for the attempt's record when it started, how long it took and the start of the body.</summary>
    private sealed record Sent(int? Status, string? Error, TimeSpan? RetryAfter, long AttemptedAt, long LatencyMs, string? Snippet);

    /// <summary>
    /// Claims due deliveries, as many as there are free sends (each endpoint up to its own share), and starts them without
    /// waiting for them. True when every free send was taken (more may be due).
    /// </summary>
    private async Task<bool> StartDueAsync(CancellationToken ct)
    {
        var free = _slots.CurrentCount;
        if (free == 0)
        {
            _starved = true; // (a send ending wakes the loop)
            return false;
        }

        var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        var perEndpoint = MaxInFlightPerEndpoint;

        // Read off the writer; the claim below is conditional. The scan is at most every send's worth, since rows beyond an
        // endpoint's free share can only be as many as the sends this hub has in flight.
        var due = await _store.DueAsync(nowMs, perEndpoint, MaxInFlight(Options), ct);
        var picked = new List<DueDelivery>();
        var left = false;
        lock (_inFlight)
        {
            foreach (var d in due)
            {
                var n = _inFlight.GetValueOrDefault(d.EndpointId);
                if (picked.Count < free && n < perEndpoint && _slots.Wait(0, CancellationToken.None))
                {
                    _inFlight[d.EndpointId] = n + 1;
                    picked.Add(d);
                }
                else
                {
                    left = true; // no free send (overall or for its endpoint): the next send to end starts it
                }
            }
        }

        _starved = left;

        if (picked.Count == 0)
        {
            return false;
        }

        // Claim by pushing the next attempt past the send timeout: a lease, safe with several hubs on one database.
        var lease = nowMs + (long)(Options.Timeout.TotalMilliseconds * 2);
        HashSet<long> claimed;
        try
        {
            claimed = await _store.ClaimAsync(picked, nowMs, lease, ct);
        }
        catch
        {
            picked.ForEach(d => Release(d.EndpointId));
            throw;
        }

        foreach (var d in picked)
        {
            if (claimed.Contains(d.Id))
            {
                _ = Task.Run(() => SendAndQueueOutcomeAsync(d, lease, ct), CancellationToken.None);
            }
            else
            {
                Release(d.EndpointId);
            }
        }

        return picked.Count == free;
    }

    private void Release(string endpointId)
    {
        lock (_inFlight)
        {
            if (_inFlight[endpointId] is var n and > 1)
            {
                _inFlight[endpointId] = n - 1;
            }
            else
            {
                _inFlight.Remove(endpointId);
            }
        }

        _slots.Release();
        if (_starved)
        {
            _wake.Writer.TryWrite(true);
        }
    }

    private async Task SendAndQueueOutcomeAsync(DueDelivery d, long lease, CancellationToken ct)
    {
        try
        {
            var sent = await SendAsync(d, ct);
            if (sent.Status is >= 200 and < 300)
            {
                _meter.Processed();
            }
            else
            {
                _meter.Failed();
            }

            _outcomes.Writer.TryWrite(new Outcome(d, lease, sent));
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Shutting down: the lease lapses and the delivery is sent again (at least once).
        }
        catch (Exception e)
        {
            _meter.Failed();
            LogLoopError(log, e); // the lease lapses and the delivery is tried again
        }
        finally
        {
            Release(d.EndpointId);
        }
    }

    /// <summary>Records outcomes as they come, many to a write (a crash before it only means those are sent again: at least once).</summary>
    private async Task RecordOutcomesAsync()
    {
        var batch = new List<Outcome>(RecordBatch);
        while (await _outcomes.Reader.WaitToReadAsync(CancellationToken.None))
        {
            batch.Clear();
            while (batch.Count < RecordBatch && _outcomes.Reader.TryRead(out var o))
            {
                batch.Add(o);
            }

            // Rows in id order (a 410's sweep of its endpoint last), the order every writer of deliveries locks them in.
            batch.Sort((x, y) => (x.Sent.Status == 410).CompareTo(y.Sent.Status == 410) is var gone and not 0 ? gone : x.Delivery.Id.CompareTo(y.Delivery.Id));
            try
            {
                await db.WriteAsync(async (c, t) =>
                {
                    foreach (var o in batch)
                    {
                        await RecordAsync(c, t, o);
                    }
                }, CancellationToken.None);
            }
            catch (Exception e)
            {
                // Losing a batch would send all its deliveries again once their leases lapse: record each on its own, so a
                // failing one fails alone.
                if (!StoreLog.WhenUnavailable(log, e, "Webhook outcomes"))
                {
                    LogLoopError(log, e);
                }

                foreach (var o in batch)
                {
                    try
                    {
                        await db.WriteAsync((c, t) => RecordAsync(c, t, o), CancellationToken.None);
                    }
                    catch (Exception alone)
                    {
                        if (!StoreLog.WhenUnavailable(log, alone, "Webhook outcome"))
                        {
                            LogLoopError(log, alone);
                        }
                    }
                }
            }

            // A failed attempt's retry may already be due (a Retry-After of 0, a small TimeScale); a delivered one frees nothing.
            if (batch.Exists(o => o.Sent.Status is not (>= 200 and < 300)))
            {
                _wake.Writer.TryWrite(true);
            }
        }
    }

    private async Task<Sent> SendAsync(DueDelivery d, CancellationToken ct)
    {
        // The delivery continues the trace of the change that emitted the event (for a payment: its creating request).
        using var span = HubTelemetry.StartFollowUp("hutong.webhook.deliver", System.Diagnostics.ActivityKind.Producer, d.TraceParent, HubTelemetry.PaymentIdOf(d.Payload));
        span?.SetTag("hutong.event_id", d.EventId);
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
        var started = time.GetTimestamp();
        var at = now.ToUnixTimeMilliseconds();
        long Elapsed() => (long)time.GetElapsedTime(started).TotalMilliseconds;
        try
        {
            // Headers, then at most a snippet of the body (see ResponseDrainBytes), however much the receiver sends.
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            var latency = Elapsed();
            var retryAfter = response.Headers.RetryAfter switch
            {
                { Delta: { } delta } => delta,
                { Date: { } date } => date - now,
                _ => (TimeSpan?)null,
            };
            return new Sent((int)response.StatusCode, null, retryAfter, at, latency, await SnippetAsync(response, Options.Timeout - time.GetElapsedTime(started), ct));
        }
        catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !ct.IsCancellationRequested))
        {
            return new Sent(null, e.GetType().Name + ": " + e.Message, null, at, Elapsed(), null);
        }
    }

    /// <summary>
    /// The start of the answer's body, at most <see cref="ResponseSnippetBytes"/>, read within what is left of the send's
    /// timeout (the delivery's lease allows for twice that); null when there is none or it does not come in time.
    /// </summary>
    private static async Task<string?> SnippetAsync(HttpResponseMessage response, TimeSpan left, CancellationToken ct)
    {
        if (left <= TimeSpan.Zero)
        {
            return null;
        }

        using var within = CancellationTokenSource.CreateLinkedTokenSource(ct);
        within.CancelAfter(left);
        var buffer = new byte[ResponseSnippetBytes];
        var got = 0;
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(within.Token);
            int n;
            while (got < buffer.Length && (n = await body.ReadAsync(buffer.AsMemory(got), within.Token)) > 0)
            {
                got += n;
            }
        }
        catch (Exception e) when (e is IOException or HttpRequestException || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            // What came is kept; the status already decided the outcome.
        }

        if (got == 0)
        {
            return null;
        }

        // Stored as text: PostgreSQL refuses NUL in text, and a binary body would make the outcome unrecordable (and the
        // delivery sent again), so control characters other than whitespace become U+FFFD.
        var text = Encoding.UTF8.GetString(buffer, 0, got).ToCharArray();
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsControl(text[i]) && text[i] is not ('\n' or '\r' or '\t'))
            {
                text[i] = '\uFFFD';
            }
        }

        return new string(text);
    }

    private async Task RecordAsync(DbConnection c, DbTransaction t, Outcome o)
    {
        // Each outcome holds only while this dispatcher's lease does (see WebhookStore); so does its attempt's record.
        var (d, sent) = (o.Delivery, o.Sent);
        var (status, error) = (sent.Status, sent.Error);
        var now = time.GetUtcNow();
        var attempts = d.Attempts + 1;
        long? next = null;
        bool held;
        if (status is >= 200 and < 300)
        {
            held = await WebhookStore.DeliveredAsync(c, t, d.Id, o.Lease, attempts, status, now.ToUnixTimeMilliseconds());
        }
        else if (status == (int)HttpStatusCode.Gone)
        {
            // 410 Gone: the receiver asks us to stop. Disable the endpoint and drop its queue.
            held = await WebhookStore.GoneAsync(c, t, d.Id, o.Lease, attempts, d.EndpointId);
            if (held)
            {
                LogDisabled(log, d.EndpointId);
            }
        }
        else if (attempts >= Options.Schedule.Count)
        {
            held = await WebhookStore.GaveUpAsync(c, t, d.Id, o.Lease, attempts, status, error);
            if (held)
            {
                metrics.WebhookFailed();
                LogGaveUp(log, d.EventId, d.EndpointId, attempts);
            }
        }
        else
        {
            next = (now + NextDelay(attempts, o.Sent.RetryAfter)).ToUnixTimeMilliseconds();
            held = await WebhookStore.RetryAtAsync(c, t, d.Id, o.Lease, attempts, status, error, next.Value);
        }

        if (held)
        {
            await WebhookStore.AttemptAsync(c, t, new DeliveryAttempt(
                d.Id, d.EventId, d.EndpointId, d.Resends, attempts, status, Truncate(error, 500), sent.LatencyMs, sent.Snippet, sent.AttemptedAt, next));
        }
    }

    private static string? Truncate(string? s, int max) => s is null || s.Length <= max ? s : s[..max];

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
