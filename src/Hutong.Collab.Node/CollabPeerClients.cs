using System.Collections.Concurrent;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Net.Client;
using Hutong.Collab.Node.Wire;

namespace Hutong.Collab.Node;

/// <summary>
/// gRPC clients to peers over mutual TLS: this node presents its certificate, and accepts the peer's server
/// certificate only if its SHA-256 equals the pinned fingerprint (no CA, no host-name check: the pin is the identity).
/// One channel per (URL, fingerprint), reused.
/// </summary>
public sealed class CollabPeerClients(X509Certificate2 identity, CollabNodeOptions options) : IDisposable
{
    private readonly ConcurrentDictionary<(string Url, string Fingerprint), GrpcChannel> _channels = new();

    public CollabNode.CollabNodeClient For(CollabPeer peer)
    {
        ArgumentNullException.ThrowIfNull(peer);
        var channel = _channels.GetOrAdd((peer.Url, peer.Fingerprint), k => Open(k.Url, k.Fingerprint, identity, options));
        return new CollabNode.CollabNodeClient(channel);
    }

    /// <summary>A channel presenting <paramref name="certificate"/> and pinning <paramref name="pinnedFingerprint"/>.</summary>
    public static GrpcChannel Open(string url, string pinnedFingerprint, X509Certificate2 certificate, CollabNodeOptions options)
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
            HttpHandler = handler,
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
}
