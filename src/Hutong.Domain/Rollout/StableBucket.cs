using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace Hutong.Domain.Rollout;

/// <summary>
/// The published bucketing rule, identical to Unleash's clients (Node, Java, Go, .NET) so a user lands in the same
/// bucket everywhere: <c>bucket = MurmurHash3_x86_32(UTF-8("{group}:{userId}"), seed 0) % 100 + 1</c>, in 1..100;
/// a user is inside a rollout of p percent when bucket ≤ p. Cross-client vectors: ("123","gr1") → 73, ("999","groupX") → 25.
/// </summary>
public static class StableBucket
{
    public static int Of(string group, string userId)
    {
        var length = Encoding.UTF8.GetMaxByteCount(group.Length + userId.Length + 1);
        Span<byte> buffer = length <= 512 ? stackalloc byte[length] : new byte[length];
        var n = Encoding.UTF8.GetBytes(group, buffer);
        buffer[n++] = (byte)':';
        n += Encoding.UTF8.GetBytes(userId, buffer[n..]);
        return (int)(Murmur3(buffer[..n], 0) % 100) + 1;
    }

    /// <summary>MurmurHash3 x86 32-bit (Austin Appleby's reference algorithm).</summary>
    public static uint Murmur3(ReadOnlySpan<byte> data, uint seed)
    {
        const uint c1 = 0xcc9e2d51, c2 = 0x1b873593;
        var h = seed;
        var blocks = data.Length / 4;
        for (var i = 0; i < blocks; i++)
        {
            var k = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(i * 4, 4));
            k *= c1;
            k = BitOperations.RotateLeft(k, 15);
            k *= c2;
            h ^= k;
            h = BitOperations.RotateLeft(h, 13);
            h = (h * 5) + 0xe6546b64;
        }

        var tail = data[(blocks * 4)..];
        uint k1 = 0;
        switch (tail.Length)
        {
            case 3:
                k1 ^= (uint)tail[2] << 16;
                goto case 2;
            case 2:
                k1 ^= (uint)tail[1] << 8;
                goto case 1;
            case 1:
                k1 ^= tail[0];
                k1 *= c1;
                k1 = BitOperations.RotateLeft(k1, 15);
                k1 *= c2;
                h ^= k1;
                break;
        }

        h ^= (uint)data.Length;
        h ^= h >> 16;
        h *= 0x85ebca6b;
        h ^= h >> 13;
        h *= 0xc2b2ae35;
        h ^= h >> 16;
        return h;
    }
}
