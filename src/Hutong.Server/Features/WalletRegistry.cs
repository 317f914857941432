using Hutong.Connectors.Abstractions;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features;

/// <summary>The enabled wallet connectors by name, and where each wallet sends its notifications.</summary>
public sealed class WalletRegistry(IEnumerable<IWalletConnector> connectors, IOptions<HubOptions> options)
{
    private readonly Dictionary<string, IWalletConnector> _byName = connectors.ToDictionary(c => c.Wallet, StringComparer.Ordinal);

    public IReadOnlyCollection<string> Names => _byName.Keys;

    public IEnumerable<IWalletConnector> All => _byName.Values;

    public bool TryGet(string name, out IWalletConnector connector) => _byName.TryGetValue(name, out connector!);

    public IWalletConnector Get(string name) =>
        _byName.TryGetValue(name, out var c) ? c : throw new InvalidOperationException($"Wallet {name} is not enabled.");

    public string NotifyUrl(string wallet) => $"{options.Value.PublicBaseUrl.TrimEnd('/')}/notify/{wallet}";
}
