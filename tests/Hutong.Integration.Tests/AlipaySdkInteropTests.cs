using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Web;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox.WeChatPay;

namespace Hutong.Integration.Tests;

/// <summary>
/// The sandbox's Alipay in-app side checked by an independent client: alipay-sdk (npm, Alipay's Node SDK; its own
/// signing, response verification and sdkExecute order string) runs oauth.token, alipay.trade.create (paid by the
/// sandbox's tradePay bridge), alipay.trade.pay and an alipay.trade.app.pay order string the sandbox's app accepts.
/// </summary>
[Collection("sqlite")]
public sealed class AlipaySdkInteropTests(SqliteHub hub)
{
    [Fact]
    public async Task Alipay_sdks_oauth_token_trade_create_trade_pay_and_app_pay_order_string_are_accepted_by_the_sandbox()
    {
        // A buyer inside Alipay signs in to the merchant's application (auth_base) and comes back with an auth_code.
        var cookies = new CookieContainer();
        using var user = new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false });
        var authorize = await user.GetAsync($"{hub.Sandbox.BaseUrl}/oauth2/publicAppAuthorize.htm?app_id={hub.Alipay.AppId}&scope=auth_base&redirect_uri={Uri.EscapeDataString("https://shop.example.com/cb")}&state=s");
        Assert.Equal(HttpStatusCode.Redirect, authorize.StatusCode);
        var authCode = HttpUtility.ParseQueryString(authorize.Headers.Location!.Query)["auth_code"]!;
        var buyerCode = hub.Sandbox.Alipay.BuyerCodes.NewCode(BuyerCodeBehaviour.Pay).Code;

        await E2eModules.EnsureInstalledAsync();
        var psi = new ProcessStartInfo("node", "alipay-interop.mjs") { WorkingDirectory = E2eModules.Dir, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["TZ"] = "Asia/Shanghai"; // the SDK's timestamp is local time; Alipay reads it as China time
        psi.Environment["ALI_SANDBOX"] = hub.Sandbox.BaseUrl.TrimEnd('/');
        psi.Environment["ALI_APPID"] = hub.Alipay.AppId;
        psi.Environment["ALI_PRIVATE_KEY"] = hub.Alipay.AppPrivateKeyPem;
        psi.Environment["ALI_PUBLIC_KEY"] = hub.Alipay.AlipayPublicKeyPem;
        psi.Environment["ALI_AUTH_CODE"] = authCode;
        psi.Environment["ALI_BUYER_CODE"] = buyerCode;
        psi.Environment["ALI_USER_COOKIE"] = cookies.GetCookieHeader(new Uri(hub.Sandbox.BaseUrl));
        var (exitCode, stdout, stderr) = await E2eModules.RunNodeAsync(psi);

        Assert.True(exitCode == 0, stderr);
        var r = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;
        Assert.False(r.TryGetProperty("error", out var error), error.ToString());
        string S(string name) => r.GetProperty(name).GetString()!;

        var openId = S("open_id");
        Assert.True(hub.Sandbox.Alipay.InApp.IssuedOpenIds.ContainsKey((hub.Alipay.AppId, openId)));
        Assert.Equal("isv.code-invalid", S("reused_code")); // an auth_code is single use
        Assert.Equal(("10000", "9000", "TRADE_SUCCESS"), (S("create_code"), S("trade_pay_result"), S("create_status")));
        var created = hub.Sandbox.Alipay.InApp.OrdersByTradeNo[S("trade_no")];
        Assert.Equal(("JSAPI_PAY", openId), (created.ProductCode, created.BuyerOpenId));
        Assert.Equal(("10000", "0.02"), (S("bar_code"), S("bar_total")));

        // sdkExecute's order string (its own key order and encodeURIComponent) is accepted; tampered, it is refused.
        Assert.Contains("method=alipay.trade.app.pay", S("order_string"), StringComparison.Ordinal);
        Assert.Equal(("4000", "9000"), (S("app_tampered"), S("app_paid")));
        Assert.Contains(hub.Sandbox.Alipay.Orders.Values, o => o.ProductCode == "QUICK_MSECURITY_PAY" && o.TotalFen == 3 && o.TradeStatus == "TRADE_SUCCESS");
    }
}
