using System.Net;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server.Features;
using Hutong.Server.Features.Checkout;

namespace Hutong.Integration.Tests;

/// <summary>聚合码: one QR per payment; the scanning app is told apart by its User-Agent and continues in its own wallet.</summary>
[Collection("sqlite")]
public sealed class AggregatedQrTests(SqliteHub hub)
{
    private const string WeChatUa = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN";
    private const string AlipayUa = "Mozilla/5.0 (Linux; U; Android 13; zh-CN; V2227A) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/69.0.3497.100 UWS/3.22.2.59 Mobile Safari/537.36 UCBS/3.22.2.59_230817113410 ChannelId(0) NebulaSDK/1.8.100112 Nebula AlipayDefined(nt:WIFI,ws:393|0|2.75) AliApp(AP/10.5.36.8100) AlipayClient/10.5.36.8100 Language/zh-Hans";
    private const string UnionPayUa = "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 (com.unionpay.chsp) (cordova 4.5.4) (updebug 0) (version 1010) (UnionPay/1.0 CloudPay) (clientVersion 310) (language zh_CN)";
    private const string Safari = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15";

    [Theory]
    [InlineData(WeChatUa, "wechatpay")]
    [InlineData(AlipayUa, "alipay")]
    [InlineData(UnionPayUa, "unionpay")]
    [InlineData(Safari, null)]
    [InlineData(null, null)]
    public void Scanning_apps_are_recognised_by_user_agent(string? ua, string? wallet) => Assert.Equal(wallet, new WalletCatalog(Wallets.Builtin).DetectApp(ua));

    private async Task<(ApiClient M, string Id, string Token)> NewPaymentAsync()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync();
        var url = (await m.GetAsync($"/v1/payments/{id}")).Str("checkout_url");
        return (m, id, url[(url.LastIndexOf('/') + 1)..]);
    }

    /// <summary>A wallet app scanning: the GET, then (as the page's script or a tap does) the POST it answers with.</summary>
    private async Task<HttpResponseMessage> ScanAsync(string token, string? ua)
    {
        using var browser = new BrowserLikeClient(hub.Hub.BaseUrl, ua ?? string.Empty);
        if (ua is null)
        {
            browser.Http.DefaultRequestHeaders.Remove("User-Agent");
        }

        var scan = await browser.Http.GetAsync($"/a/{token}");
        if (scan.StatusCode != HttpStatusCode.OK)
        {
            return scan;
        }

        var html = await scan.Content.ReadAsStringAsync();
        Assert.Contains($"<form method=\"post\" action=\"/a/{token}\" id=\"continue\"", html, StringComparison.Ordinal);
        var wallet = html.Split("name=\"wallet\" value=\"")[1].Split('"')[0];
        return await browser.Http.PostAsync($"/a/{token}", new FormUrlEncodedContent(new Dictionary<string, string> { ["wallet"] = wallet }));
    }

    [Fact]
    public async Task Alipay_and_UnionPay_apps_continue_in_their_own_wallet()
    {
        var (m, id, token) = await NewPaymentAsync();
        var alipay = await ScanAsync(token, AlipayUa);
        Assert.Equal(HttpStatusCode.Redirect, alipay.StatusCode);
        Assert.StartsWith("https://qr.alipay.com/", alipay.Headers.Location!.ToString(), StringComparison.Ordinal);
        var p = await m.GetAsync($"/v1/payments/{id}");
        Assert.Equal("alipay", p.Str("wallet"));
        Assert.Equal(alipay.Headers.Location.ToString(), p.Json.GetProperty("next_action").GetProperty("code_url").GetString());

        var (_, _, token2) = await NewPaymentAsync();
        var unionPay = await ScanAsync(token2, UnionPayUa);
        Assert.StartsWith("https://qr.95516.com/", unionPay.Headers.Location!.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WeChat_gets_the_checkout_page_with_its_QR_and_unknown_apps_get_the_chooser()
    {
        var (m, id, token) = await NewPaymentAsync();
        var wechat = await ScanAsync(token, WeChatUa);
        Assert.Equal($"/pay/{token}?lang=en", wechat.Headers.Location!.ToString()); // the scanner's language
        Assert.Equal("wechatpay", (await m.GetAsync($"/v1/payments/{id}")).Str("wallet"));

        var (m2, id2, token2) = await NewPaymentAsync();
        var browser = await ScanAsync(token2, Safari);
        Assert.Equal($"/pay/{token2}", browser.Headers.Location!.ToString());
        Assert.Equal("created", (await m2.GetAsync($"/v1/payments/{id2}")).Str("status"));
        var page = await hub.Http.GetStringAsync($"/pay/{token2}");
        Assert.Contains("aggregate.png", page, StringComparison.Ordinal);
        var png = await hub.Http.GetAsync($"/pay/{token2}/aggregate.png");
        Assert.Equal("image/png", png.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task The_scan_itself_changes_nothing_the_wallet_choice_is_a_POST()
    {
        var (m, id, token) = await NewPaymentAsync();
        using var app = new BrowserLikeClient(hub.Hub.BaseUrl, AlipayUa);
        var scan = await app.Http.GetAsync($"/a/{token}");
        Assert.Equal(HttpStatusCode.OK, scan.StatusCode); // a page that posts the choice, not a confirm
        Assert.Contains("id=\"continue\"", await scan.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("created", (await m.GetAsync($"/v1/payments/{id}")).Str("status"));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM payment_attempts WHERE payment_id = @id", new { id }));

        // A POST without the session cookie the page set takes no claim and starts nothing.
        using var bare = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = new Uri(hub.Hub.BaseUrl) };
        var cookieless = await bare.PostAsync($"/a/{token}", new FormUrlEncodedContent(new Dictionary<string, string> { ["wallet"] = "alipay" }));
        Assert.Contains("e=cookie", cookieless.Headers.Location!.ToString(), StringComparison.Ordinal);
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM payment_attempts WHERE payment_id = @id", new { id }));
    }

    [Fact]
    public async Task A_scan_while_a_friend_is_paying_shows_someone_else_is_paying_and_leaves_their_order_open()
    {
        var (m, id, token) = await NewPaymentAsync();
        var link = await m.PostAsync($"/v1/payments/{id}/friend_pay_links", new { requester_name = "小明" });
        var friendPage = new Uri(link.Str("url")).AbsolutePath;
        using var friend = new BrowserLikeClient(hub.Hub.BaseUrl);
        await friend.PageAsync(friendPage);
        Assert.DoesNotContain("e=", (await friend.SubmitAsync(friendPage + "/wechatpay")).Location, StringComparison.Ordinal);
        var friendsCode = (await m.GetAsync($"/v1/payments/{id}")).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;

        using var app = new BrowserLikeClient(hub.Hub.BaseUrl, AlipayUa);
        var scan = await app.Http.GetAsync($"/a/{token}");
        Assert.Equal($"/pay/{token}", scan.Headers.Location!.ToString());
        Assert.Contains("A friend is paying for you", (await app.PageAsync($"/pay/{token}")).Html, StringComparison.Ordinal);
        // Posting the choice anyway (a page opened before the friend chose) is refused like a cashier button.
        var posted = await app.Http.PostAsync($"/a/{token}", new FormUrlEncodedContent(new Dictionary<string, string> { ["wallet"] = "alipay" }));
        Assert.Contains("e=claimed", posted.Headers.Location!.ToString(), StringComparison.Ordinal);

        var p = await m.GetAsync($"/v1/payments/{id}");
        Assert.Equal("wechatpay", p.Str("wallet"));
        Assert.Equal(friendsCode, p.Json.GetProperty("next_action").GetProperty("code_url").GetString());
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM payment_attempts WHERE payment_id = @id", new { id }));
        Assert.Equal(HttpStatusCode.OK, (await hub.BuyerPaysAsync(friendsCode)).StatusCode); // the friend's order still takes their money
        await m.WaitForStatusAsync(id, "succeeded");
    }

    [Fact]
    public async Task A_wallet_the_rollout_does_not_offer_falls_back_to_the_chooser()
    {
        var (m, id, token) = await NewPaymentAsync();
        await m.PostAsync("/v1/rollouts/alipay", new { percentage = 0 });
        var r = await ScanAsync(token, AlipayUa);
        Assert.Equal($"/pay/{token}", r.Headers.Location!.ToString());
        Assert.Equal("created", (await m.GetAsync($"/v1/payments/{id}")).Str("status"));
    }
}
