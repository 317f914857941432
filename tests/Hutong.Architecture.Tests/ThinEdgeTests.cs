using System.Reflection;
using Hutong.Server;
using NetArchTest.Rules;

namespace Hutong.Architecture.Tests;

/// <summary>
/// Feature services answer with a transport-free Outcome (Hutong.Domain); only endpoints turn it into HTTP (status codes,
/// problem JSON) through Http.OutcomeResults. A service that builds an ApiResult or touches ASP.NET Core's HTTP types
/// again fails here.
/// </summary>
public class ThinEdgeTests
{
    private static readonly Assembly Server = typeof(HubApp).Assembly;

    /// <summary>Services not yet converted; this list only shrinks.</summary>
    private static readonly string[] NotYet = ["HostService", "LinkService"];

    private const string ServiceName = "(Service|PaymentConfirmation|WalletOrders|PaymentOutcomes)";

    [Fact]
    public void Feature_services_do_not_speak_HTTP()
    {
        var offending = SpeakingHttp().Where(n => !NotYet.Any(n.Contains)).ToList();
        Assert.True(offending.Count == 0, $"services that speak HTTP: {string.Join(", ", offending)}");
    }

    /// <summary>Proves the rule is not vacuous, and keeps <see cref="NotYet"/> honest: drop a name once it is converted.</summary>
    [Fact]
    public void The_services_not_yet_converted_still_fail_the_rule()
    {
        var failing = SpeakingHttp();
        Assert.All(NotYet, n => Assert.Contains(failing, f => f.Contains(n, StringComparison.Ordinal)));
    }

    [Fact]
    public void The_rule_sees_the_services()
    {
        var services = Services().GetTypes().Select(t => t.Name).ToList();

        Assert.Contains("PaymentService", services);
        Assert.Contains("RefundService", services);
        Assert.Contains("ProfitSharingService", services);
        Assert.Contains("PaymentConfirmation", services);
    }

    /// <summary>
    /// The services and their nested types: an async method's body is a nested state machine, which NetArchTest lists
    /// with its declaring type's full name as namespace.
    /// </summary>
    private static PredicateList Services() => Types.InAssembly(Server)
        .That().ResideInNamespaceStartingWith("Hutong.Server.Features").And().HaveNameMatching($"^[A-Za-z]*{ServiceName}$")
        .Or().ResideInNamespaceMatching($@"^Hutong\.Server\.Features\..*\.[A-Za-z]*{ServiceName}$");

    private static List<string> SpeakingHttp() => [.. Services()
        .ShouldNot().HaveDependencyOnAny("Hutong.Server.Http.ApiResult", "Hutong.Server.Http.Problems", "Microsoft.AspNetCore.Http")
        .GetResult().FailingTypeNames ?? []];
}
