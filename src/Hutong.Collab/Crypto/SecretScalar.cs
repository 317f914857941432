using System.Security.Cryptography;

namespace Hutong.Collab.Crypto;

/// <summary>
/// A per-job secret scalar (the PSI masking key, or an ElGamal private key). Exported only so that a job can resume
/// after a crash (the later storage layer keeps it encrypted); zeroed on dispose; never printed.
/// </summary>
public sealed class SecretScalar : IDisposable
{
    private readonly byte[] value;
    private bool disposed;

    private SecretScalar(byte[] value) => this.value = value;

    public static SecretScalar Generate()
    {
        var s = new byte[Ristretto255.ScalarBytes];
        Ristretto255.RandomScalar(s);
        return new SecretScalar(s);
    }

    public static SecretScalar Import(ReadOnlySpan<byte> bytes)
    {
        if (!Ristretto255.IsCanonicalNonZeroScalar(bytes))
        {
            throw new CollabProtocolException("bad_key", "A secret scalar must be 32 bytes, canonical (below the group order) and not zero.");
        }

        return new SecretScalar(bytes.ToArray());
    }

    /// <summary>The 32 bytes, for the job's encrypted key store (resume after a crash).</summary>
    public byte[] Export() => (byte[])Bytes.Clone();

    internal byte[] Bytes
    {
        get
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            return value;
        }
    }

    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(value);
        disposed = true;
    }

    public override string ToString() => "SecretScalar(***)";
}
