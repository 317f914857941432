namespace Hutong.Server;

/// <summary>Settings under "Hutong". Durations are TimeSpan strings ("00:00:05").</summary>
public sealed class HubOptions
{
    public const string Section = "Hutong";

    /// <summary>Where buyers and wallets reach this hub (checkout links, notify_url).</summary>
    public string PublicBaseUrl { get; set; } = "http://127.0.0.1:5080";

    /// <summary>Bearer token for /admin. Empty closes the admin API.</summary>
    public string? AdminToken { get; set; }

    public int DefaultExpirySeconds { get; set; } = 900;

    /// <summary>
    /// Re-query schedule for payments whose wallet call went unanswered (Kill Bill's janitor shape).
    /// Empty means the default; lists are left empty here because configuration binding appends to a list.
    /// </summary>
    public List<TimeSpan> UnknownRecheckSchedule { get; set; } = [];

    public TimeSpan WorkerPollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a till waits for a buyer confirming a payment-code payment (entering the password) before the order is
    /// reversed; WeChat's guide polls for 30 s.
    /// </summary>
    public TimeSpan PaymentCodeWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often a payment-code order the buyer is still confirming is queried (WeChat's guide: every 5 s).</summary>
    public TimeSpan PaymentCodePollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The first query of an open wallet order nobody has reported on (a lost notification); later ones wait as long as
    /// the order is old, up to <see cref="OpenOrderPollMax"/>, until the payment expires.
    /// </summary>
    public TimeSpan OpenOrderPollFirst { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The longest wait between two queries of an open wallet order.</summary>
    public TimeSpan OpenOrderPollMax { get; set; } = TimeSpan.FromMinutes(5);

    internal Hutong.Domain.Payments.OpenOrderPoll OpenOrderPoll => new(OpenOrderPollFirst, OpenOrderPollMax);

    /// <summary>
    /// How long an in-process cache entry (API keys, links, rollout rules, routes, channels) lives at most. With several
    /// instances on PostgreSQL a change reaches the others at once by LISTEN/NOTIFY; this bounds staleness when a notice is lost.
    /// </summary>
    public TimeSpan CacheTtl { get; set; } = TimeSpan.FromSeconds(30);

    public Features.Workers.WorkerOptions Workers { get; set; } = new();

    /// <summary>Payout limits (Hutong:Payouts).</summary>
    public Features.Payouts.PayoutOptions Payouts { get; set; } = new();

    /// <summary>Uploaded files: the daily bytes per merchant (Hutong:Files).</summary>
    public Features.Files.FileOptions Files { get; set; } = new();

    /// <summary>Disputes: deadline alerts and the complaint sync (Hutong:Disputes).</summary>
    public Features.Disputes.DisputeOptions Disputes { get; set; } = new();

    /// <summary>Send a new refund to the wallet right after the request (off the request); false leaves it to the worker (the simulation).</summary>
    public bool SendRefundsImmediately { get; set; } = true;

    /// <summary>
    /// How long a buyer or friend who chose a wallet holds the payment before someone else may take it over
    /// (their open wallet order is then closed first).
    /// </summary>
    public TimeSpan PayerClaim { get; set; } = TimeSpan.FromMinutes(3);

    /// <summary>
    /// How long after payment a payment's own split rules are sent, and the earliest any split is. Unset: 65 s for the
    /// rules, and each wallet's own minimum (WeChat: 1 minute). Tests shorten it together with the sandbox's time scale.
    /// </summary>
    public TimeSpan? SplitDelay { get; set; }

    /// <summary>
    /// How long a wallet payer (the openid behind a browser's payer session or a mini-program's wxp_ handle) is kept after
    /// it lapsed (two hours after sign-in) before the wallet-payer cleanup job deletes it. Zero: as soon as it lapses.
    /// </summary>
    public TimeSpan WalletPayerRetention { get; set; } = TimeSpan.FromDays(1);

    /// <summary>Requests per minute per client address on the public pages (friend-pay, links, share codes).</summary>
    public int PublicRateLimitPerMinute { get; set; } = 300;

    /// <summary>Link redirects per minute per client address (0 turns the limit off).</summary>
    public int LinkRateLimitPerMinute { get; set; } = 1200;

    /// <summary>Merchant API (/v1) requests per minute per client address, whatever the key (0 turns the limit off).</summary>
    public int ApiRateLimitPerAddressPerMinute { get; set; } = 12_000;

    /// <summary>Merchant API (/v1) requests per minute per API key (0 turns the limit off).</summary>
    public int ApiRateLimitPerKeyPerMinute { get; set; } = 6_000;

    /// <summary>
    /// Reverse proxies (IPs or CIDR ranges) whose X-Forwarded-For / X-Forwarded-Proto are believed; empty ignores the headers.
    /// </summary>
    public List<string> TrustedProxies { get; set; } = [];

    public LinkAppOptions Links { get; set; } = new();

    public Features.Reconciliation.ReconciliationOptions Reconciliation { get; set; } = new();

    /// <summary>
    /// Each wallet's fee in basis points of a capture, posted to the ledger when a payment succeeds (0.6 % is the usual
    /// rate for ordinary merchants; set what your contract says). Reconciliation compares it with the wallets' bills.
    /// A wallet not named here takes its module's default (60 for the built-in wallets).
    /// </summary>
    public Dictionary<string, int> WalletFeeBasisPoints { get; set; } = new(StringComparer.Ordinal);

    public WebhookOptions Webhooks { get; set; } = new();

    public SandboxOptions Sandbox { get; set; } = new();

    /// <summary>Fills the schedules left empty by configuration with the documented defaults.</summary>
    public HubOptions WithDefaults()
    {
        if (UnknownRecheckSchedule.Count == 0)
        {
            UnknownRecheckSchedule =
            [
                TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5), TimeSpan.FromHours(1),
                TimeSpan.FromDays(1), TimeSpan.FromDays(1), TimeSpan.FromDays(1), TimeSpan.FromDays(1), TimeSpan.FromDays(1),
            ];
        }

        if (Webhooks.Schedule.Count == 0)
        {
            Webhooks.Schedule =
            [
                TimeSpan.Zero, TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(30), TimeSpan.FromHours(2),
                TimeSpan.FromHours(5), TimeSpan.FromHours(10), TimeSpan.FromHours(14), TimeSpan.FromHours(20), TimeSpan.FromHours(24),
            ];
        }

        _ = OpenOrderPoll; // a poll schedule that never waits (or whose max is below its first) is refused at start, not mid-confirm
        return this;
    }
}

/// <summary>Apps whose deep links the hub's link domain vouches for (served under /.well-known when set).</summary>
public sealed class LinkAppOptions
{
    /// <summary>iOS app ids ("TEAMID.bundle.id") for apple-app-site-association, so /l/ links open the app as universal links.</summary>
    public List<string> AppleAppIds { get; set; } = [];

    /// <summary>Android apps for assetlinks.json: "package|SHA256 fingerprint".</summary>
    public List<string> AndroidApps { get; set; } = [];
}

public sealed class WebhookOptions
{
    /// <summary>Standard Webhooks retry schedule (default: immediately, 5s, 5m, 30m, 2h, 5h, 10h, 14h, 20h, 24h).</summary>
    public List<TimeSpan> Schedule { get; set; } = [];

    /// <summary>Multiplies the schedule (tests use 0.001).</summary>
    public double TimeScale { get; set; } = 1.0;

    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Lets endpoints point at loopback/private addresses. Local development only.</summary>
    public bool AllowPrivateTargets { get; set; }

    /// <summary>How long the previous secret keeps signing after a rotation.</summary>
    public TimeSpan RotationOverlap { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Endpoints a merchant may have (deleted ones do not count); each is a queue the dispatcher serves.</summary>
    public int MaxEndpointsPerMerchant { get; set; } = 16;

    /// <summary>Deliveries one endpoint may have in flight: all a slow or dead endpoint can hold up is this many sends.</summary>
    public int MaxConcurrentDeliveriesPerEndpoint { get; set; } = 8;

    /// <summary>Deliveries in flight across all endpoints (keep it well above the per-endpoint figure).</summary>
    public int MaxConcurrentDeliveries { get; set; } = 256;

    /// <summary>How long events (GET /v1/events), their deliveries and attempts are kept; the retention job deletes older ones.</summary>
    public TimeSpan EventRetention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Events the retention job deletes per transaction, and transactions per pass (a pass every 10 minutes).</summary>
    public int RetentionBatchSize { get; set; } = 500;

    public int RetentionMaxBatchesPerPass { get; set; } = 20;

    /// <summary>Times one event may be resent to one endpoint (each resend restarts its delivery with the full schedule).</summary>
    public int MaxResends { get; set; } = 10;

    /// <summary>The widest created range one POST /v1/events/resend may replay, and the most events it may hold.</summary>
    public TimeSpan ReplayMaxRange { get; set; } = TimeSpan.FromDays(7);

    public int ReplayMaxEvents { get; set; } = 1000;
}

public sealed class SandboxOptions
{
    /// <summary>Start the sandbox wallets in this process and point the connectors at them.</summary>
    public bool Enabled { get; set; }

    public string Url { get; set; } = "http://127.0.0.1:5081";

    /// <summary>Sandbox notification retry schedule multiplier.</summary>
    public double TimeScale { get; set; } = 1.0;

    /// <summary>Seed a demo merchant and the demo shop.</summary>
    public bool Demo { get; set; }
}
