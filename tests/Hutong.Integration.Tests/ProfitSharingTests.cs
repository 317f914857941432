using System.Net;
using Dapper;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server.Features.Ledger;

namespace Hutong.Integration.Tests;

/// <summary>
/// Profit sharing (分账) through the real sandboxes: receivers added at the wallet (WeChat names RSA-OAEP encrypted),
/// the payment's rules split after the wallet's delay, caps and limits refused before the wallet is called, and
/// shares coming back on refund — a WeChat return order from a merchant receiver, a clawback for a person, and
/// Alipay's refund_royalty_parameters — with the ledger balanced throughout.
/// </summary>
public abstract class ProfitSharingTests(HubFixture hub)
{
    private static string Account() => "19" + Random.Shared.NextInt64(10_000_000, 99_999_999);

    private static async Task<string> ReceiverAsync(ApiClient m, string wallet, string role, string type, string account, string? name)
    {
        var r = await m.PostAsync("/v1/split_receivers", new { wallet, role, type, account, name });
        Assert.True(r.Status == HttpStatusCode.Created, r.ToString());
        return r.Str("id");
    }

    private static async Task<string> SplitPaymentAsync(ApiClient m, long amount, object profitSharing)
    {
        var r = await m.PostAsync("/v1/payments", new
        {
            amount, currency = "CNY", description = "直播间商品", merchant_order_id = "ps-" + Guid.NewGuid().ToString("N")[..12], profit_sharing = profitSharing,
        });
        Assert.True(r.Status == HttpStatusCode.Created, r.ToString());
        return r.Str("id");
    }

    private async Task PayWeChatAsync(ApiClient m, string id)
    {
        var code = (await m.ConfirmAsync(id)).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        await hub.BuyerPaysAsync(code);
        await m.WaitForStatusAsync(id, "succeeded");
    }

    private Task<long> BalanceAsync(string account) =>
        hub.Db.ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT COALESCE(SUM(amount), 0) FROM ledger_lines WHERE account = @account", new { account }), default);

    private async Task LedgerHoldsAsync()
    {
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM (SELECT currency FROM ledger_lines GROUP BY currency HAVING SUM(amount) <> 0) x"));
        var verified = await hub.Service<LedgerStore>().VerifyAsync(null, default);
        Assert.True(verified.Ok, string.Join('\n', verified.Problems));
    }

    [Fact]
    public async Task WeChat_rules_split_after_payment_and_a_refund_takes_shares_back_by_return_order_and_clawback()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var platformMchId = Account();
        var platform = await ReceiverAsync(m, "wechatpay", "platform", "merchant", platformMchId, "互通平台科技有限公司");
        var host = await ReceiverAsync(m, "wechatpay", "host", "personal", "o-host-" + Guid.NewGuid().ToString("N")[..10], "王小明");
        var id = await SplitPaymentAsync(m, 10_000, new { splits = new object[] { new { receiver = platform, ratio_bps = 1_000 }, new { receiver = host, amount = 500 } } });
        await PayWeChatAsync(m, id);

        var order = hub.Sandbox.WeChat.Orders.Values.Single(o => o.Attach == id);
        Assert.True(order.ProfitSharing); // settle_info.profit_sharing=true went with the order

        var splits = await hub.EventuallyAsync(() => m.GetAsync($"/v1/payments/{id}/splits"),
            r => r.Json.GetProperty("data").EnumerateArray().Any(s => s.GetProperty("status").GetString() == "succeeded"), what: "the rules split");
        var split = splits.Json.GetProperty("data").EnumerateArray().Single();
        Assert.Equal("rules", split.GetProperty("initiated_by").GetString());
        // 10 % of the amount net of the 0.60 fee (99.40) is 9.94; the host gets a fixed 5.00.
        var lines = split.GetProperty("receivers").EnumerateArray().ToDictionary(l => l.GetProperty("receiver").GetString()!, l => l.GetProperty("amount").GetInt64());
        Assert.Equal(994, lines[platform]);
        Assert.Equal(500, lines[host]);

        var atWallet = order.Splits.Values.Single();
        Assert.Equal("FINISHED", atWallet.State);
        Assert.Equal([994L, 500L], atWallet.Receivers.OrderByDescending(r => r.Amount).Select(r => r.Amount));
        Assert.True(order.Unfrozen); // the rules' split is final: the rest was released to the merchant
        // The merchant receiver was added with its full name, which the sandbox could decrypt with the platform key.
        Assert.Equal("互通平台科技有限公司", hub.Sandbox.WeChat.SplitReceivers[(order.MchId, "MERCHANT_ID", platformMchId)]);
        // Names are sealed at rest (the hub has a master key here) and never come back through the API.
        var stored = await hub.Db.ReadAsync(c => c.QuerySingleAsync<string>("SELECT name FROM split_receivers WHERE id = @host", new { host }), default);
        Assert.DoesNotContain("王小明", stored, StringComparison.Ordinal);
        Assert.DoesNotContain("王小明", (await m.GetAsync("/v1/split_receivers")).ToString(), StringComparison.Ordinal);
        Assert.Equal(-(10_000 - 60 - 1_494), await BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE type = 'split.succeeded' AND merchant_id = @merchantId", new { merchantId }));

        // Half refunded: each receiver gives back half its share — the merchant receiver by a return order, the person by a recorded clawback.
        var refund = await m.PostAsync($"/v1/payments/{id}/refunds", new { amount = 5_000 });
        Assert.Equal(HttpStatusCode.Created, refund.Status);
        var returns = await hub.EventuallyAsync(() => m.GetAsync($"/v1/payments/{id}/splits"),
            r => r.Json.GetProperty("returns").EnumerateArray().Count(x => x.GetProperty("status").GetString() == "succeeded") == 2, what: "both returns settle");
        var byReceiver = returns.Json.GetProperty("returns").EnumerateArray().ToDictionary(x => x.GetProperty("receiver").GetString()!);
        Assert.Equal(("return_order", 497L), (byReceiver[platform].GetProperty("mode").GetString(), byReceiver[platform].GetProperty("amount").GetInt64()));
        Assert.Equal(("clawback", 250L), (byReceiver[host].GetProperty("mode").GetString(), byReceiver[host].GetProperty("amount").GetInt64()));
        Assert.Equal(497, order.SplitReturns.Values.Single().Amount);
        Assert.Equal(platformMchId, order.SplitReturns.Values.Single().ReturnMchId);

        // Payable: 99.40 captured net − 14.94 split − (50.00 − 0.30 fee back) refunded + 4.97 returned.
        Assert.Equal(-(9_940 - 1_494 - 4_970 + 497), await BalanceAsync($"merchant_payable:{merchantId}"));
        Assert.Equal(250, await BalanceAsync($"clawback_receivable:{host}"));
        Assert.Equal(-250, await BalanceAsync($"clawback_claims:{merchantId}"));
        await LedgerHoldsAsync();
    }

    [Fact]
    public async Task Caps_and_limits_are_refused_before_the_wallet_is_called()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var platform = await ReceiverAsync(m, "wechatpay", "platform", "merchant", Account(), "平台");
        var agency = await ReceiverAsync(m, "wechatpay", "agency", "merchant", Account(), "机构");

        // At creation: 40 % can never be split (30 % of the amount net of fee at most).
        var tooMuch = await m.PostAsync("/v1/payments", new
        {
            amount = 10_000, currency = "CNY", description = "x", merchant_order_id = "ps-" + Guid.NewGuid().ToString("N")[..12],
            profit_sharing = new { splits = new[] { new { receiver = platform, ratio_bps = 4_000 } } },
        });
        Assert.Equal(HttpStatusCode.BadRequest, tooMuch.Status);
        Assert.Contains("30%", tooMuch.ToString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, (await m.PostAsync("/v1/payments", new
        {
            amount = 10_000, currency = "CNY", description = "x", merchant_order_id = "ps-" + Guid.NewGuid().ToString("N")[..12],
            profit_sharing = new { splits = new[] { new { receiver = "rcv_nope", amount = 1 } } },
        })).Status);

        var id = await SplitPaymentAsync(m, 10_000, new { }); // held for splitting, split by API
        Assert.Equal(HttpStatusCode.BadRequest, (await m.ConfirmAsync(id, wallet: "unionpay")).Status); // UnionPay cannot split
        var cashier = await hub.Http.GetStringAsync((await m.GetAsync($"/v1/payments/{id}")).Str("checkout_url"));
        Assert.Contains("id=\"pay-wechatpay\"", cashier, StringComparison.Ordinal);
        Assert.DoesNotContain("id=\"pay-unionpay\"", cashier, StringComparison.Ordinal); // nor does the cashier offer it
        await PayWeChatAsync(m, id);
        await Task.Delay(300); // past the split delay (the wallet's 1 minute, 200 ms here); too early is a 409, see SplitPlannerTests
        var calls = hub.Sandbox.WeChat.ProfitSharingCalls.Count;

        // Cap: 30 % of 99.40 is 29.82.
        var over = await m.PostAsync($"/v1/payments/{id}/splits", new { splits = new[] { new { receiver = platform, amount = 2_000 }, new { receiver = agency, amount = 983 } } });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, over.Status);
        Assert.Equal("split_exceeds_cap", over.Str("code"));
        var many = await m.PostAsync($"/v1/payments/{id}/splits", new { splits = Enumerable.Range(0, 51).Select(i => new { receiver = platform + i, amount = 1 }).ToArray() });
        Assert.Equal(HttpStatusCode.BadRequest, many.Status); // unknown receivers: nothing is even planned
        Assert.Equal(HttpStatusCode.BadRequest, (await m.PostAsync($"/v1/payments/{id}/splits", new { splits = new[] { new { receiver = platform, amount = 5, ratio_bps = 5 } } })).Status);
        Assert.Equal(calls, hub.Sandbox.WeChat.ProfitSharingCalls.Count); // none of these reached the wallet

        // Within the cap, in two splits; the second is final; nothing more after it.
        var first = await m.PostAsync($"/v1/payments/{id}/splits", new { splits = new[] { new { receiver = platform, amount = 2_000 } } }, idempotencyKey: "split-1");
        Assert.Equal(HttpStatusCode.Created, first.Status);
        Assert.Equal(first.Str("id"), (await m.PostAsync($"/v1/payments/{id}/splits", new { splits = new[] { new { receiver = platform, amount = 2_000 } } }, idempotencyKey: "split-1")).Str("id"));
        var rest = await m.PostAsync($"/v1/payments/{id}/splits", new { splits = new[] { new { receiver = agency, amount = 983 } }, final = true });
        Assert.Equal("split_exceeds_cap", rest.Str("code")); // 20.00 already held for the first split counts
        var last = await m.PostAsync($"/v1/payments/{id}/splits", new { splits = new[] { new { receiver = agency, amount = 982 } }, final = true });
        Assert.Equal(HttpStatusCode.Created, last.Status);
        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM splits WHERE payment_id = @id AND status = 'succeeded'", new { id }), n => n == 2, what: "both splits paid");
        var after = await m.PostAsync($"/v1/payments/{id}/splits", new { splits = new[] { new { receiver = agency, amount = 1 } } });
        Assert.Equal("split_finished", after.Str("code"));
        Assert.Equal(2, hub.Sandbox.WeChat.Orders.Values.Single(o => o.Attach == id).Splits.Count);

        // Someone else's payment, split or receivers: not found.
        var (other, _, _) = await hub.NewMerchantAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await other.PostAsync($"/v1/payments/{id}/splits", new { splits = new[] { new { receiver = platform, amount = 1 } } })).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/v1/payments/{id}/splits")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/v1/splits/{first.Str("id")}")).Status);
        Assert.Equal(0, (await other.GetAsync("/v1/split_receivers")).Json.GetProperty("data").GetArrayLength());

        // A payment not created for profit sharing cannot be split.
        var plain = await m.CreatePaymentAsync(3_000);
        Assert.Contains("id=\"pay-unionpay\"", await hub.Http.GetStringAsync((await m.GetAsync($"/v1/payments/{plain}")).Str("checkout_url")), StringComparison.Ordinal);
        await PayWeChatAsync(m, plain);
        Assert.Equal("payment_not_split", (await m.PostAsync($"/v1/payments/{plain}/splits", new { splits = new[] { new { receiver = platform, amount = 1 } } })).Str("code"));
        await LedgerHoldsAsync();
    }

    [Fact]
    public async Task Malformed_or_out_of_range_rules_and_amounts_are_400s_naming_the_field_and_change_nothing()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var platform = await ReceiverAsync(m, "wechatpay", "platform", "merchant", Account(), "平台");
        var agency = await ReceiverAsync(m, "wechatpay", "agency", "merchant", Account(), "机构");
        var id = await SplitPaymentAsync(m, 10_000, new { });
        var payments = await hub.CountAsync("SELECT COUNT(*) FROM payments WHERE merchant_id = @merchantId", new { merchantId });

        // Issue 12/13: a null rule was a NullReferenceException and two amounts of 2^62 overflowed their sum: both 500s.
        object[] badRules = [new object?[] { null }, new[] { new { receiver = platform, amount = 1L << 62 }, new { receiver = agency, amount = 1L << 62 } }];
        foreach (var splits in badRules)
        {
            var atCreation = await m.PostAsync("/v1/payments", new
            {
                amount = 10_000, currency = "CNY", description = "x", merchant_order_id = "ps-" + Guid.NewGuid().ToString("N")[..12], profit_sharing = new { splits },
            });
            Assert.True(atCreation.Status == HttpStatusCode.BadRequest, atCreation.ToString());
            Assert.Equal("profit_sharing.splits", atCreation.Str("param"));
            var split = await m.PostAsync($"/v1/payments/{id}/splits", new { splits });
            Assert.True(split.Status == HttpStatusCode.BadRequest, split.ToString());
            Assert.Equal("splits", split.Str("param"));
        }

        var refund = await m.PostAsync($"/v1/payments/{id}/refunds", new { amount = 1L << 62 });
        Assert.Equal((HttpStatusCode.BadRequest, "amount"), (refund.Status, refund.Str("param")));
        Assert.Equal(payments, await hub.CountAsync("SELECT COUNT(*) FROM payments WHERE merchant_id = @merchantId", new { merchantId }));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM splits WHERE payment_id = @id", new { id }));
    }

    [Fact]
    public async Task A_receivers_host_id_is_one_of_the_merchants_own_hosts_checked_like_any_reference()
    {
        // Issue 17: another merchant's host id, or 5,000 characters of markup, were stored and echoed back.
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var (other, _, _) = await hub.NewMerchantAsync();
        var theirs = (await other.PostAsync("/v1/hosts", new { name = "别家主播", live_room = "room-" + Guid.NewGuid().ToString("N")[..8] })).Str("id");
        var mine = (await m.PostAsync("/v1/hosts", new { name = "自家主播", live_room = "room-" + Guid.NewGuid().ToString("N")[..8] })).Str("id");
        var receivers = await hub.CountAsync("SELECT COUNT(*) FROM split_receivers WHERE merchant_id = @merchantId", new { merchantId });
        foreach (var (role, hostId) in new[] { ("host", theirs), ("host", "<img src=x onerror=alert(1)>" + new string('x', 5_000)), ("host", "host_" + Guid.NewGuid().ToString("N") + "0"), ("platform", mine) })
        {
            var r = await m.PostAsync("/v1/split_receivers", new { wallet = "wechatpay", role, type = "personal", account = "o-" + Guid.NewGuid().ToString("N")[..12], host_id = hostId });
            Assert.True(r.Status == HttpStatusCode.BadRequest, r.ToString());
            Assert.Equal("host_id", r.Str("param"));
            Assert.DoesNotContain("<img", r.Body, StringComparison.Ordinal);
        }

        Assert.Equal(receivers, await hub.CountAsync("SELECT COUNT(*) FROM split_receivers WHERE merchant_id = @merchantId", new { merchantId }));
        var ok = await m.PostAsync("/v1/split_receivers", new { wallet = "wechatpay", role = "host", type = "personal", account = "o-" + Guid.NewGuid().ToString("N")[..12], host_id = mine });
        Assert.True(ok.Status == HttpStatusCode.Created, ok.ToString());
        Assert.Equal(mine, ok.Str("host_id"));
    }

    [Fact]
    public async Task Alipay_settles_shares_and_a_full_refund_takes_them_back_with_royalty_parameters()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var hostAccount = "2088" + Random.Shared.NextInt64(100_000_000_000, 999_999_999_999);
        var host = await ReceiverAsync(m, "alipay", "host", "personal", hostAccount, "李主播");
        var id = await SplitPaymentAsync(m, 20_000, new { splits = new[] { new { receiver = host, ratio_bps = 2_500 } } });
        var qr = (await m.ConfirmAsync(id, wallet: "alipay")).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        await hub.AlipayBuyerPaysAsync(qr);
        await m.WaitForStatusAsync(id, "succeeded");

        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM splits WHERE payment_id = @id AND status = 'succeeded'", new { id }), n => n == 1, what: "settled");
        var order = hub.Sandbox.Alipay.OrdersByQr[qr["https://qr.alipay.com/".Length..]];
        var royalty = order.Settles.Values.Single().Details.Single();
        Assert.Equal((hostAccount, 4_970L, "SUCCESS"), (royalty.TransIn, royalty.Amount, royalty.State)); // 25 % of 198.80
        Assert.True(order.RoyaltyFinished);
        Assert.True(hub.Sandbox.Alipay.RoyaltyRelations.ContainsKey((order.AppId, hostAccount))); // bound before the settle

        var refund = await m.PostAsync($"/v1/payments/{id}/refunds", new { });
        Assert.Equal(HttpStatusCode.Created, refund.Status);
        await hub.EventuallyAsync(() => m.GetAsync($"/v1/payments/{id}"), p => p.Json.GetProperty("amount_refunded").GetInt64() == 20_000, what: "refunded");
        Assert.Equal(4_970, royalty.Returned); // the whole share came back with the refund
        var ret = (await m.GetAsync($"/v1/payments/{id}/splits")).Json.GetProperty("returns").EnumerateArray().Single();
        Assert.Equal(("with_refund", "succeeded", 4_970L), (ret.GetProperty("mode").GetString(), ret.GetProperty("status").GetString(), ret.GetProperty("amount").GetInt64()));
        Assert.Equal(0, await BalanceAsync($"merchant_payable:{merchantId}")); // all back to the buyer; nothing owed either way
        await LedgerHoldsAsync();
    }

    [Fact]
    public async Task Split_receivers_are_listed_a_page_at_a_time_newest_first()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var r = await m.PostAsync("/v1/split_receivers", new { wallet = "wechatpay", role = "agency", type = "personal", account = "o-page-" + Guid.NewGuid().ToString("N")[..12] });
            Assert.True(r.Status == HttpStatusCode.Created, r.ToString());
            ids.Add(r.Str("id"));
        }

        var seen = new List<string>();
        string? cursor = null;
        for (var page = 0; page < 10; page++) // bounded: 5 receivers in pages of 2 is 3 pages
        {
            var list = await m.GetAsync("/v1/split_receivers?limit=2" + (cursor is null ? string.Empty : "&starting_after=" + cursor));
            Assert.True(list.Status == HttpStatusCode.OK, list.ToString());
            var data = list.Json.GetProperty("data").EnumerateArray().Select(d => d.GetProperty("id").GetString()!).ToList();
            Assert.True(data.Count <= 2);
            seen.AddRange(data);
            if (!list.Json.GetProperty("has_more").GetBoolean())
            {
                break;
            }

            cursor = list.Json.GetProperty("next_cursor").GetString();
        }

        Assert.Equal(Enumerable.Reverse(ids).ToList(), seen);
        Assert.Equal(5, (await m.GetAsync("/v1/split_receivers?limit=100")).Json.GetProperty("data").GetArrayLength());
        foreach (var bad in new[] { "limit=0", "limit=101", "limit=-1", "starting_after=pay_123", "limit=abc" })
        {
            var refused = await m.GetAsync("/v1/split_receivers?" + bad);
            Assert.True(refused.Status == HttpStatusCode.BadRequest, $"{bad}: {refused}");
        }

        Assert.Equal("limit", (await m.GetAsync("/v1/split_receivers?limit=101")).Str("param"));
        Assert.Equal("starting_after", (await m.GetAsync("/v1/split_receivers?starting_after=pay_123")).Str("param"));
    }

    [Fact]
    public async Task WeChat_profit_sharing_notifications_are_verified_applied_once_and_never_move_a_split_back()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var platform = await ReceiverAsync(m, "wechatpay", "platform", "merchant", Account(), "互通平台科技有限公司");
        var id = await SplitPaymentAsync(m, 10_000, new { splits = new[] { new { receiver = platform, ratio_bps = 1_000 } } });
        // Each PROFITSHARING.SUCCESS for this payment's split is sent twice, under two notification ids.
        hub.Sandbox.WeChat.Faults.Inject("profitsharing_notify", Hutong.Sandbox.SandboxFault.DuplicateNotification, 1, match: id);
        await PayWeChatAsync(m, id);
        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM splits WHERE payment_id = @id AND status = 'succeeded'", new { id }), n => n == 1, what: "the split succeeds");
        var outOrderNo = await hub.Db.ReadAsync(c => c.ExecuteScalarAsync<string>("SELECT out_order_no FROM splits WHERE payment_id = @id", new { id }), default);
        // The wallet sends its notices just after it marks the split finished, so a query may have settled the split first.
        await hub.EventuallyAsync(() => Task.FromResult((long)hub.Sandbox.WeChat.ProfitSharingNotifications.Count(n => n.OutOrderNo == outOrderNo)), n => n == 2, what: "the notices are sent");
        var sent = hub.Sandbox.WeChat.ProfitSharingNotifications.Where(n => n.OutOrderNo == outOrderNo).ToList();
        Assert.All(sent, n => Assert.Equal("PROFITSHARING.SUCCESS", n.EventType));
        // Both copies verified (signature, AES-GCM resource), recorded and processed.
        var ids = sent.Select(n => "wechatpay:" + n.Id).ToArray();
        await hub.EventuallyAsync(async () =>
        {
            var processed = 0L;
            foreach (var nid in ids)
            {
                processed += await hub.CountAsync("SELECT COUNT(*) FROM wallet_notifications WHERE id = @nid AND event_type = 'PROFITSHARING.SUCCESS' AND processed_at IS NOT NULL", new { nid });
            }

            return processed;
        }, n => n == 2, what: "both notices are verified, recorded and processed");

        var before = await hub.Db.ReadAsync(c => c.QuerySingleAsync<(string Status, long UpdatedAt)>("SELECT status, updated_at FROM splits WHERE payment_id = @id", new { id }), default);
        var events = await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE merchant_id = @merchantId AND type LIKE 'split.%'", new { merchantId });
        // The same notice again (WeChat's resend: same id, fresh signature): acknowledged, changes nothing, emits nothing.
        var replayed = await hub.Sandbox.WeChatNotifier.ReplayAsync(sent[0].Id, default);
        Assert.True(replayed!.HttpStatus is 200 or 204, $"{replayed.HttpStatus}"); // acknowledged
        await Task.Delay(300);
        Assert.Equal(before, await hub.Db.ReadAsync(c => c.QuerySingleAsync<(string Status, long UpdatedAt)>("SELECT status, updated_at FROM splits WHERE payment_id = @id", new { id }), default));
        Assert.Equal(events, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE merchant_id = @merchantId AND type LIKE 'split.%'", new { merchantId }));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM outbox WHERE type = 'split.succeeded' AND merchant_id = @merchantId", new { merchantId }));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'split' AND merchant_id = @merchantId", new { merchantId }));

        // A refund takes the merchant receiver's share back by a return order: WeChat sends PROFITSHARING.RETURN, which is
        // applied through the same query — the split stays succeeded (never back), the return counted once.
        Assert.Equal(HttpStatusCode.Created, (await m.PostAsync($"/v1/payments/{id}/refunds", new { amount = 5_000 })).Status);
        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM split_returns WHERE payment_id = @id AND status = 'succeeded'", new { id }), n => n == 1, what: "the return");
        await hub.EventuallyAsync(() => Task.FromResult((long)hub.Sandbox.WeChat.ProfitSharingNotifications.Count(n => n.OutOrderNo == outOrderNo && n.EventType == "PROFITSHARING.RETURN")),
            n => n == 1, what: "the return notice is sent");
        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM wallet_notifications WHERE event_type = 'PROFITSHARING.RETURN' AND processed_at IS NOT NULL AND id = @nid",
            new { nid = "wechatpay:" + hub.Sandbox.WeChat.ProfitSharingNotifications.Single(n => n.OutOrderNo == outOrderNo && n.EventType == "PROFITSHARING.RETURN").Id }), n => n == 1, what: "the return notice is processed");
        Assert.Equal("succeeded", await hub.Db.ReadAsync(c => c.ExecuteScalarAsync<string>("SELECT status FROM splits WHERE payment_id = @id", new { id }), default));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'split_returned' AND merchant_id = @merchantId", new { merchantId }));
        await LedgerHoldsAsync();
    }
}

[Collection("sqlite")]
public sealed class ProfitSharingTests_Sqlite(SqliteHub hub) : ProfitSharingTests(hub);

[Collection("postgres")]
public sealed class ProfitSharingTests_Postgres(PostgresHub hub) : ProfitSharingTests(hub);
