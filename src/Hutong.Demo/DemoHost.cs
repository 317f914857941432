using Hutong.Sandbox;
using Hutong.Server;
using Hutong.Server.Features;

namespace Hutong.Demo;

/// <summary>
/// The hub as <c>--demo</c> runs it: the sandbox wallets in this process, a fresh sandbox account per wallet the hub
/// has a module for, the hub pointed at them, a demo merchant and the demo shop.
/// </summary>
public static class DemoHost
{
    /// <param name="more">Sandbox wallets besides the built-in ones (a test's wallet; its hub module comes through <paramref name="configure"/>).</param>
    public static async Task<DemoHandle> BuildAsync(string[] args, Action<WebApplicationBuilder>? configure = null, IEnumerable<ISandboxWallet>? more = null)
    {
        // The sandbox's address comes from configuration the hub has not read yet: read it the same way (appsettings,
        // environment, command line, then the caller's overrides).
        var settings = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        configure?.Invoke(settings);
        var sandboxOptions = settings.Configuration.GetSection($"{HubOptions.Section}:Sandbox").Get<SandboxOptions>() ?? new SandboxOptions();
        var modules = Wallets.Builtin.Concat(settings.Services.Where(d => d.ServiceType == typeof(Connectors.Abstractions.IWalletModule))
            .Select(d => d.ImplementationInstance).OfType<Connectors.Abstractions.IWalletModule>()).ToList();

        var sandbox = await SandboxHost.StartAsync(sandboxOptions.Url, more: more);
        try
        {
            sandbox.TimeScale = sandboxOptions.TimeScale;
            var accounts = new List<object>();
            foreach (var wallet in sandbox.Wallets)
            {
                // A sandbox wallet the hub has no module for stays reachable for SDKs, but the hub cannot use it.
                if (modules.FirstOrDefault(m => m.Name == wallet.Name) is { } module)
                {
                    accounts.Add(SandboxWiring.As(await wallet.RegisterAccountAsync(sandbox.BaseUrl), module.OptionsType));
                }
            }

            var hub = await HubApp.BuildAsync(args, b =>
            {
                configure?.Invoke(b);
                b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
                {
                    ["Hutong:Sandbox:Enabled"] = "true",
                    ["Hutong:Sandbox:Demo"] = "true",
                    ["Hutong:Sandbox:Url"] = sandbox.BaseUrl, // where it really listens (port 0 picks one)
                    ["Hutong:Webhooks:AllowPrivateTargets"] = "true",
                });
            }, new WalletAccounts([.. accounts]), sandbox);
            return new DemoHandle(hub, sandbox);
        }
        catch
        {
            await sandbox.DisposeAsync();
            throw;
        }
    }
}

/// <summary>The demo hub and its sandbox; disposing it stops both.</summary>
public sealed class DemoHandle(HubHandle hub, SandboxHost sandbox) : IAsyncDisposable
{
    public HubHandle Hub => hub;

    public SandboxHost Sandbox => sandbox;

    public WebApplication App => hub.App;

    public string BaseUrl => hub.BaseUrl;

    public Task StartAsync(CancellationToken ct = default) => hub.StartAsync(ct);

    public ValueTask DisposeAsync() => hub.DisposeAsync(); // the hub disposes the sandbox after itself
}
