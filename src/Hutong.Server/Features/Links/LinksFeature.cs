using Hutong.Server.Http;

namespace Hutong.Server.Features.Links;

/// <summary>Payment links and share codes: the merchant API and the public pages, with their click counter. HubApp composes the hub from these calls.</summary>
public static class LinksFeature
{
    public static IServiceCollection AddLinks(this IServiceCollection s)
    {
        s.AddSingleton<LinkService>();
        s.AddSingleton<ClickCounter>();
        s.AddHostedService(sp => sp.GetRequiredService<ClickCounter>());
        return s;
    }

    public static HubRoutes MapLinks(this HubRoutes routes)
    {
        LinkEndpoints.MapApi(routes.Api);
        LinkEndpoints.MapPublic(routes.App);
        return routes;
    }
}
