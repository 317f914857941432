using System.Net;
using Hutong.Integration.Tests.Infrastructure;

namespace Hutong.Integration.Tests;

/// <summary>The buyer pages' own defences: only our words in the error alert, and the security headers.</summary>
[Collection("sqlite")]
public sealed class BuyerPageSecurityTests(SqliteHub hub)
{
    private async Task<(ApiClient M, string Id, string Checkout, string Friend)> PaymentWithLinkAsync()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync();
        var checkout = new Uri((await m.GetAsync($"/v1/payments/{id}")).Str("checkout_url")).AbsolutePath;
        var friend = new Uri((await m.PostAsync($"/v1/payments/{id}/friend_pay_links", new { requester_name = "小明" })).Str("url")).AbsolutePath;
        return (m, id, checkout, friend);
    }

    [Fact]
    public async Task The_error_alert_shows_only_known_codes_never_text_from_the_link()
    {
        var (_, _, checkout, friend) = await PaymentWithLinkAsync();
        using var browser = new BrowserLikeClient(hub.Hub.BaseUrl);
        const string Lure = "Call 400-123-4567 to get a refund";
        foreach (var page in new[] { checkout, friend })
        {
            var crafted = (await browser.PageAsync($"{page}?e={Uri.EscapeDataString(Lure)}")).Html;
            Assert.DoesNotContain("400-123-4567", crafted, StringComparison.Ordinal);
            Assert.DoesNotContain("id=\"error\"", crafted, StringComparison.Ordinal);

            var known = (await browser.PageAsync($"{page}?e=claimed")).Html;
            Assert.Contains("id=\"error\"", known, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Every_page_carries_a_strict_CSP_no_framing_nosniff_and_no_referrer()
    {
        var (_, _, checkout, friend) = await PaymentWithLinkAsync();
        using var browser = new BrowserLikeClient(hub.Hub.BaseUrl);
        foreach (var path in new[] { checkout, friend, checkout + "/friend", checkout[..checkout.LastIndexOf('/')] + "/nope", "/s", "/f/unknown-token", "/healthz" })
        {
            using var r = await browser.Http.GetAsync(path);
            var csp = string.Join(";", r.Headers.GetValues("Content-Security-Policy"));
            Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
            Assert.Contains("script-src 'self'", csp, StringComparison.Ordinal);
            Assert.DoesNotContain("unsafe-inline", csp, StringComparison.Ordinal);
            Assert.Equal("nosniff", Assert.Single(r.Headers.GetValues("X-Content-Type-Options")));
            Assert.Equal("no-referrer", Assert.Single(r.Headers.GetValues("Referrer-Policy")));

            // Nothing inline for the policy to refuse: scripts and styles are files.
            var html = await r.Content.ReadAsStringAsync();
            Assert.DoesNotMatch("<script(?![^>]*\\bsrc=)", html);
            Assert.DoesNotContain("<style", html, StringComparison.Ordinal);
        }

        using var css = await browser.Http.GetAsync(Hutong.Server.Features.Checkout.BuyerAssets.CssUrl);
        Assert.Equal("text/css", css.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task The_aggregated_QR_pages_send_the_headers_too()
    {
        var (_, _, checkout, _) = await PaymentWithLinkAsync();
        var token = checkout[(checkout.LastIndexOf('/') + 1)..];
        using var app = new BrowserLikeClient(hub.Hub.BaseUrl, "Mozilla/5.0 AlipayClient/10.5.36.8100");
        using var r = await app.Http.GetAsync($"/a/{token}");
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Contains("frame-ancestors 'none'", string.Join(";", r.Headers.GetValues("Content-Security-Policy")), StringComparison.Ordinal);
        Assert.DoesNotMatch("<script(?![^>]*\\bsrc=)", await r.Content.ReadAsStringAsync());
    }
}
