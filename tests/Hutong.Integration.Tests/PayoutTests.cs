using System.Net;
using Dapper;
using Hutong.Domain;
using Hutong.Domain.Ledger;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Server.Features.Ledger;

namespace Hutong.Integration.Tests;

/// <summary>
/// POST /v1/payouts to Alipay (alipay.fund.trans.uni.transfer at the sandbox): checked against the ledger's available
/// balance and the limits before any wallet call, reserved on creation, sent once, settled or given back — ledger verified.
/// </summary>
public abstract class PayoutTests(HubFixture hub)
{
    private const string Payee = "2088102146225135";

    /// <summary>A merchant whose ledger says it is owed <paramref name="fen"/> (a capture posted directly: the payout only reads the balance).</summary>
    private async Task<(ApiClient M, string MerchantId)> FundedAsync(long fen)
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        await hub.Db.WriteAsync((c, t) => hub.Service<LedgerStore>().AppendAsync(c, t, "payment_captured", Ids.New("pay"), merchantId,
            Postings.Captured("alipay", merchantId, new Money(fen, Currency.Parse("CNY"))), DateTimeOffset.UtcNow), default);
        return (m, merchantId);
    }

    private static object Body(long amount, string identity = Payee, string type = "ALIPAY_USER_ID", string? name = null) => new
    {
        amount,
        currency = "CNY",
        wallet = "alipay",
        payee = new { type, identity, name },
        description = "佣金结算",
        metadata = new Dictionary<string, string> { ["batch"] = "2026-12" },
    };

    private Task<ApiResponse> SettledAsync(ApiClient m, string id) =>
        hub.EventuallyAsync(() => m.GetAsync($"/v1/payouts/{id}"), r => r.Str("status") is "succeeded" or "failed", what: $"payout {id} settles");

    private Task<string> OutBizNoAsync(string id) =>
        hub.Db.ReadAsync(c => c.ExecuteScalarAsync<string>("SELECT out_biz_no FROM payouts WHERE id = @id", new { id }), default)!;

    private int Calls(string method, string outBizNo) => hub.Sandbox.Alipay.TransferCalls.Count(x => x.Method == method && x.OutBizNo == outBizNo);

    [Fact]
    public async Task A_payout_within_the_balance_reaches_the_payee_once_and_the_ledger_follows()
    {
        var (m, merchantId) = await FundedAsync(100_000);
        var created = await m.PostAsync("/v1/payouts", Body(20_000), idempotencyKey: "po-" + Guid.NewGuid());
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var id = created.Str("id");
        Assert.StartsWith("po_", id);
        // Reserved with the payout: no longer available, whether or not it has gone yet.
        Assert.Equal(-80_000, await hub.BalanceAsync($"merchant_payable:{merchantId}"));

        var done = await SettledAsync(m, id);
        Assert.Equal("succeeded", done.Str("status"));
        Assert.False(string.IsNullOrEmpty(done.Str("wallet_order_id")));
        var outBizNo = await OutBizNoAsync(id);
        var transfer = hub.Sandbox.Alipay.Transfers.Values.Single(t => t.OutBizNo == outBizNo);
        Assert.Equal(20_000, transfer.AmountFen);
        Assert.Equal(Payee, transfer.Identity);
        Assert.Equal(id, transfer.PassbackParams);
        Assert.Equal(1, Calls("alipay.fund.trans.uni.transfer", outBizNo));

        Assert.Equal(-80_000, await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(0, await hub.BalanceAsync(PayoutPostingsReserve(merchantId)));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE type = 'payout.created' AND merchant_id = @merchantId", new { merchantId }));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE type = 'payout.succeeded' AND merchant_id = @merchantId", new { merchantId }));
        var list = await m.GetAsync("/v1/payouts?limit=1");
        Assert.Equal(id, list.Json.GetProperty("data")[0].GetProperty("id").GetString());
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task A_payout_past_a_limit_or_the_balance_is_refused_before_the_wallet_and_changes_nothing()
    {
        var (m, merchantId) = await FundedAsync(10_000_000);
        var calls = hub.Sandbox.Alipay.TransferCalls.Count;

        var tooBig = await m.PostAsync("/v1/payouts", Body(5_000_001), idempotencyKey: "po-" + Guid.NewGuid()); // Payouts:MaxPerPayout ¥50,000
        Assert.Equal(HttpStatusCode.UnprocessableEntity, tooBig.Status);
        Assert.Equal("payout_limit_exceeded", tooBig.Str("code"));

        Assert.Equal(HttpStatusCode.Created, (await m.PostAsync("/v1/payouts", Body(3_000_000), idempotencyKey: "po-" + Guid.NewGuid())).Status);
        var payeeDay = await m.PostAsync("/v1/payouts", Body(2_000_001), idempotencyKey: "po-" + Guid.NewGuid()); // MaxPerPayeeDaily ¥50,000
        Assert.Equal("payout_payee_daily_limit_exceeded", payeeDay.Str("code"));
        // The same payee spelt another way: a trailing newline, a zero-width or a leading space is refused.
        foreach (var variant in new[] { Payee + "\n", Payee + "\u200b", " " + Payee })
        {
            var spelt = await m.PostAsync("/v1/payouts", Body(2_000_001, identity: variant), idempotencyKey: "po-" + Guid.NewGuid());
            Assert.True(spelt.Status == HttpStatusCode.BadRequest && spelt.Body.Contains("payee.identity", StringComparison.Ordinal), spelt.ToString());
        }

        foreach (var text in new[] { new { name = "张\u202e三", description = "佣金" }, new { name = "张三", description = "佣金\r\n伪造" }, new { name = "张三", description = "佣\u0000金" } })
        {
            var bad = await m.PostAsync("/v1/payouts", new { amount = 100, wallet = "alipay", payee = new { type = "ALIPAY_USER_ID", identity = Payee, name = text.name }, description = text.description },
                idempotencyKey: "po-" + Guid.NewGuid());
            Assert.True(bad.Status == HttpStatusCode.BadRequest, bad.ToString());
        }

        var (poor, poorId) = await FundedAsync(1_000);
        var key = "po-" + Guid.NewGuid();
        var broke = await poor.PostAsync("/v1/payouts", Body(1_001), idempotencyKey: key);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, broke.Status);
        Assert.Equal("insufficient_balance", broke.Str("code"));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM payouts WHERE merchant_id = @poorId", new { poorId }));
        Assert.Equal(-1_000, await hub.BalanceAsync($"merchant_payable:{poorId}"));
        // A refusal is not the key's answer: with the money there, the same key goes through.
        Assert.Equal(HttpStatusCode.Created, (await poor.PostAsync("/v1/payouts", Body(1_000), idempotencyKey: key)).Status);

        var missingKey = await m.PostAsync("/v1/payouts", Body(100), idempotencyKey: null);
        Assert.Equal(HttpStatusCode.BadRequest, missingKey.Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await m.PostAsync("/v1/payouts", Body(100, identity: "12345"), idempotencyKey: "po-" + Guid.NewGuid())).Status);
        var belowAlipayMinimum = await m.PostAsync("/v1/payouts", Body(9), idempotencyKey: "po-" + Guid.NewGuid()); // Alipay transfers start at ¥0.10
        Assert.True(belowAlipayMinimum.Status == HttpStatusCode.BadRequest && belowAlipayMinimum.Body.Contains("\"amount\"", StringComparison.Ordinal), belowAlipayMinimum.ToString());

        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM payouts WHERE status = 'succeeded' AND merchant_id IN (@merchantId, @poorId)", new { merchantId, poorId }),
            n => n == 2, what: "the two admitted payouts settle");
        // Only the two admitted payouts reached the wallet: every refusal was decided before any call.
        Assert.Equal(2, hub.Sandbox.Alipay.TransferCalls.Skip(calls).Count(x => x.Method == "alipay.fund.trans.uni.transfer"));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM payouts WHERE merchant_id = @merchantId", new { merchantId }));
        Assert.Equal(-7_000_000, await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        await hub.LedgerVerifiesAsync();

        // An e-mail logon id in another case is the same payee, under the same daily limit (another merchant, so the
        // counts above stay this test's).
        var (e, _) = await FundedAsync(10_000_000);
        Assert.Equal(HttpStatusCode.Created, (await e.PostAsync("/v1/payouts", Body(3_000_000, identity: "dup@example.com", type: "ALIPAY_LOGON_ID", name: "张三"), idempotencyKey: "po-" + Guid.NewGuid())).Status);
        var otherCase = await e.PostAsync("/v1/payouts", Body(2_000_001, identity: "Dup@Example.com", type: "ALIPAY_LOGON_ID", name: "张三"), idempotencyKey: "po-" + Guid.NewGuid());
        Assert.Equal("payout_payee_daily_limit_exceeded", otherCase.Str("code"));
    }

    [Fact]
    public async Task The_same_Idempotency_Key_is_the_same_payout_and_its_out_biz_no_reaches_the_wallet_once()
    {
        var (m, merchantId) = await FundedAsync(50_000);
        var key = "po-" + Guid.NewGuid();
        var first = await m.PostAsync("/v1/payouts", Body(10_000), idempotencyKey: key);
        var again = await m.PostAsync("/v1/payouts", Body(10_000), idempotencyKey: key);
        Assert.Equal(HttpStatusCode.Created, first.Status);
        Assert.Equal(first.Str("id"), again.Str("id"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await m.PostAsync("/v1/payouts", Body(10_001), idempotencyKey: key)).Status); // same key, other body
        var id = first.Str("id");
        await SettledAsync(m, id);
        // More passes of the job find nothing to send again.
        await hub.Service<Hutong.Server.Features.Payouts.PayoutService>().RunDueAsync(default);
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM payouts WHERE merchant_id = @merchantId", new { merchantId }));
        Assert.Equal(1, Calls("alipay.fund.trans.uni.transfer", await OutBizNoAsync(id)));
        Assert.Equal(-40_000, await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task A_transfer_whose_answer_was_lost_is_queried_and_settled_never_sent_twice()
    {
        var (m, merchantId) = await FundedAsync(50_000);
        // The transfer is made, then the answer never comes (the hub's call times out): UNKNOWN, resolved by query.
        hub.Sandbox.Alipay.Faults.Inject("transfer", SandboxFault.TimeoutAfter, 1);
        var created = await m.PostAsync("/v1/payouts", Body(12_345), idempotencyKey: "po-" + Guid.NewGuid());
        var id = created.Str("id");
        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM payouts WHERE id = @id AND status = 'unknown'", new { id }), n => n == 1, what: "the payout is unknown");
        var done = await SettledAsync(m, id);
        Assert.Equal("succeeded", done.Str("status"));
        var outBizNo = await OutBizNoAsync(id);
        Assert.Equal(1, Calls("alipay.fund.trans.uni.transfer", outBizNo));
        Assert.True(Calls("alipay.fund.trans.common.query", outBizNo) >= 1);
        Assert.Equal(-(50_000 - 12_345), await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(0, await hub.BalanceAsync(PayoutPostingsReserve(merchantId)));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE type = 'payout.succeeded' AND merchant_id = @merchantId", new { merchantId }));
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task A_payee_that_does_not_exist_fails_the_payout_and_gives_the_reservation_back()
    {
        var (m, merchantId) = await FundedAsync(30_000);
        var created = await m.PostAsync("/v1/payouts", Body(25_000, identity: "2088000000000404"), idempotencyKey: "po-" + Guid.NewGuid());
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var done = await SettledAsync(m, created.Str("id"));
        Assert.Equal("failed", done.Str("status"));
        Assert.Equal("PAYEE_NOT_EXIST", done.Json.GetProperty("failure").GetProperty("code").GetString());
        Assert.Equal(-30_000, await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(0, await hub.BalanceAsync(PayoutPostingsReserve(merchantId)));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE type = 'payout.failed' AND merchant_id = @merchantId", new { merchantId }));
        // The money is back: the whole balance can go out now.
        var next = await m.PostAsync("/v1/payouts", Body(30_000), idempotencyKey: "po-" + Guid.NewGuid());
        Assert.Equal(HttpStatusCode.Created, next.Status);
        Assert.Equal("succeeded", (await SettledAsync(m, next.Str("id"))).Str("status"));
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task A_transfer_the_wallet_never_got_is_found_missing_by_query_and_sent_under_the_same_out_biz_no()
    {
        var (m, merchantId) = await FundedAsync(20_000);
        // The call hangs before Alipay does anything: UNKNOWN; the query finds no such transfer (ORDER_NOT_EXIST), so it is sent.
        hub.Sandbox.Alipay.Faults.Inject("transfer", SandboxFault.TimeoutBefore, 1);
        var id = (await m.PostAsync("/v1/payouts", Body(5_000), idempotencyKey: "po-" + Guid.NewGuid())).Str("id");
        Assert.Equal("succeeded", (await SettledAsync(m, id)).Str("status"));
        var outBizNo = await OutBizNoAsync(id);
        Assert.True(Calls("alipay.fund.trans.common.query", outBizNo) >= 1);
        Assert.Equal(1, Calls("alipay.fund.trans.uni.transfer", outBizNo)); // the hung call never reached the gateway's handler
        Assert.Single(hub.Sandbox.Alipay.Transfers.Values, t => t.OutBizNo == outBizNo);
        Assert.Equal(-15_000, await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task A_wallet_balance_too_low_fails_the_payout_and_gives_the_reservation_back()
    {
        var (m, merchantId) = await FundedAsync(40_000);
        var appId = hub.Alipay.AppId;
        var before = hub.Sandbox.Alipay.TransferBalanceFen.GetOrAdd(appId, Hutong.Sandbox.Alipay.AlipaySandboxState.DefaultTransferBalanceFen);
        hub.Sandbox.Alipay.TransferBalanceFen[appId] = 100; // the ledger says 400.00, the Alipay account holds 1.00
        try
        {
            var id = (await m.PostAsync("/v1/payouts", Body(40_000), idempotencyKey: "po-" + Guid.NewGuid())).Str("id");
            var done = await SettledAsync(m, id);
            Assert.Equal("failed", done.Str("status"));
            Assert.Equal("BALANCE_IS_NOT_ENOUGH", done.Json.GetProperty("failure").GetProperty("code").GetString());
        }
        finally
        {
            hub.Sandbox.Alipay.TransferBalanceFen[appId] = before;
        }

        Assert.Equal(-40_000, await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(0, await hub.BalanceAsync(PayoutPostingsReserve(merchantId)));
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task Payouts_sent_at_once_never_take_more_than_the_balance()
    {
        var (m, merchantId) = await FundedAsync(10_000);
        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            m.PostAsync("/v1/payouts", Body(3_000, identity: $"20881021462251{i:00}"), idempotencyKey: "po-" + Guid.NewGuid())));
        Assert.Equal(3, answers.Count(a => a.Status == HttpStatusCode.Created));
        Assert.All(answers.Where(a => a.Status != HttpStatusCode.Created), a => Assert.Equal("insufficient_balance", a.Str("code")));
        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM payouts WHERE merchant_id = @merchantId AND status = 'succeeded'", new { merchantId }),
            n => n == 3, what: "the three admitted payouts settle");
        Assert.Equal(-1_000, await hub.BalanceAsync($"merchant_payable:{merchantId}"));
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task Alipay_s_own_npm_SDK_transfers_and_queries_at_the_sandbox_and_reads_a_refused_payee()
    {
        // An independent client (alipay-sdk, verifying every answer's signature itself) against the sandbox's fund.trans
        // methods: what the connector was written for is what Alipay's own SDK sends and accepts.
        await E2eModules.EnsureInstalledAsync();
        var outBizNo = "interop" + Guid.NewGuid().ToString("N")[..16];
        var psi = new System.Diagnostics.ProcessStartInfo("node", "alipay-transfer-interop.mjs")
        {
            WorkingDirectory = E2eModules.Dir, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        psi.Environment["TZ"] = "Asia/Shanghai"; // the SDK's timestamp is local time; Alipay reads it as China time
        psi.Environment["ALI_SANDBOX"] = hub.Sandbox.BaseUrl.TrimEnd('/');
        psi.Environment["ALI_APPID"] = hub.Alipay.AppId;
        psi.Environment["ALI_PRIVATE_KEY"] = hub.Alipay.AppPrivateKeyPem;
        psi.Environment["ALI_PUBLIC_KEY"] = hub.Alipay.AlipayPublicKeyPem;
        psi.Environment["ALI_OUT_BIZ_NO"] = outBizNo;
        var (exitCode, stdout, stderr) = await E2eModules.RunNodeAsync(psi);
        Assert.True(exitCode == 0, stderr);
        var r = System.Text.Json.JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;
        Assert.False(r.TryGetProperty("error", out var error), error.ToString());
        Assert.Equal(("10000", "SUCCESS", outBizNo), (r.GetProperty("transfer").GetProperty("code").GetString(),
            r.GetProperty("transfer").GetProperty("status").GetString(), r.GetProperty("transfer").GetProperty("out_biz_no").GetString()));
        Assert.Equal(("10000", "SUCCESS", "1.23"), (r.GetProperty("query").GetProperty("code").GetString(),
            r.GetProperty("query").GetProperty("status").GetString(), r.GetProperty("query").GetProperty("trans_amount").GetString()));
        Assert.Equal(r.GetProperty("transfer").GetProperty("order_id").GetString(), r.GetProperty("query").GetProperty("order_id").GetString());
        Assert.Equal("PAYEE_NOT_EXIST", r.GetProperty("refused").GetProperty("sub_code").GetString());
        Assert.NotEqual("10000", r.GetProperty("refused").GetProperty("code").GetString());
    }

    private static string PayoutPostingsReserve(string merchantId) => Hutong.Domain.Payouts.PayoutPostings.Reserve(merchantId);
}

[Collection("sqlite")]
public sealed class PayoutTests_Sqlite(SqliteHub hub) : PayoutTests(hub);

[Collection("postgres")]
public sealed class PayoutTests_Postgres(PostgresHub hub) : PayoutTests(hub);
