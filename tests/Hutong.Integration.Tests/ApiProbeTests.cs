using System.Net;
using System.Net.Sockets;
using System.Text;
using Hutong.Integration.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace Hutong.Integration.Tests;

/// <summary>
/// What a black-box probe of the merchant API found: a deleted webhook endpoint that still took a new secret, two
/// Idempotency-Key headers joined into one key, query parameters that failed binding answered with a bare 400, and a
/// payment's refunds and splits in one unbounded page.
/// </summary>
public abstract class ApiProbeTests(HubFixture hub)
{
    /// <summary>RFC 9110 §11.1: the scheme name is case-insensitive; a client sending "bearer" was refused (probe).</summary>
    [Fact]
    public async Task The_bearer_scheme_is_case_insensitive_and_admin_refusals_carry_a_challenge()
    {
        var created = await hub.Admin().PostAsync("/admin/merchants", new { name = "scheme" });
        var secret = created.Json.GetProperty("api_key").GetProperty("secret").GetString()!;
        foreach (var (scheme, token, path) in new[] { ("bearer", secret, "/v1/payments"), ("BEARER", secret, "/v1/payments"), ("bearer", HubFixture.AdminToken, "/admin/merchants") })
        {
            using var req = new HttpRequestMessage(path.StartsWith("/admin", StringComparison.Ordinal) ? HttpMethod.Post : HttpMethod.Get, path);
            req.Headers.TryAddWithoutValidation("Authorization", $"{scheme} {token}");
            if (req.Method == HttpMethod.Post)
            {
                req.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
                req.Content = new StringContent("{\"name\":\"scheme2\"}", System.Text.Encoding.UTF8, "application/json");
            }

            using var r = await hub.Http.SendAsync(req);
            Assert.True(r.IsSuccessStatusCode, $"{scheme} on {path}: {(int)r.StatusCode}");
        }

        using var refused = await hub.Http.PostAsync("/admin/merchants", new StringContent("{}", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("Bearer", refused.Headers.WwwAuthenticate.Single().Scheme);
    }

    /// <summary>API answers carry secrets (an API key, a webhook signing secret): no cache keeps them (probe: no Cache-Control was sent).</summary>
    [Fact]
    public async Task Api_and_admin_answers_say_no_store_refusals_too()
    {
        var created = await hub.Admin().PostAsync("/admin/merchants", new { name = "no-store" });
        Assert.Equal(HttpStatusCode.Created, created.Status);
        Assert.True(created.Headers.CacheControl?.NoStore == true, $"POST /admin/merchants: Cache-Control {created.Headers.CacheControl}");
        var secret = created.Json.GetProperty("api_key").GetProperty("secret").GetString()!;
        using var http = new HttpClient { BaseAddress = new Uri(hub.Hub.BaseUrl) };
        foreach (var (path, token, status) in new[]
                 {
                     ("/admin/merchants", "wrong", HttpStatusCode.Unauthorized), ("/v1/payments", secret, HttpStatusCode.OK),
                     ("/v1/payments", "sk_wrong", HttpStatusCode.Unauthorized), ("/v1/webhook_endpoints", secret, HttpStatusCode.OK),
                 })
        {
            using var req = new HttpRequestMessage(HttpMethod.Get, path);
            req.Headers.TryAddWithoutValidation("Authorization", $"Bearer {token}");
            using var r = await http.SendAsync(req);
            Assert.Equal(status, r.StatusCode);
            Assert.True(r.Headers.CacheControl?.NoStore == true, $"{path} ({r.StatusCode}): Cache-Control {r.Headers.CacheControl}");
        }
    }

    /// <summary>Buyers read a merchant's name on the cashier page (probe: a right-to-left override and a line feed were taken).</summary>
    [Theory]
    [InlineData("a\u202eb")]
    [InlineData("shop\n<script>")]
    [InlineData("\u0007bell")]
    public async Task A_merchant_name_with_control_or_bidirectional_characters_is_refused(string name)
    {
        var r = await hub.Admin().PostAsync("/admin/merchants", new { name });
        Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        Assert.Equal("application/problem+json", r.ContentHeaders?.ContentType?.MediaType);
        Assert.Contains("name", r.Body, StringComparison.Ordinal);
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM merchants WHERE name = @name", new { name = name.Trim() }));
    }

    /// <summary>A body over the cap is the client's 413 problem, not an error with a stack trace in the hub's log (probe).</summary>
    [Fact]
    public async Task A_body_over_the_cap_is_a_413_problem_and_no_error_in_the_log()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var marker = "oversize-" + Guid.NewGuid().ToString("N");
        var r = await m.PostAsync("/v1/payments", new { amount = 100, currency = "CNY", description = marker + new string('x', 80 * 1024) });
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, r.Status);
        Assert.Equal("application/problem+json", r.ContentHeaders?.ContentType?.MediaType);
        Assert.DoesNotContain(hub.Logs.Lines, l => l.Level >= LogLevel.Error && l.Message.Contains("BadHttpRequestException", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_the_admin_token_no_admin_route_tells_whether_it_exists()
    {
        // A wrong method (405), a wrong content type (415), a malformed id (404), a route that does not exist (404) and
        // a good request all get the same 401 without the token: nothing tells which admin routes there are.
        using var wrongMethod = new HttpRequestMessage(HttpMethod.Delete, "/admin/merchants");
        using var wrongType = new HttpRequestMessage(HttpMethod.Post, "/admin/merchants") { Content = new StringContent("name=x", System.Text.Encoding.UTF8, "application/x-www-form-urlencoded") };
        using var malformedId = new HttpRequestMessage(HttpMethod.Get, "/admin/merchants/not-an-id");
        using var nowhere = new HttpRequestMessage(HttpMethod.Get, "/admin/no-such-route");
        using var good = new HttpRequestMessage(HttpMethod.Post, "/ADMIN/merchants") { Content = new StringContent("{\"name\":\"x\"}", System.Text.Encoding.UTF8, "application/json") };
        foreach (var req in new[] { wrongMethod, wrongType, malformedId, nowhere, good })
        {
            req.Headers.TryAddWithoutValidation("Authorization", "Bearer not-the-token");
            using var r = await hub.Http.SendAsync(req);
            Assert.True(r.StatusCode == HttpStatusCode.Unauthorized, $"{req.Method} {req.RequestUri}: {(int)r.StatusCode}");
            Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
            Assert.Equal("Bearer", r.Headers.WwwAuthenticate.Single().Scheme);
        }

        // With the token, routing answers as before.
        var admin = hub.Admin();
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await admin.DeleteAsync("/admin/merchants")).Status);
    }

    [Fact]
    public async Task A_deleted_webhook_endpoint_gets_no_new_secret_and_no_resend()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var endpoint = (await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url("/hooks/" + Guid.NewGuid().ToString("N")) })).Str("id");
        await m.CreatePaymentAsync();
        var eventId = (await hub.EventuallyAsync(() => m.GetAsync("/v1/events?type=payment.created"), r => r.Json.GetProperty("data").GetArrayLength() == 1, what: "payment.created"))
            .Json.GetProperty("data")[0].GetProperty("id").GetString()!;
        // Fanned out first: a fan-out that read the endpoint just before the delete could add its delivery after the delete
        // dropped the queue (never sent — deliveries go to enabled endpoints only — but counted below).
        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE id = @eventId AND dispatched_at IS NOT NULL", new { eventId }),
            n => n == 1, what: "the event fanned out");
        Assert.Equal(HttpStatusCode.NoContent, (await m.DeleteAsync($"/v1/webhook_endpoints/{endpoint}")).Status);
        const string AtRest = "SELECT secret || '|' || COALESCE(previous_secret, '') || '|' || COALESCE(previous_secret_expires_at, 0) FROM webhook_endpoints WHERE id = @endpoint";
        var before = await hub.Db.ReadAsync(c => Dapper.SqlMapper.ExecuteScalarAsync<string>(c, AtRest, new { endpoint }), default);

        var again = await m.DeleteAsync($"/v1/webhook_endpoints/{endpoint}");
        Assert.Equal(HttpStatusCode.NotFound, again.Status);
        var rotate = await m.PostAsync($"/v1/webhook_endpoints/{endpoint}/rotate_secret");
        Assert.Equal(HttpStatusCode.NotFound, rotate.Status);
        Assert.Equal("not_found", rotate.Str("code"));
        Assert.Equal(again.Str("title"), rotate.Str("title")); // "No such webhook endpoint." — as the second DELETE says
        Assert.False(rotate.Json.TryGetProperty("secret", out _));
        var resend = await m.PostAsync($"/v1/events/{eventId}/resend", new { endpoint });
        Assert.Equal(HttpStatusCode.NotFound, resend.Status);
        Assert.Equal("endpoint", resend.Str("param"));
        var replay = await m.PostAsync("/v1/events/resend", new
        {
            created = new { gte = DateTimeOffset.FromUnixTimeSeconds(86_400), lt = DateTimeOffset.FromUnixTimeSeconds(2 * 86_400) }, endpoint,
        });
        Assert.Equal(HttpStatusCode.NotFound, replay.Status);
        Assert.Equal("endpoint", replay.Str("param"));

        Assert.Equal(before, await hub.Db.ReadAsync(c => Dapper.SqlMapper.ExecuteScalarAsync<string>(c, AtRest, new { endpoint }), default));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = @endpoint AND status = 'pending'", new { endpoint }));
        Assert.Equal(0, await hub.CountAsync(
            "SELECT COUNT(*) FROM idempotency_keys WHERE merchant_id = @merchantId AND response_status = 200", new { merchantId })); // nothing answered OK, so nothing to replay
    }

    [Fact]
    public async Task Two_Idempotency_Key_headers_or_a_key_with_a_control_character_are_refused_and_change_nothing()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        const string Body = """{"amount":500,"currency":"CNY","description":"a","merchant_order_id":"IK-1"}""";

        var twice = await RawPostAsync(m.Key, "/v1/payments", Body, "Idempotency-Key: k1", "Idempotency-Key: k2");
        Assert.StartsWith("HTTP/1.1 400", twice, StringComparison.Ordinal);
        Assert.Contains("application/problem+json", twice, StringComparison.Ordinal);
        Assert.Contains("\"code\":\"idempotency_key_invalid\"", twice, StringComparison.Ordinal);
        Assert.Contains("\"param\":\"Idempotency-Key\"", twice, StringComparison.Ordinal);
        var tab = await RawPostAsync(m.Key, "/v1/payments", Body, "Idempotency-Key: k\t1");
        Assert.StartsWith("HTTP/1.1 400", tab, StringComparison.Ordinal);
        Assert.Contains("\"code\":\"idempotency_key_invalid\"", tab, StringComparison.Ordinal);
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM payments WHERE merchant_id = @merchantId", new { merchantId }));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM idempotency_keys WHERE merchant_id = @merchantId", new { merchantId }));

        // One header is one key, whatever printable ASCII it holds (a comma included), as before; and it replays.
        var created = await m.PostAsync("/v1/payments", rawBody: Body, idempotencyKey: "k1,k2 ~!");
        Assert.Equal(HttpStatusCode.Created, created.Status);
        Assert.Equal(created.Body, (await m.PostAsync("/v1/payments", rawBody: Body, idempotencyKey: "k1,k2 ~!")).Body);
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM payments WHERE merchant_id = @merchantId", new { merchantId }));
    }

    [Theory]
    [InlineData("/v1/payments?limit=abc", "limit")]
    [InlineData("/v1/payments?limit=1.5", "limit")]
    [InlineData("/v1/payments?limit=5&limit=6", "limit")]
    [InlineData("/v1/payments?starting_after=pay_a&starting_after=pay_b", "starting_after")]
    [InlineData("/v1/payments?status=succeeded&status=failed", "status")]
    [InlineData("/v1/events?limit=ten", "limit")]
    [InlineData("/v1/disputes?limit=-", "limit")]
    [InlineData("/v1/payouts?limit=1e2", "limit")]
    [InlineData("/v1/split_receivers?limit=99999999999", "limit")]
    public async Task A_query_parameter_that_does_not_bind_is_a_problem_naming_it(string path, string param)
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var r = await m.GetAsync(path);
        Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        Assert.Equal("application/problem+json", r.ContentHeaders!.ContentType!.MediaType);
        Assert.Equal("validation_error", r.Str("code"));
        Assert.Equal(param, r.Str("param"));
        Assert.True(r.Json.GetProperty("errors").TryGetProperty(param, out _), r.Body);
        Assert.Equal(HttpStatusCode.OK, (await m.GetAsync(path.Split('?')[0] + "?limit=5")).Status); // a good value still binds
    }

    [Fact]
    public async Task A_payments_refunds_are_listed_in_pages_with_a_cursor()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(5_000);
        await hub.BuyerPaysAsync((await m.ConfirmAsync(id)).Json.GetProperty("next_action").GetProperty("code_url").GetString()!);
        await m.WaitForStatusAsync(id, "succeeded");
        var made = new List<string>();
        for (var i = 0; i < 12; i++)
        {
            var r = await m.PostAsync($"/v1/payments/{id}/refunds", new { amount = 10 + i });
            Assert.Equal(HttpStatusCode.Created, r.Status);
            made.Add(r.Str("id"));
        }

        var page1 = await m.GetAsync($"/v1/payments/{id}/refunds?limit=10"); // oldest first
        Assert.Equal(10, page1.Json.GetProperty("data").GetArrayLength());
        Assert.True(page1.Json.GetProperty("has_more").GetBoolean());
        var page2 = await m.GetAsync($"/v1/payments/{id}/refunds?limit=10&starting_after={page1.Str("next_cursor")}");
        Assert.False(page2.Json.GetProperty("has_more").GetBoolean());
        Assert.False(page2.Json.TryGetProperty("next_cursor", out _));
        var seen = new[] { page1, page2 }.SelectMany(p => p.Json.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("id").GetString()!)).ToList();
        Assert.Equal(made, seen);
        var all = await m.GetAsync($"/v1/payments/{id}/refunds"); // default 100: the whole list, as before paging
        Assert.Equal(made, all.Json.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("id").GetString()!));
        Assert.False(all.Json.GetProperty("has_more").GetBoolean());
        Assert.All(all.Json.GetProperty("data").EnumerateArray(), e => Assert.True(e.GetProperty("counts_toward_amount_refunded").GetBoolean()));

        // A cursor from another payment's list is refused, not taken as a position in this one.
        var other = await m.CreatePaymentAsync(5_000);
        await hub.BuyerPaysAsync((await m.ConfirmAsync(other)).Json.GetProperty("next_action").GetProperty("code_url").GetString()!);
        await m.WaitForStatusAsync(other, "succeeded");
        var foreign = (await m.PostAsync($"/v1/payments/{other}/refunds", new { amount = 1 })).Str("id");
        foreach (var (query, param) in new[]
        {
            ("limit=abc", "limit"), ("limit=0", "limit"), ("limit=101", "limit"), ("starting_after=nope", "starting_after"),
            ($"starting_after={foreign}", "starting_after"), ($"starting_after=re_{Guid.CreateVersion7():N}", "starting_after"),
        })
        {
            var bad = await m.GetAsync($"/v1/payments/{id}/refunds?{query}");
            Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
            Assert.Equal(param, bad.Str("param"));
        }

        Assert.Equal(HttpStatusCode.NotFound, (await m.GetAsync($"/v1/payments/pay_{Guid.CreateVersion7():N}/refunds?limit=5")).Status);
        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE payment_id = @id AND status = 'succeeded'", new { id }), n => n == 12, what: "the refunds settle");
        Assert.Equal(made.Select((_, i) => 10L + i).Sum(), (await m.GetAsync($"/v1/payments/{id}")).Json.GetProperty("amount_refunded").GetInt64());
        await hub.LedgerVerifiesAsync();
    }

    /// <summary>A POST written by hand, so headers go as given (HttpClient joins a repeated header into one line).</summary>
    private async Task<string> RawPostAsync(string bearer, string path, string body, params string[] headers)
    {
        var uri = new Uri(hub.Hub.BaseUrl);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(uri.Host, uri.Port, cts.Token);
        var stream = tcp.GetStream();
        var head = new StringBuilder($"POST {path} HTTP/1.1\r\nHost: {uri.Authority}\r\nAuthorization: Bearer {bearer}\r\nContent-Type: application/json\r\n");
        foreach (var h in headers)
        {
            head.Append(h).Append("\r\n");
        }

        var bytes = Encoding.UTF8.GetBytes(body);
        head.Append("Content-Length: ").Append(bytes.Length).Append("\r\nConnection: close\r\n\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()), cts.Token);
        await stream.WriteAsync(bytes, cts.Token);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return await reader.ReadToEndAsync(cts.Token);
    }
}

[Collection("sqlite")]
public sealed class ApiProbeTests_Sqlite(SqliteHub hub) : ApiProbeTests(hub);

[Collection("postgres")]
public sealed class ApiProbeTests_Postgres(PostgresHub hub) : ApiProbeTests(hub);
