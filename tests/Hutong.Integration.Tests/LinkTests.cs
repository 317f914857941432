using System.Net;
using Hutong.Integration.Tests.Infrastructure;

namespace Hutong.Integration.Tests;

/// <summary>Cross-app links (per-app landing, QR, expiry, revocation, click counts) and share codes (口令).</summary>
public abstract class LinkTests(HubFixture hub)
{
    private const string WeChatUa = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 MicroMessenger/8.0.50(0x1800322c) NetType/WIFI Language/zh_CN";
    private const string IphoneUa = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
    private const string AndroidUa = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36";

    private static async Task<ApiResponse> CreateLinkAsync(ApiClient m) => await m.PostAsync("/v1/links", new
    {
        url = "https://shop.example.com/p/42",
        title = "景德镇青花瓷杯 Jingdezhen cup",
        description = "手绘青花。Hand-painted.",
        ios_url = "https://app.example.com/p/42",
        android_package = "com.example.shop",
        android_url = "exampleshop://product/42",
        desktop_url = "https://www.example.com/p/42",
        image_url = "https://img.example.com/p/42.png",
    });

    [Fact]
    public async Task Each_app_lands_where_it_should_and_clicks_are_counted_off_the_request_path()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var link = await CreateLinkAsync(m);
        Assert.Equal(HttpStatusCode.Created, link.Status);
        var path = new Uri(link.Str("short_url")).AbsolutePath;

        async Task<HttpResponseMessage> Click(string ua)
        {
            using var browser = new BrowserLikeClient(hub.Hub.BaseUrl, ua);
            return await browser.Http.GetAsync(path);
        }

        var desktop = await Click(BrowserLikeClient.DesktopUa);
        Assert.Equal(HttpStatusCode.Redirect, desktop.StatusCode);
        Assert.Equal("https://www.example.com/p/42", desktop.Headers.Location!.ToString());

        Assert.Equal("https://app.example.com/p/42", (await Click(IphoneUa)).Headers.Location!.ToString());

        var android = (await Click(AndroidUa)).Headers.Location!.ToString();
        Assert.Equal("intent://product/42#Intent;scheme=exampleshop;package=com.example.shop;S.browser_fallback_url=https%3A%2F%2Fshop.example.com%2Fp%2F42;end", android);

        // Inside WeChat: an interstitial whose button opens the product page directly — no copy/paste step.
        var wechat = await Click(WeChatUa);
        Assert.Equal(HttpStatusCode.OK, wechat.StatusCode);
        // The product image comes from the merchant's server: the page's policy lets that origin's images in, no other.
        Assert.Contains("img-src 'self' data: https://img.example.com;", string.Join(";", wechat.Headers.GetValues("Content-Security-Policy")) + ";", StringComparison.Ordinal);
        var html = WebUtility.HtmlDecode(await wechat.Content.ReadAsStringAsync());
        Assert.Contains("href=\"https://shop.example.com/p/42\"", html, StringComparison.Ordinal);
        Assert.Contains("Jingdezhen cup", html, StringComparison.Ordinal);
        Assert.DoesNotContain("复制", html, StringComparison.Ordinal);

        // An unfurler gets the preview card and is not counted.
        using (var bot = new HttpClient { BaseAddress = new Uri(hub.Hub.BaseUrl) })
        {
            Assert.Contains("og:title", await bot.GetStringAsync(path), StringComparison.Ordinal);
        }

        Assert.Equal("image/png", (await new HttpClient().GetAsync(link.Str("qr_png_url"))).Content.Headers.ContentType!.MediaType);

        var counted = await hub.EventuallyAsync(() => m.GetAsync($"/v1/links/{link.Str("id")}"),
            r => r.Json.GetProperty("clicks").GetProperty("total").GetInt64() == 4, what: "click counts");
        var by = counted.Json.GetProperty("clicks").GetProperty("by_platform");
        Assert.Equal(1, by.GetProperty("desktop").GetInt64());
        Assert.Equal(1, by.GetProperty("ios").GetInt64());
        Assert.Equal(1, by.GetProperty("android").GetInt64());
        Assert.Equal(1, by.GetProperty("wechat").GetInt64());
    }

    [Fact]
    public async Task A_revoked_or_expired_link_shows_that_it_has_expired()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var link = await CreateLinkAsync(m);
        var path = new Uri(link.Str("short_url")).AbsolutePath;
        using var browser = new BrowserLikeClient(hub.Hub.BaseUrl);
        Assert.Equal(HttpStatusCode.Redirect, (await browser.Http.GetAsync(path)).StatusCode);
        Assert.Equal("revoked", (await m.PostAsync($"/v1/links/{link.Str("id")}/revoke")).Str("status"));
        var gone = await browser.PageAsync(path);
        Assert.Equal(HttpStatusCode.Gone, gone.Status);
        Assert.Contains("expired", gone.Html, StringComparison.Ordinal);

        var short1 = await m.PostAsync("/v1/links", new { url = "https://shop.example.com/p/1", title = "short-lived", expires_in_seconds = 60 });
        await hub.ExecAsync("UPDATE links SET expires_at = 1 WHERE id = @id", new { id = short1.Str("id") });
        // Another instance (or this one after its cache lapses) reads the row: expired.
        var code = short1.Str("code");
        hub.Service<Microsoft.Extensions.Caching.Memory.IMemoryCache>().Remove("link:" + code);
        Assert.Equal(HttpStatusCode.Gone, (await browser.PageAsync("/l/" + code)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await browser.PageAsync("/l/NoSuchCd")).Status);
    }

    [Fact]
    public async Task Unsafe_targets_are_refused_and_links_are_the_merchants_own()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var bad = await m.PostAsync("/v1/links", new { url = "javascript:alert(1)", title = "x", android_url = "javascript:alert(2)", ios_url = "http://insecure.example.com" });
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
        var errors = bad.Json.GetProperty("errors");
        Assert.True(errors.TryGetProperty("url", out _));
        Assert.True(errors.TryGetProperty("android_url", out _));
        Assert.True(errors.TryGetProperty("ios_url", out _));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM links WHERE title = 'x'"));

        var link = await CreateLinkAsync(m);
        var (other, _, _) = await hub.NewMerchantAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/v1/links/{link.Str("id")}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await other.PostAsync($"/v1/links/{link.Str("id")}/revoke")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await other.PostAsync("/v1/share_codes", new { link_id = link.Str("id") })).Status);
    }

    [Fact]
    public async Task Non_ascii_targets_are_normalised_at_creation_and_the_redirect_is_never_a_500()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var link = await m.PostAsync("/v1/links", new
        {
            url = "https://例子.中国/商品/42?色=青",
            title = "IDN",
            ios_url = "https://münchen.example/p/42",
            desktop_url = "https://shop.example.com/商品/42",
        });
        Assert.Equal(HttpStatusCode.Created, link.Status);
        Assert.Equal("https://xn--fsqu00a.xn--fiqs8s/%E5%95%86%E5%93%81/42?%E8%89%B2=%E9%9D%92", link.Str("url"));
        Assert.Equal("https://xn--mnchen-3ya.example/p/42", link.Str("ios_url"));
        var path = new Uri(link.Str("short_url")).AbsolutePath;
        using (var desktop = new BrowserLikeClient(hub.Hub.BaseUrl))
        {
            var r = await desktop.Http.GetAsync(path);
            Assert.Equal(HttpStatusCode.Redirect, r.StatusCode);
            Assert.Equal("https://shop.example.com/%E5%95%86%E5%93%81/42", r.Headers.Location!.OriginalString);
        }

        using (var android = new BrowserLikeClient(hub.Hub.BaseUrl, AndroidUa))
        {
            Assert.Equal(link.Str("url"), (await android.Http.GetAsync(path)).Headers.Location!.OriginalString);
        }

        // CR/LF (header splitting) and NUL are refused, not encoded into something the merchant did not write.
        foreach (var bad in new[] { "https://shop.example.com/p/1\r\nSet-Cookie: a=b", "https://shop.example.com/p\u0000/1", "https://shop.example.com@evil.example/p/1" })
        {
            var r = await m.PostAsync("/v1/links", new { url = bad, title = "crlf" });
            Assert.Equal(HttpStatusCode.BadRequest, r.Status);
            Assert.True(r.Json.GetProperty("errors").TryGetProperty("url", out _), r.ToString());
        }

        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM links WHERE title = 'crlf'"));

        // Links stored before these rules: a Unicode target is normalised on the way out; one that cannot be (CR/LF)
        // gets a page, not a 500, and its click is not counted.
        var unicode = await CreateLinkAsync(m);
        await hub.ExecAsync("UPDATE links SET url = @url, desktop_url = NULL WHERE id = @id", new { url = "https://例子.中国/商品/1", id = unicode.Str("id") });
        var broken = await CreateLinkAsync(m);
        await hub.ExecAsync("UPDATE links SET url = @url, desktop_url = @url WHERE id = @id", new { url = "https://shop.example.com/p/1\r\nSet-Cookie: a=b", id = broken.Str("id") });
        using var browser = new BrowserLikeClient(hub.Hub.BaseUrl);
        var fixedUp = await browser.Http.GetAsync(new Uri(unicode.Str("short_url")).AbsolutePath);
        Assert.Equal(HttpStatusCode.Redirect, fixedUp.StatusCode);
        Assert.Equal("https://xn--fsqu00a.xn--fiqs8s/%E5%95%86%E5%93%81/1", fixedUp.Headers.Location!.OriginalString);
        var page = await browser.Http.GetAsync(new Uri(broken.Str("short_url")).AbsolutePath);
        Assert.Equal(HttpStatusCode.NotFound, page.StatusCode);
        Assert.Null(page.Headers.Location);

        await hub.EventuallyAsync(() => m.GetAsync($"/v1/links/{unicode.Str("id")}"),
            r => r.Json.GetProperty("clicks").GetProperty("total").GetInt64() == 1, what: "the good click counted");
        Assert.Equal(0, (await m.GetAsync($"/v1/links/{broken.Str("id")}")).Json.GetProperty("clicks").GetProperty("total").GetInt64());
    }

    [Fact]
    public async Task The_android_intent_is_built_from_parsed_parts_and_a_deep_link_cannot_change_its_parameters()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var refused = new[]
        {
            "exampleshop://product/42#Intent;package=com.evil.app;end", // a fragment would land among the intent's parameters
            "exampleshop://product/42;end#Intent;S.browser_fallback_url=javascript%3Aalert(1);end",
            "javascript:alert(1)",
            "JavaScript://%0aalert(1)",
            "intent://product/42#Intent;scheme=exampleshop;package=com.evil.app;end",
            "file:///data/data/com.example.shop/secret",
            "content://com.example.shop.provider/secret",
            "data:text/html,<script>alert(1)</script>",
            "exampleshop://user:pw@product/42",
        };
        foreach (var androidUrl in refused)
        {
            var r = await m.PostAsync("/v1/links", new { url = "https://shop.example.com/p/42", title = "inject", android_package = "com.example.shop", android_url = androidUrl });
            Assert.True(r.Status == HttpStatusCode.BadRequest, androidUrl + " → " + r);
            Assert.True(r.Json.GetProperty("errors").TryGetProperty("android_url", out _), androidUrl);
        }

        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM links WHERE title = 'inject'"));

        // ';' and '=' in the path or query are data, not parameters: the intent still has exactly its three.
        var link = await m.PostAsync("/v1/links", new
        {
            url = "https://shop.example.com/p/42?from=share#top",
            title = "ok",
            android_package = "com.example.shop",
            android_url = "exampleshop://product/42;end;package=com.evil.app?q=a;end&S.x=1",
        });
        Assert.Equal(HttpStatusCode.Created, link.Status);
        using var android = new BrowserLikeClient(hub.Hub.BaseUrl, AndroidUa);
        var location = (await android.Http.GetAsync(new Uri(link.Str("short_url")).AbsolutePath)).Headers.Location!.OriginalString;
        var (data, parameters) = ParseIntent(location);
        Assert.Equal("intent://product/42;end;package=com.evil.app?q=a;end&S.x=1", data);
        Assert.Equal(["scheme=exampleshop", "package=com.example.shop", "S.browser_fallback_url=https%3A%2F%2Fshop.example.com%2Fp%2F42%3Ffrom%3Dshare%23top"], parameters);
    }

    /// <summary>Splits an intent URL the way Android's Intent.parseUri does: parameters after the last '#', up to 'end'.</summary>
    private static (string Data, List<string> Parameters) ParseIntent(string uri)
    {
        var hash = uri.LastIndexOf('#');
        Assert.StartsWith("#Intent;", uri[hash..], StringComparison.Ordinal);
        var parameters = uri[(hash + "#Intent;".Length)..].Split(';').ToList();
        Assert.Equal("end", parameters[^1]);
        return (uri[..hash], parameters[..^1]);
    }

    [Fact]
    public async Task A_share_code_resolves_from_pasted_text_with_any_delimiters_and_expires_in_30_days()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var created = await m.PostAsync("/v1/share_codes", new { url = "https://shop.example.com/p/7", title = "宜兴紫砂壶 Yixing teapot" });
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var code = created.Str("code");
        var text = created.Str("text");
        Assert.Contains($"￥{code}￥", text, StringComparison.Ordinal);
        Assert.Contains("【宜兴紫砂壶 Yixing teapot】", text, StringComparison.Ordinal);
        var days = (created.Json.GetProperty("expires_at").GetDateTimeOffset() - DateTimeOffset.UtcNow).TotalDays;
        Assert.InRange(days, 29.9, 30.1);

        var (reader, _, _) = await hub.NewMerchantAsync(); // another app resolves it: that is the point of interconnection
        foreach (var pasted in new[] { "8.0 复制打开 " + text, $"咑閞 ¥{code}¥ 看看", $"€{code}€", $"(  {code} )", $"￥{code}¥" })
        {
            var r = await reader.GetAsync("/v1/share_codes/resolve?text=" + Uri.EscapeDataString(pasted));
            Assert.True(r.Status == HttpStatusCode.OK, pasted + " → " + r);
            Assert.Equal("https://shop.example.com/p/7", r.Str("url"));
            Assert.Equal(code, r.Str("code"));
            Assert.False(r.Json.TryGetProperty("id", out _)); // only the product's public face, no merchant data
        }

        Assert.Equal("no_share_code", (await reader.GetAsync("/v1/share_codes/resolve?text=" + Uri.EscapeDataString("no code here"))).Str("code"));
        Assert.Equal(HttpStatusCode.NotFound, (await reader.GetAsync("/v1/share_codes/resolve?text=" + Uri.EscapeDataString("￥ZZZZZZZZZZZ￥"))).Status);
        Assert.Equal(5, (await m.GetAsync($"/v1/share_codes/{created.Str("id")}")).Json.GetProperty("resolves").GetInt64());

        Assert.Equal("revoked", (await m.PostAsync($"/v1/share_codes/{created.Str("id")}/revoke")).Str("status"));
        Assert.Equal(HttpStatusCode.Gone, (await reader.GetAsync("/v1/share_codes/resolve?text=" + Uri.EscapeDataString(text))).Status);

        var old = await m.PostAsync("/v1/share_codes", new { link_id = created.Str("link") });
        await hub.ExecAsync("UPDATE share_codes SET expires_at = 1 WHERE id = @id", new { id = old.Str("id") });
        Assert.Equal(HttpStatusCode.Gone, (await reader.GetAsync("/v1/share_codes/resolve?text=" + Uri.EscapeDataString(old.Str("text")))).Status);

        using var browser = new BrowserLikeClient(hub.Hub.BaseUrl);
        var fresh = await m.PostAsync("/v1/share_codes", new { link_id = created.Str("link") });
        var (status, location) = await browser.SubmitAsync("/s", new Dictionary<string, string> { ["text"] = "hi! " + fresh.Str("text") });
        Assert.Equal(HttpStatusCode.Redirect, status);
        Assert.Equal(new Uri(fresh.Str("short_url")).AbsolutePath, location);
        Assert.Equal((HttpStatusCode)422, (await browser.SubmitAsync("/s", new Dictionary<string, string> { ["text"] = "nothing" })).Status);
    }
}

[Collection("sqlite")]
public sealed class LinkTests_Sqlite(SqliteHub hub) : LinkTests(hub);

[Collection("postgres")]
public sealed class LinkTests_Postgres(PostgresHub hub) : LinkTests(hub);
