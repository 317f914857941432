using Hutong.Server.Http;

namespace Hutong.Server.Features.Channels;

/// <summary>The wallets' channels (accounts), routing among them, and the wallets' capabilities. HubApp composes the hub from these calls.</summary>
public static class ChannelsFeature
{
    public static IServiceCollection AddChannels(this IServiceCollection s)
    {
        s.AddSingleton<WalletRegistry>();
        s.AddSingleton<RoutingService>();
        return s;
    }

    public static HubRoutes MapChannels(this HubRoutes routes)
    {
        ChannelAdminEndpoints.Map(routes.Admin);
        routes.Api.MapGet("/capabilities", async (WalletRegistry w, CancellationToken ct) => ApiResult.Ok(new
        {
            @object = "list",
            // flows: native (QR) plus the account's in-app flows (jsapi, mini_program, h5, app); the cashier picks one by browser.
            data = (await w.WalletsAsync(ct)).Values.Select(c => new
            {
                wallet = c.Wallet, capabilities = c.Capabilities, flows = Hutong.Connectors.Abstractions.PayFlows.Of(c).Select(Hutong.Connectors.Abstractions.PayFlows.Wire).ToList(),
            }).ToList(),
        })).WithTags("Capabilities");
        return routes;
    }
}
