using System.Net;
using System.Text;
using Hutong.Integration.Tests.Infrastructure;

namespace Hutong.Integration.Tests;

/// <summary>Oversized requests are refused before they are parsed, with a problem body, and change nothing.</summary>
[Collection("sqlite")]
public sealed class RequestLimitTests(SqliteHub hub)
{
    [Fact]
    public async Task Oversized_api_bodies_and_notifications_are_refused_and_change_nothing()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var big = "{\"amount\":100,\"currency\":\"CNY\",\"description\":\"" + new string('x', 70_000) + "\",\"merchant_order_id\":\"big-1\"}";
        var r = await m.PostAsync("/v1/payments", null, rawBody: big);
        Assert.Equal((HttpStatusCode)413, r.Status);
        Assert.Equal("request_too_large", r.Str("code"));

        // Without a Content-Length (chunked), Kestrel's own cap (1 MiB) stops a body before the hub reads it all.
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/payments")
        {
            Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes("{\"description\":\"" + new string('y', 2_000_000) + "\"}"))),
        };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Headers.TransferEncodingChunked = true;
        request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", m.Key);
        // Kestrel answers 413 and closes the connection; a client still writing the rest of its 2 MB may see that close
        // (broken pipe) before it reads the answer. Either way the body was refused.
        HttpResponseMessage? chunked = null;
        try
        {
            chunked = await hub.Http.SendAsync(request);
        }
        catch (HttpRequestException e) when (e.InnerException is IOException)
        {
        }

        if (chunked is not null)
        {
            Assert.Equal((HttpStatusCode)413, chunked.StatusCode);
            Assert.Equal("application/problem+json", chunked.Content.Headers.ContentType?.MediaType);
            chunked.Dispose();
        }

        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM payments WHERE merchant_id = @merchantId", new { merchantId }));

        var notify = await hub.Http.PostAsync("/notify/wechatpay", new StringContent(new string('z', 70_000), Encoding.UTF8, "application/json"));
        Assert.Equal((HttpStatusCode)413, notify.StatusCode);
    }

    [Fact]
    public async Task A_chunked_body_over_64_KiB_is_refused_while_it_is_read()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        // 200 KB with no Content-Length: only counting while reading can catch it (Kestrel's own cap is 1 MiB).
        var body = "{\"amount\":100,\"currency\":\"CNY\",\"description\":\"x\",\"merchant_order_id\":\"chunked-1\",\"metadata\":{\"pad\":\""
            + new string('p', 200_000) + "\"}}";
        using var response = await SendUntilAnsweredAsync(() =>
        {
            var request = Chunked("/v1/payments", body, m.Key);
            request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString()); // the idempotency layer hashes the body before the parser reads it
            return request;
        });
        Assert.Equal((HttpStatusCode)413, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("request_too_large", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM payments WHERE merchant_id = @merchantId", new { merchantId }));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM idempotency_keys WHERE merchant_id = @merchantId", new { merchantId }));

        using var notify = await SendUntilAnsweredAsync(() => Chunked("/notify/wechatpay", new string('z', 200_000), null));
        Assert.Equal((HttpStatusCode)413, notify.StatusCode);
    }

    /// <summary>
    /// The hub answers 413 as soon as it has counted 64 KiB and closes the connection; a client still writing the rest may
    /// meet that close (broken pipe) before it reads the answer — seen once in CI. A try that met it changed nothing
    /// (the caller checks the store afterwards); at most five tries, each a new request, until one reads the answer.
    /// </summary>
    private async Task<HttpResponseMessage> SendUntilAnsweredAsync(Func<HttpRequestMessage> build)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var request = build();
            try
            {
                return await hub.Http.SendAsync(request);
            }
            catch (HttpRequestException e) when (e.InnerException is IOException && attempt < 5)
            {
            }
        }
    }

    private static HttpRequestMessage Chunked(string path, string body, string? apiKey)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(body))) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Headers.TransferEncodingChunked = true;
        if (apiKey is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", apiKey);
        }

        return request;
    }
}
