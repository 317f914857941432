using Hutong.Server.Http;

namespace Hutong.Server.Features.Checkout;

/// <summary>The buyer's cashier (/pay/{token}), its assets, and the aggregated QR code. HubApp composes the hub from these calls.</summary>
public static class CheckoutFeature
{
    public static HubRoutes MapCheckout(this HubRoutes routes)
    {
        CheckoutEndpoints.Map(routes.App);
        AggregatedQr.Map(routes.App);
        InAppPay.Map(routes.App);
        return routes;
    }
}
