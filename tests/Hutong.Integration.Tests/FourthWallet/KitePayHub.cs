using Hutong.Connectors.Abstractions;
using Hutong.Integration.Tests.FourthWallet.Connector;
using Hutong.Integration.Tests.FourthWallet.Sandbox;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;

namespace Hutong.Integration.Tests.FourthWallet;

/// <summary>The usual test hub (SQLite) with a fourth wallet, Kite Pay: the one line a new wallet adds to a test hub.</summary>
public sealed class KitePayHub : SqliteHub
{
    public KitePaySandboxWallet Kite { get; } = new() { Faults = { HangFor = TimeSpan.FromSeconds(4) } }; // past the connector's attempt timeout, like the others

    protected override IEnumerable<(IWalletModule Module, ISandboxWallet Sandbox)> MoreWallets() => [(new KitePayModule(), Kite)];
}

[CollectionDefinition("kitepay")]
public sealed class KitePayCollection : ICollectionFixture<KitePayHub>;
