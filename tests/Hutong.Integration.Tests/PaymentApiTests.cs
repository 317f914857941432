using System.Net;
using Hutong.Domain;
using Hutong.Integration.Tests.Infrastructure;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Hutong.Integration.Tests;

/// <summary>The merchant API contract: creation, reads, pagination, validation, idempotency, scoping, auth.</summary>
public abstract class PaymentApiTests(HubFixture hub)
{
    [Fact]
    public async Task Create_returns_the_payment_and_get_reads_it_back()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var r = await m.PostAsync("/v1/payments", new
        {
            amount = 1999,
            currency = "CNY",
            description = "龙井茶 Longjing",
            merchant_order_id = "A-1001",
            expires_in_seconds = 600,
            metadata = new Dictionary<string, string> { ["cart"] = "c-77" },
        });

        Assert.Equal(HttpStatusCode.Created, r.Status);
        var id = r.Str("id");
        Assert.StartsWith("pay_", id, StringComparison.Ordinal);
        Assert.Equal(1999, r.Json.GetProperty("amount").GetInt64());
        Assert.Equal("created", r.Str("status"));
        Assert.Equal("c-77", r.Json.GetProperty("metadata").GetProperty("cart").GetString());
        Assert.Contains("/pay/", r.Str("checkout_url"), StringComparison.Ordinal);
        var expires = r.Json.GetProperty("expires_at").GetDateTimeOffset() - r.Json.GetProperty("created_at").GetDateTimeOffset();
        Assert.Equal(600, expires.TotalSeconds, 1);

        var get = await m.GetAsync($"/v1/payments/{id}");
        Assert.Equal(HttpStatusCode.OK, get.Status);
        Assert.Equal(r.Body, get.Body);
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE type = 'payment.created' AND payload LIKE @p", new { p = $"%{id}%" }));
    }

    [Fact]
    public async Task List_pages_newest_first_with_a_cursor_and_only_the_callers_payments()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var (other, _, _) = await hub.NewMerchantAsync();
        var othersPayment = await other.CreatePaymentAsync();
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add(await m.CreatePaymentAsync(100 + i));
        }

        ids.Reverse();
        var page1 = await m.GetAsync("/v1/payments?limit=2");
        Assert.True(page1.Json.GetProperty("has_more").GetBoolean());
        var cursor = page1.Str("next_cursor");
        var page2 = await m.GetAsync($"/v1/payments?limit=2&starting_after={cursor}");
        var page3 = await m.GetAsync($"/v1/payments?limit=2&starting_after={page2.Str("next_cursor")}");
        var seen = new[] { page1, page2, page3 }.SelectMany(p => p.Json.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("id").GetString()!)).ToList();

        Assert.Equal(ids, seen);
        Assert.False(page3.Json.GetProperty("has_more").GetBoolean());
        Assert.False(page3.Json.TryGetProperty("next_cursor", out _));
        Assert.Equal(HttpStatusCode.BadRequest, (await m.GetAsync("/v1/payments?limit=101")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await m.GetAsync("/v1/payments?starting_after=nope")).Status);
        // A cursor must be one of the caller's payments (probe: another merchant's id, or one never issued, gave a 200 page).
        foreach (var cursorOfNone in new[] { othersPayment, $"pay_{Guid.CreateVersion7():N}" })
        {
            var bad = await m.GetAsync($"/v1/payments?starting_after={cursorOfNone}");
            Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
            Assert.Equal("starting_after", bad.Str("param"));
        }
    }

    public static TheoryData<string, string, string> BadBodies() => new()
    {
        { "{\"amount\":12.5,\"currency\":\"CNY\",\"description\":\"x\",\"merchant_order_id\":\"b1\"}", "application/json", "amount" },
        { "{\"amount\":0,\"currency\":\"CNY\",\"description\":\"x\",\"merchant_order_id\":\"b2\"}", "application/json", "amount" },
        { "{\"amount\":-5,\"currency\":\"CNY\",\"description\":\"x\",\"merchant_order_id\":\"b3\"}", "application/json", "amount" },
        { "{\"amount\":100,\"currency\":\"XYZ\",\"description\":\"x\",\"merchant_order_id\":\"b4\"}", "application/json", "currency" },
        // Known currencies no wallet here accepts (all three take CNY only): refused at creation, not at every confirm.
        { "{\"amount\":100,\"currency\":\"USD\",\"description\":\"x\",\"merchant_order_id\":\"b4u\"}", "application/json", "accepts USD; accepted: CNY" },
        { "{\"amount\":100,\"currency\":\"jpy\",\"description\":\"x\",\"merchant_order_id\":\"b4j\"}", "application/json", "accepts JPY; accepted: CNY" },
        { "{\"amount\":100,\"currency\":\"CNY\",\"merchant_order_id\":\"b5\"}", "application/json", "description" },
        { "{\"amount\":100,\"currency\":\"CNY\",\"description\":\"x\"}", "application/json", "merchant_order_id" },
        { "{\"amount\":100,\"currency\":\"CNY\",\"description\":\"x\",\"merchant_order_id\":\"b7\",\"amout\":1}", "application/json", "amout" },
        { "{\"amount\":100,\"currency\":\"CNY\",\"description\":\"x\",\"merchant_order_id\":\"b8\",\"expires_in_seconds\":5}", "application/json", "expires_in_seconds" },
        { "{\"amount\":\"100\",\"currency\":\"CNY\",\"description\":\"x\",\"merchant_order_id\":\"b9\"}", "application/json", "amount" },
        { "not json", "application/json", "body" },
        { "{\"amount\":100,\"currency\":\"CNY\",\"description\":\"x\",\"merchant_order_id\":\"has space\"}", "application/json", "merchant_order_id" },
        { "amount=100", "application/x-www-form-urlencoded", "unsupported_media_type" },
        // A repeated key is refused, not "last one wins" (a signer or proxy reading the first would see another request).
        { "{\"amount\":100,\"amount\":999999,\"currency\":\"CNY\",\"description\":\"x\",\"merchant_order_id\":\"b12\"}", "application/json", "amount" },
        { "{\"amount\":100,\"currency\":\"CNY\",\"description\":\"x\",\"merchant_order_id\":\"b13\",\"metadata\":{\"k\":\"a\",\"k\":\"b\"}}", "application/json", "metadata" },
        // description is checked in UTF-8 bytes against WeChat Pay's 127: 43 CJK characters are 129 bytes, 127 are 381.
        { Pay("b14", new string('茶', 43)), "application/json", "description" },
        { Pay("b15", new string('茶', 127)), "application/json", "description" },
        { Pay("b16", "tea\\u0000cup"), "application/json", "description" },
        { Pay("b17", "\\u202Epac aet"), "application/json", "description" },
        { Pay("b18", "line\\nbreak"), "application/json", "description" },
        { Pay("b19", "half \\ud83c pair"), "application/json", "description" },
    };

    private static string Pay(string orderId, string description) =>
        $"{{\"amount\":100,\"currency\":\"CNY\",\"description\":\"{description}\",\"merchant_order_id\":\"{orderId}\"}}";

    [Fact]
    public async Task A_description_within_127_utf8_bytes_is_accepted_whole()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        foreach (var (orderId, description) in new[] { ("d-cjk", new string('茶', 42)), ("d-ascii", new string('x', 127)), ("d-emoji", "🍵 " + new string('茶', 40)) })
        {
            var r = await m.PostAsync("/v1/payments", rawBody: Pay(orderId, description));
            Assert.Equal(HttpStatusCode.Created, r.Status);
            Assert.Equal(description, r.Str("description"));
        }
    }

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task Bad_input_gets_a_problem_response_and_changes_nothing(string body, string contentType, string expectedField)
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var before = await hub.CountAsync("SELECT COUNT(*) FROM outbox") + await hub.CountAsync("SELECT COUNT(*) FROM payments");
        const string key = "bad-input-key";

        var r = await m.PostAsync("/v1/payments", rawBody: body, contentType: contentType, idempotencyKey: key);

        Assert.True(r.Status is HttpStatusCode.BadRequest or HttpStatusCode.UnsupportedMediaType, r.ToString());
        Assert.StartsWith("application/problem+json", r.ContentHeaders!.ContentType!.ToString(), StringComparison.Ordinal);
        Assert.Equal((int)r.Status, r.Json.GetProperty("status").GetInt32());
        Assert.StartsWith("urn:hutong:problem:", r.Str("type"), StringComparison.Ordinal);
        Assert.Contains(expectedField, r.Body, StringComparison.Ordinal);
        Assert.Equal(before, await hub.CountAsync("SELECT COUNT(*) FROM outbox") + await hub.CountAsync("SELECT COUNT(*) FROM payments"));
        // Validation failures are not stored: the same key can be used again for the corrected request.
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM idempotency_keys WHERE merchant_id = @merchantId", new { merchantId }));
        var fixedUp = await m.PostAsync("/v1/payments", new { amount = 100, currency = "CNY", description = "x", merchant_order_id = "fixed-" + Guid.NewGuid().ToString("N")[..6] }, key);
        Assert.Equal(HttpStatusCode.Created, fixedUp.Status);
    }

    [Fact]
    public async Task Confirms_racing_at_different_wallets_are_answered_the_open_order_or_a_retryable_409_never_a_final_refusal()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        string[] wallets = ["wechatpay", "alipay", "unionpay"];
        for (var round = 0; round < 3; round++)
        {
            var id = await m.CreatePaymentAsync();
            var answers = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => m.ConfirmAsync(id, wallet: wallets[i % 3])));
            foreach (var a in answers)
            {
                // 200: this request's order (or the open one at its wallet); 409 attempt_in_progress with Retry-After:
                // another request's start at its wallet came first. Never payment_not_confirmable: the payment is pending
                // and a retry switches it, as a switch one after another does.
                Assert.True(a.Status == HttpStatusCode.OK
                    || (a.Status == HttpStatusCode.Conflict && a.Str("code") == "attempt_in_progress" && a.Headers.Contains("Retry-After")), a.ToString());
            }

            Assert.Contains(answers, a => a.Status == HttpStatusCode.OK);
            var pendingAt = (await m.GetAsync($"/v1/payments/{id}")).Str("wallet");
            var other = wallets.First(w => w != pendingAt);
            var switched = await m.ConfirmAsync(id, wallet: other);
            Assert.Equal(HttpStatusCode.OK, switched.Status);
            Assert.Equal(other, switched.Str("wallet"));
        }
    }

    [Fact]
    public async Task Same_key_and_body_replays_the_stored_response_without_a_second_payment()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var body = new { amount = 500, currency = "CNY", description = "replay", merchant_order_id = "R-1" };

        var first = await m.PostAsync("/v1/payments", body, "key-1");
        var second = await m.PostAsync("/v1/payments", body, "key-1");

        Assert.Equal(HttpStatusCode.Created, first.Status);
        Assert.Equal(HttpStatusCode.Created, second.Status);
        Assert.Equal(first.Body, second.Body);
        Assert.True(second.Headers.Contains("Idempotent-Replayed"));
        Assert.False(first.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM payments WHERE merchant_id = @merchantId", new { merchantId }));
    }

    [Fact]
    public async Task Same_key_with_a_different_body_is_422_and_changes_nothing()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        await m.PostAsync("/v1/payments", new { amount = 500, currency = "CNY", description = "a", merchant_order_id = "K-1" }, "key-2");

        var r = await m.PostAsync("/v1/payments", new { amount = 501, currency = "CNY", description = "a", merchant_order_id = "K-1" }, "key-2");

        Assert.Equal(HttpStatusCode.UnprocessableEntity, r.Status);
        Assert.Equal("idempotency_key_reused", r.Str("code"));

        // Create runs before it looks the key up (its answer commits with the payment): a body whose payment would insert
        // cleanly is rolled back when the key turns out answered, and one that fails validation is still a reuse.
        var other = await m.PostAsync("/v1/payments", new { amount = 502, currency = "CNY", description = "b", merchant_order_id = "K-2" }, "key-2");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, other.Status);
        Assert.Equal("idempotency_key_reused", other.Str("code"));
        var invalid = await m.PostAsync("/v1/payments", new { amount = -1, currency = "CNY", description = "b", merchant_order_id = "K-3" }, "key-2");
        Assert.Equal("idempotency_key_reused", invalid.Str("code"));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM payments WHERE merchant_id = @merchantId", new { merchantId }));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE merchant_id = @merchantId", new { merchantId }));
    }

    [Fact]
    public async Task Keys_are_scoped_per_merchant()
    {
        var (a, _, _) = await hub.NewMerchantAsync();
        var (b, _, _) = await hub.NewMerchantAsync();
        var body = new { amount = 500, currency = "CNY", description = "a", merchant_order_id = "S-1" };
        var ra = await a.PostAsync("/v1/payments", body, "shared-key");
        var rb = await b.PostAsync("/v1/payments", body, "shared-key");
        Assert.Equal(HttpStatusCode.Created, rb.Status);
        Assert.NotEqual(ra.Str("id"), rb.Str("id"));
    }

    [Fact]
    public async Task Post_without_an_idempotency_key_is_refused()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var r = await m.PostAsync("/v1/payments", new { amount = 500, currency = "CNY", description = "a", merchant_order_id = "N-1" }, idempotencyKey: null);
        Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        Assert.Equal("idempotency_key_required", r.Str("code"));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM payments WHERE merchant_id = @merchantId", new { merchantId }));
        var tooLong = await m.PostAsync("/v1/payments", new { amount = 500, currency = "CNY", description = "a", merchant_order_id = "N-1" }, new string('k', 256));
        Assert.Equal("idempotency_key_invalid", tooLong.Str("code"));
    }

    [Fact]
    public async Task A_duplicate_arriving_while_the_first_still_runs_is_409_and_only_one_executes()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync();
        // The wallet answers slowly (hangs, then the hub times out): the first confirm holds its key meanwhile.
        hub.Sandbox.WeChat.Faults.Inject("native", Sandbox.SandboxFault.TimeoutAfter, 1, match: id);

        var first = m.ConfirmAsync(id, "confirm-key");
        await Task.Delay(300);
        var second = await m.ConfirmAsync(id, "confirm-key");
        var firstDone = await first;

        Assert.Equal(HttpStatusCode.Conflict, second.Status);
        Assert.Equal("idempotency_request_in_progress", second.Str("code"));
        Assert.Equal(HttpStatusCode.OK, firstDone.Status);
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM payment_attempts WHERE payment_id = @id", new { id }));
        await m.WaitForStatusAsync(id, "pending"); // the janitor resolves the unanswered call
    }

    [Fact]
    public async Task A_key_completed_elsewhere_meanwhile_rolls_this_change_back_and_replays_the_stored_answer()
    {
        // Two hub instances on one database take the same key at once: each holds it only in its own memory, so the
        // database decides. Here "the other instance" commits its answer while this one waits on a slow wallet.
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync();
        hub.Sandbox.WeChat.Faults.Inject("native", Sandbox.SandboxFault.TimeoutAfter, 1, match: id);
        var slow = m.ConfirmAsync(id, "elsewhere-key");
        await Task.Delay(300);
        var body = System.Text.Json.JsonSerializer.Serialize(new { wallet = "wechatpay" });
        var hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"POST /v1/payments/{id}/confirm\n{body}")));
        await hub.ExecAsync(
            """
            INSERT INTO idempotency_keys (merchant_id, idem_key, request_hash, state, response_status, response_body, created_at)
            VALUES (@merchantId, 'elsewhere-key', @hash, 'completed', 200, '{"from":"the other instance"}', 0)
            """, new { merchantId, hash });

        var replayed = await slow;
        Assert.Equal(HttpStatusCode.OK, replayed.Status);
        Assert.Equal("the other instance", replayed.Str("from")); // this instance's answer did not stand
        Assert.Equal("the other instance", (await m.ConfirmAsync(id, "elsewhere-key")).Str("from"));

        // A different request under that key is refused as a reuse, not run.
        Assert.Equal("idempotency_key_reused", (await m.ConfirmAsync(id, "elsewhere-key", wallet: "alipay")).Str("code"));
    }

    [Fact]
    public async Task Concurrent_creates_with_one_key_execute_exactly_once()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var body = new { amount = 700, currency = "CNY", description = "race", merchant_order_id = "RACE-1" };
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => m.PostAsync("/v1/payments", body, "race-key")));

        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM payments WHERE merchant_id = @merchantId", new { merchantId }));
        Assert.Single(results, r => r.Status == HttpStatusCode.Created && !r.Headers.Contains("Idempotent-Replayed"));
        Assert.All(results, r => Assert.True(r.Status is HttpStatusCode.Created or HttpStatusCode.Conflict, r.ToString()));
        Assert.Single(results.Where(r => r.Status == HttpStatusCode.Created).Select(r => r.Str("id")).Distinct());
    }

    [Fact]
    public async Task Another_merchants_payment_is_404_on_every_endpoint()
    {
        var (owner, _, _) = await hub.NewMerchantAsync();
        var (intruder, _, _) = await hub.NewMerchantAsync();
        var id = await owner.CreatePaymentAsync();

        Assert.Equal(HttpStatusCode.NotFound, (await intruder.GetAsync($"/v1/payments/{id}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await intruder.ConfirmAsync(id)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await intruder.PostAsync($"/v1/payments/{id}/cancel")).Status);
        Assert.DoesNotContain(id, (await intruder.GetAsync("/v1/payments?limit=100")).Body, StringComparison.Ordinal);
        Assert.Equal("created", (await owner.GetAsync($"/v1/payments/{id}")).Str("status"));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM payment_attempts WHERE payment_id = @id", new { id }));
    }

    /// <summary>
    /// Ids are typed and bound from the route (PaymentId, RefundId, SplitId): a malformed one fails binding, which must
    /// still be the API's "No such …" problem — byte for byte what an unknown well-formed id gets — and change nothing.
    /// </summary>
    [Theory]
    [InlineData("GET", "/v1/payments/{0}", "payment", null)]
    [InlineData("POST", "/v1/payments/{0}/confirm", "payment", """{"wallet":"wechatpay"}""")]
    [InlineData("POST", "/v1/payments/{0}/cancel", "payment", null)]
    [InlineData("GET", "/v1/payments/{0}/refunds", "payment", null)]
    [InlineData("POST", "/v1/payments/{0}/refunds", "payment", """{"amount":1}""")]
    [InlineData("GET", "/v1/payments/{0}/splits", "payment", null)]
    [InlineData("POST", "/v1/payments/{0}/splits", "payment", """{"splits":[{"receiver":"rcv_x","amount":1}]}""")]
    [InlineData("GET", "/v1/payments/{0}/friend_pay_links", "payment", null)]
    [InlineData("POST", "/v1/payments/{0}/friend_pay_links", "payment", """{"requester_name":"x"}""")]
    [InlineData("GET", "/v1/refunds/{0}", "refund", null)]
    [InlineData("GET", "/v1/splits/{0}", "split", null)]
    public async Task A_malformed_id_gets_the_unknown_id_problem_and_changes_nothing(string method, string route, string what, string? body)
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var real = await m.CreatePaymentAsync();
        var prefix = what switch { "payment" => "pay", "refund" => "re", _ => "spl" };
        var unknown = $"{prefix}_{Guid.CreateVersion7():N}"; // well-formed, nobody's
        const string CountAll = """
            SELECT (SELECT COUNT(*) FROM payments WHERE merchant_id = @merchantId) + (SELECT COUNT(*) FROM outbox WHERE merchant_id = @merchantId)
                 + (SELECT COUNT(*) FROM payment_attempts a JOIN payments p ON p.id = a.payment_id WHERE p.merchant_id = @merchantId)
            """;
        var before = await hub.CountAsync(CountAll, new { merchantId });

        async Task<ApiResponse> SendAsync(string id) => method == "GET"
            ? await m.GetAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, route, id))
            : await m.PostAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, route, id), rawBody: body ?? "{}");

        var expected = await SendAsync(unknown);
        Assert.Equal(HttpStatusCode.NotFound, expected.Status);
        Assert.Equal($$"""{"type":"urn:hutong:problem:not_found","title":"No such {{what}}.","status":404,"code":"not_found"}""", expected.Body);
        foreach (var malformed in new[] { "nope", $"{prefix}_123", real + "0", "xx" + real[2..], "spl_" + real[4..] + "0" })
        {
            var r = await SendAsync(malformed);
            Assert.Equal(HttpStatusCode.NotFound, r.Status);
            Assert.Equal(expected.Body, r.Body);
            Assert.Equal("application/problem+json", r.ContentHeaders?.ContentType?.MediaType);
        }

        Assert.Equal(before, await hub.CountAsync(CountAll, new { merchantId }));
        Assert.Equal("created", (await m.GetAsync($"/v1/payments/{real}")).Str("status"));
    }

    /// <summary>
    /// The other ids the API takes from the route (links, share codes, friend-pay links, host contracts, webhook endpoints,
    /// and /admin's merchants and API keys) bind as typed ids too: a malformed one — near misses of real ids included —
    /// gets byte for byte what an unknown well-formed one gets, and changes nothing.
    /// </summary>
    [Theory]
    [InlineData("GET", "/v1/links/{0}", Ids.Link, "link", null)]
    [InlineData("POST", "/v1/links/{0}/revoke", Ids.Link, "link", null)]
    [InlineData("GET", "/v1/share_codes/{0}", Ids.ShareCode, "share_code", null)]
    [InlineData("POST", "/v1/share_codes/{0}/revoke", Ids.ShareCode, "share_code", null)]
    [InlineData("POST", "/v1/friend_pay_links/{0}/revoke", Ids.FriendPayLink, "friend_pay_link", null)]
    [InlineData("POST", "/v1/host_contracts/{0}/exit", Ids.HostContract, "host_contract", """{"date":"2026-10-11"}""")]
    [InlineData("POST", "/v1/host_contracts/{0}/statements", Ids.HostContract, "host_contract", """{"month":"2026-09"}""")]
    [InlineData("GET", "/v1/host_contracts/{0}/statements", Ids.HostContract, "host_contract", null)]
    [InlineData("POST", "/v1/host_contracts/{0}/statements/2026-09/pay", Ids.HostContract, "host_statement", null)]
    [InlineData("POST", "/v1/webhook_endpoints/{0}/rotate_secret", Ids.WebhookEndpoint, "webhook endpoint", null)]
    [InlineData("DELETE", "/v1/webhook_endpoints/{0}", Ids.WebhookEndpoint, "webhook endpoint", null)]
    [InlineData("POST", "/admin/merchants/{0}/api_keys", Ids.Merchant, "merchant", null)]
    [InlineData("POST", "/admin/api_keys/{0}/revoke", Ids.ApiKey, "api key", null)]
    public async Task Other_malformed_ids_get_the_unknown_id_problem_and_change_nothing(string method, string route, string prefix, string what, string? body)
    {
        var (m, merchantId, keyId) = await hub.NewMerchantAsync();
        var link = (await m.PostAsync("/v1/links", new { url = "https://shop.example.com/p/1", title = "茶杯" })).Str("id");
        var real = new Dictionary<string, string>
        {
            [Ids.Link] = link,
            [Ids.ShareCode] = (await m.PostAsync("/v1/share_codes", new { link_id = link })).Str("id"),
            [Ids.FriendPayLink] = (await m.PostAsync($"/v1/payments/{await m.CreatePaymentAsync()}/friend_pay_links", new { requester_name = "小明" })).Str("id"),
            [Ids.HostContract] = (await m.PostAsync("/v1/host_contracts", new
            {
                host = (await m.PostAsync("/v1/hosts", new { name = "小李", live_room = "room-" + Guid.NewGuid().ToString("N")[..8] })).Str("id"),
                start_date = "2026-09-01", model = "guaranteed_minimum", monthly_guarantee = 300_000,
            })).Str("id"),
            [Ids.WebhookEndpoint] = (await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url("/hooks/" + Guid.NewGuid().ToString("N")) })).Str("id"),
            [Ids.Merchant] = merchantId,
            [Ids.ApiKey] = keyId,
        }[prefix];
        var unknown = prefix == Ids.ApiKey ? "key_" + Convert.ToHexString(Guid.NewGuid().ToByteArray()[..6]).ToLowerInvariant() : $"{prefix}_{Guid.CreateVersion7():N}";
        string[] unchanged =
        [
            "SELECT COUNT(*) FROM links WHERE merchant_id = @merchantId AND status = 'active'",
            "SELECT COUNT(*) FROM share_codes WHERE merchant_id = @merchantId AND status = 'active'",
            "SELECT COUNT(*) FROM friend_pay_links WHERE merchant_id = @merchantId AND status = 'active'",
            "SELECT COUNT(*) FROM host_contracts WHERE merchant_id = @merchantId AND exited_on IS NULL",
            "SELECT COUNT(*) FROM webhook_endpoints WHERE merchant_id = @merchantId AND enabled = 1 AND previous_secret IS NULL",
            "SELECT COUNT(*) FROM api_keys WHERE merchant_id = @merchantId AND revoked_at IS NULL",
            "SELECT COUNT(*) FROM host_statements WHERE merchant_id = @merchantId",
            "SELECT COUNT(*) FROM api_keys",
            "SELECT COUNT(*) FROM outbox WHERE merchant_id = @merchantId",
        ];
        async Task<long[]> StateAsync() => await Task.WhenAll(unchanged.Select(sql => hub.CountAsync(sql, new { merchantId })));
        var before = await StateAsync();
        Assert.All(before.Take(6), n => Assert.Equal(1, n)); // the real one of each kind is there, live

        var client = route.StartsWith("/admin/", StringComparison.Ordinal) ? hub.Admin() : m;
        async Task<ApiResponse> SendAsync(string id)
        {
            var path = string.Format(System.Globalization.CultureInfo.InvariantCulture, route, id);
            return method switch
            {
                "GET" => await client.GetAsync(path),
                "DELETE" => await client.DeleteAsync(path),
                _ => await client.PostAsync(path, rawBody: body ?? "{}"),
            };
        }

        var expected = await SendAsync(unknown);
        Assert.Equal(HttpStatusCode.NotFound, expected.Status);
        Assert.Equal($$"""{"type":"urn:hutong:problem:not_found","title":"No such {{what}}.","status":404,"code":"not_found"}""", expected.Body);
        var other = prefix == Ids.Link ? Ids.ShareCode : Ids.Link;
        foreach (var malformed in new[] { "nope", $"{prefix}_123", real + "0", real[..^1], "xx" + real[2..], $"{other}_{real[(prefix.Length + 1)..]}", real.ToUpperInvariant() })
        {
            var r = await SendAsync(malformed);
            Assert.True(r.Status == HttpStatusCode.NotFound, $"{malformed}: {r}");
            Assert.Equal(expected.Body, r.Body);
            Assert.Equal("application/problem+json", r.ContentHeaders?.ContentType?.MediaType);
        }

        Assert.Equal(before, await StateAsync());
    }

    /// <summary>Every {id} in a /v1 or /admin route is bound as a typed id (IRouteId), so no malformed id reaches a service.</summary>
    [Fact]
    public void Every_route_id_binds_as_a_typed_id()
    {
        var endpoints = hub.Hub.App.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText is { } raw && (raw.StartsWith("/v1/", StringComparison.Ordinal) || raw.StartsWith("/admin/", StringComparison.Ordinal)))
            .Where(e => e.RoutePattern.Parameters.Any(p => p.Name == "id"))
            .ToList();
        var untyped = endpoints
            .Where(e => e.Metadata.GetMetadata<System.Reflection.MethodInfo>() is not { } handler
                || !handler.GetParameters().Any(p => p.Name == "id" && typeof(IRouteId).IsAssignableFrom(p.ParameterType)))
            .Select(e => e.DisplayName)
            .ToList();

        Assert.True(endpoints.Count >= 20, $"only {endpoints.Count} routes with an id"); // the rule sees the routes
        Assert.Empty(untyped);
    }

    [Fact]
    public async Task Missing_wrong_and_revoked_keys_are_401()
    {
        var (m, _, keyId) = await hub.NewMerchantAsync();
        Assert.Equal(HttpStatusCode.OK, (await m.GetAsync("/v1/payments")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await hub.Anonymous().GetAsync("/v1/payments")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await new ApiClient(hub.Http, m.Key + "x").GetAsync("/v1/payments")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await new ApiClient(hub.Http, "sk_nope").PostAsync("/v1/payments", new { })).Status);

        var revoke = await hub.Admin().PostAsync($"/admin/api_keys/{keyId}/revoke");
        Assert.Equal(HttpStatusCode.OK, revoke.Status);
        var after = await m.GetAsync("/v1/payments");
        Assert.Equal(HttpStatusCode.Unauthorized, after.Status);
        Assert.Equal("unauthorized", after.Str("code"));
        Assert.Equal(HttpStatusCode.Unauthorized, (await hub.Anonymous().PostAsync("/admin/merchants", new { name = "x" })).Status);
    }

    [Fact]
    public async Task Api_keys_never_reach_the_logs()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        await m.CreatePaymentAsync();
        await new ApiClient(hub.Http, m.Key + "wrong").GetAsync("/v1/payments");
        var logs = hub.Logs.All();
        Assert.DoesNotContain(m.Key, logs, StringComparison.Ordinal);
        Assert.DoesNotContain(m.Key[^20..], logs, StringComparison.Ordinal);
        Assert.DoesNotContain(hub.WeChat.ApiV3Key, logs, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY", logs, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Secrets_shown_once_are_not_kept_for_idempotent_replays()
    {
        var first = await hub.Admin().PostAsync("/admin/merchants", new { name = "replay-secrets" }, "onboard-" + Guid.NewGuid().ToString("N"));
        var key = first.Json.GetProperty("api_key").GetProperty("secret").GetString()!;
        Assert.StartsWith("sk_", key, StringComparison.Ordinal);
        var merchantId = first.Json.GetProperty("merchant").GetProperty("id").GetString()!;

        var idemKey = "hook-" + Guid.NewGuid().ToString("N");
        var m = new ApiClient(hub.Http, key);
        var created = await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url("/secrets") }, idemKey);
        var replay = await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url("/secrets") }, idemKey);
        Assert.StartsWith("whsec_", created.Str("secret"), StringComparison.Ordinal);
        Assert.True(replay.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(created.Str("id"), replay.Str("id"));
        Assert.False(replay.Json.TryGetProperty("secret", out _));

        var stored = await hub.Db.ReadAsync(c => Dapper.SqlMapper.QueryAsync<string>(c, "SELECT response_body FROM idempotency_keys WHERE merchant_id IN ('admin', @merchantId)", new { merchantId }), default);
        Assert.DoesNotContain(stored, b => b.Contains(key, StringComparison.Ordinal) || b.Contains(created.Str("secret"), StringComparison.Ordinal));
    }

    [Fact]
    public async Task Duplicate_merchant_order_id_is_409()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        await m.CreatePaymentAsync(orderId: "DUP-1");
        var r = await m.PostAsync("/v1/payments", new { amount = 1, currency = "CNY", description = "x", merchant_order_id = "DUP-1" });
        Assert.Equal(HttpStatusCode.Conflict, r.Status);
        Assert.Equal("duplicate_merchant_order_id", r.Str("code"));
    }

    [Fact]
    public async Task OpenApi_document_and_capabilities_are_served()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var doc = await hub.Anonymous().GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, doc.Status);
        Assert.Contains("/v1/payments/{id}/confirm", doc.Body, StringComparison.Ordinal);
        var caps = await m.GetAsync("/v1/capabilities");
        var wallets = caps.Json.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(["alipay", "unionpay", "wechatpay"], wallets.Select(w => w.GetProperty("wallet").GetString()).Order());
        var wechat = wallets.Single(w => w.GetProperty("wallet").GetString() == "wechatpay");
        Assert.True(wechat.GetProperty("capabilities").GetProperty("qr_code").GetBoolean());
        Assert.Equal(HttpStatusCode.OK, (await hub.Anonymous().GetAsync("/scalar/v1")).Status);
    }
}

[Collection("sqlite")]
public sealed class PaymentApiTests_Sqlite(SqliteHub hub) : PaymentApiTests(hub);

[Collection("postgres")]
public sealed class PaymentApiTests_Postgres(PostgresHub hub) : PaymentApiTests(hub);
