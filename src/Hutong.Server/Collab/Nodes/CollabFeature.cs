using System.Security.Cryptography.X509Certificates;
using Hutong.Collab;
using Hutong.Collab.Data;
using Hutong.Collab.Node;
using Hutong.Server.Storage;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Hutong.Server.Collab.Nodes;

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

/// <summary>Data set ids starting "synthetic:" from the seeded generator, every other id from the stored data sets.</summary>
public sealed class SyntheticBesideStored(SyntheticDataSets synthetic, ICollabDataSets stored) : ICollabDataSets
{
    private const string Prefix = SyntheticDataSets.Prefix;

    public Task<CollabDataSetInfo?> GetAsync(string dataSetId, CancellationToken ct) =>
        dataSetId.StartsWith(Prefix, StringComparison.Ordinal) ? synthetic.GetAsync(dataSetId, ct) : stored.GetAsync(dataSetId, ct);

    public IAsyncEnumerable<CollabRow> ReadBucketAsync(string dataSetId, int bucket, int bucketCount, CancellationToken ct) =>
        dataSetId.StartsWith(Prefix, StringComparison.Ordinal) ? synthetic.ReadBucketAsync(dataSetId, bucket, bucketCount, ct) : stored.ReadBucketAsync(dataSetId, bucket, bucketCount, ct);
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
        s.TryAddSingleton<ICollabDataSets, NoCollabDataSets>();
        s.AddSingleton(sp => new SqlVflStore(sp.GetRequiredService<Db>(), sp.GetRequiredService<TimeProvider>()));
        s.AddSingleton<Hutong.Collab.Node.Vfl.IVflStore>(sp => sp.GetRequiredService<SqlVflStore>());
        if (options.Synthetic)
        {
            // The seeded synthetic data sets (ids "synthetic:…") beside the stored ones, for walkthroughs and tests.
            var stored = s.Last(d => d.ServiceType == typeof(ICollabDataSets));
            s.Replace(ServiceDescriptor.Singleton<ICollabDataSets>(sp => new SyntheticBesideStored(new SyntheticDataSets(), stored.ImplementationInstance as ICollabDataSets
                ?? stored.ImplementationFactory?.Invoke(sp) as ICollabDataSets
                ?? (ICollabDataSets)ActivatorUtilities.CreateInstance(sp, stored.ImplementationType!))));
        }

        s.AddSingleton(sp => new CollabJobService(sp.GetRequiredService<ICollabStore>(), sp.GetRequiredService<ICollabDataSets>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<CollabIdentity>().Fingerprint ?? string.Empty, sp.GetRequiredService<SqlVflStore>()));
        if (options.Port > 0)
        {
            s.AddSingleton(sp => new CollabNodeHost(options,
                sp.GetRequiredService<CollabIdentity>().Certificate
                    ?? throw new InvalidOperationException($"Hutong:Collab:Port is set but there is no node certificate at {options.CertificatePath}: create one with `hutong collab cert new`"),
                sp.GetRequiredService<ICollabStore>(), sp.GetRequiredService<ICollabDataSets>(), sp.GetRequiredService<ICollabKeySealer>(),
                sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>(), sp.GetRequiredService<SqlVflStore>()));
            s.AddHostedService(sp => sp.GetRequiredService<CollabNodeHost>());
        }

        return s;
    }
}
