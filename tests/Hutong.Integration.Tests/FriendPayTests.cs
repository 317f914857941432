using System.Net;
using System.Net.Http.Json;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;

namespace Hutong.Integration.Tests;

/// <summary>Ask a friend to pay (代付): links, the friend's page, exactly one payer, revocation and expiry.</summary>
public abstract class FriendPayTests(HubFixture hub)
{
    private async Task<(ApiClient M, string PaymentId, string LinkId, string Url)> AskAFriendAsync(long amount = 8800)
    {
        var (m, _, _) = await hub.NewMerchantAsync("互通书店 Book Shop");
        var created = await m.PostAsync("/v1/payments", new
        {
            amount, currency = "CNY", description = "三体 The Three-Body Problem", merchant_order_id = "ord-secret-" + Guid.NewGuid().ToString("N")[..8],
            buyer_id = "buyer-private-4711",
        });
        var id = created.Str("id");
        var link = await m.PostAsync($"/v1/payments/{id}/friend_pay_links", new { requester_name = "小明", note = "帮我付一下，谢谢！" });
        Assert.Equal(HttpStatusCode.Created, link.Status);
        return (m, id, link.Str("id"), link.Str("url"));
    }

    private static string PathOf(string url) => new Uri(url).AbsolutePath;

    [Fact]
    public async Task A_friend_pays_from_another_browser_and_the_merchant_sees_who_paid()
    {
        var (m, id, linkId, url) = await AskAFriendAsync();
        var token = url.Split("/f/")[1];
        Assert.True(token.Length >= 22, "at least 128 bits of token"); // base64url: 22 chars = 132 bits

        using var friend = new BrowserLikeClient(hub.Hub.BaseUrl);
        var (status, html) = await friend.PageAsync(PathOf(url));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("小明", html, StringComparison.Ordinal);
        Assert.Contains("帮我付一下", html, StringComparison.Ordinal);
        Assert.Contains("¥88.00", html, StringComparison.Ordinal);
        Assert.Contains("三体", html, StringComparison.Ordinal);
        Assert.Contains("互通书店", html, StringComparison.Ordinal);
        Assert.DoesNotContain("buyer-private-4711", html, StringComparison.Ordinal); // nothing else about the buyer
        Assert.DoesNotContain("ord-secret-", html, StringComparison.Ordinal);
        Assert.DoesNotContain(id, html, StringComparison.Ordinal);

        var (posted, location) = await friend.SubmitAsync(PathOf(url) + "/wechatpay");
        Assert.Equal(HttpStatusCode.Redirect, posted);
        Assert.DoesNotContain("e=", location, StringComparison.Ordinal);
        Assert.Contains("id=\"qr\"", (await friend.PageAsync(PathOf(url))).Html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await friend.Http.GetAsync(PathOf(url) + "/qr.png")).StatusCode);
        using (var stranger = new BrowserLikeClient(hub.Hub.BaseUrl))
        {
            Assert.Equal(HttpStatusCode.NotFound, (await stranger.Http.GetAsync(PathOf(url) + "/qr.png")).StatusCode); // the QR is the friend's alone
        }

        var codeUrl = (await m.GetAsync($"/v1/payments/{id}")).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await hub.BuyerPaysAsync(codeUrl, openId: "oFriend777")).StatusCode);
        var paid = await m.WaitForStatusAsync(id, "succeeded");
        var payer = paid.Json.GetProperty("payer");
        Assert.Equal("wechatpay", payer.GetProperty("wallet").GetString());
        await hub.AssertPayerAsync(paid, "wechatpay", "oFriend777"); // the hub's pseudonym, never the openid
        Assert.Equal("friend", payer.GetProperty("via").GetString());
        Assert.Equal(linkId, payer.GetProperty("friend_pay_link").GetString());

        // The webhook carries the same payer (the outbox event is what the dispatcher delivers).
        var evt = await hub.Db.ReadAsync(c => Dapper.SqlMapper.QuerySingleAsync<string>(c,
            "SELECT payload FROM outbox WHERE type = 'payment.succeeded' AND payload LIKE @p", new { p = $"%{id}%" }), default);
        Assert.Contains("\"via\":\"friend\"", evt, StringComparison.Ordinal);
        Assert.Contains(payer.GetProperty("id").GetString()!, evt, StringComparison.Ordinal);
        Assert.DoesNotContain("oFriend777", evt, StringComparison.Ordinal);

        Assert.Contains("Paid — thank you", (await friend.PageAsync(PathOf(url))).Html, StringComparison.Ordinal);
        using var late = new BrowserLikeClient(hub.Hub.BaseUrl);
        Assert.Contains("Someone has already paid this", (await late.PageAsync(PathOf(url))).Html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Redirect, (await late.SubmitAsync(PathOf(url) + "/alipay")).Status);
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM payment_attempts WHERE payment_id = @id", new { id }));
    }

    [Fact]
    public async Task Two_friends_racing_only_one_is_shown_a_QR_and_a_takeover_closes_the_first_order_before_money_moves()
    {
        var (m, id, _, url) = await AskAFriendAsync();
        using var a = new BrowserLikeClient(hub.Hub.BaseUrl);
        using var b = new BrowserLikeClient(hub.Hub.BaseUrl);
        await Task.WhenAll(a.PageAsync(PathOf(url)), b.PageAsync(PathOf(url)));

        var results = await Task.WhenAll(a.SubmitAsync(PathOf(url) + "/wechatpay"), b.SubmitAsync(PathOf(url) + "/wechatpay"));
        Assert.Single(results, r => r.Location!.Contains("e=claimed", StringComparison.Ordinal));
        var (winner, loser) = results[0].Location!.Contains("e=claimed", StringComparison.Ordinal) ? (b, a) : (a, b);
        Assert.Contains("id=\"qr\"", (await winner.PageAsync(PathOf(url))).Html, StringComparison.Ordinal);
        var loserPage = (await loser.PageAsync(PathOf(url))).Html;
        Assert.DoesNotContain("id=\"qr\"", loserPage, StringComparison.Ordinal);
        Assert.Contains("Someone else is paying this right now", loserPage, StringComparison.Ordinal);
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM payment_attempts WHERE payment_id = @id", new { id }));

        // The winner walks away; once their claim lapses the other friend may pay, and the first order is closed first.
        var firstCode = (await m.GetAsync($"/v1/payments/{id}")).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        await hub.ExecAsync("UPDATE payments SET payer_claim_until = 0 WHERE id = @id", new { id });
        Assert.DoesNotContain("e=", (await loser.SubmitAsync(PathOf(url) + "/wechatpay")).Location, StringComparison.Ordinal);
        var secondCode = (await m.GetAsync($"/v1/payments/{id}")).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        Assert.NotEqual(firstCode, secondCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await hub.BuyerPaysAsync(firstCode)).StatusCode); // closed: it can no longer take money
        Assert.Equal(HttpStatusCode.OK, (await hub.BuyerPaysAsync(secondCode, openId: "oSecondFriend")).StatusCode);
        var paid = await m.WaitForStatusAsync(id, "succeeded");
        await hub.AssertPayerAsync(paid, "wechatpay", "oSecondFriend");
        Assert.Single(hub.Sandbox.WeChat.Orders.Values, o => o.Attach == id && o.TradeState == "SUCCESS");
    }

    [Fact]
    public async Task When_a_wallet_order_cannot_be_closed_and_both_friends_pay_the_second_capture_is_refunded_automatically()
    {
        var (m, id, _, url) = await AskAFriendAsync(6600);
        using var a = new BrowserLikeClient(hub.Hub.BaseUrl);
        using var b = new BrowserLikeClient(hub.Hub.BaseUrl);
        await Task.WhenAll(a.PageAsync(PathOf(url)), b.PageAsync(PathOf(url))); // each page sets its browser's payer session
        await a.SubmitAsync(PathOf(url) + "/unionpay");
        var qrA = (await m.GetAsync($"/v1/payments/{id}")).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        await hub.ExecAsync("UPDATE payments SET payer_claim_until = 0 WHERE id = @id", new { id });
        await b.SubmitAsync(PathOf(url) + "/unionpay"); // UnionPay QR codes cannot be closed: A's stays payable
        var qrB = (await m.GetAsync($"/v1/payments/{id}")).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        Assert.NotEqual(qrA, qrB);

        using var sandbox = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
        Assert.True((await sandbox.PostAsJsonAsync("/sandbox/unionpay/buyer/pay", new { qr_code = qrB, acc_no = "6222****0002" }, SandboxJson.Options)).IsSuccessStatusCode);
        await m.WaitForStatusAsync(id, "succeeded");
        Assert.True((await sandbox.PostAsJsonAsync("/sandbox/unionpay/buyer/pay", new { qr_code = qrA, acc_no = "6222****0001" }, SandboxJson.Options)).IsSuccessStatusCode);

        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE payment_id = @id AND status = 'succeeded' AND reason = 'duplicate_payment'", new { id }),
            n => n == 1, what: "automatic refund of the second capture");
        var payment = await m.GetAsync($"/v1/payments/{id}");
        Assert.Equal("succeeded", payment.Str("status"));
        await hub.AssertPayerAsync(payment, "unionpay", "6222****0002"); // the first to pay keeps it
        Assert.Equal(6600, await hub.CountAsync("SELECT SUM(amount) FROM refunds WHERE payment_id = @id", new { id }));
        Assert.Single(hub.Sandbox.UnionPay.Orders.Values, o => o.RefundOf is not null && o.TxnAmt == 6600);

        // The merchant refunds part of the payment's own capture. The refunds list says which capture each refund returns:
        // amount_refunded is the succeeded refunds of the payment's own capture, never the hub's return of the second one.
        var own = await m.PostAsync($"/v1/payments/{id}/refunds", new { amount = 1_000 });
        Assert.Equal(HttpStatusCode.Created, own.Status);
        await hub.EventuallyAsync(() => m.GetAsync($"/v1/refunds/{own.Str("id")}"), r => r.Str("status") == "succeeded", what: "the merchant's refund");
        payment = await m.GetAsync($"/v1/payments/{id}");
        var refunds = (await m.GetAsync($"/v1/payments/{id}/refunds")).Json.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(2, refunds.Count);
        var system = Assert.Single(refunds, r => r.GetProperty("initiated_by").GetString() == "system");
        var merchant = Assert.Single(refunds, r => r.GetProperty("initiated_by").GetString() == "merchant");
        Assert.All(refunds, r => Assert.Equal("succeeded", r.GetProperty("status").GetString()));
        Assert.Equal("duplicate_payment", system.GetProperty("reason").GetString());
        Assert.False(system.GetProperty("counts_toward_amount_refunded").GetBoolean());
        Assert.True(merchant.GetProperty("counts_toward_amount_refunded").GetBoolean());
        Assert.All(refunds, r => Assert.Equal("unionpay", r.GetProperty("wallet").GetString()));
        Assert.NotEqual(system.GetProperty("attempt").GetString(), merchant.GetProperty("attempt").GetString());
        Assert.Equal(payment.Str("wallet_transaction_id"), merchant.GetProperty("wallet_transaction_id").GetString());
        Assert.NotEqual(payment.Str("wallet_transaction_id"), system.GetProperty("wallet_transaction_id").GetString());
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM payments WHERE id = @id AND current_attempt_id = @a",
            new { a = merchant.GetProperty("attempt").GetString(), id })); // the payment's own capture
        Assert.Equal(1_000, payment.Json.GetProperty("amount_refunded").GetInt64());
        Assert.Equal(payment.Json.GetProperty("amount_refunded").GetInt64(),
            refunds.Where(r => r.GetProperty("status").GetString() == "succeeded" && r.GetProperty("counts_toward_amount_refunded").GetBoolean()).Sum(r => r.GetProperty("amount").GetInt64()));
        Assert.Equal(system.GetRawText(), (await m.GetAsync($"/v1/refunds/{system.GetProperty("id").GetString()}")).Json.GetRawText());
        await hub.LedgerVerifiesAsync();
    }

    [Fact]
    public async Task Revoked_and_expired_links_show_a_clear_page_and_take_no_payment()
    {
        var (m, id, linkId, url) = await AskAFriendAsync();
        using var friend = new BrowserLikeClient(hub.Hub.BaseUrl);
        using (var open = await friend.Http.GetAsync(PathOf(url)))
        {
            Assert.Equal("no-store", open.Headers.CacheControl?.ToString()); // an order's amount and item under a capability URL
        }

        Assert.Equal(HttpStatusCode.OK, (await m.PostAsync($"/v1/friend_pay_links/{linkId}/revoke")).Status);

        // An open page learns of the withdrawal (and reloads), but no longer how the payment is going.
        var polled = System.Text.Json.JsonDocument.Parse(await friend.Http.GetStringAsync(PathOf(url) + "/status")).RootElement;
        Assert.Equal("revoked", polled.GetProperty("link").GetString());
        Assert.Equal("withdrawn", polled.GetProperty("view").GetString());
        Assert.False(polled.TryGetProperty("status", out _));
        var (status, html) = await friend.PageAsync(PathOf(url));
        Assert.Equal(HttpStatusCode.Gone, status);
        Assert.Contains("withdrawn", html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Gone, (await friend.SubmitAsync(PathOf(url) + "/wechatpay")).Status);
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM payment_attempts WHERE payment_id = @id", new { id }));

        var (_, id2, _, url2) = await AskAFriendAsync();
        await hub.ExecAsync("UPDATE payments SET expires_at = 1 WHERE id = @id2", new { id2 });
        var expired = await friend.PageAsync(PathOf(url2));
        Assert.Equal(HttpStatusCode.Gone, expired.Status);
        Assert.Contains("expired", expired.Html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await friend.PageAsync("/f/" + Hutong.Domain.Ids.Token())).Status);
    }

    [Fact]
    public async Task Revoking_a_link_closes_the_friends_order_and_releases_their_claim_so_the_buyer_pays_at_once()
    {
        var (m, id, linkId, url) = await AskAFriendAsync();
        using var friend = new BrowserLikeClient(hub.Hub.BaseUrl);
        await friend.PageAsync(PathOf(url));
        await friend.SubmitAsync(PathOf(url) + "/wechatpay");
        var friendsCode = (await m.GetAsync($"/v1/payments/{id}")).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;

        Assert.Equal(HttpStatusCode.OK, (await m.PostAsync($"/v1/friend_pay_links/{linkId}/revoke")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await hub.BuyerPaysAsync(friendsCode)).StatusCode); // closed at the wallet
        var p = await m.GetAsync($"/v1/payments/{id}");
        Assert.Equal("pending", p.Str("status"));
        Assert.False(p.Json.TryGetProperty("next_action", out var next) && next.ValueKind == System.Text.Json.JsonValueKind.Object);
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM payments WHERE id = @id AND payer_claim IS NOT NULL", new { id }));

        // The buyer, at the cashier, is not told "a friend is paying" and gets a QR of their own straight away.
        var checkout = new Uri(p.Str("checkout_url")).AbsolutePath;
        using var buyer = new BrowserLikeClient(hub.Hub.BaseUrl);
        Assert.DoesNotContain("A friend is paying", (await buyer.PageAsync(checkout)).Html, StringComparison.Ordinal);
        Assert.DoesNotContain("e=", (await buyer.SubmitAsync(checkout + "/wechatpay")).Location, StringComparison.Ordinal);
        var buyersCode = (await m.GetAsync($"/v1/payments/{id}")).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        Assert.NotEqual(friendsCode, buyersCode);
        Assert.Equal(HttpStatusCode.OK, (await hub.BuyerPaysAsync(buyersCode, openId: "oBuyer1")).StatusCode);
        Assert.Equal("checkout", (await m.WaitForStatusAsync(id, "succeeded")).Json.GetProperty("payer").GetProperty("via").GetString());
    }

    [Fact]
    public async Task A_revoked_friends_UnionPay_order_that_cannot_be_closed_is_refunded_if_paid_and_the_payment_stays_the_buyers()
    {
        var (m, id, linkId, url) = await AskAFriendAsync(5500);
        using var friend = new BrowserLikeClient(hub.Hub.BaseUrl);
        await friend.PageAsync(PathOf(url));
        await friend.SubmitAsync(PathOf(url) + "/unionpay");
        var friendsQr = (await m.GetAsync($"/v1/payments/{id}")).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await m.PostAsync($"/v1/friend_pay_links/{linkId}/revoke")).Status);

        using var sandbox = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
        Assert.True((await sandbox.PostAsJsonAsync("/sandbox/unionpay/buyer/pay", new { qr_code = friendsQr, acc_no = "6222****0009" }, SandboxJson.Options)).IsSuccessStatusCode);
        await hub.EventuallyAsync(() => hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE payment_id = @id AND status = 'succeeded' AND reason = 'friend_pay_link_revoked'", new { id }),
            n => n == 1, what: "refund of the capture through the revoked link");
        Assert.Equal("pending", (await m.GetAsync($"/v1/payments/{id}")).Str("status")); // still the buyer's to pay
        Assert.Single(hub.Sandbox.UnionPay.Orders.Values, o => o.RefundOf is not null && o.TxnAmt == 5500);
    }

    [Fact]
    public async Task While_a_friend_holds_the_payment_the_merchants_API_cannot_replace_their_order()
    {
        var (m, id, _, url) = await AskAFriendAsync();
        using var friend = new BrowserLikeClient(hub.Hub.BaseUrl);
        await friend.PageAsync(PathOf(url));
        await friend.SubmitAsync(PathOf(url) + "/wechatpay");
        var friendsCode = (await m.GetAsync($"/v1/payments/{id}")).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;

        var api = await m.PostAsync($"/v1/payments/{id}/confirm", new { wallet = "alipay" });
        Assert.Equal(HttpStatusCode.Conflict, api.Status);
        Assert.Equal("payment_claimed", api.Str("code"));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM payment_attempts WHERE payment_id = @id", new { id }));
        Assert.Equal(HttpStatusCode.OK, (await hub.BuyerPaysAsync(friendsCode)).StatusCode);
        await m.WaitForStatusAsync(id, "succeeded");
    }

    [Fact]
    public async Task A_pay_button_posted_without_the_pages_session_cookie_claims_nothing()
    {
        var (m, id, _, url) = await AskAFriendAsync();
        using var bare = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = new Uri(hub.Hub.BaseUrl) };
        for (var i = 0; i < 3; i++)
        {
            var r = await bare.PostAsync(PathOf(url) + "/wechatpay", null);
            Assert.Contains("e=cookie", r.Headers.Location!.ToString(), StringComparison.Ordinal);
        }

        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM payments WHERE id = @id AND payer_claim IS NOT NULL", new { id }));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM payment_attempts WHERE payment_id = @id", new { id }));
        var checkout = new Uri((await m.GetAsync($"/v1/payments/{id}")).Str("checkout_url")).AbsolutePath;
        Assert.Contains("e=cookie", (await bare.PostAsync(checkout + "/wechatpay", null)).Headers.Location!.ToString(), StringComparison.Ordinal);
        using var friend = new BrowserLikeClient(hub.Hub.BaseUrl);
        Assert.Contains("allow cookies", (await friend.PageAsync(PathOf(url) + "?e=cookie")).Html, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Links_are_the_merchants_own_and_bad_input_changes_nothing()
    {
        var (m, id, linkId, _) = await AskAFriendAsync();
        var (other, _, _) = await hub.NewMerchantAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await other.PostAsync($"/v1/payments/{id}/friend_pay_links", new { requester_name = "x" })).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/v1/payments/{id}/friend_pay_links")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await other.PostAsync($"/v1/friend_pay_links/{linkId}/revoke")).Status);

        var bad = await m.PostAsync($"/v1/payments/{id}/friend_pay_links", new { requester_name = "", note = new string('x', 141) });
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
        Assert.True(bad.Json.GetProperty("errors").TryGetProperty("requester_name", out _));
        Assert.True(bad.Json.GetProperty("errors").TryGetProperty("note", out _));
        Assert.Single((await m.GetAsync($"/v1/payments/{id}/friend_pay_links")).Json.GetProperty("data").EnumerateArray());

        await m.PostAsync($"/v1/payments/{id}/cancel");
        Assert.Equal(HttpStatusCode.Conflict, (await m.PostAsync($"/v1/payments/{id}/friend_pay_links", new { requester_name = "小明" })).Status);
    }
}

[Collection("sqlite")]
public sealed class FriendPayTests_Sqlite(SqliteHub hub) : FriendPayTests(hub);

[Collection("postgres")]
public sealed class FriendPayTests_Postgres(PostgresHub hub) : FriendPayTests(hub);
