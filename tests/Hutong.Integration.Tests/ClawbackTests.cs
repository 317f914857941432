using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Hutong.Domain;
using Hutong.Domain.Ledger;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Server.Features.Ledger;

namespace Hutong.Integration.Tests;

/// <summary>
/// Split clawbacks recovered (issue 16): a refund after a WeChat personal receiver was paid records what it owes; the next
/// split share to it is sent less (seen at the sandbox's profit-sharing order), a payout to the same openid is netted (seen
/// at the sandbox's transfer bill), the merchant can settle or write one off by hand, and two splits at once never net the
/// same clawback twice — with the ledger balanced and its chain verified after each.
/// </summary>
public abstract class ClawbackTests(HubFixture hub)
{
    private static string OpenId() => "oHost" + Guid.NewGuid().ToString("N")[..20];

    private static async Task<string> PersonAsync(ApiClient m, string openId)
    {
        var r = await m.PostAsync("/v1/split_receivers", new { wallet = "wechatpay", role = "host", type = "personal", account = openId, name = "王小明" });
        Assert.True(r.Status == HttpStatusCode.Created, r.ToString());
        return r.Str("id");
    }

    protected async Task<string> PaidAsync(ApiClient m, long amount, object profitSharing)
    {
        var r = await m.PostAsync("/v1/payments", new
        {
            amount, currency = "CNY", description = "直播间商品", merchant_order_id = "cb-" + Guid.NewGuid().ToString("N")[..12], profit_sharing = profitSharing,
        });
        Assert.True(r.Status == HttpStatusCode.Created, r.ToString());
        var id = r.Str("id");
        var code = (await m.ConfirmAsync(id)).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        await hub.BuyerPaysAsync(code);
        await m.WaitForStatusAsync(id, "succeeded");
        return id;
    }

    protected Task<JsonElement> SplitOfAsync(ApiClient m, string paymentId) =>
        hub.EventuallyAsync(() => m.GetAsync($"/v1/payments/{paymentId}/splits"),
            r => r.Json.GetProperty("data").EnumerateArray().Any(s => s.GetProperty("status").GetString() is "succeeded" or "failed"), what: "the split settles")
            .ContinueWith(t => t.Result.Json.GetProperty("data").EnumerateArray().Single());

    /// <summary>A paid split of 500 to the person, then half the payment refunded: it owes 250 back (a recorded clawback).</summary>
    protected async Task<(ApiClient M, string MerchantId, string Receiver, string OpenId)> OwingAsync()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var openId = OpenId();
        var host = await PersonAsync(m, openId);
        var id = await PaidAsync(m, 10_000, new { splits = new[] { new { receiver = host, amount = 500 } } });
        Assert.Equal("succeeded", (await SplitOfAsync(m, id)).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.Created, (await m.PostAsync($"/v1/payments/{id}/refunds", new { amount = 5_000 })).Status);
        await hub.EventuallyAsync(() => m.GetAsync($"/v1/split_receivers/{host}"), r => r.Json.GetProperty("clawback_outstanding").GetInt64() == 250,
            what: "the clawback is recorded");
        Assert.Equal(250, await BalanceAsync($"clawback_receivable:{host}"));
        Assert.Equal(1, await EventsAsync(merchantId, "split_receiver.clawback_due"));
        return (m, merchantId, host, openId);
    }

    protected Task<long> BalanceAsync(string account) =>
        hub.Db.ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT COALESCE(SUM(amount), 0) FROM ledger_lines WHERE account = @account", new { account }), default);

    protected Task<long> EventsAsync(string merchantId, string type) =>
        hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE type = @type AND merchant_id = @merchantId", new { type, merchantId });

    protected async Task LedgerHoldsAsync()
    {
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM (SELECT currency FROM ledger_lines GROUP BY currency HAVING SUM(amount) <> 0) x"));
        var verified = await hub.Service<LedgerStore>().VerifyAsync(null, default);
        Assert.True(verified.Ok, string.Join('\n', verified.Problems));
    }

    protected async Task<long> OutstandingAsync(ApiClient m, string receiver) => (await m.GetAsync($"/v1/split_receivers/{receiver}")).Json.GetProperty("clawback_outstanding").GetInt64();

    [Fact]
    public async Task The_next_split_to_a_receiver_that_owes_a_clawback_sends_less_and_the_ledger_closes_it()
    {
        var (m, merchantId, host, openId) = await OwingAsync();
        var owing = await m.GetAsync("/v1/split_receivers?clawback=outstanding");
        Assert.Equal([host], owing.Json.GetProperty("data").EnumerateArray().Select(r => r.GetProperty("id").GetString()));
        Assert.Equal(HttpStatusCode.BadRequest, (await m.GetAsync("/v1/split_receivers?clawback=yes")).Status);
        var payableBefore = await BalanceAsync($"merchant_payable:{merchantId}");

        // The next payment's rules give the person 500 again: it is sent 250, the other 250 settles what it owes.
        var next = await PaidAsync(m, 10_000, new { splits = new[] { new { receiver = host, amount = 500 } } });
        var split = await SplitOfAsync(m, next);
        Assert.Equal("succeeded", split.GetProperty("status").GetString());
        var line = split.GetProperty("receivers").EnumerateArray().Single();
        Assert.Equal((500L, 250L, "succeeded"), (line.GetProperty("amount").GetInt64(), line.GetProperty("clawback_offset").GetInt64(), line.GetProperty("result").GetString()));
        var atWallet = hub.Sandbox.WeChat.Orders.Values.Single(o => o.Attach == next).Splits.Values.Single();
        Assert.Equal([(openId, 250L)], atWallet.Receivers.Select(r => (r.Account, r.Amount)));

        Assert.Equal(0, await OutstandingAsync(m, host));
        Assert.Empty((await m.GetAsync("/v1/split_receivers?clawback=outstanding")).Json.GetProperty("data").EnumerateArray());
        Assert.Equal(0, await BalanceAsync($"clawback_receivable:{host}"));
        Assert.Equal(0, await BalanceAsync($"clawback_claims:{merchantId}"));
        // The merchant kept the 250: captured 99.40 net of the fee, 2.50 split out.
        Assert.Equal(payableBefore - (10_000 - 60 - 250), await BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(1, await EventsAsync(merchantId, "split_receiver.clawback_offset"));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'clawback_offset' AND merchant_id = @merchantId", new { merchantId }));

        // Nothing owed any more: the split after that sends the whole share.
        var third = await PaidAsync(m, 10_000, new { splits = new[] { new { receiver = host, amount = 500 } } });
        Assert.Equal(0, (await SplitOfAsync(m, third)).GetProperty("receivers").EnumerateArray().Single().GetProperty("clawback_offset").GetInt64());
        Assert.Equal(500, hub.Sandbox.WeChat.Orders.Values.Single(o => o.Attach == third).Splits.Values.Single().Receivers.Single().Amount);
        await LedgerHoldsAsync();
    }

    [Fact]
    public async Task A_payout_to_the_same_openid_is_netted_and_a_declined_one_gives_the_clawback_back()
    {
        var (m, merchantId, host, openId) = await OwingAsync();
        await hub.Db.WriteAsync((c, t) => hub.Service<LedgerStore>().AppendAsync(c, t, "payment_captured", Ids.New("pay"), merchantId,
            Postings.Captured("wechatpay", merchantId, new Money(100_000, Currency.Cny)), DateTimeOffset.UtcNow), default);
        object Payout(long amount) => new { amount, currency = "CNY", wallet = "wechatpay", payee = new { type = "WECHAT_OPENID", identity = openId }, description = "12月佣金" };

        // Declined by the payee: the payout fails and the 250 it netted is owed again (nothing closed in the ledger).
        var first = await m.PostAsync("/v1/payouts", Payout(1_000), idempotencyKey: "cbpo-" + Guid.NewGuid());
        Assert.Equal(HttpStatusCode.Created, first.Status);
        Assert.Equal((750L, 250L, host), (first.Json.GetProperty("amount").GetInt64(), first.Json.GetProperty("clawback_offset").GetInt64(), first.Str("clawback_receiver")));
        Assert.Equal(0, await OutstandingAsync(m, host));
        var package = await PackageAsync(m, first.Str("id"));
        Assert.Equal(750, BillOf(first.Str("id")).Amount);
        await PayeeAsync(package, "decline");
        await hub.EventuallyAsync(() => m.GetAsync($"/v1/payouts/{first.Str("id")}"), r => r.Str("status") == "failed", what: "the declined payout fails");
        Assert.Equal(250, await OutstandingAsync(m, host));
        Assert.Equal(250, await BalanceAsync($"clawback_receivable:{host}"));
        Assert.Equal(0, await EventsAsync(merchantId, "split_receiver.clawback_offset"));

        // Accepted: the payee gets 7.50 of the 10.00 and owes nothing.
        var second = await m.PostAsync("/v1/payouts", Payout(1_000), idempotencyKey: "cbpo-" + Guid.NewGuid());
        Assert.Equal(750, second.Json.GetProperty("amount").GetInt64());
        await PayeeAsync(await PackageAsync(m, second.Str("id")), "confirm");
        await hub.EventuallyAsync(() => m.GetAsync($"/v1/payouts/{second.Str("id")}"), r => r.Str("status") == "succeeded", what: "the payout succeeds");
        Assert.Equal(750, BillOf(second.Str("id")).Amount);
        Assert.Equal(0, await OutstandingAsync(m, host));
        Assert.Equal(0, await BalanceAsync($"clawback_receivable:{host}"));
        Assert.Equal(0, await BalanceAsync($"clawback_claims:{merchantId}"));
        Assert.Equal(1, await EventsAsync(merchantId, "split_receiver.clawback_offset"));

        // A payout to someone else is not touched, nor one to the same person once nothing is owed.
        var third = await m.PostAsync("/v1/payouts", Payout(1_000), idempotencyKey: "cbpo-" + Guid.NewGuid());
        Assert.Equal((1_000L, 0L), (third.Json.GetProperty("amount").GetInt64(), third.Json.GetProperty("clawback_offset").GetInt64()));
        await LedgerHoldsAsync();
    }

    [Fact]
    public async Task A_clawback_is_settled_or_written_off_by_hand_idempotently_never_beyond_what_is_owed()
    {
        var (m, merchantId, host, _) = await OwingAsync();

        var tooMuch = await m.PostAsync($"/v1/split_receivers/{host}/clawbacks/settle", new { amount = 251 });
        Assert.Equal((HttpStatusCode.UnprocessableEntity, "clawback_amount_exceeds_outstanding"), (tooMuch.Status, tooMuch.Str("code")));
        Assert.Equal(HttpStatusCode.BadRequest, (await m.PostAsync($"/v1/split_receivers/{host}/clawbacks/settle", new { amount = 0 })).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await m.PostAsync($"/v1/split_receivers/{host}/clawbacks/settle", new { amount = 10, note = "x‮y" })).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await m.PostAsync($"/v1/split_receivers/{host}/clawbacks/settle", new { amount = 10 }, idempotencyKey: null)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await m.PostAsync("/v1/split_receivers/rcv_nope/clawbacks/write_off", new { amount = 10 })).Status);
        var (other, _, _) = await hub.NewMerchantAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await other.PostAsync($"/v1/split_receivers/{host}/clawbacks/write_off", new { amount = 10 })).Status);
        Assert.Equal(250, await OutstandingAsync(m, host));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM ledger_entries WHERE kind LIKE 'clawback_%' AND merchant_id = @merchantId", new { merchantId }));

        var key = "cbs-" + Guid.NewGuid();
        var settled = await m.PostAsync($"/v1/split_receivers/{host}/clawbacks/settle", new { amount = 100, note = "repaid by bank transfer" }, idempotencyKey: key);
        Assert.Equal(HttpStatusCode.OK, settled.Status);
        Assert.Equal(150, settled.Json.GetProperty("clawback_outstanding").GetInt64());
        var again = await m.PostAsync($"/v1/split_receivers/{host}/clawbacks/settle", new { amount = 100, note = "repaid by bank transfer" }, idempotencyKey: key);
        Assert.Equal((HttpStatusCode.OK, 150L), (again.Status, again.Json.GetProperty("clawback_outstanding").GetInt64()));
        Assert.Equal(150, await OutstandingAsync(m, host));

        var written = await m.PostAsync($"/v1/split_receivers/{host}/clawbacks/write_off", new { amount = 150 });
        Assert.Equal((HttpStatusCode.OK, 0L), (written.Status, written.Json.GetProperty("clawback_outstanding").GetInt64()));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await m.PostAsync($"/v1/split_receivers/{host}/clawbacks/write_off", new { amount = 1 })).Status);

        Assert.Equal(0, await BalanceAsync($"clawback_receivable:{host}"));
        Assert.Equal(0, await BalanceAsync($"clawback_claims:{merchantId}"));
        Assert.Equal((1L, 1L), (await EventsAsync(merchantId, "split_receiver.clawback_settled"), await EventsAsync(merchantId, "split_receiver.clawback_written_off")));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'clawback_settled' AND merchant_id = @merchantId", new { merchantId }));
        await LedgerHoldsAsync();
    }

    [Fact]
    public async Task Splits_at_once_never_net_the_same_clawback_twice()
    {
        var (m, merchantId, host, openId) = await OwingAsync();
        var payments = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            payments.Add(await PaidAsync(m, 10_000, new { }));
        }

        await Task.Delay(300); // past the split delay (200 ms here)

        // Four splits of 1.00 each at once, against 2.50 owed: together they net exactly 2.50 (each keeps the wallet's 1 fen).
        var made = await Task.WhenAll(payments.Select(p => m.PostAsync($"/v1/payments/{p}/splits", new { splits = new[] { new { receiver = host, amount = 100 } }, final = true })));
        Assert.All(made, r => Assert.Equal(HttpStatusCode.Created, r.Status));
        var offsets = made.Select(r => r.Json.GetProperty("receivers").EnumerateArray().Single().GetProperty("clawback_offset").GetInt64()).Order().ToArray();
        Assert.Equal([0L, 52L, 99L, 99L], offsets);

        foreach (var p in payments)
        {
            Assert.Equal("succeeded", (await SplitOfAsync(m, p)).GetProperty("status").GetString());
        }

        var sent = payments.Select(p => hub.Sandbox.WeChat.Orders.Values.Single(o => o.Attach == p).Splits.Values.Single().Receivers.Single())
            .Select(r => (r.Account, r.Amount)).Order().ToArray();
        Assert.Equal([(openId, 1L), (openId, 1L), (openId, 48L), (openId, 100L)], sent);
        Assert.Equal(0, await OutstandingAsync(m, host));
        Assert.Equal(0, await BalanceAsync($"clawback_receivable:{host}"));
        Assert.Equal(3, await hub.CountAsync("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'clawback_offset' AND merchant_id = @merchantId", new { merchantId }));
        await LedgerHoldsAsync();
    }

    [Fact]
    public async Task A_netted_split_reconciles_with_the_profit_sharing_bill_at_what_the_wallet_paid()
    {
        // A WeChat Pay merchant of its own, so its bills hold exactly this test's orders (as ProfitSharingBillTests).
        var channel = "wx-cbr-" + Guid.NewGuid().ToString("N")[..8];
        var mchId = "16" + Random.Shared.Next(10_000_000, 99_999_999);
        var config = await Hutong.Demo.SandboxWiring.RegisterWeChatMerchantAsync(hub.Sandbox.BaseUrl, mchId);
        Assert.Equal(HttpStatusCode.Created, (await hub.Admin().PostAsync("/admin/channels", new { id = channel, wallet = "wechatpay", mode = "direct", config })).Status);
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        Assert.Equal(HttpStatusCode.OK, (await hub.Admin().PostAsync($"/admin/merchants/{merchantId}/routes/wechatpay", new { rules = new[] { new { channel } } })).Status);
        var openId = OpenId();
        var host = await PersonAsync(m, openId);

        // Paid 5.00, half refunded: the person owes 2.50; the next split of 5.00 sends it 2.50.
        var first = await PaidAsync(m, 10_000, new { splits = new[] { new { receiver = host, amount = 500 } } });
        Assert.Equal("succeeded", (await SplitOfAsync(m, first)).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.Created, (await m.PostAsync($"/v1/payments/{first}/refunds", new { amount = 5_000 })).Status);
        await hub.EventuallyAsync(() => m.GetAsync($"/v1/split_receivers/{host}"), r => r.Json.GetProperty("clawback_outstanding").GetInt64() == 250, what: "the clawback");
        var next = await PaidAsync(m, 10_000, new { splits = new[] { new { receiver = host, amount = 500 } } });
        var line = (await SplitOfAsync(m, next)).GetProperty("receivers").EnumerateArray().Single();
        Assert.Equal((500L, 250L, "succeeded"), (line.GetProperty("amount").GetInt64(), line.GetProperty("clawback_offset").GetInt64(), line.GetProperty("result").GetString()));
        var outOrderNo = hub.Sandbox.WeChat.Orders.Values.Single(o => o.Attach == next).Splits.Keys.Single();

        // The bill has the 2.50 the wallet paid: the hub matches it with what it sent, not the 5.00 share before netting.
        var today = DateOnly.FromDateTime(DateTimeOffset.UtcNow.ToOffset(TimeSpan.FromHours(8)).DateTime);
        var report = Assert.Single((await hub.Service<Hutong.Server.Features.Reconciliation.ReconciliationService>().RunAsync(today, null, default)).Channels, c => c.Channel == channel);
        Assert.Equal("completed", report.Status);
        Assert.DoesNotContain(report.Discrepancies, d => d.OutTradeNo == outOrderNo);
        Assert.Empty(report.Discrepancies);
        await LedgerHoldsAsync();
    }

    protected async Task<string> PackageAsync(ApiClient m, string payoutId) =>
        (await hub.EventuallyAsync(() => m.GetAsync($"/v1/payouts/{payoutId}"), r => r.Str("status") == "awaiting_confirmation", what: "the payout waits for the payee"))
        .Json.GetProperty("next_action").GetProperty("wechat").GetProperty("package_info").GetString()!;

    private Hutong.Sandbox.WeChatPay.SandboxTransferBill BillOf(string payoutId)
    {
        var outBillNo = hub.Db.ReadAsync(c => c.ExecuteScalarAsync<string>("SELECT out_biz_no FROM payouts WHERE id = @payoutId", new { payoutId }), default).GetAwaiter().GetResult()!;
        return hub.Sandbox.WeChat.TransferBills[(hub.WeChat.MchId, outBillNo)];
    }

    protected async Task PayeeAsync(string packageInfo, string action)
    {
        using var http = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
        Assert.True((await http.PostAsJsonAsync("/sandbox/wechatpay/buyer/transfer", new { package_info = packageInfo, action }, SandboxJson.Options)).IsSuccessStatusCode);
    }
}

[Collection("sqlite")]
public sealed class ClawbackTests_Sqlite(SqliteHub hub) : ClawbackTests(hub);

[Collection("postgres")]
public sealed class ClawbackTests_Postgres(PostgresHub hub) : ClawbackTests(hub)
{
    [Fact]
    public async Task Two_hubs_netting_splits_and_payouts_at_once_take_the_clawback_exactly_once()
    {
        await using var other = await hub.StartAnotherHubAsync();
        using var httpB = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(other.BaseUrl) };
        var (m, merchantId, host, openId) = await OwingAsync();
        var onB = new ApiClient(httpB, m.Key);
        await hub.Db.WriteAsync((c, t) => hub.Service<LedgerStore>().AppendAsync(c, t, "payment_captured", Ids.New("pay"), merchantId,
            Postings.Captured("wechatpay", merchantId, new Money(100_000, Currency.Cny)), DateTimeOffset.UtcNow), default);
        var p1 = await PaidAsync(m, 10_000, new { });
        var p2 = await PaidAsync(m, 10_000, new { });
        await Task.Delay(300); // past the split delay (200 ms here)

        object Split() => new { splits = new[] { new { receiver = host, amount = 100 } }, final = true };
        object Payout() => new { amount = 200, currency = "CNY", wallet = "wechatpay", payee = new { type = "WECHAT_OPENID", identity = openId }, description = "佣金" };
        // Both hubs, each a split and a payout to the same person, at once: 2.50 owed, up to 0.99 + 0.99 + 1.90 + 1.90 could be netted.
        var answers = await Task.WhenAll(
            m.PostAsync($"/v1/payments/{p1}/splits", Split()), onB.PostAsync($"/v1/payments/{p2}/splits", Split()),
            m.PostAsync("/v1/payouts", Payout(), idempotencyKey: "cb2-" + Guid.NewGuid()), onB.PostAsync("/v1/payouts", Payout(), idempotencyKey: "cb2-" + Guid.NewGuid()));
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.Created, a.Status));
        var offsets = answers.Take(2).Select(a => a.Json.GetProperty("receivers").EnumerateArray().Single().GetProperty("clawback_offset").GetInt64())
            .Concat(answers.Skip(2).Select(a => a.Json.GetProperty("clawback_offset").GetInt64())).ToList();
        Assert.Equal(250, offsets.Sum());
        Assert.Equal(0, await OutstandingAsync(m, host));

        foreach (var payout in answers.Skip(2))
        {
            await PayeeAsync(await PackageAsync(m, payout.Str("id")), "confirm");
            await hub.EventuallyAsync(() => m.GetAsync($"/v1/payouts/{payout.Str("id")}"), r => r.Str("status") == "succeeded", what: "the payout succeeds");
        }

        foreach (var p in new[] { p1, p2 })
        {
            Assert.Equal("succeeded", (await SplitOfAsync(m, p)).GetProperty("status").GetString());
        }

        Assert.Equal(0, await BalanceAsync($"clawback_receivable:{host}"));
        Assert.Equal(0, await BalanceAsync($"clawback_claims:{merchantId}"));
        Assert.Equal(offsets.Count(o => o > 0), await hub.CountAsync("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'clawback_offset' AND merchant_id = @merchantId", new { merchantId }));
        await LedgerHoldsAsync();
    }
}
