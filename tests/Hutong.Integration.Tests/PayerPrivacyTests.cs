using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Sandbox.WeChatPay;
using Hutong.Server.Features.Payments;

namespace Hutong.Integration.Tests;

/// <summary>
/// A wallet's buyer id (openid, Alipay buyer_id) never leaves the hub except to the wallet, whatever the flow: Native QR
/// (here through a friend-pay page), App, the buyer's payment code at WeChat and Alipay. The merchant sees one stable
/// pseudonym per buyer — the same across flows, another one at another merchant — in the API, webhooks and pages, and
/// the raw id is in none of them, nor in the hub's logs.
/// </summary>
public abstract class PayerPrivacyTests(HubFixture hub)
{
    private static string PathOf(string url) => new Uri(url).AbsolutePath;

    private async Task<(ApiClient M, string Hook)> MerchantWithWebhookAsync()
    {
        var (m, _, _) = await hub.NewMerchantAsync("隐私商户 Privacy Shop");
        var hook = "/hooks/" + Guid.NewGuid().ToString("N");
        Assert.Equal(HttpStatusCode.Created, (await m.PostAsync("/v1/webhook_endpoints", new { url = hub.Receiver.Url(hook) })).Status);
        return (m, hook);
    }

    private async Task<string> CodeAsync(string wallet)
    {
        using var http = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
        var r = await http.PostAsJsonAsync(wallet == "alipay" ? "/sandbox/alipay/codes" : "/sandbox/wechatpay/micropay/codes", new BuyerCodeRequest(BuyerCodeBehaviour.Pay), SandboxJson.Options);
        r.EnsureSuccessStatusCode();
        return (await r.Content.ReadFromJsonAsync<BuyerCodeResponse>(SandboxJson.Options))!.AuthCode;
    }

    private Task<string> OutTradeNoAsync(string id) => hub.Db.ReadAsync(c => Dapper.SqlMapper.ExecuteScalarAsync<string>(c,
        "SELECT out_trade_no FROM payment_attempts WHERE payment_id = @id AND status = 'succeeded'", new { id }), default)!;

    /// <summary>Everything the hub showed about <paramref name="id"/>: the API's answers, the webhooks, the outbox.</summary>
    private async Task<string> EverythingShownAsync(ApiClient m, string id, string hook)
    {
        var deliveries = await hub.EventuallyAsync(
            () => Task.FromResult(hub.Receiver.Deliveries.Where(d => d.Path == hook && d.Body.Contains(id, StringComparison.Ordinal)).ToList()),
            l => l.Any(d => d.Body.Contains("payment.succeeded", StringComparison.Ordinal)), what: "payment.succeeded webhook");
        var outbox = await hub.Db.ReadAsync(async c => string.Join('\n', await Dapper.SqlMapper.QueryAsync<string>(c,
            "SELECT payload FROM outbox WHERE payload LIKE @p", new { p = $"%{id}%" })), default);
        return string.Join('\n', [(await m.GetAsync($"/v1/payments/{id}")).Body, (await m.GetAsync("/v1/payments?limit=100")).Body, outbox, .. deliveries.Select(d => d.Body)]);
    }

    private static string PayerInWebhook(string hookBody) => PayerPrivacy.PayerIdOf(JsonDocument.Parse(hookBody).RootElement.GetProperty("data").GetProperty("object"))!;

    [Fact]
    public async Task Native_app_and_payment_code_payers_are_one_stable_pseudonym_per_merchant_and_the_raw_id_is_nowhere()
    {
        var (m, hook) = await MerchantWithWebhookAsync();
        var openId = "oPrivacy" + Guid.NewGuid().ToString("N")[..20];

        // Native QR, through a friend-pay page (the friend's browser is shown the paid page afterwards).
        var native = await m.CreatePaymentAsync(1200);
        var link = (await m.PostAsync($"/v1/payments/{native}/friend_pay_links", new { requester_name = "小明" })).Str("url");
        using var friend = new BrowserLikeClient(hub.Hub.BaseUrl);
        await friend.PageAsync(PathOf(link));
        await friend.SubmitAsync(PathOf(link) + "/wechatpay");
        var codeUrl = (await m.GetAsync($"/v1/payments/{native}")).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await hub.BuyerPaysAsync(codeUrl, openId)).StatusCode);
        var nativePaid = await m.WaitForStatusAsync(native, "succeeded");
        await hub.AssertPayerAsync(nativePaid, "wechatpay", openId);
        var pseudonym = nativePaid.Json.GetProperty("payer").GetProperty("id").GetString()!;
        var shown = await EverythingShownAsync(m, native, hook);
        var pages = (await friend.PageAsync(PathOf(link))).Html + (await friend.PageAsync(PathOf(nativePaid.Str("checkout_url")))).Html;

        // App pay: the same WeChat user pays the app order; the same pseudonym.
        var app = await m.CreatePaymentAsync(1300);
        var prepay = (await m.PostAsync($"/v1/payments/{app}/confirm", new { wallet = "wechatpay", flow = "app" })).Json
            .GetProperty("next_action").GetProperty("params").GetProperty("prepayid").GetString()!;
        var (_, error, message) = WeChatSandboxControl.PayOrder(hub.Sandbox.WeChat, hub.Sandbox.WeChatNotifier, hub.Sandbox.WeChat.InApp.OrdersByPrepay[prepay], openId, "SUCCESS");
        Assert.True(error is null, message);
        var appPaid = await m.WaitForStatusAsync(app, "succeeded");
        Assert.Equal(pseudonym, appPaid.Json.GetProperty("payer").GetProperty("id").GetString());
        shown += await EverythingShownAsync(m, app, hook);

        // The buyer's WeChat payment code (v2 micropay answers the openid in its XML).
        var micropay = await m.CreatePaymentAsync(1400);
        var scanned = await m.PostAsync($"/v1/payments/{micropay}/confirm", new { auth_code = await CodeAsync("wechatpay") });
        Assert.Equal("succeeded", scanned.Str("status"));
        var codeOpenId = hub.Sandbox.WeChat.Orders[(hub.WeChat.MchId, await OutTradeNoAsync(micropay))].PayerOpenId!;
        await hub.AssertPayerAsync(scanned, "wechatpay", codeOpenId);
        shown += scanned.Body + await EverythingShownAsync(m, micropay, hook);

        // The buyer's Alipay payment code (alipay.trade.pay answers buyer_user_id).
        var barcode = await m.CreatePaymentAsync(1500);
        var alipayScanned = await m.PostAsync($"/v1/payments/{barcode}/confirm", new { auth_code = await CodeAsync("alipay") });
        Assert.Equal("succeeded", alipayScanned.Str("status"));
        var outTradeNo = await OutTradeNoAsync(barcode);
        var buyerId = hub.Sandbox.Alipay.Orders.Single(o => o.Key.OutTradeNo == outTradeNo).Value.BuyerId!;
        await hub.AssertPayerAsync(alipayScanned, "alipay", buyerId);
        shown += alipayScanned.Body + await EverythingShownAsync(m, barcode, hook);

        foreach (var raw in new[] { openId, codeOpenId, buyerId })
        {
            Assert.DoesNotContain(raw, shown, StringComparison.Ordinal);
            Assert.DoesNotContain(raw, pages, StringComparison.Ordinal);
            Assert.DoesNotContain(raw, hub.Logs.All(), StringComparison.Ordinal);
        }

        // The webhook names the payer by the same pseudonym as the API.
        var hookBody = hub.Receiver.Deliveries.First(d => d.Path == hook && d.Body.Contains(native, StringComparison.Ordinal) && d.Body.Contains("payment.succeeded", StringComparison.Ordinal)).Body;
        Assert.Equal(pseudonym, PayerInWebhook(hookBody));

        // Another merchant's buyer with the same openid is another pseudonym: merchants cannot join their customers.
        var (other, otherHook) = await MerchantWithWebhookAsync();
        var elsewhere = await other.CreatePaymentAsync(1600);
        var otherCode = (await other.ConfirmAsync(elsewhere)).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await hub.BuyerPaysAsync(otherCode, openId)).StatusCode);
        var otherPaid = await other.WaitForStatusAsync(elsewhere, "succeeded");
        await hub.AssertPayerAsync(otherPaid, "wechatpay", openId);
        Assert.NotEqual(pseudonym, otherPaid.Json.GetProperty("payer").GetProperty("id").GetString());
        Assert.DoesNotContain(openId, await EverythingShownAsync(other, elsewhere, otherHook), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_payment_stored_with_a_raw_wallet_id_before_pseudonyms_is_shown_by_its_pseudonym()
    {
        var (m, _) = await MerchantWithWebhookAsync();
        var id = await m.CreatePaymentAsync(1700);
        var codeUrl = (await m.ConfirmAsync(id)).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await hub.BuyerPaysAsync(codeUrl, "oAnything")).StatusCode);
        await m.WaitForStatusAsync(id, "succeeded");
        var legacy = "oLegacy" + Guid.NewGuid().ToString("N")[..20];
        await hub.ExecAsync("UPDATE payments SET payer_id = @legacy WHERE id = @id", new { legacy, id });

        await hub.AssertPayerAsync(await m.GetAsync($"/v1/payments/{id}"), "wechatpay", legacy);
        Assert.True(PayerPseudonyms.IsPseudonym(hub.PseudonymOf("mch", "wechatpay", legacy)));
        Assert.False(PayerPseudonyms.IsPseudonym(legacy));
    }
}

[Collection("sqlite")]
public sealed class PayerPrivacyTests_Sqlite(SqliteHub hub) : PayerPrivacyTests(hub);

[Collection("postgres")]
public sealed class PayerPrivacyTests_Postgres(PostgresHub hub) : PayerPrivacyTests(hub);
