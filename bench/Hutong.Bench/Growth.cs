using System.Diagnostics;
using System.Globalization;
using Hutong.Domain;
using Microsoft.Data.Sqlite;

/// <summary>
/// Latency as the store grows: the create-payment load is measured on an empty store, the store is then filled to N
/// payments (with their outbox events and idempotency keys, as the API would have left them, written directly in large
/// transactions to save time), and the same load is measured again on the same running hub.
/// </summary>
internal static class Growth
{
    public static async Task<TimeSpan> FillAsync(string dbPath, string merchantId, long rows)
    {
        var sw = Stopwatch.StartNew();
        await using var c = new SqliteConnection($"Data Source={dbPath};Pooling=False");
        await c.OpenAsync();
        using (var pragma = c.CreateCommand())
        {
            pragma.CommandText = "PRAGMA synchronous=NORMAL; PRAGMA cache_size=-262144;"; // filling is not the measurement
            pragma.ExecuteNonQuery();
        }

        var start = DateTimeOffset.UtcNow.AddDays(-30);
        const int perTx = 50_000;
        for (long done = 0; done < rows;)
        {
            await using var tx = (SqliteTransaction)await c.BeginTransactionAsync();
            using var pay = Prepared(c, tx,
                """
                INSERT INTO payments (id, merchant_id, amount, currency, status, description, merchant_order_id, metadata, checkout_token,
                                      expires_at, created_at, updated_at, version)
                VALUES ($id, $m, $amount, 'CNY', $status, 'filled item', $order, NULL, $token, $exp, $at, $at, 1)
                """, "$id", "$m", "$amount", "$status", "$order", "$token", "$exp", "$at");
            using var evt = Prepared(c, tx,
                "INSERT INTO outbox (id, merchant_id, type, payload, created_at, dispatched_at) VALUES ($id, $m, 'payment.created', '{}', $at, $at)",
                "$id", "$m", "$at");
            using var key = Prepared(c, tx,
                "INSERT INTO idempotency_keys (merchant_id, idem_key, request_hash, state, response_status, response_body, created_at) VALUES ($m, $k, 'h', 'completed', 201, '{}', $at)",
                "$m", "$k", "$at");
            for (var i = 0; i < perTx && done < rows; i++, done++)
            {
                // Thirty days of history, in order, as the API would have written it.
                var at = start.AddMilliseconds(done * (30.0 * 86_400_000 / rows));
                var ms = at.ToUnixTimeMilliseconds();
                Set(pay, Ids.New(Ids.Payment, at), merchantId, 1000 + (done % 9000), done % 10 == 0 ? "expired" : "succeeded", $"fill-{done}",
                    Ids.OrderedToken(at), ms + 900_000, ms);
                Set(evt, Ids.New(Ids.Event, at), merchantId, ms);
                Set(key, merchantId, $"fill-{done}", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()); // keys are kept 24 h: these are recent
            }

            await tx.CommitAsync();
        }

        return sw.Elapsed;
    }

    public static long FileBytes(string dbPath) => new FileInfo(dbPath).Length + (File.Exists(dbPath + "-wal") ? new FileInfo(dbPath + "-wal").Length : 0);

    private static SqliteCommand Prepared(SqliteConnection c, SqliteTransaction tx, string sql, params string[] names)
    {
        var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        foreach (var n in names)
        {
            cmd.Parameters.Add(new SqliteParameter(n, null));
        }

        cmd.Prepare();
        return cmd;
    }

    private static void Set(SqliteCommand cmd, params object[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            cmd.Parameters[i].Value = values[i];
        }

        cmd.ExecuteNonQuery();
    }

    public static string Rows(long n) => n >= 1_000_000 ? (n / 1_000_000.0).ToString("0.#", CultureInfo.InvariantCulture) + "M" : (n / 1000.0).ToString("0.#", CultureInfo.InvariantCulture) + "k";
}
