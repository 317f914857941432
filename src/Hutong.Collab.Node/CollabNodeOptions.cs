namespace Hutong.Collab.Node;

/// <summary>Hutong:Collab — the cooperation node (off unless <see cref="Port"/> is set).</summary>
public sealed class CollabNodeOptions
{
    public const string Section = "Hutong:Collab";

    /// <summary>The gRPC port (HTTP/2 over mutual TLS). 0: the node does not listen and runs no jobs.</summary>
    public int Port { get; set; }

    /// <summary>Where the gRPC port listens ("127.0.0.1", "0.0.0.0", an interface address).</summary>
    public string ListenAddress { get; set; } = "0.0.0.0";

    /// <summary>The node's certificate and private key (PEM), made by `hutong collab cert new`.</summary>
    public string CertificatePath { get; set; } = "collab-node.pem";

    /// <summary>Serve the seeded synthetic data sets (synthetic:…) — demonstrations and tests.</summary>
    public bool Synthetic { get; set; }

    /// <summary>Items per message (a batch of points).</summary>
    public int BatchSize { get; set; } = 4096;

    /// <summary>How often the runner looks for jobs to tell the peer about or to run.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a bucket claim lasts before another instance of this party may take it over.</summary>
    public TimeSpan BucketLease { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>A pause after each finished bucket (throttles a job on a machine it shares; 0 by default).</summary>
    public TimeSpan BucketPause { get; set; } = TimeSpan.Zero;

    /// <summary>Waits between retries when the peer is unreachable: doubling from the first to the last (bounded).</summary>
    public TimeSpan RetryFirst { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan RetryMax { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>One RPC's deadline.</summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Most segment sums (campaign × group) the value holder decrypts for one attribution job. Bounds what an ad side
    /// that deviates from the protocol (sending single conversions as segments) could learn.
    /// </summary>
    public int MaxDecryptSegments { get; set; } = 64;

    /// <summary>
    /// Most items of the peer one job takes, whatever the peer's hello announces: a hello announcing more is refused
    /// (too_many_items), and neither side ever holds more of the peer's items than the hello announced nor more than
    /// this (the answering side's stored "enc" batches; the driver's fetched batches per bucket). A peer that sends more
    /// is refused with too_many_items and the job fails on both sides with that reason; nothing of it is counted.
    /// </summary>
    public long MaxPeerItems { get; set; } = 100_000_000;

    /// <summary>Largest gRPC message (a batch is BatchSize × 32 bytes, or × 64 × limbs for conversions).</summary>
    public int MaxMessageBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>
    /// Audits and tests only (off: null). When set, every gRPC message body this node sends or receives — as a client to
    /// its peers and as the server on <see cref="Port"/> — is appended to this file exactly as it goes over HTTP/2 inside
    /// the TLS session (gRPC length-prefixed frames; see <see cref="WireCapture"/>). It holds the parties' ciphertexts and
    /// every plaintext the protocol sends (online scoring's ids and partial scores): protect it like the data. When unset
    /// no handler or middleware is installed at all.
    /// </summary>
    public string? WireCaptureFile { get; set; }
}
