using Hutong.Server.Http;

namespace Hutong.Server.Features.FriendPay;

/// <summary>Ask-a-friend-to-pay links: the merchant API, the buyer's share page and the friend's page. HubApp composes the hub from these calls.</summary>
public static class FriendPayFeature
{
    public static IServiceCollection AddFriendPay(this IServiceCollection s)
    {
        s.AddSingleton<FriendPayService>();
        return s;
    }

    public static HubRoutes MapFriendPay(this HubRoutes routes)
    {
        FriendPayEndpoints.MapApi(routes.Api);
        FriendPayEndpoints.MapPages(routes.App);
        return routes;
    }
}
