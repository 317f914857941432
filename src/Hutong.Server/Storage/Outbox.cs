using System.Data.Common;
using Dapper;
using Hutong.Domain;
using Hutong.Server.Http;

namespace Hutong.Server.Storage;

/// <summary>An event as merchants receive it (webhook body and GET /v1/events).</summary>
public sealed record EventEnvelope(string Id, string Object, string Type, DateTimeOffset CreatedAt, EventData Data);

public sealed record EventData(object Object);

public sealed record PreparedEvent(string Id, string MerchantId, string Type, string Payload, long CreatedAt);

/// <summary>
/// The transactional outbox: called with the same connection and transaction as the state change,
/// so the event exists exactly when the change does. The webhook dispatcher drains it.
/// </summary>
public static class Outbox
{
    public static async Task<string> AddAsync(DbConnection c, DbTransaction t, string merchantId, string type, object data, DateTimeOffset now)
    {
        var e = Prepare(merchantId, type, data, now);
        await InsertAsync(c, t, e);
        return e.Id;
    }

    /// <summary>An event built (and serialised) before its transaction, so the single SQLite writer only inserts it.</summary>
    public static PreparedEvent Prepare(string merchantId, string type, object data, DateTimeOffset now)
    {
        var id = Ids.New(Ids.Event, now);
        return new PreparedEvent(id, merchantId, type, ApiJson.Serialize(new EventEnvelope(id, "event", type, now, new EventData(data))), now.ToUnixTimeMilliseconds());
    }

    public static Task InsertAsync(DbConnection c, DbTransaction t, PreparedEvent e) => c.ExecuteAsync(Insert(e).Sql, e, t);

    public static Statement Insert(PreparedEvent e) =>
        new("INSERT INTO outbox (id, merchant_id, type, payload, created_at) VALUES (@Id, @MerchantId, @Type, @Payload, @CreatedAt)", e);
}
