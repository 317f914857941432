using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using Hutong.Sandbox.WeChatPay;

namespace Hutong.Sandbox;

/// <summary>A notification as it was last sent, which is what a replay sends again.</summary>
/// <param name="Account">The merchant account it was signed for, where a replay must sign again (WeChat Pay).</param>
public sealed record SentNotification(string NotificationId, string OutTradeNo, string Url, string Body, string ContentType, string? Account = null);

/// <summary>A notification kept back because its payment is held.</summary>
public sealed record HeldNotification(string Match, string NotificationId, string OutTradeNo);

/// <summary>What a hand-made replay got from the merchant (HttpStatus null: no answer).</summary>
public sealed record ReplayResult(string NotificationId, string OutTradeNo, int? HttpStatus);

/// <summary>
/// One wallet's notifications on demand, so tests (and people at the control API) can make them late, out of order or
/// replayed: notifications of a held payment (by <c>match</c>, the order's attach: the hub's payment id) wait until they are
/// released, in the order the caller names; and the last body sent under each notification id is kept for replays.
/// </summary>
public sealed class SandboxNotifications
{
    /// <summary>At most this many notifications wait per wallet (and as many payments are held); past it they are sent at once.</summary>
    public const int MaxHeld = 1_000;

    /// <summary>Sent notifications remembered for replay; the oldest are forgotten first.</summary>
    public const int MaxRemembered = 10_000;

    private readonly Lock _gate = new();
    private readonly HashSet<string> _holding = new(StringComparer.Ordinal);
    private readonly List<(HeldNotification Held, Func<Task> Start)> _held = [];
    private readonly ConcurrentDictionary<string, SentNotification> _sent = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _sentOrder = new();

    /// <summary>
    /// Starts a delivery (after <paramref name="delay"/>, for a Delay fault on "notify"), or keeps it while
    /// <paramref name="match"/> is held. <paramref name="start"/> completes when the first attempt has its answer.
    /// </summary>
    public void Dispatch(string? match, string notificationId, string outTradeNo, Func<Task> start, TimeSpan delay = default)
    {
        lock (_gate)
        {
            if (match is not null && _holding.Contains(match) && _held.Count < MaxHeld)
            {
                _held.Add((new HeldNotification(match, notificationId, outTradeNo), start));
                return;
            }
        }

        _ = delay > TimeSpan.Zero
            ? Task.Run(async () =>
            {
                await Task.Delay(delay);
                await start();
            })
            : start();
    }

    /// <summary>Holds the notifications of orders with this attach from now on; false when <see cref="MaxHeld"/> payments already are.</summary>
    public bool Hold(string match)
    {
        lock (_gate)
        {
            if (_holding.Count >= MaxHeld && !_holding.Contains(match))
            {
                return false;
            }

            _holding.Add(match);
            return true;
        }
    }

    public IReadOnlyList<HeldNotification> Held()
    {
        lock (_gate)
        {
            return [.. _held.Select(h => h.Held)];
        }
    }

    /// <summary>
    /// Sends held notifications one after the other, each once the one before has its answer: those of each of
    /// <paramref name="matches"/> (which are no longer held) in the order given, each payment's in the order they fell due;
    /// then those named in <paramref name="notificationIds"/>, in that order (their payments stay held). Returns what was sent.
    /// </summary>
    public async Task<IReadOnlyList<HeldNotification>> ReleaseAsync(IReadOnlyList<string> matches, IReadOnlyList<string> notificationIds)
    {
        var due = new List<(HeldNotification Held, Func<Task> Start)>();
        lock (_gate)
        {
            foreach (var match in matches)
            {
                _holding.Remove(match);
                Take(h => h.Match == match);
            }

            foreach (var id in notificationIds)
            {
                Take(h => h.NotificationId == id);
            }
        }

        foreach (var (_, start) in due)
        {
            await start();
        }

        return [.. due.Select(d => d.Held)];

        void Take(Predicate<HeldNotification> which)
        {
            due.AddRange(_held.Where(h => which(h.Held)));
            _held.RemoveAll(h => which(h.Held));
        }
    }

    /// <summary>Remembers the body just sent under <paramref name="sent"/>'s id (the latest attempt wins).</summary>
    public void Record(SentNotification sent)
    {
        if (_sent.TryAdd(sent.NotificationId, sent))
        {
            _sentOrder.Enqueue(sent.NotificationId);
            while (_sentOrder.Count > MaxRemembered && _sentOrder.TryDequeue(out var oldest))
            {
                _sent.TryRemove(oldest, out _);
            }
        }
        else
        {
            _sent[sent.NotificationId] = sent;
        }
    }

    /// <summary>
    /// Sends a notification already sent once more: the same id and body, to the same URL, made into a request by
    /// <paramref name="resign"/> where the protocol signs the time of sending (else as it was). Logged with attempt 0.
    /// Null when the id was never sent (or is forgotten).
    /// </summary>
    public async Task<ReplayResult?> ReplayAsync(string notificationId, HttpClient http, ConcurrentQueue<NotificationAttempt> log,
        Action<HttpRequestMessage, SentNotification>? resign, CancellationToken ct)
    {
        if (!_sent.TryGetValue(notificationId, out var sent))
        {
            return null;
        }

        int? status = null;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, sent.Url) { Content = new ByteArrayContent(Encoding.UTF8.GetBytes(sent.Body)) };
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(sent.ContentType);
            resign?.Invoke(request, sent);
            using var response = await http.SendAsync(request, ct);
            status = (int)response.StatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            // No answer: reported as such.
        }

        log.Enqueue(new NotificationAttempt(sent.OutTradeNo, notificationId, 0, status, DateTimeOffset.UtcNow));
        return new ReplayResult(notificationId, sent.OutTradeNo, status);
    }
}
