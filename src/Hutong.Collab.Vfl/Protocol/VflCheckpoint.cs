using System.Text.Json;

namespace Hutong.Collab.Vfl.Protocol;

/// <summary>
/// A party's state after a finished epoch: its own weights only (never the peer's, never keys — a resumed party makes
/// new keys), the epoch count, whether training stopped, and the same for the epoch before (so that two parties whose
/// checkpoints are one epoch apart — one was killed before it saved — both resume from the earlier one).
/// </summary>
public sealed record VflCheckpoint(VflRole Role, string JobDigest, int Epoch, double[] Weights, bool Stopped, VflCheckpoint? Previous = null)
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    public byte[] Serialize() => JsonSerializer.SerializeToUtf8Bytes(this with { Previous = Previous is null ? null : Previous with { Previous = null } }, Json);

    public static VflCheckpoint Parse(ReadOnlySpan<byte> bytes) =>
        JsonSerializer.Deserialize<VflCheckpoint>(bytes, Json) ?? throw new VflProtocolException("bad_checkpoint", "Empty checkpoint.");
}

public enum VflRole
{
    /// <summary>Holds the label and its own features (the e-commerce side).</summary>
    Guest = 1,

    /// <summary>Holds its own features only (the ad side); never sees labels.</summary>
    Host = 2,
}
