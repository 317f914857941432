namespace Hutong.Server.Health;

/// <summary>Settings under "Hutong:Shutdown".</summary>
public sealed class ShutdownOptions
{
    public const string Section = "Hutong:Shutdown";

    /// <summary>
    /// How long the hub keeps serving after SIGTERM before it stops listening, answering 503 on /healthz/ready meanwhile, so
    /// a load balancer takes it out of rotation first (Kubernetes' preStop pause). Counts against the host's shutdown
    /// timeout (shutdownTimeoutSeconds, default 30): keep it well below.
    /// </summary>
    public TimeSpan DrainDelay { get; set; } = TimeSpan.Zero;
}

/// <summary>
/// SIGTERM lets in-flight requests finish (Kestrel), then the workers, then the store's writer (the host disposes it
/// last). Two additions: every answer given once shutdown began says "Connection: close", so a client does not send its
/// next request down a keep-alive connection the hub is about to close (it gets a clean refusal instead of a request lost
/// on a closing connection); and the optional drain delay.
/// </summary>
public static class GracefulShutdown
{
    public static void Add(WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton(builder.Configuration.GetSection(ShutdownOptions.Section).Get<ShutdownOptions>() ?? new ShutdownOptions());
        builder.Services.AddHostedService<DrainDelayService>();
    }

    public static void Use(WebApplication app)
    {
        var stopping = app.Lifetime.ApplicationStopping;
        app.Use((ctx, next) =>
        {
            ctx.Response.OnStarting(static state =>
            {
                var (c, token) = ((HttpContext, CancellationToken))state;
                if (token.IsCancellationRequested)
                {
                    c.Response.Headers.Connection = "close";
                }

                return Task.CompletedTask;
            }, (ctx, stopping));
            return next(ctx);
        });
    }

    /// <summary>Runs before any hosted service (Kestrel included) is stopped: the web server keeps serving meanwhile.</summary>
    private sealed class DrainDelayService(ShutdownOptions options, TimeProvider time, IHostApplicationLifetime lifetime) : IHostedLifecycleService
    {
        public async Task StoppingAsync(CancellationToken ct)
        {
            if (options.DrainDelay > TimeSpan.Zero)
            {
                // SIGTERM has signalled ApplicationStopping already; a stop started in code reaches here first. Either way
                // readiness must say "shutting down" for the whole delay.
                lifetime.StopApplication();
                try
                {
                    await Task.Delay(options.DrainDelay, time, ct);
                }
                catch (OperationCanceledException)
                {
                    // the shutdown timeout ran out first: stop now
                }
            }
        }

        public Task StartAsync(CancellationToken ct) => Task.CompletedTask;

        public Task StopAsync(CancellationToken ct) => Task.CompletedTask;

        public Task StartingAsync(CancellationToken ct) => Task.CompletedTask;

        public Task StartedAsync(CancellationToken ct) => Task.CompletedTask;

        public Task StoppedAsync(CancellationToken ct) => Task.CompletedTask;
    }
}
