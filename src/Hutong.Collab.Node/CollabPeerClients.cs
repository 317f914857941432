using System.Collections.Concurrent;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using Hutong.Collab.Node.Wire;

namespace Hutong.Collab.Node;

/// <summary>
/// gRPC clients to peers over mutual TLS: this node presents its certificate, and accepts the peer's server
/// certificate only if its SHA-256 equals the pinned fingerprint (no CA, no host-name check: the pin is the identity).
/// One channel per (URL, fingerprint), reused. A peer's URL may be a list ("https://b1:7443, https://b2:7443"): the
/// instances of one answering party that share its store (and its certificate); calls go round robin over the
/// addresses not known to be down, and an address that failed to answer (unavailable) is left out for RetryMax.
/// </summary>
public sealed class CollabPeerClients(X509Certificate2 identity, CollabNodeOptions options, WireCapture? capture = null) : IDisposable
{
    private readonly ConcurrentDictionary<(string Url, string Fingerprint), GrpcChannel> _channels = new();

    private readonly ConcurrentDictionary<(string Urls, string Fingerprint), RoundRobinInvoker> _lists = new();

    public CollabNode.CollabNodeClient For(CollabPeer peer)
    {
        ArgumentNullException.ThrowIfNull(peer);
        var urls = Urls(peer.Url);
        if (urls.Count > 1)
        {
            return new CollabNode.CollabNodeClient(_lists.GetOrAdd((peer.Url, peer.Fingerprint), k => new RoundRobinInvoker(
                [.. urls.Select(u => _channels.GetOrAdd((u, k.Fingerprint), c => Open(c.Url, c.Fingerprint, identity, options, capture)).CreateCallInvoker())],
                options.RetryMax)));
        }

        var channel = _channels.GetOrAdd((urls[0], peer.Fingerprint), k => Open(k.Url, k.Fingerprint, identity, options, capture));
        return new CollabNode.CollabNodeClient(channel);
    }

    /// <summary>The addresses of a peer's URL field: one, or a comma-separated list of the instances of one party.</summary>
    public static IReadOnlyList<string> Urls(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        return [.. url.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
    }

    /// <summary>
    /// A channel presenting <paramref name="certificate"/> and pinning <paramref name="pinnedFingerprint"/>; with a
    /// <paramref name="capture"/> (audits and tests only) its message bodies are recorded, else nothing is added.
    /// </summary>
    public static GrpcChannel Open(string url, string pinnedFingerprint, X509Certificate2 certificate, CollabNodeOptions options, WireCapture? capture = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(5),
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = [certificate],
                LocalCertificateSelectionCallback = (_, _, _, _, _) => certificate,
                RemoteCertificateValidationCallback = (_, cert, _, _) =>
                    cert is not null && NodeIdentity.Fingerprint(cert) == pinnedFingerprint,
            },
        };
        return GrpcChannel.ForAddress(url, new GrpcChannelOptions
        {
            HttpHandler = capture is null ? handler : new WireCapture.ClientHandler(handler, capture),
            MaxReceiveMessageSize = options.MaxMessageBytes,
            MaxSendMessageSize = options.MaxMessageBytes,
            DisposeHttpClient = true,
        });
    }

    public void Dispose()
    {
        foreach (var c in _channels.Values)
        {
            c.Dispose();
        }

        _channels.Clear();
    }

    /// <summary>Unary calls round robin over several channels, skipping for a while one that did not answer.</summary>
    private sealed class RoundRobinInvoker(CallInvoker[] targets, TimeSpan downFor) : CallInvoker
    {
        private readonly long[] _downUntil = new long[targets.Length];
        private int _next = -1;

        public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
        {
            var i = Pick();
            var call = targets[i].AsyncUnaryCall(method, host, options, request);
            return new AsyncUnaryCall<TResponse>(Watch(call.ResponseAsync, i), call.ResponseHeadersAsync, call.GetStatus, call.GetTrailers, call.Dispose);
        }

        public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
            AsyncUnaryCall(method, host, options, request).ResponseAsync.GetAwaiter().GetResult();

        public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
            throw new NotSupportedException("the collab service has unary calls only");

        public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
            throw new NotSupportedException("the collab service has unary calls only");

        public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
            throw new NotSupportedException("the collab service has unary calls only");

        private int Pick()
        {
            var now = Environment.TickCount64;
            var first = (int)((uint)Interlocked.Increment(ref _next) % (uint)targets.Length);
            for (var k = 0; k < targets.Length; k++)
            {
                var i = (first + k) % targets.Length;
                if (Volatile.Read(ref _downUntil[i]) <= now)
                {
                    return i;
                }
            }

            return first; // all down: try anyway (the caller backs off)
        }

        private async Task<TResponse> Watch<TResponse>(Task<TResponse> response, int i)
        {
            try
            {
                return await response;
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable || (e.StatusCode is StatusCode.Internal or StatusCode.Unknown && CollabWireErrors.CodeOf(e) is null))
            {
                Volatile.Write(ref _downUntil[i], Environment.TickCount64 + (long)downFor.TotalMilliseconds);
                throw;
            }
        }
    }
}
