using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Hutong.Integration.Tests.Infrastructure;

/// <summary>A merchant's webhook endpoint on loopback: records every delivery and answers from a script of statuses.</summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    private WebhookReceiver(WebApplication app) => _app = app;

    public sealed record Delivery(string Path, string Id, string Timestamp, string Signature, string Body, int AnsweredWith)
    {
        /// <summary>When the receiver answered it.</summary>
        public DateTimeOffset AnsweredAt { get; } = DateTimeOffset.UtcNow;

        /// <summary>When it arrived (its body was read): a sender that died meanwhile had still sent it.</summary>
        public DateTimeOffset ArrivedAt { get; init; }
    }

    /// <summary>
    /// How long every request is held before it is answered (a slow merchant), so deliveries are in flight at any moment; a
    /// request whose sender goes away meanwhile is not answered, so it is not recorded.
    /// </summary>
    public TimeSpan Latency { get; set; }

    public ConcurrentQueue<Delivery> Deliveries { get; } = new();

    /// <summary>Statuses to answer per path, in order; when empty the answer is 204.</summary>
    public ConcurrentDictionary<string, ConcurrentQueue<int>> Script { get; } = new();

    /// <summary>A body (and optionally a Retry-After) to answer every request to a path with, whatever its status.</summary>
    public ConcurrentDictionary<string, (string Body, int? RetryAfterSeconds)> Bodies { get; } = new();

    public string Url(string path) => _app.Urls.First() + path;

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.MapPost("/{**path}", async (HttpContext ctx) =>
        {
            var path = ctx.Request.Path.Value!;
            using var reader = new StreamReader(ctx.Request.Body);
            var body = await reader.ReadToEndAsync();
            var arrivedAt = DateTimeOffset.UtcNow;
            if (receiver._hangs.TryGetValue(path, out var hang))
            {
                await hang.HoldAsync(ctx.RequestAborted);
            }

            if (receiver.Latency > TimeSpan.Zero)
            {
                await Task.Delay(receiver.Latency, ctx.RequestAborted);
            }

            var status = receiver.Script.TryGetValue(path, out var q) && q.TryDequeue(out var s) ? s : 204;
            receiver.Deliveries.Enqueue(new Delivery(path, ctx.Request.Headers["webhook-id"].ToString(), ctx.Request.Headers["webhook-timestamp"].ToString(),
                ctx.Request.Headers["webhook-signature"].ToString(), body, status) { ArrivedAt = arrivedAt });
            if (status != 204 && receiver.Bodies.TryGetValue(path, out var answer))
            {
                if (answer.RetryAfterSeconds is { } ra)
                {
                    ctx.Response.Headers.RetryAfter = ra.ToString(System.Globalization.CultureInfo.InvariantCulture);
                }

                return Results.Text(answer.Body, "text/plain", statusCode: status);
            }

            return Results.StatusCode(status);
        });
        await app.StartAsync();
        return receiver;
    }

    public void Answer(string path, params int[] statuses) => Script[path] = new ConcurrentQueue<int>(statuses);

    private readonly ConcurrentDictionary<string, Hang> _hangs = new();

    /// <summary>Requests to <paramref name="path"/> get no answer until the handle is disposed (or the sender gives up).</summary>
    public Hang HangOn(string path) => _hangs[path] = new Hang();

    public sealed class Hang : IDisposable
    {
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _arrived;
        private int _ended;

        /// <summary>Requests that arrived, and requests that ended while held (the sender gave up or closed the connection).</summary>
        public int Arrived => Volatile.Read(ref _arrived);

        public int EndedEarly => Volatile.Read(ref _ended);

        internal async Task HoldAsync(CancellationToken aborted)
        {
            Interlocked.Increment(ref _arrived);
            try
            {
                await _released.Task.WaitAsync(aborted);
            }
            catch (OperationCanceledException)
            {
                Interlocked.Increment(ref _ended);
                throw;
            }
        }

        public void Dispose() => _released.TrySetResult();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
