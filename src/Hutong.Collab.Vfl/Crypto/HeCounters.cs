namespace Hutong.Collab.Vfl.Crypto;

/// <summary>
/// How many homomorphic operations this process ran, by kind, so that a run can be compared with the floor those
/// operations set at the measured rates. Encryptions include their randomness (h_s^α); ciphertext multiplications are
/// Montgomery multiplications mod n² outside encryption; inversions are mod n².
/// </summary>
public static class HeCounters
{
    private static long encryptions;
    private static long decryptions;
    private static long multiplications;
    private static long inversions;

    public static HeOpCount Snapshot() => new(
        Interlocked.Read(ref encryptions), Interlocked.Read(ref decryptions), Interlocked.Read(ref multiplications), Interlocked.Read(ref inversions));

    internal static void Encryption() => Interlocked.Increment(ref encryptions);

    internal static void Decryption() => Interlocked.Increment(ref decryptions);

    internal static void Multiplications(long count) => Interlocked.Add(ref multiplications, count);

    internal static void Inversion() => Interlocked.Increment(ref inversions);
}

public readonly record struct HeOpCount(long Encryptions, long Decryptions, long Multiplications, long Inversions)
{
    public static HeOpCount operator -(HeOpCount a, HeOpCount b) =>
        new(a.Encryptions - b.Encryptions, a.Decryptions - b.Decryptions, a.Multiplications - b.Multiplications, a.Inversions - b.Inversions);

    public static HeOpCount Subtract(HeOpCount a, HeOpCount b) => a - b;
}
