using System.Security.Cryptography;
using Hutong.Collab.Crypto;

namespace Hutong.Collab.Node;

/// <summary>
/// A job's secret scalars on one node: the PSI masking key and the ElGamal key (used by the value holder). Made once
/// per job and kept sealed with the job, so that a restarted node masks the same way and can still decrypt sums
/// encrypted before the restart.
/// </summary>
public sealed class JobKeys : IDisposable
{
    private JobKeys(SecretScalar psi, SecretScalar elGamal)
    {
        Psi = psi;
        ElGamal = elGamal;
    }

    public SecretScalar Psi { get; }

    public SecretScalar ElGamal { get; }

    public static async Task<JobKeys> LoadOrCreateAsync(CollabJob job, ICollabStore store, ICollabKeySealer sealer, CancellationToken ct)
    {
        var stored = job.SealedKeys;
        if (stored is null)
        {
            using var psi = SecretScalar.Generate();
            using var elGamal = SecretScalar.Generate();
            var both = new byte[64];
            psi.Export().CopyTo(both, 0);
            elGamal.Export().CopyTo(both, 32);
            stored = await store.SaveKeysOnceAsync(job.Id, sealer.Seal(both, job.Id), ct);
            CryptographicOperations.ZeroMemory(both);
        }

        var bytes = sealer.Open(stored, job.Id);
        try
        {
            return new JobKeys(SecretScalar.Import(bytes.AsSpan(0, 32)), SecretScalar.Import(bytes.AsSpan(32, 32)));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }

    public void Dispose()
    {
        Psi.Dispose();
        ElGamal.Dispose();
    }
}
