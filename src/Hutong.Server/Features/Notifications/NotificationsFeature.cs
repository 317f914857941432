using Hutong.Server.Http;

namespace Hutong.Server.Features.Notifications;

/// <summary>Wallets' asynchronous notifications (they carry the wallet's signature, not a merchant's key). HubApp composes the hub from these calls.</summary>
public static class NotificationsFeature
{
    public static HubRoutes MapNotifications(this HubRoutes routes)
    {
        WalletNotificationEndpoints.Map(routes.App);
        return routes;
    }
}
