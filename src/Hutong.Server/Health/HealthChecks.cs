using System.Text.Json;
using Dapper;
using Hutong.Server.Storage;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Hutong.Server.Health;

/// <summary>
/// Liveness and readiness. /healthz/live: the process answers (no dependency is looked at, so a store outage never gets
/// the hub restarted). /healthz/ready: the store answers a real query, every migration of this build is applied, the
/// writer commits, and the hub is not shutting down. /healthz is readiness, as before the split (what load balancers and
/// the crash tests already poll).
/// </summary>
public static class HubHealth
{
    public const string ReadyTag = "ready";

    public static void Add(WebApplicationBuilder builder, StoreOptions store)
    {
        var checks = builder.Services.AddHealthChecks()
            .AddCheck<StoreHealthCheck>("store", tags: [ReadyTag], timeout: TimeSpan.FromSeconds(5))
            .AddCheck<ShutdownHealthCheck>("accepting", tags: [ReadyTag]);
        if (store.Provider == StoreProvider.Postgres)
        {
            // The library's own probe (SELECT 1) on the hub's data source: the pool the requests use.
            checks.AddNpgSql(sp => sp.GetRequiredService<Db>().PgDataSource!, name: "postgresql", tags: [ReadyTag], timeout: TimeSpan.FromSeconds(5));
        }
    }

    public static void Map(WebApplication app)
    {
        app.MapHealthChecks("/healthz/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteAsync }).ExcludeFromDescription();
        var ready = new HealthCheckOptions { Predicate = c => c.Tags.Contains(ReadyTag), ResponseWriter = WriteAsync };
        app.MapHealthChecks("/healthz/ready", ready).ExcludeFromDescription();
        app.MapHealthChecks("/healthz", ready).ExcludeFromDescription();
    }

    /// <summary>{"status":"healthy","checks":{"store":{"status":"unhealthy","description":"…"}}}; 503 when not healthy.</summary>
    private static Task WriteAsync(HttpContext ctx, HealthReport report)
    {
        ctx.Response.ContentType = "application/json";
        ctx.Response.Headers.CacheControl = "no-store";
        return JsonSerializer.SerializeAsync(ctx.Response.Body, new
        {
            status = report.Status.ToString().ToLowerInvariant(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString().ToLowerInvariant(), description = e.Value.Description }),
        }, cancellationToken: ctx.RequestAborted);
    }
}

/// <summary>The store as the hub uses it: reachable, on the schema this build expects, and its writer committing.</summary>
internal sealed class StoreHealthCheck(Db db) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct)
    {
        if (!db.WritersAlive)
        {
            return HealthCheckResult.Unhealthy("The store's writer has stopped.");
        }

        HashSet<string> applied;
        try
        {
            applied = (await db.ReadAsync(c => c.QueryAsync<string>("SELECT version FROM schema_migrations"), ct)).ToHashSet(StringComparer.Ordinal);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // No schema_migrations table reads as "not migrated"; anything else as unreachable. The message names no secret.
            return HealthCheckResult.Unhealthy($"The store did not answer: {e.GetType().Name}.");
        }

        var missing = Migrator.Versions.Where(v => !applied.Contains(v)).ToList();
        if (missing.Count > 0)
        {
            return HealthCheckResult.Unhealthy($"Migrations not applied: {string.Join(", ", missing)}.");
        }

        if (!db.IsPostgres)
        {
            // An empty write through SQLite's one writer: it answers only if the writer is taking writes (it commits nothing,
            // so no fsync). Bounded by the check's timeout; the queued write itself cannot be withdrawn.
            await db.WriteAsync((_, _) => Task.FromResult(true), CancellationToken.None).WaitAsync(ct);
        }

        return HealthCheckResult.Healthy();
    }
}

/// <summary>Not ready once shutdown began, so a load balancer stops sending new work while in-flight requests drain.</summary>
internal sealed class ShutdownHealthCheck(IHostApplicationLifetime lifetime) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct) =>
        Task.FromResult(lifetime.ApplicationStopping.IsCancellationRequested ? HealthCheckResult.Unhealthy("Shutting down.") : HealthCheckResult.Healthy());
}
