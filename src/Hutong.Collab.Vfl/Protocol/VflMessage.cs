using System.Buffers.Binary;

namespace Hutong.Collab.Vfl.Protocol;

public enum VflMessageType : byte
{
    /// <summary>Public key, epoch to start from, digest of the agreed job (options, rows, feature counts).</summary>
    Hello = 1,

    /// <summary>Per batch: Enc_own(own term of the residual), one ciphertext per row.</summary>
    ResidualTerms = 2,

    /// <summary>Per batch: Enc_peer(gradient + mask), packed slots, re-randomised.</summary>
    MaskedGradient = 3,

    /// <summary>Per batch: the peer's masked gradient slots, decrypted (gradient + mask; the mask is the peer's).</summary>
    MaskedGradientPlain = 4,

    /// <summary>Host → guest after an epoch: the squared norm of the host's weight change (early stopping).</summary>
    EpochEnd = 5,

    /// <summary>Guest → host: continue or stop.</summary>
    Decision = 6,

    /// <summary>Host → guest: the host's partial scores x_H·w_H for rows the guest evaluates or scores.</summary>
    PartialScores = 7,

    /// <summary>Guest → host: aggregate evaluation figures (AUC, KS, log loss), never per-row predictions.</summary>
    Metrics = 8,

    /// <summary>Host → guest: one user's id and the host's partial score (online scoring).</summary>
    ScoreRequest = 9,

    /// <summary>Guest → host: the probability for that user.</summary>
    ScoreReply = 10,

    /// <summary>Either side: the session ends.</summary>
    Bye = 11,
}

/// <summary>
/// A protocol message: version (1 byte), type (1), epoch (int32), batch (int32), item count (int32), then each item as
/// int32 length + bytes; little-endian. Ciphertexts are 512-byte big-endian items.
/// </summary>
public sealed record VflMessage(VflMessageType Type, int Epoch, int Batch, IReadOnlyList<byte[]> Items)
{
    public const byte Version = 1;
    private const int Header = 1 + 1 + 4 + 4 + 4;

    public byte[] Serialize()
    {
        var size = Header + Items.Sum(i => 4 + i.Length);
        var bytes = new byte[size];
        bytes[0] = Version;
        bytes[1] = (byte)Type;
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(2), Epoch);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(6), Batch);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(10), Items.Count);
        var at = Header;
        foreach (var item in Items)
        {
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(at), item.Length);
            item.CopyTo(bytes.AsSpan(at + 4));
            at += 4 + item.Length;
        }

        return bytes;
    }

    public static VflMessage Parse(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < Header || bytes[0] != Version)
        {
            throw new VflProtocolException("bad_message", "Not a version-1 VFL message.");
        }

        var type = (VflMessageType)bytes[1];
        if (!Enum.IsDefined(type))
        {
            throw new VflProtocolException("bad_message", $"Unknown message type {bytes[1]}.");
        }

        var epoch = BinaryPrimitives.ReadInt32LittleEndian(bytes[2..]);
        var batch = BinaryPrimitives.ReadInt32LittleEndian(bytes[6..]);
        var count = BinaryPrimitives.ReadInt32LittleEndian(bytes[10..]);
        if (count < 0 || count > (bytes.Length - Header) / 4)
        {
            throw new VflProtocolException("bad_message", "Item count out of range.");
        }

        var items = new byte[count][];
        var at = Header;
        for (var i = 0; i < count; i++)
        {
            if (at + 4 > bytes.Length)
            {
                throw new VflProtocolException("bad_message", "Truncated message.");
            }

            var len = BinaryPrimitives.ReadInt32LittleEndian(bytes[at..]);
            if (len < 0 || at + 4 + len > bytes.Length)
            {
                throw new VflProtocolException("bad_message", "Truncated message.");
            }

            items[i] = bytes.Slice(at + 4, len).ToArray();
            at += 4 + len;
        }

        if (at != bytes.Length)
        {
            throw new VflProtocolException("bad_message", "Trailing bytes after the last item.");
        }

        return new VflMessage(type, epoch, batch, items);
    }

    public static byte[] Double(double value)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteDoubleLittleEndian(b, value);
        return b;
    }

    public static double ReadDouble(byte[] item) =>
        item.Length == 8 ? BinaryPrimitives.ReadDoubleLittleEndian(item) : throw new VflProtocolException("bad_message", "A number item is 8 bytes.");

    public static byte[] Int(long value)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(b, value);
        return b;
    }

    public static long ReadInt(byte[] item) =>
        item.Length == 8 ? BinaryPrimitives.ReadInt64LittleEndian(item) : throw new VflProtocolException("bad_message", "An integer item is 8 bytes.");

    /// <summary>Many doubles in one item (partial scores).</summary>
    public static byte[] Doubles(ReadOnlySpan<double> values)
    {
        var b = new byte[values.Length * 8];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(b.AsSpan(i * 8), values[i]);
        }

        return b;
    }

    public static double[] ReadDoubles(byte[] item)
    {
        if (item.Length % 8 != 0)
        {
            throw new VflProtocolException("bad_message", "A vector item is a multiple of 8 bytes.");
        }

        var v = new double[item.Length / 8];
        for (var i = 0; i < v.Length; i++)
        {
            v[i] = BinaryPrimitives.ReadDoubleLittleEndian(item.AsSpan(i * 8));
        }

        return v;
    }
}
