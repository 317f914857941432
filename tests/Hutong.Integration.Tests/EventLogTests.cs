using System.Net;
using System.Text.Json;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server;
using Hutong.Server.Features.Webhooks;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Hutong.Integration.Tests;

/// <summary>
/// The merchant's event log (GET /v1/events), each event's deliveries and attempts, resending one event or a time range
/// (the webhook-id stays the event's id, so receivers dedupe), and retention.
/// </summary>
public abstract class EventLogTests(HubFixture hub)
{
    // Dapper expands a list for SQLite; PostgreSQL takes an array.
    private string In(string column, string parameter) =>
        hub.Provider == Hutong.Server.Storage.StoreProvider.Postgres ? $"{column} = ANY(@{parameter})" : $"{column} IN @{parameter}";

    private static string NewPath(string name) => $"/{name}/{Guid.NewGuid():N}";

    private List<WebhookReceiver.Delivery> At(string path) => [.. hub.Receiver.Deliveries.Where(d => d.Path == path)];

    private static List<JsonElement> Data(ApiResponse r) => [.. r.Json.GetProperty("data").EnumerateArray()];

    private static string ObjectIdOf(JsonElement evt) => evt.GetProperty("data").GetProperty("object").GetProperty("id").GetString()!;

    private async Task<string> EventOfAsync(ApiClient m, string objectId, string type = "payment.created")
    {
        var r = await m.GetAsync($"/v1/events?object_id={objectId}&type={type}");
        Assert.Equal(HttpStatusCode.OK, r.Status);
        return Assert.Single(Data(r)).GetProperty("id").GetString()!;
    }

    [Fact]
    public async Task The_list_is_the_merchants_own_newest_first_paginated_and_filtered_by_type_and_object()
    {
        var (a, _, _) = await hub.NewMerchantAsync("A");
        var (b, _, _) = await hub.NewMerchantAsync("B");
        var payments = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            payments.Add(await a.CreatePaymentAsync());
        }

        var others = await b.CreatePaymentAsync();

        var first = await a.GetAsync("/v1/events?limit=2");
        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Equal("list", first.Str("object"));
        Assert.True(first.Json.GetProperty("has_more").GetBoolean());
        var second = await a.GetAsync($"/v1/events?limit=2&starting_after={first.Str("next_cursor")}");
        Assert.False(second.Json.GetProperty("has_more").GetBoolean());
        var all = Data(first).Concat(Data(second)).ToList();

        // Newest first, each once, only A's, as the webhook carries them.
        Assert.Equal(payments.AsEnumerable().Reverse(), all.Select(ObjectIdOf));
        Assert.All(all, e => Assert.Equal("payment.created", e.GetProperty("type").GetString()));
        Assert.All(all, e => Assert.Equal("event", e.GetProperty("object").GetString()));
        Assert.DoesNotContain(others, all.Select(ObjectIdOf));

        var one = await a.GetAsync($"/v1/events?object_id={payments[1]}");
        Assert.Equal(payments[1], ObjectIdOf(Assert.Single(Data(one))));
        Assert.Empty(Data(await a.GetAsync($"/v1/events?object_id={others}")));
        Assert.Equal(3, Data(await a.GetAsync("/v1/events?type=payment.created")).Count);
        Assert.Empty(Data(await a.GetAsync("/v1/events?type=refund.created")));
    }

    [Theory]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=101", "limit")]
    [InlineData("starting_after=pay_123", "starting_after")]
    [InlineData("type=Payment", "type")]
    [InlineData("object_id=%27%20OR%201%3D1", "object_id")]
    public async Task A_bad_list_query_is_a_problem_naming_its_parameter(string query, string param)
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var r = await m.GetAsync("/v1/events?" + query);
        Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        Assert.Equal("application/problem+json", r.ContentHeaders?.ContentType?.MediaType);
        Assert.Equal(param, r.Str("param"));
    }

    [Fact]
    public async Task An_event_shows_each_attempt_of_a_failing_then_succeeding_endpoint()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var path = NewPath("flaky");
        hub.Receiver.Answer(path, 500);
        hub.Receiver.Bodies[path] = (new string('x', 2000) + "upstream down", null);
        var endpoint = (await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url(path), enabled_events = new[] { "payment.created" } })).Str("id");
        var payment = await m.CreatePaymentAsync();
        var id = await EventOfAsync(m, payment);

        var evt = await hub.EventuallyAsync(() => m.GetAsync($"/v1/events/{id}"),
            r => r.Json.GetProperty("deliveries").EnumerateArray().Any(d => d.GetProperty("status").GetString() == "delivered"), what: "the delivery delivered");

        Assert.Equal(payment, ObjectIdOf(evt.Json));
        var delivery = Assert.Single(evt.Json.GetProperty("deliveries").EnumerateArray());
        Assert.Equal(endpoint, delivery.GetProperty("endpoint").GetString());
        Assert.False(delivery.TryGetProperty("next_attempt_at", out _));
        var attempts = delivery.GetProperty("attempts").EnumerateArray().ToList();
        Assert.Equal(2, attempts.Count);
        var (succeeded, failed) = (attempts[0], attempts[1]); // newest first
        Assert.Equal(2, succeeded.GetProperty("attempt").GetInt32());
        Assert.Equal(204, succeeded.GetProperty("status_code").GetInt32());
        Assert.False(succeeded.TryGetProperty("next_retry_at", out _));
        Assert.Equal(1, failed.GetProperty("attempt").GetInt32());
        Assert.Equal(500, failed.GetProperty("status_code").GetInt32());
        Assert.True(failed.GetProperty("latency_ms").GetInt64() >= 0);
        Assert.True(failed.GetProperty("next_retry_at").GetDateTimeOffset() >= failed.GetProperty("attempted_at").GetDateTimeOffset());
        // The snippet is bounded: the start of the body only.
        var snippet = failed.GetProperty("response_snippet").GetString()!;
        Assert.Equal(WebhookDispatcher.ResponseSnippetBytes, snippet.Length);
        Assert.StartsWith("xxxx", snippet, StringComparison.Ordinal);
        Assert.Equal(0, failed.GetProperty("round").GetInt32());

        // What the receiver saw: the same webhook-id twice.
        Assert.Equal([id, id], At(path).Select(d => d.Id));
    }

    [Fact]
    public async Task A_resend_to_one_endpoint_or_all_arrives_again_with_the_same_webhook_id()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var (p1, p2) = (NewPath("one"), NewPath("two"));
        var e1 = (await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url(p1) })).Str("id");
        await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url(p2) });
        var id = await EventOfAsync(m, await m.CreatePaymentAsync());
        await hub.EventuallyAsync(() => Task.FromResult(At(p1).Count + At(p2).Count), n => n == 2, what: "the first deliveries");
        await hub.EventuallyAsync(() => m.GetAsync($"/v1/events/{id}"),
            r => r.Json.GetProperty("deliveries").EnumerateArray().All(d => d.GetProperty("status").GetString() == "delivered"), what: "both recorded delivered");

        var key = Guid.NewGuid().ToString();
        var one = await m.PostAsync($"/v1/events/{id}/resend", new { endpoint = e1 }, idempotencyKey: key);
        Assert.Equal(HttpStatusCode.OK, one.Status);
        Assert.Equal(1, one.Json.GetProperty("queued").GetInt32());
        await hub.EventuallyAsync(() => Task.FromResult(At(p1).Count), n => n == 2, what: "the resend to one endpoint");
        await hub.EventuallyAsync(() => m.GetAsync($"/v1/events/{id}"),
            r => r.Json.GetProperty("deliveries").EnumerateArray().All(d => d.GetProperty("status").GetString() == "delivered"), what: "the resend recorded");

        // The same request again is answered from the idempotency store: nothing is sent a third time.
        var again = await m.PostAsync($"/v1/events/{id}/resend", new { endpoint = e1 }, idempotencyKey: key);
        Assert.Equal(one.Body, again.Body);

        var all = await m.PostAsync($"/v1/events/{id}/resend");
        Assert.Equal(HttpStatusCode.OK, all.Status);
        Assert.Equal(2, all.Json.GetProperty("queued").GetInt32());
        await hub.EventuallyAsync(() => Task.FromResult((At(p1).Count, At(p2).Count)), n => n == (3, 2), what: "the resend to all");
        await Task.Delay(300); // a stray extra send would have arrived by now
        Assert.Equal(3, At(p1).Count);
        Assert.Equal(2, At(p2).Count);

        // Every copy carries the event's id, signed afresh; the detail shows the rounds.
        Assert.All(At(p1).Concat(At(p2)), d => Assert.Equal(id, d.Id));
        Assert.All(At(p1).Concat(At(p2)), d => Assert.Contains(id, d.Body, StringComparison.Ordinal));
        var detail = await hub.EventuallyAsync(() => m.GetAsync($"/v1/events/{id}"),
            r => r.Json.GetProperty("deliveries").EnumerateArray().All(d => d.GetProperty("status").GetString() == "delivered"), what: "resends recorded");
        var d1 = detail.Json.GetProperty("deliveries").EnumerateArray().Single(d => d.GetProperty("endpoint").GetString() == e1);
        Assert.Equal(2, d1.GetProperty("resends").GetInt32());
        Assert.Equal([2, 1, 0], d1.GetProperty("attempts").EnumerateArray().Select(a => a.GetProperty("round").GetInt32()));

        // An endpoint added after the event gets it on a resend too.
        var p3 = NewPath("late");
        await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url(p3) });
        var late = await m.PostAsync($"/v1/events/{id}/resend");
        Assert.Equal(3, late.Json.GetProperty("queued").GetInt32());
        await hub.EventuallyAsync(() => Task.FromResult(At(p3).Count), n => n == 1, what: "the late endpoint's delivery");
        Assert.Equal(id, At(p3)[0].Id);
    }

    [Fact]
    public async Task Repeated_resends_during_an_outage_pull_a_retry_forward_at_most_MaxResends_times()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var path = NewPath("hammered");
        await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url(path), enabled_events = new[] { "payment.created" } });
        hub.Receiver.Answer(path, Enumerable.Repeat(503, 40).ToArray());
        hub.Receiver.Bodies[path] = ("down", 86_400); // each failure asks for the next try a day later
        var id = await EventOfAsync(m, await m.CreatePaymentAsync());
        await hub.EventuallyAsync(() => Task.FromResult(At(path).Count), n => n == 1, what: "the first failed send");

        // Each resend pulls the far-off retry forward (one more send now) and counts against Hutong:Webhooks:MaxResends (10),
        // so a merchant cannot fire the endpoint's whole retry schedule within seconds by asking again and again.
        for (var i = 1; i <= 10; i++)
        {
            var r = await m.PostAsync($"/v1/events/{id}/resend");
            Assert.True(r.Status == HttpStatusCode.OK && r.Json.GetProperty("queued").GetInt32() == 1, $"resend {i}: {r}");
            await hub.EventuallyAsync(() => Task.FromResult(At(path).Count), n => n == i + 1, what: $"send {i + 1}");
            await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM webhook_delivery_attempts WHERE event_id = @id", new { id }),
                n => n == i + 1, what: $"attempt {i + 1} recorded");
        }

        var refused = await m.PostAsync($"/v1/events/{id}/resend");
        Assert.Equal(HttpStatusCode.Conflict, refused.Status);
        Assert.Equal("resend_limit_reached", refused.Str("code"));
        await Task.Delay(300);
        Assert.Equal(11, At(path).Count);
    }

    [Fact]
    public async Task A_replay_of_a_time_range_sends_the_outage_events_again_now()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var path = NewPath("outage");
        await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url(path), enabled_events = new[] { "payment.created" } });
        var before = await m.CreatePaymentAsync();
        await hub.EventuallyAsync(() => Task.FromResult(At(path).Count), n => n == 1, what: "the delivery before the outage");

        // The outage: the endpoint answers 503 and asks to be retried in a day, so each event's next attempt is far off.
        hub.Receiver.Answer(path, 503, 503, 503);
        hub.Receiver.Bodies[path] = ("maintenance", 86_400);
        var down = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            down.Add(await EventOfAsync(m, await m.CreatePaymentAsync()));
        }

        await hub.EventuallyAsync(() => Task.FromResult(At(path).Count(d => d.AnsweredWith == 503)), n => n == 3, what: "the failed attempts");
        hub.Receiver.Bodies.TryRemove(path, out _); // the endpoint is back

        var events = Data(await m.GetAsync("/v1/events?limit=10")).Where(e => down.Contains(e.GetProperty("id").GetString()!)).ToList();
        var gte = events.Min(e => e.GetProperty("created_at").GetDateTimeOffset());
        var lt = events.Max(e => e.GetProperty("created_at").GetDateTimeOffset()).AddMilliseconds(1);
        await hub.EventuallyAsync(() => hub.CountAsync(
            "SELECT COUNT(*) FROM webhook_delivery_attempts WHERE event_id IN (@a, @b, @c)", new { a = down[0], b = down[1], c = down[2] }), n => n == 3, what: "the attempts recorded");

        var replay = await m.PostAsync("/v1/events/resend", new { created = new { gte, lt }, type = "payment.created" });
        Assert.Equal(HttpStatusCode.OK, replay.Status);
        Assert.Equal(3, replay.Json.GetProperty("events").GetInt32());
        Assert.Equal(3, replay.Json.GetProperty("queued").GetInt32());

        await hub.EventuallyAsync(() => Task.FromResult(At(path).Count(d => d.AnsweredWith == 204 && down.Contains(d.Id))), n => n == 3, what: "the outage events delivered");
        var beforeId = await EventOfAsync(m, before);
        Assert.Single(At(path), d => d.Id == beforeId); // outside the range: not sent again
        foreach (var id in down)
        {
            // The receiver logs a delivery before it answers; the dispatcher records the attempt once the answer is in.
            var codes = await hub.EventuallyAsync(
                async () => (await m.GetAsync($"/v1/events/{id}")).Json.GetProperty("deliveries")[0].GetProperty("attempts").EnumerateArray()
                    .Select(a => a.GetProperty("status_code").GetInt32()).ToList(),
                c => c.Count == 2, what: "both attempts recorded");
            Assert.Equal([204, 503], codes);
        }
    }

    [Fact]
    public async Task Another_merchants_event_or_endpoint_is_not_found_and_nothing_changes()
    {
        var (a, _, _) = await hub.NewMerchantAsync("A");
        var (b, _, _) = await hub.NewMerchantAsync("B");
        var pathA = NewPath("a");
        var endpointA = (await a.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url(pathA) })).Str("id");
        var endpointB = (await b.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url(NewPath("b")) })).Str("id");
        var id = await EventOfAsync(a, await a.CreatePaymentAsync());
        await hub.EventuallyAsync(() => Task.FromResult(At(pathA).Count), n => n == 1, what: "A's delivery");
        var deliveries = await hub.CountAsync("SELECT COUNT(*) FROM webhook_deliveries WHERE event_id = @id", new { id });

        foreach (var r in new[]
                 {
                     await b.GetAsync($"/v1/events/{id}"),
                     await b.PostAsync($"/v1/events/{id}/resend"),
                     await b.PostAsync($"/v1/events/{id}/resend", new { endpoint = endpointB }),
                     await a.GetAsync("/v1/events/evt_nonsense"),
                 })
        {
            Assert.Equal(HttpStatusCode.NotFound, r.Status);
            Assert.Equal("not_found", r.Str("code"));
        }

        var foreignEndpoint = await a.PostAsync($"/v1/events/{id}/resend", new { endpoint = endpointB });
        Assert.Equal(HttpStatusCode.NotFound, foreignEndpoint.Status);
        Assert.Equal("endpoint", foreignEndpoint.Str("param"));
        Assert.Empty(Data(await b.GetAsync($"/v1/events?object_id={ObjectIdOf((await a.GetAsync($"/v1/events/{id}")).Json)}")));
        Assert.Equal(deliveries, await hub.CountAsync("SELECT COUNT(*) FROM webhook_deliveries WHERE event_id = @id", new { id }));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM webhook_deliveries WHERE event_id = @id AND resends > 0", new { id }));
        Assert.Single(At(pathA));
    }

    public static TheoryData<string, string, int> BadReplays() => new()
    {
        { """{"created":{"lt":"2026-12-01T00:00:00Z"}}""", "created[gte]", 400 },
        { """{"created":{"gte":"2026-12-01T00:00:00Z"}}""", "created[lt]", 400 },
        { """{"created":{"gte":"2026-12-01T00:00:00Z","lt":"2026-12-01T00:00:00Z"}}""", "created[lt]", 400 },
        { """{"created":{"gte":"2026-11-01T00:00:00Z","lt":"2026-12-01T00:00:00Z"}}""", "created[lt]", 400 },
        { """{"created":{"gte":"2026-12-01T00:00:00Z","lt":"2026-12-02T00:00:00Z"},"type":"Not a type"}""", "type", 400 },
        { """{"created":{"gte":"2026-12-01T00:00:00Z","lt":"2026-12-02T00:00:00Z"},"endpoint":"nope"}""", "endpoint", 404 },
        { """{"created":{"gte":"yesterday","lt":"2026-12-02T00:00:00Z"}}""", "created.gte", 400 },
        { """{"created":{"gte":"2026-12-01T00:00:00Z","lt":"2026-12-02T00:00:00Z"},"since":"x"}""", "since", 400 },
    };

    [Theory]
    [MemberData(nameof(BadReplays))]
    public async Task A_bad_replay_is_a_problem_naming_its_parameter_and_changes_nothing(string body, string param, int status)
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var r = await m.PostAsync("/v1/events/resend", rawBody: body);
        Assert.Equal(status, (int)r.Status);
        Assert.Equal("application/problem+json", r.ContentHeaders?.ContentType?.MediaType);
        Assert.Equal(param, r.Str("param"));
        Assert.Equal(0, await hub.CountAsync(
            "SELECT COUNT(*) FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id WHERE w.merchant_id = @merchantId", new { merchantId }));
    }

    [Fact]
    public async Task A_range_holding_more_events_than_allowed_is_refused_before_anything_is_sent()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var path = NewPath("many");
        await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url(path) });
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add(await EventOfAsync(m, await m.CreatePaymentAsync()));
        }

        await hub.EventuallyAsync(() => Task.FromResult(At(path).Count), n => n == 3, what: "the deliveries");
        var created = Data(await m.GetAsync("/v1/events")).Select(e => e.GetProperty("created_at").GetDateTimeOffset()).ToList();
        var options = new HubOptions();
        options.Webhooks.ReplayMaxEvents = 2;
        var events = new EventService(hub.Db, hub.Service<WebhookStore>(), Options.Create(options), TimeProvider.System);

        var refused = await events.ReplayAsync(merchantId, new ReplayEventsRequest(new CreatedRange(created.Min(), created.Max().AddMilliseconds(1))), null, CancellationToken.None);
        Assert.Equal("created[gte]", refused.Failure?.Param);
        Assert.Equal(0, await hub.CountAsync($"SELECT COUNT(*) FROM webhook_deliveries WHERE {In("event_id", "ids")} AND resends > 0", new { ids = ids.ToArray() }));
        await Task.Delay(200);
        Assert.Equal(3, At(path).Count);
    }

    [Fact]
    public async Task A_delivery_being_sent_is_neither_resent_at_once_nor_deleted_by_retention()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var path = NewPath("busy");
        using var hang = hub.Receiver.HangOn(path);
        var endpoint = (await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url(path) })).Str("id");
        var id = await EventOfAsync(m, await m.CreatePaymentAsync());
        await hub.EventuallyAsync(() => Task.FromResult(hang.Arrived), n => n == 1, what: "the send in flight");

        // In flight (leased): a resend would send it twice at once, so it is refused and nothing changes.
        var refused = await m.PostAsync($"/v1/events/{id}/resend", new { endpoint });
        Assert.Equal(HttpStatusCode.Conflict, refused.Status);
        Assert.Equal("delivery_pending", refused.Str("code"));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM webhook_deliveries WHERE event_id = @id AND resends > 0", new { id }));

        // Past retention, an event whose delivery is still pending stays until that delivery ends.
        var created = (await m.GetAsync($"/v1/events/{id}")).Json.GetProperty("created_at").GetDateTimeOffset();
        var job = new EventRetentionJob(hub.Db, Options.Create(new HubOptions()), hub.Service<HubMetrics>(), new FakeTimeProvider(created + TimeSpan.FromDays(31)),
            NullLogger<EventRetentionJob>.Instance);
        Assert.True(await job.RunOnceAsync(CancellationToken.None));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE id = @id", new { id }));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM webhook_deliveries WHERE event_id = @id AND status = 'pending'", new { id }));
    }

    [Fact]
    public async Task Retention_deletes_events_past_30_days_with_their_deliveries_in_bounded_batches()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var path = NewPath("retained");
        await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url(path) });
        var id = await EventOfAsync(m, await m.CreatePaymentAsync());
        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM webhook_delivery_attempts WHERE event_id = @id", new { id }), n => n == 1, what: "the attempt");
        for (var i = 0; i < 2; i++)
        {
            await m.CreatePaymentAsync(); // at least three events past retention below
        }

        var created = (await m.GetAsync($"/v1/events/{id}")).Json.GetProperty("created_at").GetDateTimeOffset();
        var options = new HubOptions();
        options.Webhooks.RetentionBatchSize = 1;
        options.Webhooks.RetentionMaxBatchesPerPass = 2;
        var clock = new FakeTimeProvider(created + TimeSpan.FromDays(29));
        var job = new EventRetentionJob(hub.Db, Options.Create(options), hub.Service<HubMetrics>(), clock, NullLogger<EventRetentionJob>.Instance);

        Assert.True(await job.RunOnceAsync(CancellationToken.None));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE id = @id", new { id }));

        // 30 days on, every event of the store so far is past retention: a pass deletes the oldest, two batches of one.
        clock.Advance(TimeSpan.FromDays(1) + TimeSpan.FromMinutes(1));
        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE merchant_id = @merchantId AND dispatched_at IS NOT NULL", new { merchantId }),
            n => n == 3, what: "the events handed to the dispatcher");
        await hub.EventuallyAsync(() => hub.CountAsync(
            "SELECT COUNT(*) FROM webhook_deliveries d JOIN outbox o ON o.id = d.event_id WHERE o.merchant_id = @merchantId AND d.status = 'delivered'", new { merchantId }),
            n => n == 3, what: "the events delivered");
        var oldest = (await hub.Db.ReadAsync(c => Dapper.SqlMapper.QueryAsync<string>(c,
            """
            SELECT o.id FROM outbox o WHERE o.dispatched_at IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = o.id AND d.status = 'pending')
            ORDER BY o.dispatched_at, o.seq LIMIT 3
            """), CancellationToken.None)).ToList();
        Assert.Equal(3, oldest.Count);
        Assert.True(await job.RunOnceAsync(CancellationToken.None));
        Assert.Equal(1, await hub.CountAsync($"SELECT COUNT(*) FROM outbox WHERE {In("id", "oldest")}", new { oldest = oldest.ToArray() }));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE id = @last", new { last = oldest[2] }));

        options.Webhooks.RetentionBatchSize = 1000;
        options.Webhooks.RetentionMaxBatchesPerPass = 1000;
        Assert.True(await job.RunOnceAsync(CancellationToken.None));

        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE id = @id", new { id }));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM webhook_deliveries WHERE event_id = @id", new { id }));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM webhook_delivery_attempts WHERE event_id = @id", new { id }));
        Assert.Equal(HttpStatusCode.NotFound, (await m.GetAsync($"/v1/events/{id}")).Status);
    }
}

[Collection("sqlite")]
public sealed class EventLogTests_Sqlite(SqliteHub hub) : EventLogTests(hub);

[Collection("postgres")]
public sealed class EventLogTests_Postgres(PostgresHub hub) : EventLogTests(hub);
