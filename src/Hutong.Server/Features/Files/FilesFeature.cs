using Hutong.Server.Http;

namespace Hutong.Server.Features.Files;

/// <summary>Files merchants upload (evidence images for disputes).</summary>
public static class FilesFeature
{
    public static IServiceCollection AddFiles(this IServiceCollection s)
    {
        s.AddSingleton<FileStore>();
        s.AddSingleton<FileService>();
        return s;
    }

    public static HubRoutes MapFiles(this HubRoutes routes)
    {
        FileEndpoints.Map(routes.Api);
        return routes;
    }
}
