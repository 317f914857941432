using System.Net;
using System.Security.Cryptography.X509Certificates;
using Hutong.Collab.Data;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Hutong.Collab.Node;

/// <summary>
/// The node's own Kestrel server (a port of its own, HTTP/2 only, TLS required with a client certificate) and its
/// runner, hosted inside the hub. A client certificate is accepted only if its SHA-256 is a registered peer's
/// fingerprint (looked up at each handshake, cached for a second); the server presents the node certificate.
/// </summary>
public sealed class CollabNodeHost(
    CollabNodeOptions options, X509Certificate2 identity, ICollabStore store, ICollabDataSets dataSets, ICollabKeySealer sealer,
    TimeProvider time, ILoggerFactory loggers, Vfl.IVflStore? vfl = null) : IHostedService, IAsyncDisposable
{
    private WebApplication? _app;
    private CollabPeerClients? _clients;
    private CancellationTokenSource? _stop;
    private Task? _runner;
    private readonly PeerPins _pins = new(store);
    private readonly WireCapture? _capture = string.IsNullOrEmpty(options.WireCaptureFile) ? null : new WireCapture(options.WireCaptureFile);

    public string Fingerprint { get; } = NodeIdentity.Fingerprint(identity);

    /// <summary>The runner, once started (online scoring asks the peer through it).</summary>
    public CollabRunner? Runner { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggers);
        builder.Services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Parse(options.ListenAddress), options.Port, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                listen.UseHttps(new HttpsConnectionAdapterOptions
                {
                    ServerCertificate = identity,
                    ClientCertificateMode = ClientCertificateMode.RequireCertificate,
                    ClientCertificateValidation = (cert, _, _) => _pins.Accepts(NodeIdentity.Fingerprint(cert)),
                    CheckCertificateRevocation = false,
                });
            });
            k.Limits.MaxRequestBodySize = options.MaxMessageBytes;
        });
        builder.Services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = options.MaxMessageBytes;
            o.MaxSendMessageSize = options.MaxMessageBytes;
        });
        var responder = new CollabResponder(store, dataSets, sealer, options, Fingerprint, loggers.CreateLogger<CollabResponder>(), vfl);
        builder.Services.AddSingleton(responder);
        _app = builder.Build();
        if (_capture is { } capture)
        {
            _app.Use((context, next) => capture.ServerAsync(context, () => next(context)));
        }

        _app.MapGrpcService<CollabNodeService>();
        await _app.StartAsync(cancellationToken);

        _clients = new CollabPeerClients(identity, options, _capture);
        var runner = Runner = new CollabRunner(store, dataSets, sealer, _clients, options, time, loggers.CreateLogger<CollabRunner>(), vfl);
        _stop = new CancellationTokenSource();
        _runner = Task.Run(() => runner.RunAsync(_stop.Token), CancellationToken.None);
        loggers.CreateLogger<CollabNodeHost>().LogInformation("collab node listening on {Address}:{Port}, certificate sha256 {Fingerprint}", options.ListenAddress, options.Port, Fingerprint);
        if (_capture is not null)
        {
            loggers.CreateLogger<CollabNodeHost>().LogWarning("collab node: every message body on the cooperation transport is recorded to Hutong:Collab:WireCaptureFile (audits and tests only)");
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stop is not null)
        {
            await _stop.CancelAsync();
        }

        if (_runner is not null)
        {
            await _runner.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        if (_app is not null)
        {
            await _app.StopAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _clients?.Dispose();
        _stop?.Dispose();
        _capture?.Dispose();
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
    }

    /// <summary>The registered peers' fingerprints, reloaded at most once a second (peers are added by the CLI too).</summary>
    private sealed class PeerPins(ICollabStore store)
    {
        private HashSet<string> _pins = [];
        private DateTime _loaded = DateTime.MinValue;
        private readonly Lock _gate = new();

        public bool Accepts(string fingerprint)
        {
            lock (_gate)
            {
                if (_pins.Contains(fingerprint) && DateTime.UtcNow - _loaded < TimeSpan.FromSeconds(30))
                {
                    return true;
                }

                if (DateTime.UtcNow - _loaded > TimeSpan.FromSeconds(1))
                {
                    _pins = [.. store.ListPeersAsync(CancellationToken.None).GetAwaiter().GetResult().Select(p => p.Fingerprint)];
                    _loaded = DateTime.UtcNow;
                }

                return _pins.Contains(fingerprint);
            }
        }
    }
}
