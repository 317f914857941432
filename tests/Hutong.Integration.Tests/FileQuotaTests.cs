using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server;
using Microsoft.Extensions.Options;

namespace Hutong.Integration.Tests;

/// <summary>
/// Files are kept in the store: one merchant's uploads are bounded per 24 hours (Hutong:Files:DailyBytesPerMerchant), so
/// one API key cannot fill the hub's disk for every merchant. Before the bound, the demo hub took 262 MiB in 15 s from one key.
/// </summary>
public abstract class FileQuotaTests(HubFixture hub)
{
    private static Task<ApiResponse> UploadAsync(ApiClient m, int size, string key)
    {
        var png = RandomNumberGenerator.GetBytes(size);
        new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }.CopyTo(png, 0);
        var form = new MultipartFormDataContent { { new StringContent("dispute_evidence"), "purpose" } };
        var file = new ByteArrayContent(png);
        file.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        form.Add(file, "file", "evidence.png");
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/files") { Content = form };
        request.Headers.Add("Idempotency-Key", key);
        return m.SendAsync(request);
    }

    [Fact]
    public async Task A_merchants_uploads_beyond_its_daily_bytes_are_refused_with_nothing_stored_and_other_merchants_are_not_affected()
    {
        var options = hub.Service<IOptions<HubOptions>>().Value.Files;
        var before = options.DailyBytesPerMerchant;
        options.DailyBytesPerMerchant = 10_000; // the collection's tests run one at a time: restored below
        try
        {
            var (m, merchantId, _) = await hub.NewMerchantAsync();
            Assert.Equal(HttpStatusCode.Created, (await UploadAsync(m, 6_000, Guid.NewGuid().ToString())).Status);
            var key = Guid.NewGuid().ToString();
            var refused = await UploadAsync(m, 6_000, key);
            Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.Status);
            Assert.Equal("file_quota_exceeded", refused.Str("code"));
            Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM files WHERE merchant_id = @merchantId", new { merchantId }));

            // Another merchant has its own allowance.
            var (other, _, _) = await hub.NewMerchantAsync("别的商户");
            Assert.Equal(HttpStatusCode.Created, (await UploadAsync(other, 6_000, Guid.NewGuid().ToString())).Status);

            // The refusal was not stored as the key's answer: once there is room, the same key uploads.
            options.DailyBytesPerMerchant = 20_000;
            Assert.Equal(HttpStatusCode.Created, (await UploadAsync(m, 6_000, key)).Status);
            Assert.Equal(2, await hub.CountAsync("SELECT COUNT(*) FROM files WHERE merchant_id = @merchantId", new { merchantId }));
        }
        finally
        {
            options.DailyBytesPerMerchant = before;
        }
    }
}

[Collection("sqlite")]
public sealed class FileQuotaTests_Sqlite(SqliteHub hub) : FileQuotaTests(hub);

[Collection("postgres")]
public sealed class FileQuotaTests_Postgres(PostgresHub hub) : FileQuotaTests(hub);
