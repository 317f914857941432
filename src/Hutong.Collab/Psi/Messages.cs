namespace Hutong.Collab.Psi;

/// <summary>
/// The handshake, close to the interop protocol's EccProtocolProposal/Result and PsiDataIoProposal
/// (secretflow/interconnection: interconnection/handshake/protocol_family/ecc.proto, interconnection/handshake/algos/psi.proto).
/// Differences (docs/collab-protocols.md): the group is ristretto255 (the interop enum has Curve25519, SM2, Ed25519), the
/// hash-to-group is RFC 9496's from_hash over SHA-512 with a job domain tag, and the job, id rule and bucket count are
/// part of it.
/// </summary>
public sealed record PsiHandshake(
    int Version,
    string JobId,
    long ItemNum,
    int ResultToRank,
    string IdRule,
    int BucketBits,
    int BitLengthAfterTruncated,
    string Curve = "ristretto255",
    string Hash = "SHA-512",
    string HashToCurve = "ristretto255_from_hash",
    string PointOctetFormat = "ristretto255");

public static class CipherType
{
    /// <summary>First stage: the sender's own items, H(x)^k, 32 bytes each.</summary>
    public const string Enc = "enc";

    /// <summary>Second stage: the peer's items masked again, H(x)^(k·k'), truncated, sorted within their bucket.</summary>
    public const string DualEnc = "dual.enc";
}

/// <summary>
/// One batch of points, as the interop protocol's EcdhPsiCipherBatch (secretflow/interconnection:
/// interconnection/runtime/ecdh_psi.proto: type, batch_index, is_last_batch, count, ciphertext packed without framing).
/// Added here: <see cref="Segment"/> (a campaign × group cohort of the attribution protocol; empty for plain overlap)
/// and <see cref="BucketIndex"/> (the interop implementations carry it in later versions as bucket_index).
/// <see cref="BatchIndex"/> counts from 0 within (type, segment, bucket); a repeated or skipped index is refused.
/// </summary>
public sealed record EcdhPsiCipherBatch(
    string Type,
    string Segment,
    int BucketIndex,
    int BatchIndex,
    bool IsLastBatch,
    int Count,
    ReadOnlyMemory<byte> Ciphertext)
{
    /// <summary>Checks the framing: type known, count not negative, ciphertext exactly count × width bytes.</summary>
    public void Validate(string expectedType, int width)
    {
        if (Type != expectedType)
        {
            throw new CollabProtocolException("bad_message", $"expected a '{expectedType}' batch, got '{Type}'.");
        }

        if (Count < 0 || BatchIndex < 0 || BucketIndex < 0 || (long)Count * width != Ciphertext.Length)
        {
            throw new CollabProtocolException("bad_message",
                $"'{Type}' batch {BatchIndex}: {Ciphertext.Length} bytes for {Count} items of {width} bytes.");
        }
    }
}
