using System.Data.Common;
using Dapper;
using Hutong.Domain;
using Hutong.Server.Http;

namespace Hutong.Server.Storage;

/// <summary>An event as merchants receive it (webhook body and GET /v1/events).</summary>
public sealed record EventEnvelope(string Id, string Object, string Type, DateTimeOffset CreatedAt, EventData Data);

public sealed record EventData(object Object);

/// <summary>
/// The transactional outbox: called with the same connection and transaction as the state change,
/// so the event exists exactly when the change does. The webhook dispatcher drains it.
/// </summary>
public static class Outbox
{
    public static async Task<string> AddAsync(DbConnection c, DbTransaction t, string merchantId, string type, object data, DateTimeOffset now)
    {
        var id = Ids.New(Ids.Event, now);
        var payload = ApiJson.Serialize(new EventEnvelope(id, "event", type, now, new EventData(data)));
        await c.ExecuteAsync(
            "INSERT INTO outbox (id, merchant_id, type, payload, created_at) VALUES (@id, @merchantId, @type, @payload, @at)",
            new { id, merchantId, type, payload, at = now.ToUnixTimeMilliseconds() }, t);
        return id;
    }
}
