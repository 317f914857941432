using Hutong.Connectors.Abstractions;
using Hutong.Server.Collab.DataSets;
using Hutong.Server.Collab.Nodes;
using Hutong.Server.Features;
using Hutong.Server.Features.Channels;
using Hutong.Server.Features.Checkout;
using Hutong.Server.Features.Console;
using Hutong.Server.Features.Demo;
using Hutong.Server.Features.FriendPay;
using Hutong.Server.Features.Hosts;
using Hutong.Server.Features.Ledger;
using Hutong.Server.Features.Links;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Features.Notifications;
using Hutong.Server.Features.Payments;
using Hutong.Server.Features.Payouts;
using Hutong.Server.Features.Disputes;
using Hutong.Server.Features.Files;
using Hutong.Server.Features.Reconciliation;
using Hutong.Server.Features.ProfitSharing;
using Hutong.Server.Features.Subsidies;
using Hutong.Server.Features.Refunds;
using Hutong.Server.Features.Rollout;
using Hutong.Server.Features.Webhooks;
using Hutong.Server.Health;
using Hutong.Server.Observability;
using Hutong.Server.Storage;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Hutong.Server;

/// <summary>Builds the hub. Program.cs, the tests and the benchmarks all start it through here.</summary>
public static class HubApp
{
    /// <summary>
    /// Builds the application. The wallets are <see cref="Wallets.Builtin"/> plus any <see cref="IWalletModule"/> instance
    /// <paramref name="configure"/> registers; each collects with the account in <paramref name="accounts"/> (tests, the demo
    /// host's sandbox accounts) or, without it, the one in its configuration section (Connectors:*).
    /// </summary>
    public static async Task<HubHandle> BuildAsync(
        string[] args, Action<WebApplicationBuilder>? configure = null, WalletAccounts? accounts = null, IAsyncDisposable? companion = null)
    {
        // appsettings.json is read from beside the program, wherever it is started from (from another directory the
        // hub otherwise fell back to Kestrel's default port 5000 without a word).
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.Services.AddBuiltinWallets();
        configure?.Invoke(builder);
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = 1024 * 1024);

        var (hub, storeOptions) = builder.ReadHubSettings(accounts);
        var wallets = builder.Services.WalletCatalogOf(accounts);

        var s = builder.Services;
        builder.AddHubInfrastructure(hub, storeOptions, wallets);
        // The features, lowest first (the order FeatureDirectionTests pins); each registers its own services.
        s.AddIdempotency().AddMerchants().AddLedger().AddChannels().AddRollout()
            .AddPayments().AddRefunds().AddProfitSharing().AddSubsidies().AddFiles()
            .AddFriendPay().AddLinks().AddHosts().AddReconciliation().AddPayouts().AddDisputes().AddConsole().AddDemo();
        s.AddCollabDataSets();
        s.AddHubJobs();
        s.AddWebhooks();
        s.AddWalletConnectors(wallets, builder.Configuration, accounts);
        s.AddSingleton(SecretBox.FromBase64(builder.Configuration[$"{HubOptions.Section}:MasterKey"]));
        s.AddHubHttp();
        s.AddCollab(builder.Configuration);

        var app = builder.Build();
        app.UseHubPipeline(hub);
        app.UseConsoleSessions();
        var routes = app.MapHubRoutes();
        routes.MapMerchants().MapChannels().MapRollout()
            .MapPayments().MapRefunds().MapProfitSharing().MapSubsidies().MapFiles()
            .MapCheckout().MapFriendPay().MapLinks().MapHosts().MapReconciliation().MapPayouts().MapDisputes().MapWebhooks()
            .MapNotifications().MapConsole();
        routes.MapCollabDataSets();
        routes.MapCollab();
        HubHealth.Map(app);
        HubTelemetry.Map(app);
        if (hub.Sandbox.Demo)
        {
            routes.MapDemo();
        }

        return new HubHandle(app, companion);
    }
}

/// <summary>
/// The wallet accounts the hub collects with (direct mode), each a wallet's options object (WeChatPayOptions, …);
/// a wallet without one here is disabled. Each is matched to its wallet module by type.
/// </summary>
public sealed class WalletAccounts(params object?[] accounts)
{
    private readonly object[] _accounts = accounts.OfType<object>().ToArray();

    public object? For(IWalletModule module) => _accounts.FirstOrDefault(a => a.GetType() == module.OptionsType);

    /// <summary>An account no registered wallet takes is a wiring mistake, not a wallet to leave off silently.</summary>
    public void EnsureKnown(IReadOnlyList<IWalletModule> modules)
    {
        if (_accounts.FirstOrDefault(a => !modules.Any(m => m.OptionsType == a.GetType())) is { } stray)
        {
            throw new InvalidOperationException($"No wallet module takes an account of type {stray.GetType().Name}.");
        }
    }
}

/// <summary>
/// A built hub, and what its host started with it (the demo host's sandbox wallets), disposed after the hub.
/// Start runs migrations and fixes up the public URL.
/// </summary>
public sealed class HubHandle(WebApplication app, IAsyncDisposable? companion) : IAsyncDisposable
{
    public WebApplication App => app;

    public string BaseUrl => App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

    public async Task StartAsync(CancellationToken ct = default)
    {
        var db = app.Services.GetRequiredService<Db>();
        await Migrator.MigrateAsync(db, ct);
        await app.StartAsync(ct);

        var options = app.Services.GetRequiredService<IOptions<HubOptions>>().Value;
        var configured = app.Configuration[$"{HubOptions.Section}:PublicBaseUrl"];
        if (string.IsNullOrEmpty(configured))
        {
            options.PublicBaseUrl = BaseUrl; // wallets and buyers reach us where we actually listen
        }

        var store = app.Services.GetRequiredService<StoreOptions>().Describe();
        if (options.Sandbox.Demo)
        {
            var (merchantId, secret, reused) = await app.Services.GetRequiredService<DemoShop>().SeedAsync(ct);
            var (consoleEmail, consolePassword) = await app.Services.GetRequiredService<ConsoleAccounts>().DemoUserAsync(merchantId, ct);
            Console.WriteLine($"""

                  Hutong is running at {options.PublicBaseUrl}
                  Store:           {store}
                  Demo shop:       {options.PublicBaseUrl}/shop
                  API reference:   {options.PublicBaseUrl}/scalar/v1
                  Sandbox wallets: {options.Sandbox.Url.TrimEnd('/')}/sandbox/({string.Join('|', app.Services.GetRequiredService<WalletCatalog>().Names)})/buyer
                  Demo merchant:   {merchantId}{(reused ? " (the one this store already had)" : string.Empty)}
                  A new API key for it (shown once; earlier keys still work): {secret}
                  Console:         {options.PublicBaseUrl}/console  (sign in as {consoleEmail} / {consolePassword}, the demo merchant's owner; a new password each start)

                """);
        }
        else
        {
            Console.WriteLine($"Hutong is running at {options.PublicBaseUrl} — store: {store}");
        }
    }

    private bool _disposed;

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await app.StopAsync();
        await app.DisposeAsync();
        if (companion is not null)
        {
            await companion.DisposeAsync();
        }
    }
}
