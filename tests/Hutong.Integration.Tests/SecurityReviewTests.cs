using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Dapper;
using Hutong.Domain;
using Hutong.Domain.Ledger;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server.Features.Ledger;
using Hutong.Server.Storage;

namespace Hutong.Integration.Tests;

/// <summary>
/// Findings of the security review of files, evidence, clawbacks and payout netting: each test failed before its fix.
/// </summary>
public abstract class SecurityReviewTests(HubFixture hub)
{
    private static byte[] Png(int size)
    {
        var b = RandomNumberGenerator.GetBytes(size);
        new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }.CopyTo(b, 0);
        return b;
    }

    private static Task<ApiResponse> UploadAsync(ApiClient m, byte[] content, string key)
    {
        var form = new MultipartFormDataContent { { new StringContent("dispute_evidence"), "purpose" } };
        var file = new ByteArrayContent(content);
        file.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        form.Add(file, "file", "evidence.png");
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/files") { Content = form };
        request.Headers.Add("Idempotency-Key", key);
        return m.SendAsync(request);
    }

    /// <summary>
    /// Kestrel answers a body over the limit with 413 and closes the connection; a client still writing may see the close
    /// before the answer (RequestLimitTests): sent again until the answer is read.
    /// </summary>
    internal static async Task<ApiResponse> TooLargeAsync(Func<Task<ApiResponse>> send)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await send();
            }
            catch (HttpRequestException) when (attempt < 10)
            {
            }
        }
    }

    /// <summary>
    /// A body the endpoint refuses by its size (413) or its media type (415) is a request the client fixes and sends again
    /// with the same key, like a validation failure: the refusal must not be stored as the key's answer (it was, so the
    /// corrected upload got 422 idempotency_key_reused).
    /// </summary>
    [Fact]
    public async Task An_upload_refused_as_too_large_or_not_multipart_leaves_its_idempotency_key_free_for_the_corrected_upload()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();

        var key = "big-" + Guid.NewGuid();
        var big = await TooLargeAsync(() => UploadAsync(m, Png(3 * 1024 * 1024), key));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, big.Status);
        var fixedUp = await UploadAsync(m, Png(2_000), key);
        Assert.True(fixedUp.Status == HttpStatusCode.Created, fixedUp.ToString());

        var jsonKey = "json-" + Guid.NewGuid();
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await m.PostAsync("/v1/files", new { purpose = "dispute_evidence" }, idempotencyKey: jsonKey)).Status);
        var multipart = await UploadAsync(m, Png(2_000), jsonKey);
        Assert.True(multipart.Status == HttpStatusCode.Created, multipart.ToString());

        Assert.Equal(2, await hub.CountAsync("SELECT COUNT(*) FROM files WHERE merchant_id = @merchantId", new { merchantId }));
    }

    /// <summary>
    /// A payout whose netting against the payee's clawback keeps losing the race gives up with an exception, which the
    /// hub logs: its message named the payee's openid (PII, never in logs). Forced here with a trigger that ignores every
    /// update of that receiver's clawback; the payout is refused (500) and nothing changes.
    /// </summary>
    [Fact]
    public async Task A_payout_netting_that_keeps_losing_the_race_logs_no_openid_and_changes_nothing()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var openId = "oPii" + Guid.NewGuid().ToString("N")[..24];
        var rcv = await m.PostAsync("/v1/split_receivers", new { wallet = "wechatpay", role = "host", type = "personal", account = openId, name = "王小明" });
        Assert.True(rcv.Status == HttpStatusCode.Created, rcv.ToString());
        var receiver = rcv.Str("id");
        await hub.Db.WriteAsync((c, t) => c.ExecuteAsync("UPDATE split_receivers SET clawback_outstanding = 300 WHERE id = @receiver", new { receiver }, t), default);
        await hub.Db.WriteAsync((c, t) => hub.Service<LedgerStore>().AppendAsync(c, t, "payment_captured", Ids.New("pay"), merchantId,
            Postings.Captured("wechatpay", merchantId, new Money(100_000, Currency.Cny)), DateTimeOffset.UtcNow), default);

        var trigger = "sec_block_" + Guid.NewGuid().ToString("N")[..12];
        var postgres = hub.Provider == StoreProvider.Postgres;
        await hub.Db.WriteAsync((c, t) => c.ExecuteAsync(postgres
            ? $"""
               CREATE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
               CREATE TRIGGER {trigger} BEFORE UPDATE ON split_receivers FOR EACH ROW WHEN (OLD.id = '{receiver}') EXECUTE FUNCTION {trigger}();
               """
            : $"CREATE TRIGGER {trigger} BEFORE UPDATE ON split_receivers WHEN OLD.id = '{receiver}' BEGIN SELECT RAISE(IGNORE); END;", transaction: t), default);
        try
        {
            var payout = await m.PostAsync("/v1/payouts",
                new { amount = 1_000, currency = "CNY", wallet = "wechatpay", payee = new { type = "WECHAT_OPENID", identity = openId }, description = "12月佣金" },
                idempotencyKey: "secpo-" + Guid.NewGuid());
            Assert.Equal(HttpStatusCode.InternalServerError, payout.Status);
            Assert.DoesNotContain(openId, payout.Body, StringComparison.Ordinal);
            Assert.Contains("kept moving", hub.Logs.All(), StringComparison.Ordinal); // the failure was logged …
            Assert.DoesNotContain(openId, hub.Logs.All(), StringComparison.Ordinal); // … without the payee's openid
        }
        finally
        {
            await hub.Db.WriteAsync((c, t) => c.ExecuteAsync(postgres
                ? $"DROP TRIGGER {trigger} ON split_receivers; DROP FUNCTION {trigger}();"
                : $"DROP TRIGGER {trigger};", transaction: t), default);
        }

        Assert.Equal(300, (await m.GetAsync($"/v1/split_receivers/{receiver}")).Json.GetProperty("clawback_outstanding").GetInt64());
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM payouts WHERE merchant_id = @merchantId", new { merchantId }));
    }
}

[Collection("sqlite")]
public sealed class SecurityReviewTests_Sqlite(SqliteHub hub) : SecurityReviewTests(hub);

[Collection("postgres")]
public sealed class SecurityReviewTests_Postgres(PostgresHub hub) : SecurityReviewTests(hub);
