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

    public sealed record Delivery(string Path, string Id, string Timestamp, string Signature, string Body, int AnsweredWith);

    public ConcurrentQueue<Delivery> Deliveries { get; } = new();

    /// <summary>Statuses to answer per path, in order; when empty the answer is 204.</summary>
    public ConcurrentDictionary<string, ConcurrentQueue<int>> Script { get; } = new();

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
            var status = receiver.Script.TryGetValue(path, out var q) && q.TryDequeue(out var s) ? s : 204;
            receiver.Deliveries.Enqueue(new Delivery(path, ctx.Request.Headers["webhook-id"].ToString(), ctx.Request.Headers["webhook-timestamp"].ToString(),
                ctx.Request.Headers["webhook-signature"].ToString(), body, status));
            return Results.StatusCode(status);
        });
        await app.StartAsync();
        return receiver;
    }

    public void Answer(string path, params int[] statuses) => Script[path] = new ConcurrentQueue<int>(statuses);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
