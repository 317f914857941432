using Hutong.Server.Features.Workers;
using Hutong.Server.Http;

namespace Hutong.Server.Features.Webhooks;

/// <summary>Merchants' webhook endpoints and the dispatcher that delivers the outbox's events to them. HubApp composes the hub from these calls.</summary>
public static class WebhooksFeature
{
    public static IServiceCollection AddWebhooks(this IServiceCollection s)
    {
        s.AddSingleton<WebhookStore>();
        s.AddSingleton<WebhookDispatcher>();
        s.AddHostedService(sp => sp.GetRequiredService<WebhookDispatcher>());
        s.AddSingleton<EventService>();
        s.AddSingleton<WebhookEndpointService>();
        s.AddJob<EventRetentionJob>();
        return s;
    }

    public static HubRoutes MapWebhooks(this HubRoutes routes)
    {
        WebhookEndpointsApi.Map(routes.Api);
        EventsApi.Map(routes.Api);
        return routes;
    }
}
