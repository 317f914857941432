using System.Net;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server;
using Hutong.Server.Features.Webhooks;
using Microsoft.Extensions.Options;

namespace Hutong.Integration.Tests;

/// <summary>How the dispatcher treats receivers: one merchant's slow endpoint never delays another's; answers are not read.</summary>
public abstract class WebhookDeliveryTests(HubFixture hub)
{
    private static string NewPath(string name) => $"/{name}/{Guid.NewGuid():N}";

    [Fact]
    public async Task A_hanging_endpoint_delays_only_itself_and_holds_a_bounded_number_of_sends()
    {
        var perEndpoint = hub.Service<IOptions<HubOptions>>().Value.Webhooks.MaxConcurrentDeliveriesPerEndpoint;
        var (a, _, _) = await hub.NewMerchantAsync("A");
        var (b, _, _) = await hub.NewMerchantAsync("B");
        var slow = NewPath("hangs");
        var fast = NewPath("fast");
        using var hang = hub.Receiver.HangOn(slow);
        await a.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url(slow) });
        await b.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url(fast) });

        // More of A's events than its endpoint may hold in flight; they all go unanswered until the send timeout (3 s).
        for (var i = 0; i < perEndpoint + 3; i++)
        {
            await a.CreatePaymentAsync();
        }

        await hub.EventuallyAsync(() => Task.FromResult(hang.Arrived), n => n >= perEndpoint, what: "A's endpoint holding its sends");

        var id = await b.CreatePaymentAsync();
        await hub.EventuallyAsync(() => Task.FromResult(hub.Receiver.Deliveries.Any(d => d.Path == fast && d.Body.Contains(id, StringComparison.Ordinal))),
            arrived => arrived, what: "B's webhook");

        // B's webhook came while every send to A was still hanging (none had timed out), and A never had more in flight than its share.
        Assert.Equal(0, hang.EndedEarly);
        Assert.Equal(perEndpoint, hang.Arrived);
    }

    [Fact]
    public async Task A_huge_response_body_is_not_read()
    {
        const long huge = 256L * 1024 * 1024;
        await using var receiver = new HugeBodyReceiver(huge);
        var (m, _, _) = await hub.NewMerchantAsync();
        var endpoint = await m.PostAsync("/v1/webhook_endpoints", new { url = receiver.Url, enabled_events = new[] { "payment.created" } });
        await m.CreatePaymentAsync();

        await receiver.Done.WaitAsync(TimeSpan.FromSeconds(20));
        await hub.EventuallyAsync(
            () => hub.CountAsync("SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = @id AND status = 'delivered' AND last_status = 200", new { id = endpoint.Str("id") }),
            n => n == 1, what: "the delivery recorded as delivered");

        // Only what the socket buffers took before the dispatcher closed the connection (a few MB on loopback), not 256 MB.
        Assert.True(receiver.Sent < 32L * 1024 * 1024, $"the receiver sent {receiver.Sent:N0} bytes");
    }

    /// <summary>
    /// Answers one request 200 with an endless-looking body over a raw socket, counting the bytes the connection took
    /// (Kestrel's writes succeed silently once the peer has gone, so it cannot tell).
    /// </summary>
    private sealed class HugeBodyReceiver : IAsyncDisposable
    {
        private readonly System.Net.Sockets.TcpListener _listener = new(IPAddress.Loopback, 0);
        private long _sent;

        public HugeBodyReceiver(long bytes)
        {
            _listener.Start();
            Done = ServeOneAsync(bytes);
        }

        public string Url => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/huge";

        public long Sent => Interlocked.Read(ref _sent);

        public Task Done { get; }

        private async Task ServeOneAsync(long bytes)
        {
            using var client = await _listener.AcceptTcpClientAsync();
            var stream = client.GetStream();
            var buffer = new byte[64 * 1024];
            var got = 0;
            int headerEnd;
            while ((headerEnd = buffer.AsSpan(0, got).IndexOf("\r\n\r\n"u8)) < 0)
            {
                var n = await stream.ReadAsync(buffer.AsMemory(got));
                Assert.True(n > 0 && got + n < buffer.Length, "request headers");
                got += n;
            }

            var headers = System.Text.Encoding.ASCII.GetString(buffer, 0, headerEnd);
            var length = int.Parse(System.Text.RegularExpressions.Regex.Match(headers, @"(?im)^content-length:\s*(\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            for (var left = headerEnd + 4 + length - got; left > 0;)
            {
                var n = await stream.ReadAsync(buffer);
                Assert.True(n > 0, "request body");
                left -= n;
            }

            await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {bytes}\r\n\r\n"));
            var chunk = new byte[64 * 1024];
            try
            {
                while (Sent < bytes)
                {
                    await stream.WriteAsync(chunk);
                    Interlocked.Add(ref _sent, chunk.Length);
                }
            }
            catch (IOException)
            {
                // The dispatcher closed the connection.
            }
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            try
            {
                await Done.WaitAsync(TimeSpan.FromSeconds(1));
            }
            catch (Exception)
            {
                // Reported by the test itself.
            }
        }
    }

    [Fact]
    public async Task A_payment_commits_with_its_event_handed_over_and_a_delivery_for_each_endpoint_that_takes_it()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        async Task<string> EndpointAsync(string[]? events)
        {
            var r = await m.PostAsync("/v1/webhook_endpoints", events is null
                ? new { url = hub.Receiver.Url(NewPath("handed-over")) }
                : (object)new { url = hub.Receiver.Url(NewPath("handed-over")), enabled_events = events });
            Assert.True(r.Status == HttpStatusCode.Created, r.Body);
            return r.Str("id");
        }

        var all = await EndpointAsync(null);
        var created = await EndpointAsync(["payment.created"]);
        var other = await EndpointAsync(["payment.succeeded"]);
        var deleted = await EndpointAsync(null);
        Assert.Equal(HttpStatusCode.NoContent, (await m.DeleteAsync($"/v1/webhook_endpoints/{deleted}")).Status);

        var paymentId = await m.CreatePaymentAsync();

        // Read at once, no waiting for the dispatcher: the create's own commit carried the event, handed over as
        // created, and its deliveries (whatever the dispatcher has done with them since).
        Assert.Equal(1, await hub.CountAsync(
            "SELECT COUNT(*) FROM outbox WHERE object_id = @paymentId AND type = 'payment.created' AND dispatched_at = created_at", new { paymentId }));
        var endpoints = (await hub.Db.ReadAsync(c => Dapper.SqlMapper.QueryAsync<string>(c,
            "SELECT d.endpoint_id FROM webhook_deliveries d JOIN outbox o ON o.id = d.event_id WHERE o.object_id = @paymentId ORDER BY d.endpoint_id",
            new { paymentId }), CancellationToken.None)).ToList();
        Assert.Equal(new[] { all, created }.Order(StringComparer.Ordinal), endpoints);
        Assert.DoesNotContain(other, endpoints);

        await hub.EventuallyAsync(() => Task.FromResult(hub.Receiver.Deliveries.Count(d => d.Body.Contains(paymentId, StringComparison.Ordinal))),
            n => n == 2, what: "the two deliveries sent");
    }

    [Fact]
    public async Task Two_dispatchers_on_one_database_send_each_delivery_once()
    {
        // A second hub's dispatcher on the same store: a delivery one of them has claimed is not the other's to send.
        using var second = new WebhookDispatcher(hub.Db, hub.Service<Hutong.Server.Storage.SecretBox>(), hub.Service<IOptions<HubOptions>>(), TimeProvider.System,
            hub.Service<HubMetrics>(), Microsoft.Extensions.Logging.Abstractions.NullLogger<WebhookDispatcher>.Instance);
        await second.StartAsync(CancellationToken.None);
        try
        {
            var (m, _, _) = await hub.NewMerchantAsync();
            var path = NewPath("two-hubs");
            await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url(path) });
            const int events = 40;
            await Task.WhenAll(Enumerable.Range(0, events).Select(_ => m.CreatePaymentAsync()));

            await hub.EventuallyAsync(() => Task.FromResult(hub.Receiver.Deliveries.Where(d => d.Path == path).Select(d => d.Id).Distinct().Count()),
                n => n == events, what: "every event delivered");
            await Task.Delay(500); // a second send of any of them would have arrived by now
            var twice = hub.Receiver.Deliveries.Where(d => d.Path == path).GroupBy(d => d.Id).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
            Assert.True(twice.Count == 0, "sent twice: " + string.Join(", ", twice));
        }
        finally
        {
            await second.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_merchant_may_have_a_bounded_number_of_endpoints()
    {
        var limit = hub.Service<IOptions<HubOptions>>().Value.Webhooks.MaxEndpointsPerMerchant;
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var ids = new List<string>();
        for (var i = 0; i < limit; i++)
        {
            var r = await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url(NewPath("cap")) });
            Assert.Equal(HttpStatusCode.Created, r.Status);
            ids.Add(r.Str("id"));
        }

        var refused = await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url(NewPath("cap")) });
        Assert.Equal(HttpStatusCode.Conflict, refused.Status);
        Assert.Equal("application/problem+json", refused.ContentHeaders?.ContentType?.MediaType);
        Assert.Equal("webhook_endpoint_limit", refused.Str("code"));
        Assert.Equal(limit, await hub.CountAsync("SELECT COUNT(*) FROM webhook_endpoints WHERE merchant_id = @merchantId", new { merchantId }));

        // Another merchant is not affected, and a deleted endpoint frees its place.
        var (other, _, _) = await hub.NewMerchantAsync();
        Assert.Equal(HttpStatusCode.Created, (await other.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url(NewPath("cap")) })).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await m.DeleteAsync($"/v1/webhook_endpoints/{ids[0]}")).Status);
        Assert.Equal(HttpStatusCode.Created, (await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url(NewPath("cap")) })).Status);
    }
}

[Collection("sqlite")]
public sealed class WebhookDeliveryTests_Sqlite(SqliteHub hub) : WebhookDeliveryTests(hub);

[Collection("postgres")]
public sealed class WebhookDeliveryTests_Postgres(PostgresHub hub) : WebhookDeliveryTests(hub);
