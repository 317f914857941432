using Hutong.Server.Http;

namespace Hutong.Server.Features.Merchants;

/// <summary>Merchants, their API keys and the filters that authenticate merchants (API key) and operators (admin token). HubApp composes the hub from these calls.</summary>
public static class MerchantsFeature
{
    public static IServiceCollection AddMerchants(this IServiceCollection s)
    {
        s.AddSingleton<MerchantStore>();
        s.AddSingleton<ApiKeyFilter>();
        s.AddSingleton<AdminTokenFilter>();
        return s;
    }

    public static HubRoutes MapMerchants(this HubRoutes routes)
    {
        AdminEndpoints.Map(routes.Admin);
        return routes;
    }
}
