using System.Diagnostics;
using System.Net;
using Dapper;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server.Observability;
using Hutong.Server.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using OpenTelemetry.Trace;

namespace Hutong.Integration.Tests;

/// <summary>
/// One payment's trace: the API request, the wallet call under it, the wallet's notification and the webhook delivery
/// continuing the trace stored with the payment; and the "Hutong" meter on the Prometheus endpoint.
/// </summary>
public sealed class ObservabilityTests(TracedHub hub) : IClassFixture<TracedHub>
{
    [Fact]
    public async Task One_payment_is_one_trace_from_the_API_through_the_wallet_call_the_notification_and_the_webhook()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var endpoint = await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url("/hooks/" + Guid.NewGuid().ToString("N")), enabled_events = new[] { "payment.succeeded" } });
        Assert.Equal(HttpStatusCode.Created, endpoint.Status);
        var id = await m.CreatePaymentAsync(4321);
        var confirm = await m.ConfirmAsync(id);
        Assert.Equal(HttpStatusCode.OK, confirm.Status);
        Assert.Equal(HttpStatusCode.OK, (await hub.BuyerPaysAsync(confirm.Json.GetProperty("next_action").GetProperty("code_url").GetString()!)).StatusCode);
        await m.WaitForStatusAsync(id, "succeeded");

        // The payment keeps its creating request's context: that request's server span, tagged with the payment.
        var stored = await hub.Db.ReadAsync(c => c.ExecuteScalarAsync<string>("SELECT trace_parent FROM payments WHERE id = @id", new { id }), default);
        Assert.True(ActivityContext.TryParse(stored, null, out var created), $"no traceparent stored: {stored}");
        var api = await SpanAsync(s => s.SpanId == created.SpanId, "the create request's span");
        Assert.Equal(ActivityKind.Server, api.Kind);
        Assert.Equal(id, api.GetTagItem(HubTelemetry.PaymentIdTag));

        // The wallet call is a child of the confirm request's span (HttpClient instrumentation).
        var confirmSpan = await SpanAsync(s => s.Kind == ActivityKind.Server && (s.GetTagItem("url.path") as string) == $"/v1/payments/{id}/confirm", "the confirm span");
        Assert.Equal(id, confirmSpan.GetTagItem(HubTelemetry.PaymentIdTag));
        var wallet = await SpanAsync(s => s.Kind == ActivityKind.Client && s.ParentSpanId == confirmSpan.SpanId && s.TraceId == confirmSpan.TraceId, "the wallet call");
        Assert.StartsWith(hub.Sandbox.BaseUrl, wallet.GetTagItem("url.full") as string, StringComparison.Ordinal);

        // The notification arrives in a request of its own, later: its span continues the payment's trace and links to that request.
        var notification = await SpanAsync(s => s.OperationName == "hutong.notification" && (s.GetTagItem(HubTelemetry.PaymentIdTag) as string) == id, "the notification span");
        Assert.Equal(created.TraceId, notification.TraceId);
        Assert.Equal(created.SpanId, notification.ParentSpanId);
        var inbound = Assert.Single(notification.Links).Context;
        var notifyRequest = await SpanAsync(s => s.SpanId == inbound.SpanId, "the notify request span");
        Assert.StartsWith("/notify/", notifyRequest.GetTagItem("url.path") as string, StringComparison.Ordinal);
        Assert.NotEqual(created.TraceId, notifyRequest.TraceId);

        // The webhook goes out from the dispatcher's loop, later still: the same trace, and the HTTP POST under it.
        var webhook = await SpanAsync(s => s.OperationName == "hutong.webhook.deliver" && (s.GetTagItem(HubTelemetry.PaymentIdTag) as string) == id, "the webhook span");
        Assert.Equal(created.TraceId, webhook.TraceId);
        var post = await SpanAsync(s => s.Kind == ActivityKind.Client && s.ParentSpanId == webhook.SpanId, "the webhook's HTTP POST");
        Assert.StartsWith(hub.Receiver.Url("/hooks/"), post.GetTagItem("url.full") as string, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prometheus_scrapes_the_Hutong_counters()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(1000);
        var confirm = await m.ConfirmAsync(id);
        await hub.BuyerPaysAsync(confirm.Json.GetProperty("next_action").GetProperty("code_url").GetString()!);
        await m.WaitForStatusAsync(id, "succeeded");

        var text = await hub.EventuallyAsync(() => hub.Http.GetStringAsync("/metrics"), t => t.Contains("hutong_payments_succeeded_total", StringComparison.Ordinal), what: "the counter on /metrics");
        var line = text.Split('\n').First(l => l.StartsWith("hutong_payments_succeeded_total", StringComparison.Ordinal));
        Assert.True(double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture) >= 1, line);
        Assert.Contains("http_server_request_duration_seconds", text, StringComparison.Ordinal); // ASP.NET Core's own metrics too
    }

    private async Task<Activity> SpanAsync(Func<Activity, bool> match, string what) =>
        (await hub.EventuallyAsync(() => Task.FromResult(hub.Spans.Snapshot().FirstOrDefault(match)), s => s is not null, what: what))!;
}

/// <summary>A SQLite hub that records its spans in memory.</summary>
public sealed class TracedHub : HubFixture
{
    private string _dir = string.Empty;

    public LockedList<Activity> Spans { get; } = new();

    public override StoreProvider Provider => StoreProvider.Sqlite;

    protected override void Configure(WebApplicationBuilder builder)
    {
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Hutong:Telemetry:Tracing"] = "true" });
        builder.Services.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(Spans));
    }

    protected override Task<string> CreateDatabaseAsync()
    {
        _dir = Directory.CreateTempSubdirectory("hutong-traced-").FullName;
        return Task.FromResult($"Data Source={Path.Combine(_dir, "hutong.db")}");
    }

    protected override Task DropDatabaseAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }
}

/// <summary>The exporter adds from whichever thread ends a span while the test reads: a list behind a lock.</summary>
public sealed class LockedList<T> : ICollection<T>
{
    private readonly List<T> _items = [];

    public int Count
    {
        get
        {
            lock (_items)
            {
                return _items.Count;
            }
        }
    }

    public bool IsReadOnly => false;

    public T[] Snapshot()
    {
        lock (_items)
        {
            return [.. _items];
        }
    }

    public void Add(T item)
    {
        lock (_items)
        {
            _items.Add(item);
        }
    }

    public void Clear()
    {
        lock (_items)
        {
            _items.Clear();
        }
    }

    public bool Contains(T item)
    {
        lock (_items)
        {
            return _items.Contains(item);
        }
    }

    public void CopyTo(T[] array, int arrayIndex)
    {
        lock (_items)
        {
            _items.CopyTo(array, arrayIndex);
        }
    }

    public bool Remove(T item)
    {
        lock (_items)
        {
            return _items.Remove(item);
        }
    }

    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)Snapshot()).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
