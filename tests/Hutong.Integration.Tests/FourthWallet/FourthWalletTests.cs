using System.Net;
using Hutong.Integration.Tests.FourthWallet.Connector;
using Hutong.Integration.Tests.FourthWallet.Sandbox;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Server.Features;

namespace Hutong.Integration.Tests.FourthWallet;

/// <summary>
/// A wallet the production code has never heard of, added as its module and its sandbox side (both in this folder) plus
/// one registration line (<see cref="KitePayHub"/>): the hub offers it, takes payments and refunds through it, verifies
/// its notifications, names and colours it for buyers, recognises its app and accepts channels for it.
/// </summary>
[Collection("kitepay")]
public sealed class FourthWalletTests(KitePayHub hub)
{
    [Fact]
    public async Task A_payment_through_the_fourth_wallet_is_created_confirmed_paid_notified_and_refunded()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        Assert.Contains(KitePayModule.WalletName, (await m.GetAsync("/v1/capabilities")).Body, StringComparison.Ordinal);

        var id = await m.CreatePaymentAsync(5_000);
        var confirm = await m.ConfirmAsync(id, wallet: KitePayModule.WalletName);
        Assert.True(confirm.Str("status") == "pending", confirm.ToString());
        var codeUrl = confirm.Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        Assert.StartsWith("kitepay://pay/", codeUrl, StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.OK, (await KitePaySandboxWallet.BuyerPaysAsync(hub.Sandbox.BaseUrl, codeUrl, "kite-buyer-7")).StatusCode);
        var paid = await m.WaitForStatusAsync(id, "succeeded");
        Assert.Equal(KitePayModule.WalletName, paid.Str("wallet"));
        await hub.AssertPayerAsync(paid, KitePayModule.WalletName, "kite-buyer-7"); // a wallet the hub never heard of is pseudonymised too
        // Settled by the signed notification (the hub acknowledged it), not by a re-query.
        var order = hub.Kite.Order(await OutTradeNoAsync(id))!;
        await hub.EventuallyAsync(() => Task.FromResult(hub.Kite.NotificationLog.Where(n => n.OutTradeNo == order.OutTradeNo).ToList()),
            log => log.Any(n => n.HttpStatus == 200), what: "the hub acknowledges the notification");
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM wallet_notifications WHERE wallet = 'kitepay' AND out_trade_no = @no", new { no = order.OutTradeNo }));

        var refund = await m.PostAsync($"/v1/payments/{id}/refunds", new { amount = 1_200 });
        Assert.True(refund.Status == HttpStatusCode.Created, refund.ToString());
        await hub.EventuallyAsync(() => m.GetAsync($"/v1/payments/{id}"), p => p.Json.GetProperty("amount_refunded").GetInt64() == 1_200, what: "the refund succeeds");
        Assert.Equal(1_200, order.Refunds.Values.Sum(r => r.Amount));
        Assert.Equal(HttpStatusCode.Conflict, (await m.PostAsync($"/v1/payments/{id}/refunds", new { amount = 3_801 })).Status);
    }

    [Fact]
    public async Task A_forged_notification_for_the_fourth_wallet_is_refused()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(700);
        await m.ConfirmAsync(id, wallet: KitePayModule.WalletName);
        var order = hub.Kite.Order(await OutTradeNoAsync(id))!;
        order.Status = "PAID"; // what a forger would claim
        var (body, _) = hub.Kite.Notification(order);
        using var forged = new HttpRequestMessage(HttpMethod.Post, "/notify/kitepay") { Content = new StringContent(body) };
        forged.Headers.Add(KitePayConnector.SignatureHeader, KitePayConnector.Sign("someone else's secret!", body));

        Assert.Equal(HttpStatusCode.BadRequest, (await hub.Http.SendAsync(forged)).StatusCode);
        Assert.Equal("pending", (await m.GetAsync($"/v1/payments/{id}")).Str("status"));
    }

    [Fact]
    public async Task Buyers_see_the_fourth_wallet_by_its_name_and_colour_and_its_app_is_recognised()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(900);
        var checkout = (await m.GetAsync($"/v1/payments/{id}")).Json.GetProperty("checkout_url").GetString()!;
        using var http = new HttpClient();
        http.DefaultRequestHeaders.AcceptLanguage.ParseAdd("en");
        var page = WebUtility.HtmlDecode(await http.GetStringAsync(checkout));
        Assert.Contains("id=\"pay-kitepay\"", page, StringComparison.Ordinal);
        Assert.Contains("Kite Pay", page, StringComparison.Ordinal);
        var css = await hub.Http.GetStringAsync(hub.Service<WalletCatalog>().CssUrl);
        Assert.Contains("button.kitepay { background: #6a1b9a; }", css, StringComparison.Ordinal);

        Assert.Equal(KitePayModule.WalletName, hub.Service<WalletCatalog>().DetectApp("Mozilla/5.0 (iPhone) Mobile KitePay/3.1"));
    }

    [Fact]
    public async Task Operators_add_channels_for_the_fourth_wallet_and_bad_settings_are_refused()
    {
        var account = await hub.Kite.RegisterAccountAsync(hub.Sandbox.BaseUrl);
        var added = await hub.Admin().PostAsync("/admin/channels", new { id = "kite-second", wallet = "kitepay", mode = "direct", config = account });
        Assert.True(added.Status == HttpStatusCode.Created, added.ToString());
        var refused = await hub.Admin().PostAsync("/admin/channels", new { id = "kite-bad", wallet = "kitepay", mode = "direct", config = new { MerchantId = "x" } });
        Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
        var unknown = await hub.Admin().PostAsync("/admin/channels", new { id = "kite-other", wallet = "kiteplus", mode = "direct", config = account });
        Assert.Contains("kitepay", unknown.Body, StringComparison.Ordinal); // the problem lists the wallets this hub has
    }

    private Task<string> OutTradeNoAsync(string paymentId) =>
        hub.Db.ReadAsync(c => Dapper.SqlMapper.ExecuteScalarAsync<string>(c, "SELECT out_trade_no FROM payment_attempts WHERE payment_id = @paymentId", new { paymentId }), CancellationToken.None)!;
}
