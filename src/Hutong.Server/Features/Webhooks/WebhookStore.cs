using System.Data.Common;
using Dapper;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.Webhooks;

/// <summary>A pending delivery due to be sent, with what sending it needs (its endpoint's URL and secrets, the event).</summary>
internal sealed class DueDelivery
{
    public long Id { get; set; }

    public string EventId { get; set; } = string.Empty;

    public string EndpointId { get; set; } = string.Empty;

    public int Attempts { get; set; }

    /// <summary>How many resends restarted the delivery: the round its attempts are recorded under.</summary>
    public int Resends { get; set; }

    public long NextAttemptAt { get; set; }

    public string Url { get; set; } = string.Empty;

    public string Secret { get; set; } = string.Empty;

    public string? PreviousSecret { get; set; }

    public long? PreviousSecretExpiresAt { get; set; }

    public string Payload { get; set; } = string.Empty;

    public string? TraceParent { get; set; }
}

/// <summary>One attempt to send a delivery; times in unix ms.</summary>
public sealed record DeliveryAttempt(
    long DeliveryId, string EventId, string EndpointId, int Round, int Attempt, int? StatusCode, string? Error, long LatencyMs, string? ResponseSnippet,
    long AttemptedAt, long? NextRetryAt);

/// <summary>
/// What a resend did: deliveries queued (new, restarted, or a far retry made due now), left pending because they are being
/// sent already, and left finished because they were resent <c>MaxResends</c> times.
/// </summary>
public sealed record ResendCounts(int Queued, int AlreadyPending, int LimitReached);

/// <summary>
/// The one writer of webhook_endpoints, webhook_deliveries and webhook_delivery_attempts: merchants' endpoints (create,
/// rotate, delete), the dispatcher's deliveries (fan-out from the outbox, leases, outcomes, each attempt as recorded) and
/// merchants' resends. A delivery's outcome holds only while the
/// dispatcher's lease on it does (next_attempt_at = the lease): once it lapsed, another dispatcher may have claimed it.
/// </summary>
public sealed class WebhookStore(Db db)
{
    private const string Leased = " WHERE id = @id AND status = 'pending' AND next_attempt_at = @lease";

    /// <summary>
    /// Turns undispatched outbox events into one pending delivery per enabled endpoint, atomically, in three set-based
    /// statements per batch however many events it holds (on SQLite this runs on the one writer, beside every payment).
    /// On PostgreSQL the batch is the exact rows this transaction locked (FOR UPDATE SKIP LOCKED): several hubs fan out
    /// disjoint batches without waiting on each other, and an event whose insert commits late (a lower seq than one already
    /// seen) is never marked dispatched by a range it was not read in. Returns how many events it fanned out.
    /// </summary>
    public Task<int> FanOutAsync(long now, int batch, CancellationToken ct) => db.WriteAsync(async (c, t) =>
    {
        if (db.IsPostgres)
        {
            var seqs = (await c.QueryAsync<long>(PendingEventsPostgres, new { batch }, t)).ToArray();
            if (seqs.Length == 0)
            {
                return 0;
            }

            await c.ExecuteAsync(FanOutPostgres, new { now, seqs }, t);
            await Outbox.MarkDispatchedAsync(c, t, seqs, now);
            return seqs.Length;
        }

        // SQLite: the one writer runs this transaction alone, so the range read is the range updated.
        var (count, last) = await c.QuerySingleAsync<(long Count, long? Last)>(
            "SELECT COUNT(*), MAX(seq) FROM (SELECT seq FROM outbox WHERE dispatched_at IS NULL ORDER BY seq LIMIT @batch) b", new { batch }, t);
        if (count == 0)
        {
            return 0;
        }

        await c.ExecuteAsync(
            """
            INSERT INTO webhook_deliveries (event_id, endpoint_id, message_id, status, attempts, next_attempt_at, created_at)
            SELECT o.id, w.id, o.id, 'pending', 0, @now, @now
            FROM outbox o JOIN webhook_endpoints w ON w.merchant_id = o.merchant_id AND w.enabled = 1
                AND (w.enabled_events IS NULL OR w.enabled_events LIKE '%,' || o.type || ',%')
            WHERE o.dispatched_at IS NULL AND o.seq <= @last
            ON CONFLICT DO NOTHING
            """, new { now, last }, t);
        await Outbox.MarkDispatchedThroughAsync(c, t, last!.Value, now);
        return (int)count;
    }, ct);

    /// <summary>
    /// PostgreSQL's fan-out of the locked events to their merchants' enabled endpoints. The endpoints are read FOR SHARE: a
    /// DELETE (or a 410) that disables one concurrently either waits for this fan-out to commit, and then its cancel of the
    /// endpoint's pending deliveries sees the ones added here, or commits first, and then this statement re-reads the row
    /// and leaves the endpoint out. Without the lock, a fan-out that had read the endpoint just before a DELETE added
    /// `pending` deliveries after the DELETE had cancelled the queue, left pending for good (WebhookFanOutRaceTests).
    /// </summary>
    internal const string FanOutPostgres =
        """
        INSERT INTO webhook_deliveries (event_id, endpoint_id, message_id, status, attempts, next_attempt_at, created_at)
        SELECT o.id, w.id, o.id, 'pending', 0, @now, @now
        FROM outbox o JOIN webhook_endpoints w ON w.merchant_id = o.merchant_id AND w.enabled = 1
            AND (w.enabled_events IS NULL OR w.enabled_events LIKE '%,' || o.type || ',%')
        WHERE o.seq = ANY(@seqs)
        ORDER BY o.seq, w.id
        FOR SHARE OF w
        ON CONFLICT DO NOTHING
        """;

    /// <summary>
    /// PostgreSQL's fan-out read: the oldest events not yet fanned out, locked. Planned on ix_outbox_pending (migration 0043),
    /// an index of the pending events alone, so it reads at most a batch of live entries however many events were
    /// dispatched before it and whatever the table's statistics say (OutboxFanOutPlanTests).
    /// </summary>
    internal const string PendingEventsPostgres = "SELECT seq FROM outbox WHERE dispatched_at IS NULL ORDER BY seq LIMIT @batch FOR UPDATE SKIP LOCKED";

    // The oldest due deliveries of every enabled endpoint, at most @perEndpoint each (an index range per endpoint, so a
    // long backlog on one endpoint costs nothing to the others), oldest first overall. SQLite has no LATERAL: the CROSS
    // JOIN keeps the endpoints as the outer loop, each looking its few deliveries up by id.
    private const string DueSqlite =
        """
        SELECT d.id, d.event_id, d.endpoint_id, d.attempts, d.resends, d.next_attempt_at, e.url, e.secret, e.previous_secret, e.previous_secret_expires_at, o.payload, o.trace_parent
        FROM webhook_endpoints e CROSS JOIN webhook_deliveries d JOIN outbox o ON o.id = d.event_id
        WHERE e.enabled = 1 AND d.id IN (
            SELECT x.id FROM webhook_deliveries x
            WHERE x.endpoint_id = e.id AND x.status = 'pending' AND x.next_attempt_at <= @nowMs
            ORDER BY x.next_attempt_at, x.id LIMIT @perEndpoint)
        ORDER BY d.next_attempt_at, d.id LIMIT @scan
        """;

    private const string DuePostgres =
        """
        SELECT d.id, d.event_id, d.endpoint_id, d.attempts, d.resends, d.next_attempt_at, e.url, e.secret, e.previous_secret, e.previous_secret_expires_at, o.payload, o.trace_parent
        FROM webhook_endpoints e CROSS JOIN LATERAL (
            SELECT x.id, x.event_id, x.endpoint_id, x.attempts, x.resends, x.next_attempt_at FROM webhook_deliveries x
            WHERE x.endpoint_id = e.id AND x.status = 'pending' AND x.next_attempt_at <= @nowMs
            ORDER BY x.next_attempt_at, x.id LIMIT @perEndpoint) d
        JOIN outbox o ON o.id = d.event_id
        WHERE e.enabled = 1
        ORDER BY d.next_attempt_at, d.id LIMIT @scan
        """;

    /// <summary>Up to <paramref name="scan"/> due deliveries, at most <paramref name="perEndpoint"/> per endpoint; read off the writer.</summary>
    internal Task<IEnumerable<DueDelivery>> DueAsync(long nowMs, int perEndpoint, int scan, CancellationToken ct) =>
        db.ReadAsync(c => c.QueryAsync<DueDelivery>(db.IsPostgres ? DuePostgres : DueSqlite, new { nowMs, perEndpoint, scan }), ct);

    /// <summary>
    /// Takes the leases of those picked deliveries that are still due and pending, by pushing their next attempt to
    /// <paramref name="lease"/>; returns the ids won. On PostgreSQL one statement: the rows are locked in id order and any
    /// another dispatcher holds are skipped (SKIP LOCKED), so two dispatchers never wait on each other, let alone deadlock,
    /// and a row is leased to one of them only; RETURNING gives the attempts as claimed (another dispatcher may have
    /// recorded one since the read), set on the picked rows. On SQLite the one writer makes each conditional update alone.
    /// </summary>
    internal Task<HashSet<long>> ClaimAsync(List<DueDelivery> picked, long nowMs, long lease, CancellationToken ct) => db.WriteAsync(async (c, t) =>
    {
        var won = new HashSet<long>();
        if (db.IsPostgres)
        {
            var ids = picked.Select(d => d.Id).ToArray();
            var rows = await c.QueryAsync<(long Id, int Attempts)>(
                """
                UPDATE webhook_deliveries d SET next_attempt_at = @lease
                FROM (SELECT x.id FROM webhook_deliveries x
                      WHERE x.id = ANY(@ids) AND x.status = 'pending' AND x.next_attempt_at <= @nowMs
                      ORDER BY x.id FOR UPDATE SKIP LOCKED) claim
                WHERE d.id = claim.id
                RETURNING d.id, d.attempts
                """, new { lease, ids, nowMs }, t);
            var attempts = rows.ToDictionary(r => r.Id, r => r.Attempts);
            foreach (var d in picked)
            {
                if (attempts.TryGetValue(d.Id, out var n))
                {
                    d.Attempts = n;
                    won.Add(d.Id);
                }
            }

            return won;
        }

        foreach (var d in picked)
        {
            if (await c.ExecuteAsync(
                "UPDATE webhook_deliveries SET next_attempt_at = @lease WHERE id = @Id AND status = 'pending' AND next_attempt_at = @NextAttemptAt",
                new { lease, d.Id, d.NextAttemptAt }, t) == 1)
            {
                won.Add(d.Id);
            }
        }

        return won;
    }, ct);

    /// <summary>The receiver took the delivery; false when the lease had lapsed.</summary>
    public static async Task<bool> DeliveredAsync(DbConnection c, DbTransaction t, long id, long lease, int attempts, int? status, long at) =>
        await c.ExecuteAsync("UPDATE webhook_deliveries SET status = 'delivered', attempts = @attempts, last_status = @status, last_error = NULL, delivered_at = @at" + Leased,
            new { attempts, status, at, id, lease }, t) == 1;

    /// <summary>
    /// 410 Gone: the receiver asks us to stop. The delivery fails, its endpoint is disabled and its queue dropped; false
    /// (and nothing changed) when the lease had lapsed.
    /// </summary>
    public static async Task<bool> GoneAsync(DbConnection c, DbTransaction t, long id, long lease, int attempts, string endpointId)
    {
        if (await c.ExecuteAsync("UPDATE webhook_deliveries SET status = 'failed', attempts = @attempts, last_status = 410" + Leased, new { attempts, id, lease }, t) == 0)
        {
            return false;
        }

        await c.ExecuteAsync("UPDATE webhook_endpoints SET enabled = 0, disabled_reason = 'gone' WHERE id = @endpointId", new { endpointId }, t);
        await CancelPendingAsync(c, t, endpointId);
        return true;
    }

    /// <summary>The last attempt failed too: the delivery is given up. False when the lease had lapsed.</summary>
    public static async Task<bool> GaveUpAsync(DbConnection c, DbTransaction t, long id, long lease, int attempts, int? status, string? error) =>
        await c.ExecuteAsync("UPDATE webhook_deliveries SET status = 'failed', attempts = @attempts, last_status = @status, last_error = @error" + Leased,
            new { attempts, status, error, id, lease }, t) == 1;

    /// <summary>An attempt failed: the next one at <paramref name="next"/> (unix ms). False when the lease had lapsed.</summary>
    public static async Task<bool> RetryAtAsync(DbConnection c, DbTransaction t, long id, long lease, int attempts, int? status, string? error, long next) =>
        await c.ExecuteAsync("UPDATE webhook_deliveries SET attempts = @attempts, last_status = @status, last_error = @error, next_attempt_at = @next" + Leased,
            new { attempts, status, error, next, id, lease }, t) == 1;

    /// <summary>One attempt as the dispatcher recorded its outcome (written only with that outcome, so once per attempt).</summary>
    public static Task AttemptAsync(DbConnection c, DbTransaction t, DeliveryAttempt a) =>
        c.ExecuteAsync(
            """
            INSERT INTO webhook_delivery_attempts (delivery_id, event_id, endpoint_id, round, attempt, status_code, error, latency_ms, response_snippet, attempted_at, next_retry_at)
            VALUES (@DeliveryId, @EventId, @EndpointId, @Round, @Attempt, @StatusCode, @Error, @LatencyMs, @ResponseSnippet, @AttemptedAt, @NextRetryAt)
            """, a, t);

    /// <summary>Deletes these events' deliveries and their attempts (retention; the events themselves go next, by the outbox).</summary>
    public async Task DeleteForEventsAsync(DbConnection c, DbTransaction t, string[] eventIds)
    {
        var these = In("event_id", "eventIds");
        await c.ExecuteAsync("DELETE FROM webhook_delivery_attempts WHERE " + these, new { eventIds }, t);
        await c.ExecuteAsync("DELETE FROM webhook_deliveries WHERE " + these, new { eventIds }, t);
    }

    // Dapper expands a list for SQLite; PostgreSQL takes an array.
    private string In(string column, string parameter) => db.IsPostgres ? $"{column} = ANY(@{parameter})" : $"{column} IN @{parameter}";

    private sealed class ResendRow
    {
        public long Id { get; set; }

        public string Status { get; set; } = string.Empty;

        public long NextAttemptAt { get; set; }

        public int Resends { get; set; }

        public bool Pending => DeliveryStatusNames.FromWire(Status) == DeliveryStatus.Pending;
    }

    // The (event, endpoint) pairs a resend targets: the merchant's enabled endpoints that take the event's type, or the one
    // endpoint named (which must also take it). {0}: the endpoint condition.
    private const string ResendTargets =
        """
        FROM outbox o JOIN webhook_endpoints w ON w.merchant_id = o.merchant_id AND w.enabled = 1
            AND (w.enabled_events IS NULL OR w.enabled_events LIKE '%,' || o.type || ',%'){0}
        WHERE o.merchant_id = @merchantId AND {1}
        """;

    /// <summary>
    /// Sends these events again to the merchant's enabled endpoints that take them (or the one named), keeping each event's
    /// id — the webhook-id receivers dedupe on. Per (event, endpoint): no delivery yet → a new pending one; a finished one
    /// (delivered, failed, canceled) → pending again with a fresh schedule and its resends counted, unless it reached
    /// <paramref name="maxResends"/>; a pending one waiting for a retry later than <paramref name="leaseWindow"/> from now →
    /// due now, counted as a resend too (same limit); a pending one due sooner (or in flight, leased) → left as it is, it is being sent. Rows are locked in id
    /// order (PostgreSQL), as every writer of deliveries locks them, and each change is conditional on the state read.
    /// </summary>
    public async Task<ResendCounts> ResendAsync(
        DbConnection c, DbTransaction t, string merchantId, IReadOnlyList<string> eventIds, string? endpointId, long now, long leaseWindow, int maxResends)
    {
        var targets = string.Format(System.Globalization.CultureInfo.InvariantCulture, ResendTargets, endpointId is null ? string.Empty : " AND w.id = @endpointId", In("o.id", "chunk"));
        int queued = 0, pending = 0, limit = 0;
        foreach (var chunk in eventIds.Chunk(200))
        {
            var rows = (await c.QueryAsync<ResendRow>(
                $"""
                SELECT d.id, d.status, d.next_attempt_at, d.resends FROM webhook_deliveries d
                JOIN (SELECT o.id AS event_id, w.id AS endpoint_id {targets}) p ON d.event_id = p.event_id AND d.endpoint_id = p.endpoint_id
                ORDER BY d.id{(db.IsPostgres ? " FOR UPDATE OF d" : string.Empty)}
                """, new { merchantId, chunk, endpointId }, t)).ToList();

            queued += await c.ExecuteAsync(
                $"""
                INSERT INTO webhook_deliveries (event_id, endpoint_id, message_id, status, attempts, next_attempt_at, created_at)
                SELECT o.id, w.id, o.id, 'pending', 0, @now, @now {targets}
                ORDER BY o.id, w.id
                ON CONFLICT DO NOTHING
                """, new { merchantId, chunk, endpointId, now }, t);

            var restart = rows.Where(r => !r.Pending && r.Resends < maxResends).Select(r => r.Id).ToArray();
            // Pulling a retry forward counts as a resend too, so repeated replays cannot fire a delivery's whole retry
            // schedule at an endpoint within seconds (at most maxResends early sends per event and endpoint).
            var pull = rows.Where(r => r.Pending && r.NextAttemptAt > now + leaseWindow && r.Resends < maxResends).Select(r => r.Id).ToArray();
            limit += rows.Count(r => r.Resends >= maxResends && (!r.Pending || r.NextAttemptAt > now + leaseWindow));
            foreach (var ids in restart.Chunk(500))
            {
                queued += await c.ExecuteAsync(
                    $"""
                    UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = @now, last_status = NULL, last_error = NULL,
                        delivered_at = NULL, resends = resends + 1
                    WHERE {In("id", "ids")} AND status <> 'pending' AND resends < @maxResends
                    """, new { ids, now, maxResends }, t);
            }

            var threshold = now + leaseWindow;
            foreach (var ids in pull.Chunk(500))
            {
                queued += await c.ExecuteAsync(
                    $"""
                    UPDATE webhook_deliveries SET next_attempt_at = @now, resends = resends + 1
                    WHERE {In("id", "ids")} AND status = 'pending' AND next_attempt_at > @threshold AND resends < @maxResends
                    """,
                    new { ids, now, threshold, maxResends }, t);
            }

            pending += rows.Count(r => r.Pending && r.NextAttemptAt <= now + leaseWindow);
        }

        return new ResendCounts(queued, pending, limit);
    }

    /// <summary>
    /// The merchant's endpoints not deleted. On PostgreSQL the merchant's row is locked first, so concurrent creates of
    /// one merchant are serialised and two cannot both pass a count.
    /// </summary>
    public async Task<long> CountForCreateAsync(DbConnection c, DbTransaction t, string merchantId)
    {
        if (db.IsPostgres)
        {
            await c.ExecuteAsync("SELECT id FROM merchants WHERE id = @merchantId FOR UPDATE", new { merchantId }, t);
        }

        return await c.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM webhook_endpoints WHERE merchant_id = @merchantId AND (disabled_reason IS NULL OR disabled_reason <> 'deleted')",
            new { merchantId }, t);
    }

    /// <param name="secret">The signing secret as stored (sealed when a master key is configured).</param>
    public static Task InsertEndpointAsync(DbConnection c, DbTransaction t, string id, string merchantId, string url, string secret, long createdAt, string? enabledEvents) =>
        c.ExecuteAsync(
            "INSERT INTO webhook_endpoints (id, merchant_id, url, secret, enabled, created_at, enabled_events) VALUES (@id, @merchantId, @url, @secret, 1, @createdAt, @enabledEvents)",
            new { id, merchantId, url, secret, createdAt, enabledEvents }, t);

    /// <summary>
    /// Installs a new secret; the old one keeps signing until <paramref name="until"/>. False when the merchant has no such
    /// endpoint — a deleted one included: it is "No such webhook endpoint" to a second DELETE, so it gets no new secret either.
    /// </summary>
    public static async Task<bool> RotateSecretAsync(DbConnection c, DbTransaction t, string id, string merchantId, string secret, long until) =>
        await c.ExecuteAsync(
            """
            UPDATE webhook_endpoints SET previous_secret = secret, previous_secret_expires_at = @until, secret = @secret
            WHERE id = @id AND merchant_id = @merchantId AND (disabled_reason IS NULL OR disabled_reason <> 'deleted')
            """,
            new { id, merchantId, secret, until }, t) > 0;

    /// <summary>Deletes (disables for good) the merchant's endpoint and drops its queue; false when there was none to delete.</summary>
    public Task<bool> DeleteEndpointAsync(string id, string merchantId, CancellationToken ct) => db.WriteAsync(async (c, t) =>
    {
        var changed = await c.ExecuteAsync(
            "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = 'deleted' WHERE id = @id AND merchant_id = @merchantId AND (disabled_reason IS NULL OR disabled_reason <> 'deleted')",
            new { id, merchantId }, t);
        if (changed > 0)
        {
            await CancelPendingAsync(c, t, id);
        }

        return changed > 0;
    }, ct);

    private static Task CancelPendingAsync(DbConnection c, DbTransaction t, string endpointId) =>
        c.ExecuteAsync("UPDATE webhook_deliveries SET status = 'canceled' WHERE endpoint_id = @endpointId AND status = 'pending'", new { endpointId }, t);
}
