using Hutong.Server.Http;

namespace Hutong.Server.Features.Hosts;

/// <summary>Hosts (platforms that bring merchants) and their balances. HubApp composes the hub from these calls.</summary>
public static class HostsFeature
{
    public static IServiceCollection AddHosts(this IServiceCollection s)
    {
        s.AddSingleton<HostService>();
        s.AddSingleton<HostStatementPayouts>();
        s.AddSingleton<Payouts.IPayoutSettlement>(sp => sp.GetRequiredService<HostStatementPayouts>());
        return s;
    }

    public static HubRoutes MapHosts(this HubRoutes routes)
    {
        HostEndpoints.Map(routes.Api);
        return routes;
    }
}
