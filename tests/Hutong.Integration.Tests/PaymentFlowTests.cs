using System.Net;
using System.Text;
using Hutong.Connectors.WeChatPay;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Sandbox.WeChatPay;
using Hutong.Server.Features.Webhooks;
using Hutong.Server.Storage;
using Hutong.Server.Features.Workers;

namespace Hutong.Integration.Tests;

/// <summary>Money moving: QR confirm, buyer pays in the sandbox wallet, signed notification, webhook; and every way it goes wrong.</summary>
public abstract class PaymentFlowTests(HubFixture hub)
{
    private async Task<(ApiClient M, string Id, string CodeUrl, string OutTradeNo)> PendingPaymentAsync(long amount = 1234)
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(amount);
        var confirm = await m.ConfirmAsync(id);
        Assert.Equal(HttpStatusCode.OK, confirm.Status);
        Assert.Equal("pending", confirm.Str("status"));
        var action = confirm.Json.GetProperty("next_action");
        var codeUrl = action.GetProperty("code_url").GetString()!;
        var outTradeNo = await hub.Db.ReadAsync(c => Dapper.SqlMapper.ExecuteScalarAsync<string>(c, "SELECT out_trade_no FROM payment_attempts WHERE payment_id = @id", new { id }), default);
        return (m, id, codeUrl, outTradeNo!);
    }

    [Fact]
    public async Task Buyer_pays_by_QR_and_the_merchant_gets_a_signed_webhook()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var endpoint = await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url("/hooks/" + Guid.NewGuid().ToString("N")) });
        Assert.Equal(HttpStatusCode.Created, endpoint.Status);
        var secret = endpoint.Str("secret");
        Assert.StartsWith("whsec_", secret, StringComparison.Ordinal);
        var path = new Uri(endpoint.Str("url")).AbsolutePath;
        Assert.Equal("*", endpoint.Json.GetProperty("enabled_events")[0].GetString());
        // A second endpoint that asked for successes only.
        var only = await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url("/hooks/" + Guid.NewGuid().ToString("N")), enabled_events = new[] { "payment.succeeded" } });
        Assert.Equal(HttpStatusCode.Created, only.Status);
        Assert.Equal(["payment.succeeded"], only.Json.GetProperty("enabled_events").EnumerateArray().Select(e => e.GetString()));
        var onlyPath = new Uri(only.Str("url")).AbsolutePath;
        foreach (var bad in new object[] { new[] { "*", "payment.succeeded" }, new[] { "Payment Succeeded" }, Array.Empty<string>() })
        {
            var refused = await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url("/hooks/bad"), enabled_events = bad });
            Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
            Assert.Equal("enabled_events", refused.Str("param"));
        }

        var id = await m.CreatePaymentAsync(8800);
        var confirm = await m.ConfirmAsync(id);
        var codeUrl = confirm.Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        Assert.StartsWith("weixin://wxpay/bizpayurl?pr=", codeUrl, StringComparison.Ordinal);

        var paid = await hub.BuyerPaysAsync(codeUrl, openId: "oBuyer123");
        Assert.Equal(HttpStatusCode.OK, paid.StatusCode);

        var done = await m.WaitForStatusAsync(id, "succeeded");
        await hub.AssertPayerAsync(done, "wechatpay", "oBuyer123");
        Assert.Equal("wechatpay", done.Json.GetProperty("payer").GetProperty("wallet").GetString());
        Assert.StartsWith("4200", done.Str("wallet_transaction_id"), StringComparison.Ordinal);
        Assert.False(done.Json.TryGetProperty("next_action", out _));

        var delivery = await hub.EventuallyAsync(
            () => Task.FromResult(hub.Receiver.Deliveries.Where(d => d.Path == path && d.Body.Contains("payment.succeeded", StringComparison.Ordinal)).ToList()),
            l => l.Count > 0, what: "payment.succeeded webhook");
        var d = delivery[0];
        Assert.True(WebhookSigner.Verify(secret, d.Id, d.Timestamp, d.Body, d.Signature, DateTimeOffset.UtcNow), d.Signature);
        Assert.False(WebhookSigner.Verify(secret, d.Id, d.Timestamp, d.Body + " ", d.Signature, DateTimeOffset.UtcNow));
        Assert.Contains(id, d.Body, StringComparison.Ordinal);
        Assert.Contains(done.Json.GetProperty("payer").GetProperty("id").GetString()!, d.Body, StringComparison.Ordinal); // the payer's pseudonym
        Assert.DoesNotContain("oBuyer123", d.Body, StringComparison.Ordinal);
        // Every state change was an event: created, pending, succeeded — each delivered.
        var types = hub.Receiver.Deliveries.Where(x => x.Path == path).Select(x => System.Text.Json.JsonDocument.Parse(x.Body).RootElement.GetProperty("type").GetString()).ToHashSet();
        Assert.Superset(new HashSet<string?> { "payment.created", "payment.pending", "payment.succeeded" }, types);
        var onlyTypes = (await hub.EventuallyAsync(
            () => Task.FromResult(hub.Receiver.Deliveries.Where(x => x.Path == onlyPath).ToList()), l => l.Count > 0, what: "the successes-only endpoint's webhook"))
            .Select(x => System.Text.Json.JsonDocument.Parse(x.Body).RootElement.GetProperty("type").GetString());
        Assert.Equal(["payment.succeeded"], onlyTypes.Distinct());
    }

    [Fact]
    public async Task Confirming_again_returns_the_same_open_QR_without_a_new_wallet_order()
    {
        var (m, id, codeUrl, _) = await PendingPaymentAsync();
        var again = await m.ConfirmAsync(id);
        var action = again.Json.GetProperty("next_action");
        Assert.Equal(codeUrl, action.GetProperty("code_url").GetString());
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM payment_attempts WHERE payment_id = @id", new { id }));

        var png = await hub.Http.GetAsync(action.GetProperty("qr_png_url").GetString());
        Assert.Equal("image/png", png.Content.Headers.ContentType!.MediaType);
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47 }, (await png.Content.ReadAsByteArrayAsync())[..4]);
        var svg = await hub.Http.GetAsync(action.GetProperty("qr_svg_url").GetString());
        Assert.Equal("image/svg+xml", svg.Content.Headers.ContentType!.MediaType);
        Assert.Contains("<svg", await svg.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stale_and_probe_notifications_are_rejected_logged_and_change_nothing()
    {
        var (m, id, _, outTradeNo) = await PendingPaymentAsync();
        var order = hub.Sandbox.WeChat.Orders[(hub.WeChat.MchId, outTradeNo)];
        lock (order)
        {
            order.TradeState = "SUCCESS"; // what a forger would claim
            order.TransactionId = "4200000000000000000000000000";
            order.PayerOpenId = "oForger";
        }

        var outboxBefore = await hub.CountAsync("SELECT COUNT(*) FROM outbox");
        using var http = new HttpClient();
        var notifyUrl = hub.Hub.BaseUrl + "/notify/wechatpay";

        // A wrong key and a tampered body are the wallet contract's (Contract/WalletContract.cs); these two are WeChat's own.
        // The signature probe WeChat sends to check that merchants verify.
        var probe = hub.Sandbox.WeChatNotifier.BuildRequest(order, "probe-1", forgedSignature: "WECHATPAY/SIGNTEST/abcdef");
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(probe)).StatusCode);

        // A genuine notification replayed after the 5-minute window: rebuild it with an old timestamp, correctly signed.
        var genuine = hub.Sandbox.WeChatNotifier.BuildRequest(order, "stale-1");
        var genuineBody = await genuine.Content!.ReadAsStringAsync();
        var oldTs = DateTimeOffset.UtcNow.AddMinutes(-6).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var stale = new HttpRequestMessage(HttpMethod.Post, notifyUrl) { Content = new StringContent(genuineBody, Encoding.UTF8, "application/json") };
        stale.Headers.Add("Wechatpay-Timestamp", oldTs);
        stale.Headers.Add("Wechatpay-Nonce", "n0nce");
        stale.Headers.Add("Wechatpay-Serial", genuine.Headers.GetValues("Wechatpay-Serial").First());
        stale.Headers.Add("Wechatpay-Signature", WeChatPaySignature.Sign(hub.Sandbox.WeChat.PlatformKey, WeChatPaySignature.ResponseMessage(oldTs, "n0nce", genuineBody)));
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(stale)).StatusCode);

        Assert.Equal("pending", (await m.GetAsync($"/v1/payments/{id}")).Str("status"));
        Assert.Equal(outboxBefore, await hub.CountAsync("SELECT COUNT(*) FROM outbox"));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM wallet_notifications WHERE out_trade_no = @outTradeNo", new { outTradeNo }));
        var rejected = hub.Logs.Lines.Where(l => l.Message.StartsWith("Rejected wechatpay notification", StringComparison.Ordinal)).Select(l => l.Message).ToList();
        Assert.Contains(rejected, l => l.Contains("SIGNTEST", StringComparison.Ordinal));
        Assert.Contains(rejected, l => l.Contains("5-minute", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_notification_the_hub_failed_to_acknowledge_is_retried_on_the_wallets_schedule()
    {
        var (m, id, codeUrl, outTradeNo) = await PendingPaymentAsync();
        // First delivery goes to a dead port: WeChat retries 15 s later (scaled) to the same URL; here the order's URL is fixed up.
        var order = hub.Sandbox.WeChat.Orders[(hub.WeChat.MchId, outTradeNo)];
        var real = order.NotifyUrl;
        order.NotifyUrl = "http://127.0.0.1:9/notify";
        await hub.BuyerPaysAsync(codeUrl);
        await hub.EventuallyAsync(() => Task.FromResult(hub.Sandbox.WeChat.NotificationLog.Count(n => n.OutTradeNo == outTradeNo)), n => n >= 2, what: "two failed deliveries");
        order.NotifyUrl = real;
        await m.WaitForStatusAsync(id, "succeeded", TimeSpan.FromSeconds(20));
        // The payment may settle by a re-query first; the wallet's retry still arrives and is acknowledged.
        var log = await hub.EventuallyAsync(() => Task.FromResult(hub.Sandbox.WeChat.NotificationLog.Where(n => n.OutTradeNo == outTradeNo).ToList()),
            l => l.Any(n => n.HttpStatus == 204), TimeSpan.FromSeconds(20), what: "a retried delivery acknowledged");
        Assert.Contains(log, n => n.HttpStatus is null);
        Assert.Equal(204, log.Last(n => n.HttpStatus is not null).HttpStatus); // nothing after the acknowledgement failed
    }

    [Fact]
    public async Task A_notification_whose_apply_fails_is_kept_unprocessed_and_a_later_delivery_applies_it()
    {
        var (m, id, codeUrl, outTradeNo) = await PendingPaymentAsync();
        // Recording the success fails inside the database (a trigger refuses this payment's attempt update), so the
        // notification's one transaction rolls back: its body must still be kept, unprocessed, and the 5xx makes the
        // wallet deliver again.
        var trigger = "fail_" + Guid.NewGuid().ToString("N")[..8];
        await hub.ExecAsync(hub.Provider == StoreProvider.Sqlite
            ? $"CREATE TRIGGER {trigger} BEFORE UPDATE ON payment_attempts WHEN OLD.payment_id = '{id}' BEGIN SELECT RAISE(ABORT, 'injected'); END"
            : $"""
              CREATE FUNCTION {trigger}() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected'; END $$ LANGUAGE plpgsql;
              CREATE TRIGGER {trigger} BEFORE UPDATE ON payment_attempts FOR EACH ROW WHEN (OLD.payment_id = '{id}') EXECUTE FUNCTION {trigger}();
              """);
        try
        {
            await hub.BuyerPaysAsync(codeUrl);
            await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM wallet_notifications WHERE out_trade_no = @outTradeNo AND processed_at IS NULL", new { outTradeNo }),
                n => n == 1, what: "the failed notification kept unprocessed");
            // The sandbox logs the delivery after it has read the 5xx, which can be just after the row is visible.
            await hub.EventuallyAsync(() => Task.FromResult(hub.Sandbox.WeChat.NotificationLog.Any(n => n.OutTradeNo == outTradeNo && n.HttpStatus >= 500)),
                refused => refused, what: "the delivery answered with a 5xx");
            Assert.Equal("pending", (await m.GetAsync($"/v1/payments/{id}")).Str("status"));
        }
        finally
        {
            await hub.ExecAsync(hub.Provider == StoreProvider.Sqlite ? $"DROP TRIGGER {trigger}" : $"DROP TRIGGER {trigger} ON payment_attempts; DROP FUNCTION {trigger}()");
        }

        await m.WaitForStatusAsync(id, "succeeded", TimeSpan.FromSeconds(20));
        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM wallet_notifications WHERE out_trade_no = @outTradeNo AND processed_at IS NOT NULL", new { outTradeNo }),
            n => n == 1, TimeSpan.FromSeconds(20), what: "the redelivered notification processed");
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'payment_captured' AND reference = @id", new { id }));
    }

    [Fact]
    public async Task The_janitor_raises_an_alert_when_its_schedule_ends_unresolved()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync();
        var before = hub.Metrics.Total("hutong.payments.unknown_unresolved");
        hub.Sandbox.WeChat.Faults.Inject("native", SandboxFault.ServerError, 30, match: id); // the order never gets through
        hub.Sandbox.WeChat.Faults.Inject("query", SandboxFault.ServerError, 20, match: id);

        Assert.Equal("unknown", (await m.ConfirmAsync(id)).Str("status"));
        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM payment_attempts WHERE payment_id = @id AND status = 'stuck'", new { id }), n => n == 1, what: "stuck attempt");

        Assert.Equal("unknown", (await m.GetAsync($"/v1/payments/{id}")).Str("status")); // never guessed
        Assert.True(hub.Metrics.Total("hutong.payments.unknown_unresolved") > before);
        Assert.Contains(hub.Logs.Lines, l => l.Level == Microsoft.Extensions.Logging.LogLevel.Critical && l.Message.Contains(id, StringComparison.Ordinal));
            }

    [Fact]
    public async Task An_unverifiable_wallet_response_is_not_believed()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync();
        hub.Sandbox.WeChat.Faults.Inject("native", SandboxFault.BadResponseSignature, 1, match: id);
        var r = await m.ConfirmAsync(id);
        Assert.Equal("unknown", r.Str("status"));
        Assert.False(r.Json.TryGetProperty("next_action", out _));
        Assert.Contains(hub.Logs.Lines, l => l.Message.Contains("failed signature verification", StringComparison.Ordinal));
        await m.WaitForStatusAsync(id, "pending"); // the re-query gets a properly signed answer
    }

    [Fact]
    public async Task Expiry_closes_the_wallet_order_first_and_a_paid_order_wins_over_the_clock()
    {
        var (m, unpaid, _, unpaidNo) = await PendingPaymentAsync();
        var (m2, paid, paidCode, _) = await PendingPaymentAsync();
        hub.Sandbox.WeChat.Faults.Inject("notify", SandboxFault.DropNotification, 1, match: paid); // the hub never hears of this payment
        await hub.BuyerPaysAsync(paidCode);

        await hub.ExecAsync("UPDATE payments SET expires_at = 0 WHERE id IN (@unpaid, @paid)", new { unpaid, paid }); // time passes
        await hub.Service<Jobs>().RunOnceAsync(default);

        Assert.Equal("expired", (await m.GetAsync($"/v1/payments/{unpaid}")).Str("status"));
        Assert.Equal("CLOSED", hub.Sandbox.WeChat.Orders[(hub.WeChat.MchId, unpaidNo)].TradeState);
        Assert.Equal("succeeded", (await m2.GetAsync($"/v1/payments/{paid}")).Str("status"));
    }

    [Fact]
    public async Task An_attempt_orphaned_by_a_crash_mid_call_is_re_queried_and_recovered()
    {
        var (m, id, codeUrl, outTradeNo) = await PendingPaymentAsync();
        // As if the hub died after the wallet made the order but before the answer was recorded.
        await hub.ExecAsync("UPDATE payment_attempts SET status = 'requested', code_url = NULL, updated_at = 0 WHERE out_trade_no = @outTradeNo", new { outTradeNo });
        Assert.False((await m.GetAsync($"/v1/payments/{id}")).Json.TryGetProperty("next_action", out _));

        await hub.Service<Jobs>().RunOnceAsync(default);

        var recovered = await m.GetAsync($"/v1/payments/{id}");
        Assert.Equal("pending", recovered.Str("status"));
        Assert.Equal(codeUrl, recovered.Json.GetProperty("next_action").GetProperty("code_url").GetString());
    }

    [Fact]
    public async Task A_stray_wallet_order_is_closed_and_if_already_paid_raises_an_alert()
    {
        var (m, closedId, _, closedNo) = await PendingPaymentAsync();
        var (_, paidId, paidCode, _) = await PendingPaymentAsync();
        hub.Sandbox.WeChat.Faults.Inject("notify", SandboxFault.DropNotification, 1, match: paidId);
        await hub.BuyerPaysAsync(paidCode);
        // Both payments were closed by a path that left their wallet orders open.
        await hub.ExecAsync("UPDATE payments SET status = 'canceled', current_attempt_id = NULL WHERE id IN (@closedId, @paidId)", new { closedId, paidId });
        var before = hub.Metrics.Total("hutong.payments.late_success");

        await hub.Service<Jobs>().RunOnceAsync(default);

        Assert.Equal("CLOSED", hub.Sandbox.WeChat.Orders[(hub.WeChat.MchId, closedNo)].TradeState);
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM payment_attempts WHERE payment_id IN (@closedId, @paidId) AND status IN ('open', 'requested')", new { closedId, paidId }));
        Assert.Equal(before + 1, hub.Metrics.Total("hutong.payments.late_success"));
        Assert.Contains(hub.Logs.Lines, l => l.Level == Microsoft.Extensions.Logging.LogLevel.Critical && l.Message.Contains(paidId, StringComparison.Ordinal));
        Assert.Equal("canceled", (await m.GetAsync($"/v1/payments/{closedId}")).Str("status"));
        // The buyer paid a canceled payment: the hub gives the money back through WeChat Pay's refund API by itself.
        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE payment_id = @paidId AND status = 'succeeded'", new { paidId }),
            n => n == 1, what: "automatic refund of the late payment");
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE payment_id = @closedId", new { closedId }));
    }

    [Fact]
    public async Task A_wallet_rejection_fails_the_attempt_and_the_buyer_can_retry()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync();
        hub.Sandbox.WeChat.Faults.Inject("native", SandboxFault.ParamError, 1, match: id);
        var failed = await m.ConfirmAsync(id);
        Assert.Equal("failed", failed.Str("status"));
        Assert.Equal("wallet_rejected", failed.Json.GetProperty("failure").GetProperty("code").GetString());
        Assert.Contains("PARAM_ERROR", failed.Json.GetProperty("failure").GetProperty("message").GetString(), StringComparison.Ordinal);

        var retried = await m.ConfirmAsync(id);
        Assert.Equal("pending", retried.Str("status"));
        Assert.Equal(2, await hub.CountAsync("SELECT COUNT(*) FROM payment_attempts WHERE payment_id = @id", new { id }));
    }

    [Fact]
    public async Task Webhooks_retry_on_5xx_and_429_and_a_410_disables_the_endpoint()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var flaky = "/flaky/" + Guid.NewGuid().ToString("N");
        var gone = "/gone/" + Guid.NewGuid().ToString("N");
        hub.Receiver.Answer(flaky, 500, 429, 503);
        hub.Receiver.Answer(gone, 410);
        await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url(flaky) });
        var goneEndpoint = await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url(gone) });

        var id = await m.CreatePaymentAsync();

        var tries = await hub.EventuallyAsync(
            () => Task.FromResult(hub.Receiver.Deliveries.Where(d => d.Path == flaky && d.Body.Contains(id, StringComparison.Ordinal)).ToList()),
            l => l.Any(d => d.AnsweredWith == 204), what: "flaky endpoint eventually accepts");
        Assert.Equal([500, 429, 503, 204], tries.Select(t => t.AnsweredWith));
        Assert.Single(tries.Select(t => t.Id).Distinct()); // same webhook-id on every retry, for dedupe

        var list = await hub.EventuallyAsync(() => m.GetAsync("/v1/webhook_endpoints"),
            r => r.Json.GetProperty("data").EnumerateArray().Any(e => e.GetProperty("id").GetString() == goneEndpoint.Str("id") && !e.GetProperty("enabled").GetBoolean()),
            what: "410 endpoint disabled");
        Assert.Contains("gone", list.Body, StringComparison.Ordinal);
        await m.CreatePaymentAsync();
        await Task.Delay(500);
        Assert.Single(hub.Receiver.Deliveries, d => d.Path == gone);
    }

    [Fact]
    public async Task A_rotated_secret_signs_alongside_the_old_one_during_the_overlap()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var path = "/rotate/" + Guid.NewGuid().ToString("N");
        var created = await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url(path) });
        var oldSecret = created.Str("secret");
        var rotated = await m.PostAsync($"/v1/webhook_endpoints/{created.Str("id")}/rotate_secret");
        var newSecret = rotated.Str("secret");
        Assert.NotEqual(oldSecret, newSecret);
        var atRest = await hub.Db.ReadAsync(c => Dapper.SqlMapper.QuerySingleAsync<(string Secret, string Previous)>(c,
            "SELECT secret, previous_secret FROM webhook_endpoints WHERE id = @id", new { id = created.Str("id") }), default);
        Assert.StartsWith("sealed:v1:", atRest.Secret, StringComparison.Ordinal); // the fixture configures a master key
        Assert.DoesNotContain(newSecret, atRest.Secret + atRest.Previous, StringComparison.Ordinal);
        Assert.DoesNotContain(oldSecret, atRest.Secret + atRest.Previous, StringComparison.Ordinal);

        await m.CreatePaymentAsync();
        var d = (await hub.EventuallyAsync(() => Task.FromResult(hub.Receiver.Deliveries.Where(x => x.Path == path).ToList()), l => l.Count > 0))[0];
        Assert.Equal(2, d.Signature.Split(' ').Length);
        Assert.True(WebhookSigner.Verify(oldSecret, d.Id, d.Timestamp, d.Body, d.Signature, DateTimeOffset.UtcNow));
        Assert.True(WebhookSigner.Verify(newSecret, d.Id, d.Timestamp, d.Body, d.Signature, DateTimeOffset.UtcNow));
        Assert.False(WebhookSigner.Verify(WebhookSigner.NewSecret(), d.Id, d.Timestamp, d.Body, d.Signature, DateTimeOffset.UtcNow));
    }

    [Fact]
    public async Task Webhook_urls_are_validated()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var r = await m.PostAsync("/v1/webhook_endpoints", new { url = "ftp://example.com/x" });
        Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        Assert.Equal("url", r.Json.GetProperty("param").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, (await m.PostAsync("/v1/webhook_endpoints", new { url = "https://user:pw@example.com/x" })).Status);
        var other = await hub.NewMerchantAsync();
        var e = await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url("/mine") });
        Assert.Equal(HttpStatusCode.NotFound, (await other.Client.PostAsync($"/v1/webhook_endpoints/{e.Str("id")}/rotate_secret")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await other.Client.DeleteAsync($"/v1/webhook_endpoints/{e.Str("id")}")).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await m.DeleteAsync($"/v1/webhook_endpoints/{e.Str("id")}")).Status);
    }

    [Fact]
    public async Task Platform_certificate_mode_downloads_decrypts_and_verifies_certificates()
    {
        // A second WeChat merchant in certificate mode (no PUB_KEY_ID): the connector must fetch /v3/certificates.
        var options = await Hutong.Demo.SandboxWiring.RegisterWeChatMerchantAsync(hub.Sandbox.BaseUrl, "1900000200", "certificate");
        Assert.Null(options.PlatformPublicKeyId);
        using var http = new HttpClient(new WeChatPaySigningHandler { InnerHandler = new HttpClientHandler() });
        using var connector = new WeChatPayConnector(http, options, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<WeChatPayConnector>.Instance);
        var no = Guid.NewGuid().ToString("N");
        var created = await connector.CreateQrOrderAsync(new Hutong.Connectors.Abstractions.CreateOrderRequest(no, Hutong.Domain.Money.Of(100, "CNY"), "cert mode",
            DateTimeOffset.UtcNow.AddMinutes(5), "https://example.com/notify"), default);
        Assert.Equal(Hutong.Connectors.Abstractions.WalletCallOutcome.Ok, created.Outcome);
        var q = await connector.QueryAsync(no, default);
        Assert.Equal(Hutong.Connectors.Abstractions.WalletStatus.NotPaid, q.Transaction!.Status);
        Assert.Equal(Hutong.Connectors.Abstractions.WalletCallOutcome.Ok, (await connector.CloseAsync(no, default)).Outcome);
        Assert.Equal(Hutong.Connectors.Abstractions.WalletStatus.Closed, (await connector.QueryAsync(no, default)).Transaction!.Status);
        Assert.Equal(Hutong.Connectors.Abstractions.WalletStatus.NotFound, (await connector.QueryAsync("nonexistent-order", default)).Transaction!.Status);
    }
}

/// <summary>Service-provider (服务商) mode: the acquirer's credentials, the sub-merchant's orders, the partner endpoints.</summary>
[Collection("sqlite")]
public sealed class WeChatServiceProviderTests(SqliteHub hub)
{
    [Fact]
    public async Task A_service_provider_collects_for_its_sub_merchant_through_the_partner_endpoints()
    {
        var sp = await Hutong.Demo.SandboxWiring.RegisterWeChatMerchantAsync(hub.Sandbox.BaseUrl, "1900000300", subMchId: "1900000301");
        using var http = new HttpClient(new WeChatPaySigningHandler { InnerHandler = new HttpClientHandler() });
        using var connector = new WeChatPayConnector(http, sp, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<WeChatPayConnector>.Instance);
        var no = Guid.NewGuid().ToString("N");
        var request = new Hutong.Connectors.Abstractions.CreateOrderRequest(no, Hutong.Domain.Money.Of(1888, "CNY"), "服务商代收", DateTimeOffset.UtcNow.AddMinutes(5), "https://example.com/notify", "pay_sp");

        var created = await connector.CreateQrOrderAsync(request, default);
        Assert.Equal(Hutong.Connectors.Abstractions.WalletCallOutcome.Ok, created.Outcome);
        var order = hub.Sandbox.WeChat.Orders[("1900000301", no)];
        Assert.Equal("1900000300", order.SpMchId);
        Assert.Equal(Hutong.Connectors.Abstractions.WalletStatus.NotPaid, (await connector.QueryAsync(no, default)).Transaction!.Status);

        Assert.Equal(HttpStatusCode.OK, (await hub.BuyerPaysAsync(created.CodeUrl!, openId: "oSpBuyer")).StatusCode);
        using var notification = hub.Sandbox.WeChatNotifier.BuildRequest(order, "sp-1");
        var headers = notification.Headers.ToDictionary(h => h.Key, h => h.Value.First(), StringComparer.OrdinalIgnoreCase);
        var verified = await connector.VerifyNotificationAsync(headers, await notification.Content!.ReadAsStringAsync(), default);
        Assert.True(verified.Verified, verified.RejectReason);
        Assert.Equal("1900000301", verified.Transaction!.MerchantId);
        Assert.Equal("oSpBuyer", verified.Transaction.PayerId);
        Assert.Equal(1888, verified.Transaction.AmountMinor);

        var other = new Hutong.Connectors.Abstractions.CreateOrderRequest(Guid.NewGuid().ToString("N"), Hutong.Domain.Money.Of(100, "CNY"), "x", DateTimeOffset.UtcNow.AddMinutes(5), "https://example.com/n");
        sp.SubMchId = "1900000999"; // not authorised under this service provider
        using var stranger = new WeChatPayConnector(http, sp, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<WeChatPayConnector>.Instance);
        var refused = await stranger.CreateQrOrderAsync(other, default);
        Assert.Equal(Hutong.Connectors.Abstractions.WalletCallOutcome.Rejected, refused.Outcome);
        Assert.Equal("MCH_NOT_EXISTS", refused.Error!.Code);
    }
}

[Collection("sqlite")]
public sealed class PaymentFlowTests_Sqlite(SqliteHub hub) : PaymentFlowTests(hub);

[Collection("postgres")]
public sealed class PaymentFlowTests_Postgres(PostgresHub hub) : PaymentFlowTests(hub);
