using Hutong.Server.Http;

namespace Hutong.Server.Features.Demo;

/// <summary>The demo shop (served only when the hub runs as the demo). HubApp composes the hub from these calls.</summary>
public static class DemoFeature
{
    public static IServiceCollection AddDemo(this IServiceCollection s)
    {
        s.AddSingleton<DemoShop>();
        return s;
    }

    public static HubRoutes MapDemo(this HubRoutes routes)
    {
        DemoShop.Map(routes.App);
        return routes;
    }
}
