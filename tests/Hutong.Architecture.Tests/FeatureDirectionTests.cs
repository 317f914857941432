using System.Reflection;
using System.Text.RegularExpressions;
using Hutong.Server;
using NetArchTest.Rules;

namespace Hutong.Architecture.Tests;

/// <summary>
/// The allowed dependency directions inside Hutong.Server, read from the compiled IL (so a fully qualified name or a
/// lambda counts as much as a using). A namespace may depend on the layers below its own, never on its own layer's
/// other namespaces or on a layer above: a circle between features cannot come back without a test failing here.
/// </summary>
public class FeatureDirectionTests
{
    private static readonly Assembly Server = typeof(HubApp).Assembly;

    /// <summary>Lowest first. Feature names are under Hutong.Server.Features; the rest under Hutong.Server.</summary>
    public static readonly string[][] Layers =
    [
        ["Storage", "Observability"],                                     // the engine and telemetry: below everything
        ["Http", "Health"],                                               // HTTP plumbing (problems, limits, bodies), health checks
        ["Features"],                                                     // the wallet registry and catalog shared by features
        ["Features.Workers"],                                             // the job base and work queue; each job lives in its feature
        ["Features.Idempotency"],
        ["Features.Merchants"],                                           // its API-key filter sets the idempotency scope
        ["Features.Ledger", "Features.Channels", "Features.Rollout"],
        ["Features.Payments"],                                            // owns IPaymentSplits, ISystemRefunds
        ["Features.Refunds"],                                             // owns IRefundSplitReturns
        ["Features.ProfitSharing", "Features.Subsidies", "Features.Files"], // implement the contracts above; merchants' uploads
        ["Features.Checkout"],                                            // the buyer's pages and their UI kit
        ["Features.Payouts"],                                             // owns IPayoutSettlement (host statements follow their payouts)
        ["Features.FriendPay", "Features.Links", "Features.Hosts", "Features.Reconciliation", "Features.Webhooks", "Features.Disputes"],
        ["Features.Console"],                                             // the console: users, sessions, permissions, queries
        ["Features.Console.Pages"],                                       // its pages, over the features' services
        ["Features.Notifications", "Features.Demo"],                      // edges: wallets calling in, the demo shop
        ["Collab.DataSets"],                                              // cooperation data sets (issue 19): read payments, serve the job engine
        ["Collab.Nodes"],                                                 // cooperation nodes: no payment feature; data sets only through ICollabDataSets
    ];

    public static TheoryData<string> Namespaces() => [.. Layers.SelectMany(l => l).Select(Full)];

    [Theory]
    [MemberData(nameof(Namespaces))]
    public void A_namespace_depends_only_on_layers_below_it(string ns)
    {
        var layer = Array.FindIndex(Layers, l => l.Select(Full).Contains(ns));
        var forbidden = Layers.Skip(layer).SelectMany(l => l).Select(Full).Where(n => n != ns).ToArray();

        var result = Types.InAssembly(Server)
            .That().ResideInNamespaceMatching(Selecting(ns))
            .ShouldNot().HaveDependencyOnAny(forbidden) // a name here covers its children: only Features (all forbidden then) has any
            .GetResult();

        Assert.True(result.IsSuccessful,
            $"{ns} may not depend on {string.Join(", ", forbidden)} (same layer or above); offending types: {string.Join(", ", result.FailingTypeNames ?? [])}");
    }

    /// <summary>Every feature folder has a place in <see cref="Layers"/>: a new one cannot dodge the rules by being unlisted.</summary>
    [Fact]
    public void Every_namespace_of_the_server_has_a_layer()
    {
        var listed = Layers.SelectMany(l => l).Select(Full).ToHashSet(StringComparer.Ordinal);
        var unlisted = Server.GetTypes()
            .Select(t => t.Namespace)
            .OfType<string>()
            .Where(n => n.StartsWith("Hutong.Server.", StringComparison.Ordinal) && !listed.Contains(n))
            .Distinct()
            .Order(StringComparer.Ordinal)
            .ToList();

        Assert.Empty(unlisted);
    }

    /// <summary>HubApp is the composition root: it names every feature, so nothing may name it.</summary>
    [Fact]
    public void Nothing_depends_on_the_composition_root()
    {
        var result = Types.InAssembly(Server)
            .That().ResideInNamespaceStartingWith("Hutong.Server.")
            .ShouldNot().HaveDependencyOnAny(typeof(HubApp).FullName!, typeof(HubHandle).FullName!)
            .GetResult();

        Assert.True(result.IsSuccessful, $"types that use HubApp: {string.Join(", ", result.FailingTypeNames ?? [])}");
    }

    private static string Full(string name) => "Hutong.Server." + name;

    /// <summary>
    /// The types of a namespace, with their nested types (NetArchTest gives a nested type its declaring type's full name
    /// as namespace) but not the listed namespaces under it: "Hutong.Server.Features" is not every feature.
    /// </summary>
    private static string Selecting(string ns)
    {
        var children = Layers.SelectMany(l => l).Select(Full)
            .Where(n => n.StartsWith(ns + ".", StringComparison.Ordinal))
            .Select(n => Regex.Escape(n[(ns.Length + 1)..]))
            .ToList();
        var notAChild = children.Count == 0 ? string.Empty : $"(?!({string.Join('|', children)})(\\.|$))";
        return $"^{Regex.Escape(ns)}(\\.{notAChild}.+)?$";
    }
}
