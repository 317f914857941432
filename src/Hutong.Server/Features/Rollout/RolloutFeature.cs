using Hutong.Server.Http;

namespace Hutong.Server.Features.Rollout;

/// <summary>Staged rollout: which wallets a buyer is offered. HubApp composes the hub from these calls.</summary>
public static class RolloutFeature
{
    public static IServiceCollection AddRollout(this IServiceCollection s)
    {
        s.AddSingleton<RolloutService>();
        return s;
    }

    public static HubRoutes MapRollout(this HubRoutes routes)
    {
        RolloutEndpoints.Map(routes.Api);
        return routes;
    }
}
