using Hutong.Connectors.Abstractions;
using Hutong.Server.Features;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Payments;
using Hutong.Server.Features.ProfitSharing;
using Hutong.Server.Features.Reconciliation;
using Hutong.Server.Features.Refunds;
using Hutong.Server.Features.Workers;
using Hutong.Server.Health;
using Hutong.Server.Http;
using Hutong.Server.Observability;
using Hutong.Server.Storage;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Hutong.Server;

/// <summary>
/// What <see cref="HubApp"/> registers besides the features: the settings it reads before the build, the infrastructure
/// every feature stands on, the background jobs, the wallets' connectors and the API's HTTP conventions.
/// </summary>
internal static class HubServices
{
    /// <summary>The wallets the hub knows without a host adding any; a host's <see cref="IWalletModule"/> instances join them.</summary>
    public static IServiceCollection AddBuiltinWallets(this IServiceCollection s)
    {
        foreach (var module in Wallets.Builtin)
        {
            s.AddSingleton(module);
        }

        return s;
    }

    /// <summary>Hutong's settings and the store's, as configured: the parts of the composition that depend on them are chosen before the build.</summary>
    public static (HubOptions Hub, StoreOptions Store) ReadHubSettings(this WebApplicationBuilder builder, WalletAccounts? accounts)
    {
        var hub = (builder.Configuration.GetSection(HubOptions.Section).Get<HubOptions>() ?? new HubOptions()).WithDefaults();
        var storeOptions = builder.Configuration.GetSection(StoreOptions.Section).Get<StoreOptions>() ?? new StoreOptions();
        if (hub.Sandbox.Enabled && accounts is null)
        {
            // The sandbox wallets are not part of the production server: pointing at them takes the demo host.
            throw new InvalidOperationException("Hutong:Sandbox:Enabled needs the demo host, which runs the sandbox wallets: dotnet run --project src/Hutong.Demo");
        }

        return (hub, storeOptions);
    }

    /// <summary>The wallet modules registered so far (built in, and the host's); each account given must belong to one of them.</summary>
    public static WalletCatalog WalletCatalogOf(this IServiceCollection s, WalletAccounts? accounts)
    {
        var wallets = new WalletCatalog(s
            .Where(d => d.ServiceType == typeof(IWalletModule))
            .Select(d => d.ImplementationInstance as IWalletModule ?? throw new InvalidOperationException("Register a wallet module as an instance: the hub reads it before it builds.")));
        accounts?.EnsureKnown(wallets.All);
        return wallets;
    }

    /// <summary>Telemetry, health, graceful shutdown, options, the clock, the store and its caches, metrics and rate limits.</summary>
    public static WebApplicationBuilder AddHubInfrastructure(this WebApplicationBuilder builder, HubOptions hub, StoreOptions storeOptions, WalletCatalog wallets)
    {
        var s = builder.Services;
        HubTelemetry.Add(builder);
        HubHealth.Add(builder, storeOptions);
        GracefulShutdown.Add(builder);
        s.AddOptions<HubOptions>().Bind(builder.Configuration.GetSection(HubOptions.Section)).PostConfigure(o =>
        {
            o.WithDefaults();
            foreach (var m in wallets.All)
            {
                o.WalletFeeBasisPoints.TryAdd(m.Name, m.DefaultFeeBasisPoints); // configuration overrides a module's default
            }
        });
        s.TryAddSingleton(TimeProvider.System); // the deterministic simulation registers its own clock first
        s.AddSingleton(storeOptions);
        s.AddSingleton<Db>();
        s.AddSingleton<CacheBus>().AddHostedService(sp => sp.GetRequiredService<CacheBus>()); // caches agree across instances
        s.AddSingleton<HubMetrics>();
        s.AddMemoryCache(o => o.SizeLimit = 100_000);
        RateLimits.Add(s, hub);
        return builder;
    }

    /// <summary>One hosted service per background job; Jobs runs one pass of each in this order (tests, the simulation).</summary>
    public static IServiceCollection AddHubJobs(this IServiceCollection s)
    {
        s.AddJob<UnknownRequeryJob>();
        s.AddJob<PaymentCodeJob>();
        s.AddJob<StrayAttemptJob>();
        s.AddJob<OpenOrderPollJob>();
        s.AddJob<ExpiryJob>();
        s.AddJob<RefundJob>();
        s.AddJob<SplitJob>();
        s.AddJob<Features.Payouts.PayoutJob>();
        s.AddJob<Features.Disputes.DisputeSyncJob>();
        s.AddJob<Features.Disputes.DisputeDeadlineJob>();
        s.AddJob<IdempotencyCleanupJob>();
        s.AddJob<WalletPayerCleanupJob>();
        s.AddJob<ReconciliationScheduler>();
        return s;
    }

    /// <summary>Configured accounts are the channels named after their wallets; the HTTP clients serve operator-added channels too.</summary>
    public static IServiceCollection AddWalletConnectors(this IServiceCollection s, WalletCatalog wallets, IConfiguration configuration, WalletAccounts? accounts)
    {
        s.AddSingleton(wallets);
        foreach (var m in wallets.All)
        {
            m.AddConnector(s, accounts is null ? configuration.GetSection(m.OptionsSection).Get(m.OptionsType) : accounts.For(m));
        }

        return s;
    }

    /// <summary>The API's JSON, problem responses (RFC 9457), route binding and OpenAPI document.</summary>
    public static IServiceCollection AddHubHttp(this IServiceCollection s)
    {
        s.ConfigureHttpJsonOptions(o => ApiJson.Configure(o.SerializerOptions));
        s.AddProblemDetails(o => o.CustomizeProblemDetails = Problems.Customize);
        s.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = false); // a malformed route id is answered by RouteIds, in every environment
        s.AddOpenApi(OpenApiConventions.Configure);
        return s;
    }
}
