using System.Diagnostics;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Hutong.Server.Observability;

/// <summary>Settings under "Hutong:Telemetry".</summary>
public sealed class TelemetryOptions
{
    public const string Section = "Hutong:Telemetry";

    /// <summary>Master switch for metrics, traces and the OTLP log export.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Where Prometheus scrapes the metrics; empty turns the endpoint off.</summary>
    public string PrometheusPath { get; set; } = "/metrics";

    /// <summary>
    /// Record traces even without an OTLP endpoint (tests add an in-memory exporter). With OTEL_EXPORTER_OTLP_ENDPOINT set,
    /// traces are always on: recording spans nobody exports only costs.
    /// </summary>
    public bool Tracing { get; set; }
}

/// <summary>
/// OpenTelemetry for the hub: the "Hutong" meter and ActivitySource, ASP.NET Core, HttpClient and Npgsql instrumentation,
/// a Prometheus scrape endpoint, and OTLP export of all three signals when OTEL_EXPORTER_OTLP_ENDPOINT is configured
/// (the standard OTEL_* variables then apply: OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES).
/// </summary>
public static class HubTelemetry
{
    public const string SourceName = "Hutong";

    /// <summary>Spans of the hub's own work that runs outside the request that caused it (notifications, webhooks).</summary>
    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>Tag carrying the payment a span is about, so one payment's spans can be found across traces.</summary>
    public const string PaymentIdTag = "hutong.payment_id";

    public static void Add(WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(TelemetryOptions.Section).Get<TelemetryOptions>() ?? new TelemetryOptions();
        builder.Services.AddSingleton(options);
        if (!options.Enabled)
        {
            return;
        }

        var otlp = !string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(serviceName: "hutong", serviceVersion: typeof(HubTelemetry).Assembly.GetName().Version?.ToString()))
            .WithMetrics(m =>
            {
                m.AddMeter(HubMetrics.MeterName)
                    .AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation()
                    .AddNpgsqlInstrumentation();
                if (!string.IsNullOrEmpty(options.PrometheusPath))
                {
                    m.AddPrometheusExporter();
                }
            });

        if (otlp || options.Tracing)
        {
            otel.WithTracing(t => t
                .AddSource(SourceName)
                .AddAspNetCoreInstrumentation(o => o.Filter = ctx => !IsProbe(ctx.Request.Path, options))
                .AddHttpClientInstrumentation()
                .AddNpgsql());
        }

        if (otlp)
        {
            otel.WithLogging(_ => { }, o =>
            {
                o.IncludeFormattedMessage = true;
                o.IncludeScopes = true;
            });
            otel.UseOtlpExporter(); // every signal; endpoint, protocol and headers from the OTEL_EXPORTER_OTLP_* settings
        }
    }

    public static void Map(WebApplication app)
    {
        var options = app.Services.GetRequiredService<TelemetryOptions>();
        if (options.Enabled && !string.IsNullOrEmpty(options.PrometheusPath))
        {
            app.MapPrometheusScrapingEndpoint(options.PrometheusPath).ExcludeFromDescription();
        }
    }

    /// <summary>Scrapes and probes arrive every few seconds and say nothing about a payment: no spans for them.</summary>
    private static bool IsProbe(PathString path, TelemetryOptions options) =>
        path.StartsWithSegments("/healthz") || (!string.IsNullOrEmpty(options.PrometheusPath) && path.StartsWithSegments(options.PrometheusPath));

    /// <summary>The current span's context as a W3C traceparent, to store with a row whose later work should join its trace.</summary>
    public static string? CurrentTraceParent() => Activity.Current is { IdFormat: ActivityIdFormat.W3C } a ? a.Id : null;

    /// <summary>
    /// A span for work on a payment that runs later, outside the request that created it (a wallet notification, a webhook
    /// delivery). It continues the trace stored with the payment (<paramref name="storedTraceParent"/>), so one trace follows
    /// the payment from its creation, and links to the span it actually runs in (the inbound request), if any.
    /// </summary>
    public static Activity? StartFollowUp(string name, ActivityKind kind, string? storedTraceParent, Func<string?>? paymentId)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var links = Activity.Current is { } running ? new[] { new ActivityLink(running.Context) } : null;
        ActivityContext.TryParse(storedTraceParent, null, isRemote: true, out var parent); // default (a new trace) when none was stored
        var activity = Source.StartActivity(name, kind, parent, links: links);
        activity?.SetTag(PaymentIdTag, paymentId?.Invoke());
        return activity;
    }

    /// <summary>The payment a payment.* event's payload is about (parsed only when a span is recorded).</summary>
    public static Func<string?> PaymentIdOf(string eventPayload) => () =>
    {
        using var doc = System.Text.Json.JsonDocument.Parse(eventPayload);
        var root = doc.RootElement;
        return root.TryGetProperty("type", out var type) && type.GetString() is { } t && t.StartsWith("payment.", StringComparison.Ordinal)
            && root.TryGetProperty("data", out var data) && data.TryGetProperty("object", out var o) && o.TryGetProperty("id", out var id)
            ? id.GetString()
            : null;
    };
}
