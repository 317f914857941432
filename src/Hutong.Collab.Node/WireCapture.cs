using System.Buffers.Binary;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Hutong.Collab.Node;

/// <summary>
/// A record of every gRPC message body a node sends and receives on its cooperation transport, for audits and the wire
/// inspection tests (<see cref="CollabNodeOptions.WireCaptureFile"/>; off by default, and then nothing of it is installed).
/// What is recorded is the HTTP/2 request and response body bytes exactly as they pass between gRPC and the TLS layer:
/// the gRPC length-prefixed frames (1 byte compressed flag, 4 bytes big-endian length, the serialized Envelope / Ack /
/// proposal). On the client side a handler in the peer channel's HTTP pipeline serializes the request once, records those
/// bytes and sends that same buffer; it records the response body as it came off the connection before gRPC parses it.
/// On the server side a middleware in front of the gRPC endpoint records the request body as Kestrel delivered it and
/// a copy of every write of the response body the gRPC service makes to the connection. So each node holds what it
/// sent and what it received, and the two nodes' files can be checked against each other (A's sent requests are B's
/// received requests, byte for byte).
/// </summary>
/// <remarks>
/// File format, one record after another: 1 byte direction ('S' sent, 'R' received), 1 byte side ('C' as client, 'H' as
/// server / host of the port), 2 bytes big-endian length + the gRPC method path (UTF-8), 4 bytes big-endian length + the
/// body. Each record is flushed to the operating system as written (a SIGKILL loses none that was recorded).
/// </remarks>
public sealed class WireCapture : IDisposable
{
    private readonly FileStream _file;
    private readonly Lock _gate = new();

    public WireCapture(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        _file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
    }

    /// <summary>Appends one record.</summary>
    public void Record(bool sent, bool asClient, string path, ReadOnlySpan<byte> body)
    {
        var name = Encoding.UTF8.GetBytes(path);
        Span<byte> head = stackalloc byte[4];
        lock (_gate)
        {
            _file.WriteByte(sent ? (byte)'S' : (byte)'R');
            _file.WriteByte(asClient ? (byte)'C' : (byte)'H');
            BinaryPrimitives.WriteUInt16BigEndian(head, (ushort)name.Length);
            _file.Write(head[..2]);
            _file.Write(name);
            BinaryPrimitives.WriteUInt32BigEndian(head, (uint)body.Length);
            _file.Write(head);
            _file.Write(body);
            _file.Flush();
        }
    }

    public void Dispose() => _file.Dispose();

    /// <summary>Reads a capture file (tests, audits).</summary>
    public static List<WireRecord> Read(string path)
    {
        byte[] bytes;
        using (var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
        {
            bytes = new byte[f.Length];
            f.ReadExactly(bytes);
        }

        var records = new List<WireRecord>();
        var at = 0;
        while (at + 8 <= bytes.Length)
        {
            var sent = bytes[at] == (byte)'S';
            var asClient = bytes[at + 1] == (byte)'C';
            int nameLength = BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(at + 2));
            var name = Encoding.UTF8.GetString(bytes, at + 4, nameLength);
            at += 4 + nameLength;
            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(at));
            at += 4;
            if (at + length > bytes.Length)
            {
                break; // a record cut short by a kill
            }

            records.Add(new WireRecord(sent, asClient, name, bytes[at..(at + length)]));
            at += length;
        }

        return records;
    }

    /// <summary>The gRPC messages in a recorded body: (compressed flag, message bytes) per length-prefixed frame.</summary>
    public static List<(bool Compressed, byte[] Message)> Frames(byte[] body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var frames = new List<(bool, byte[])>();
        var at = 0;
        while (at + 5 <= body.Length)
        {
            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(body.AsSpan(at + 1));
            if (at + 5 + length > body.Length)
            {
                throw new InvalidDataException("a gRPC frame runs past the recorded body");
            }

            frames.Add((body[at] != 0, body[(at + 5)..(at + 5 + length)]));
            at += 5 + length;
        }

        return at == body.Length ? frames : throw new InvalidDataException("bytes after the last gRPC frame");
    }

    /// <summary>The client side: records each request body it sends (the buffer it then sends) and each response body it receives.</summary>
    internal sealed class ClientHandler(HttpMessageHandler inner, WireCapture capture) : DelegatingHandler(inner)
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var path = request.RequestUri?.AbsolutePath ?? string.Empty;
            if (request.Content is { } content)
            {
                var body = await content.ReadAsByteArrayAsync(cancellationToken);
                capture.Record(sent: true, asClient: true, path, body);
                request.Content = Replace(content.Headers, body);
            }

            var response = await base.SendAsync(request, cancellationToken);
            var received = await response.Content.ReadAsByteArrayAsync(cancellationToken); // the trailers arrive with the end of the body
            capture.Record(sent: false, asClient: true, path, received);
            response.Content = Replace(response.Content.Headers, received);
            return response;
        }

        private static ByteArrayContent Replace(HttpContentHeaders headers, byte[] body)
        {
            var copy = new ByteArrayContent(body);
            foreach (var h in headers)
            {
                if (!h.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                {
                    copy.Headers.TryAddWithoutValidation(h.Key, h.Value);
                }
            }

            return copy;
        }
    }

    /// <summary>The server side, in front of the gRPC endpoint: records the request body received and the response body sent.</summary>
    internal async Task ServerAsync(HttpContext context, Func<Task> next)
    {
        var path = context.Request.Path.Value ?? string.Empty;
        using var request = new MemoryStream();
        await context.Request.Body.CopyToAsync(request, context.RequestAborted);
        Record(sent: false, asClient: false, path, request.GetBuffer().AsSpan(0, (int)request.Length));
        request.Position = 0;
        context.Request.Body = request;

        // The response goes to the connection as the service writes it (so the response starts as it would: gRPC tells a
        // trailers-only answer by whether it has); a copy of each write is kept and recorded when the call ends.
        var original = context.Features.Get<IHttpResponseBodyFeature>()!;
        using var copy = new MemoryStream();
        var tee = new StreamResponseBodyFeature(new TeeStream(original.Stream, copy), original);
        context.Features.Set<IHttpResponseBodyFeature>(tee);
        try
        {
            await next();
            await tee.CompleteAsync(); // flushes what the service wrote through the pipe
        }
        finally
        {
            context.Features.Set(original);
            Record(sent: true, asClient: false, path, copy.GetBuffer().AsSpan(0, (int)copy.Length));
        }
    }

    /// <summary>Writes go to the connection's stream and into a copy.</summary>
    private sealed class TeeStream(Stream inner, MemoryStream copy) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            copy.Write(buffer, offset, count);
            inner.Write(buffer, offset, count);
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            copy.Write(buffer.Span);
            await inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }
}

/// <summary>One recorded gRPC body: sent or received, by this node as client or as server, on which method.</summary>
public sealed record WireRecord(bool Sent, bool AsClient, string Path, byte[] Body);
