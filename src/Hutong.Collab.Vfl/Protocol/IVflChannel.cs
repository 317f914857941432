using System.Threading.Channels;

namespace Hutong.Collab.Vfl.Protocol;

/// <summary>
/// What a party needs from a transport: ordered, reliable delivery of whole byte messages to and from its one peer.
/// The parties never share objects — a gRPC stream between two hubs carries exactly these bytes.
/// </summary>
public interface IVflChannel
{
    ValueTask SendAsync(byte[] message, CancellationToken cancellationToken);

    ValueTask<byte[]> ReceiveAsync(CancellationToken cancellationToken);
}

/// <summary>Two connected in-process endpoints (for tests, the benchmark and a local run); optionally records every message sent.</summary>
public sealed class InProcessVflChannel : IVflChannel
{
    private readonly ChannelWriter<byte[]> outbound;
    private readonly ChannelReader<byte[]> inbound;
    private readonly List<byte[]>? sent;

    private InProcessVflChannel(ChannelWriter<byte[]> outbound, ChannelReader<byte[]> inbound, bool record)
    {
        this.outbound = outbound;
        this.inbound = inbound;
        sent = record ? [] : null;
    }

    /// <summary>Every message this endpoint sent, in order (empty unless recording).</summary>
    public IReadOnlyList<byte[]> Sent => sent ?? [];

    public long BytesSent { get; private set; }

    public static (InProcessVflChannel Guest, InProcessVflChannel Host) CreatePair(bool record = false)
    {
        var toHost = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var toGuest = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        return (new InProcessVflChannel(toHost.Writer, toGuest.Reader, record), new InProcessVflChannel(toGuest.Writer, toHost.Reader, record));
    }

    public ValueTask SendAsync(byte[] message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        BytesSent += message.Length;
        if (sent is not null)
        {
            lock (sent)
            {
                sent.Add(message);
            }
        }

        return outbound.WriteAsync(message, cancellationToken);
    }

    public ValueTask<byte[]> ReceiveAsync(CancellationToken cancellationToken) => inbound.ReadAsync(cancellationToken);

    /// <summary>Closes the sending side: the peer's next receive fails, as when a party is killed.</summary>
    public void Close() => outbound.TryComplete();
}
