using System.Security.Cryptography.X509Certificates;
using Hutong.Collab;
using Hutong.Collab.Data;
using Hutong.Collab.Node;
using Hutong.Server.Storage;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Hutong.Server.Collab;

/// <summary>
/// The node's identity, loaded on first use from Hutong:Collab:CertificatePath (null when there is no such file: the
/// node then cannot propose, add peers or listen).
/// </summary>
public sealed class CollabIdentity(CollabNodeOptions options)
{
    private readonly Lazy<X509Certificate2?> _certificate = new(() => File.Exists(options.CertificatePath) ? NodeIdentity.Load(options.CertificatePath) : null);

    public X509Certificate2? Certificate => _certificate.Value;

    public string? Fingerprint => Certificate is { } c ? NodeIdentity.Fingerprint(c) : null;
}

/// <summary>No data sets: the default until a data-set store is registered (or Hutong:Collab:Synthetic is on).</summary>
public sealed class NoCollabDataSets : ICollabDataSets
{
    public Task<CollabDataSetInfo?> GetAsync(string dataSetId, CancellationToken ct) => Task.FromResult<CollabDataSetInfo?>(null);

    public IAsyncEnumerable<CollabRow> ReadBucketAsync(string dataSetId, int bucket, int bucketCount, CancellationToken ct) =>
        throw new CollabProtocolException("unknown_data_set", $"no data set {dataSetId}");
}

public static class CollabFeature
{
    /// <summary>
    /// Cooperation between two parties' hubs (issue 19): the store, the operator's service, and — when Hutong:Collab:Port
    /// is set — the node's own mTLS gRPC port and its runner. Not a payment feature: it reads nothing of theirs.
    /// </summary>
    public static IServiceCollection AddCollab(this IServiceCollection s, IConfiguration configuration)
    {
        var options = configuration.GetSection(CollabNodeOptions.Section).Get<CollabNodeOptions>() ?? new CollabNodeOptions();
        s.AddSingleton(options);
        s.AddSingleton<CollabIdentity>();
        s.AddSingleton<ICollabStore>(sp => new SqlCollabStore(sp.GetRequiredService<Db>(), sp.GetRequiredService<TimeProvider>()));
        s.AddSingleton<ICollabKeySealer>(sp => new SecretBoxKeySealer(sp.GetRequiredService<SecretBox>()));
        if (options.Synthetic)
        {
            s.TryAddSingleton<ICollabDataSets, SyntheticDataSets>();
        }

        s.TryAddSingleton<ICollabDataSets, NoCollabDataSets>();
        s.AddSingleton(sp => new CollabJobService(sp.GetRequiredService<ICollabStore>(), sp.GetRequiredService<ICollabDataSets>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<CollabIdentity>().Fingerprint ?? string.Empty));
        if (options.Port > 0)
        {
            s.AddSingleton(sp => new CollabNodeHost(options,
                sp.GetRequiredService<CollabIdentity>().Certificate
                    ?? throw new InvalidOperationException($"Hutong:Collab:Port is set but there is no node certificate at {options.CertificatePath}: create one with `hutong collab cert new`"),
                sp.GetRequiredService<ICollabStore>(), sp.GetRequiredService<ICollabDataSets>(), sp.GetRequiredService<ICollabKeySealer>(),
                sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>()));
            s.AddHostedService(sp => sp.GetRequiredService<CollabNodeHost>());
        }

        return s;
    }
}
