using System.Buffers.Binary;
using System.Threading.Channels;
using Google.Protobuf;
using Hutong.Collab.Node.Wire;
using Hutong.Collab.Vfl;
using Hutong.Collab.Vfl.Protocol;

namespace Hutong.Collab.Node.Vfl;

/// <summary>
/// The label side's end of the VFL byte channel over the node's request/response RPC. Messages the party sends are held
/// until it next waits for one; then a single Exchange (step "vfl", its own sequence number, job id and step echoed
/// back) carries them to the peer and brings back the peer's next messages. The peer holds a call open for at most
/// its wait; an empty answer is polled again (bounded by <paramref name="maxPolls"/>).
/// </summary>
internal sealed class VflDriverChannel(Func<VflFrame, CancellationToken, Task<VflFrame>> call, int maxPolls = 240) : IVflChannel
{
    private readonly List<byte[]> _pending = [];
    private readonly Queue<byte[]> _inbox = new();

    public long BytesSent { get; private set; }

    public long BytesReceived { get; private set; }

    public ValueTask SendAsync(byte[] message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        _pending.Add(message);
        return ValueTask.CompletedTask;
    }

    public async ValueTask<byte[]> ReceiveAsync(CancellationToken cancellationToken)
    {
        for (var polls = 0; _inbox.Count == 0; polls++)
        {
            if (polls >= maxPolls)
            {
                throw new VflProtocolException("peer_silent", $"the peer sent nothing in {maxPolls} polls");
            }

            foreach (var m in (await SendPendingAsync(wantReply: true, cancellationToken)).Messages)
            {
                BytesReceived += m.Length;
                _inbox.Enqueue(m.ToByteArray());
            }
        }

        return _inbox.Dequeue();
    }

    /// <summary>Sends what is held without waiting for an answer (the party's last message).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_pending.Count > 0)
        {
            _ = await SendPendingAsync(wantReply: false, cancellationToken);
        }
    }

    private Task<VflFrame> SendPendingAsync(bool wantReply, CancellationToken ct)
    {
        var frame = new VflFrame { WantReply = wantReply };
        foreach (var m in _pending)
        {
            BytesSent += m.Length;
            frame.Messages.Add(ByteString.CopyFrom(m));
        }

        _pending.Clear();
        return call(frame, ct);
    }
}

/// <summary>
/// The ad side's end: the party runs on its own task and reads/writes two in-memory queues; each Exchange from the label
/// side pushes its messages into one and takes the party's next messages out of the other. Lost on a restart (the label
/// side then begins again from both parties' last stored epoch).
/// </summary>
internal sealed class VflResponderSession : IDisposable
{
    private readonly Channel<byte[]> _in = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly Channel<byte[]> _out = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly CancellationTokenSource _stop = new();

    public VflResponderSession(int[] hostRows) => HostRows = hostRows;

    public int[] HostRows { get; }

    public Task? Run { get; private set; }

    public CancellationToken Stopping => _stop.Token;

    public IVflChannel End => new QueueEnd(_out.Writer, _in.Reader);

    public void Start(Func<IVflChannel, CancellationToken, Task> party)
    {
        Run = Task.Run(async () =>
        {
            try
            {
                await party(End, _stop.Token);
                _out.Writer.TryComplete();
            }
            catch (Exception e)
            {
                _out.Writer.TryComplete(e);
                throw;
            }
        }, CancellationToken.None);
    }

    /// <summary>Delivers the driver's messages; if it wants a reply, waits up to <paramref name="wait"/> for the party's next messages.</summary>
    public async Task<VflFrame> ExchangeAsync(VflFrame frame, TimeSpan wait, CancellationToken ct)
    {
        foreach (var m in frame.Messages)
        {
            _in.Writer.TryWrite(m.ToByteArray());
        }

        var reply = new VflFrame();
        if (!frame.WantReply)
        {
            return reply;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(wait);
        try
        {
            reply.Messages.Add(ByteString.CopyFrom(await _out.Reader.ReadAsync(timeout.Token)));
            while (_out.Reader.TryRead(out var more))
            {
                reply.Messages.Add(ByteString.CopyFrom(more));
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // nothing yet: the driver polls again
        }
        catch (ChannelClosedException e)
        {
            var cause = e.InnerException ?? e;
            throw cause is VflProtocolException v
                ? new CollabProtocolException(v.Code, v.Message)
                : new CollabProtocolException("vfl_failed", "the training on this node ended: " + cause.Message);
        }

        return reply;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _in.Writer.TryComplete();
        _stop.Dispose();
    }

    private sealed class QueueEnd(ChannelWriter<byte[]> outbound, ChannelReader<byte[]> inbound) : IVflChannel
    {
        public ValueTask SendAsync(byte[] message, CancellationToken cancellationToken) => outbound.WriteAsync(message, cancellationToken);

        public ValueTask<byte[]> ReceiveAsync(CancellationToken cancellationToken) => inbound.ReadAsync(cancellationToken);
    }
}

/// <summary>Small helpers shared by both sides of a vfl-train job.</summary>
internal static class VflWire
{
    public static byte[] Ints(IReadOnlyList<int> values)
    {
        var b = new byte[values.Count * 4];
        for (var i = 0; i < values.Count; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(i * 4), values[i]);
        }

        return b;
    }

    public static int[] ReadInts(ReadOnlySpan<byte> b)
    {
        if (b.Length % 4 != 0)
        {
            throw new CollabProtocolException("bad_message", "a row list is not a whole number of 32-bit integers");
        }

        var v = new int[b.Length / 4];
        for (var i = 0; i < v.Length; i++)
        {
            v[i] = BinaryPrimitives.ReadInt32LittleEndian(b[(i * 4)..]);
        }

        return v;
    }

    public static byte[] Values(UInt128[] values)
    {
        var b = new byte[values.Length * 16];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteUInt128BigEndian(b.AsSpan(i * 16), values[i]);
        }

        return b;
    }

    public static UInt128[] ReadValues(ReadOnlySpan<byte> b)
    {
        if (b.Length % 16 != 0)
        {
            throw new CollabProtocolException("bad_message", "a value list is not a whole number of 16-byte values");
        }

        var v = new UInt128[b.Length / 16];
        for (var i = 0; i < v.Length; i++)
        {
            v[i] = BinaryPrimitives.ReadUInt128BigEndian(b[(i * 16)..]);
        }

        return v;
    }

    /// <summary>The alignment's PSI suite: the job's domain, opaque ids, one bucket, a fixed 128-bit truncation on both sides.</summary>
    public static Hutong.Collab.Psi.PsiSuite Suite(string jobId) => new(jobId, Hutong.Collab.Ids.IdRule.Opaque, 1L << 40, 1L << 40, bucketBits: 0);
}
