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

    private const string ServiceName = "(Service|PaymentConfirmation|WalletOrders|PaymentOutcomes)";

    [Fact]
    public void Feature_services_do_not_speak_HTTP()
    {
        var offending = SpeakingHttp();
        Assert.True(offending.Count == 0, $"services that speak HTTP: {string.Join(", ", offending)}");
    }

    [Fact]
    public void The_rule_sees_the_services()
    {
        var services = Services().GetTypes().Select(t => t.Name).ToList();

        Assert.Contains("PaymentService", services);
        Assert.Contains("RefundService", services);
        Assert.Contains("SplitService", services);
        Assert.Contains("SplitReceiverService", services);
        Assert.Contains("SplitRuleService", services);
        Assert.Contains("SplitFollowUpService", services);
        Assert.Contains("SplitReturnService", services);
        Assert.Contains("PaymentConfirmation", services);
        Assert.Contains("HostService", services);
        Assert.Contains("LinkService", services);
        Assert.Contains("FriendPayService", services);
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
