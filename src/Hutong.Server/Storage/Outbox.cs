using System.Data.Common;
using System.Runtime.CompilerServices;
using Dapper;
using Hutong.Domain;

namespace Hutong.Server.Storage;

/// <summary>An event as merchants receive it (webhook body and GET /v1/events).</summary>
public sealed record EventEnvelope(string Id, string Object, string Type, DateTimeOffset CreatedAt, EventData Data);

public sealed record EventData(object Object);

/// <summary>An event ready to insert; <paramref name="TraceParent"/> is the trace its webhook deliveries continue;
/// <paramref name="ObjectId"/> is the id of the object the event is about (data.object.id), for GET /v1/events?object_id=.</summary>
public sealed record PreparedEvent(string Id, string MerchantId, string Type, string Payload, long CreatedAt, string? TraceParent = null, string? ObjectId = null);

/// <summary>
/// The transactional outbox: called with the same connection and transaction as the state change,
/// so the event exists exactly when the change does. The webhook dispatcher drains it.
/// </summary>
public static class Outbox
{
    // The transactions that added webhook deliveries with their events: once one commits, Db says so
    // (Db.DeliveriesCommitted) and the webhook dispatcher sends then, instead of at its next poll. Weak: a transaction
    // that never commits is forgotten.
    private static readonly ConditionalWeakTable<DbTransaction, object> Delivering = new();
    private static readonly object Marker = new();

    public static async Task<string> AddAsync(DbConnection c, DbTransaction t, string merchantId, string type, object data, DateTimeOffset now, string? traceParent = null)
    {
        var e = Prepare(merchantId, type, data, now, traceParent);
        await InsertAsync(c, t, e);
        return e.Id;
    }

    /// <summary>An event built (and serialised) before its transaction, so the single SQLite writer only inserts it.</summary>
    public static PreparedEvent Prepare(string merchantId, string type, object data, DateTimeOffset now, string? traceParent = null)
    {
        var id = Ids.New(Ids.Event, now);
        return new PreparedEvent(id, merchantId, type, ApiJson.Serialize(new EventEnvelope(id, "event", type, now, new EventData(data))), now.ToUnixTimeMilliseconds(), traceParent, ObjectIdOf(data));
    }

    // Every event's object is a DTO with a string Id (payment, refund, split, …); the getter is looked up once per type.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, System.Reflection.PropertyInfo?> IdProperties = new();

    /// <summary>The id of the object an event carries, or null when its type has no string Id.</summary>
    internal static string? ObjectIdOf(object data) =>
        IdProperties.GetOrAdd(data.GetType(), t => t.GetProperty("Id") is { PropertyType: var p } prop && p == typeof(string) ? prop : null)?.GetValue(data) as string;

    /// <summary>
    /// Inserts the event fanned out: marked handed over, with a pending delivery for each of its merchant's enabled
    /// endpoints that takes its type, in the caller's transaction (see <see cref="AddHandedOver"/>). One round trip on
    /// PostgreSQL.
    /// </summary>
    public static async Task InsertAsync(DbConnection c, DbTransaction t, PreparedEvent e)
    {
        if (c is Npgsql.NpgsqlConnection)
        {
            // Both statements in one command: the rows affected are the event's one and its deliveries.
            if (await c.ExecuteAsync(InsertHandedOverPostgres, e, t) > 1)
            {
                NoteDeliveries(t);
            }

            return;
        }

        await c.ExecuteAsync(InsertHandedOverSql, e, t);
        if (await c.ExecuteAsync(DeliveriesSqlite, e, t) > 0)
        {
            NoteDeliveries(t);
        }
    }

    /// <summary>Records that <paramref name="t"/> added webhook deliveries (see <see cref="TakeDeliveries"/>).</summary>
    internal static void NoteDeliveries(DbTransaction t) => Delivering.AddOrUpdate(t, Marker);

    /// <summary>
    /// Whether <paramref name="t"/> added deliveries, forgetting it: the store asks once the transaction committed (and
    /// after a rollback, so that no mark carries over).
    /// </summary>
    internal static bool TakeDeliveries(DbTransaction t) => Delivering.Remove(t);

    /// <summary>Marks the events of these seqs handed to the webhook dispatcher (PostgreSQL: the rows its fan-out locked).</summary>
    public static Task MarkDispatchedAsync(DbConnection c, DbTransaction t, long[] seqs, long now) =>
        c.ExecuteAsync("UPDATE outbox SET dispatched_at = @now WHERE seq = ANY(@seqs)", new { now, seqs }, t);

    /// <summary>Marks every undispatched event up to <paramref name="last"/> handed over (SQLite: its one writer read that range alone).</summary>
    public static Task MarkDispatchedThroughAsync(DbConnection c, DbTransaction t, long last, long now) =>
        c.ExecuteAsync("UPDATE outbox SET dispatched_at = @now WHERE dispatched_at IS NULL AND seq <= @last", new { now, last }, t);

    // An event fanned out as it is inserted: marked handed over, its deliveries added in the same write. The endpoints
    // are read FOR SHARE on PostgreSQL, for the reason the dispatcher's fan-out does (WebhookStore.FanOutPostgres).
    internal const string InsertHandedOverSql = "INSERT INTO outbox (id, merchant_id, type, payload, created_at, trace_parent, object_id, dispatched_at) VALUES (@Id, @MerchantId, @Type, @Payload, @CreatedAt, @TraceParent, @ObjectId, @CreatedAt)";

    // The event's pending deliveries: one per enabled endpoint of its merchant that takes its type.
    private const string DeliveriesInsert =
        """
        INSERT INTO webhook_deliveries (event_id, endpoint_id, message_id, status, attempts, next_attempt_at, created_at)
        SELECT @Id, w.id, @Id, 'pending', 0, @CreatedAt, @CreatedAt FROM webhook_endpoints w
        WHERE w.merchant_id = @MerchantId AND w.enabled = 1 AND (w.enabled_events IS NULL OR w.enabled_events LIKE '%,' || @Type || ',%')

        """;

    internal const string DeliveriesSqlite = DeliveriesInsert + "ON CONFLICT DO NOTHING";

    internal const string DeliveriesPostgres = DeliveriesInsert + "ORDER BY w.id\nFOR SHARE OF w\nON CONFLICT DO NOTHING";

    private const string InsertHandedOverPostgres = InsertHandedOverSql + ";\n" + DeliveriesPostgres;

    /// <summary>
    /// Adds the event to a statement batch already fanned out: inserted as handed over, with a pending delivery for each
    /// of its merchant's enabled endpoints that takes its type. So an event costs neither a fan-out transaction of the
    /// dispatcher nor the update of its row that marked it handed over (on PostgreSQL not a HOT update: every index of
    /// the outbox took an entry again). The dispatcher is woken only when a delivery was added (Db.DeliveriesCommitted).
    /// The endpoints are those enabled when the write runs, not ones added later. Events left pending by an older
    /// version of the hub are still fanned out by the dispatcher (WebhookStore.FanOutAsync).
    /// </summary>
    public static void AddHandedOver(WriteBatch write, PreparedEvent e, bool postgres)
    {
        write.Add(new Statement(InsertHandedOverSql, e));
        write.Add(new Statement(postgres ? DeliveriesPostgres : DeliveriesSqlite, e));
    }

    internal static bool AddsDeliveries(string sql) => ReferenceEquals(sql, DeliveriesPostgres) || ReferenceEquals(sql, DeliveriesSqlite);

    /// <summary>
    /// Up to <paramref name="batch"/> events past retention: handed to the dispatcher before <paramref name="cutoff"/> (unix
    /// ms), none of their deliveries still pending. Handed over before the cutoff implies created before it, so the
    /// (dispatched_at, seq) index finds them without another index on this insert-heavy table.
    /// </summary>
    public static async Task<string[]> ExpiredAsync(DbConnection c, DbTransaction t, long cutoff, int batch) =>
        (await c.QueryAsync<string>(
            """
            SELECT o.id FROM outbox o
            WHERE o.dispatched_at < @cutoff
              AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = o.id AND d.status = 'pending')
            ORDER BY o.dispatched_at, o.seq LIMIT @batch
            """, new { cutoff, batch }, t)).ToArray();

    /// <summary>Deletes these events (their deliveries go first, by the webhook store).</summary>
    public static Task<int> DeleteAsync(DbConnection c, DbTransaction t, string[] ids, bool postgres) =>
        c.ExecuteAsync("DELETE FROM outbox WHERE " + (postgres ? "id = ANY(@ids)" : "id IN @ids"), new { ids }, t);
}
