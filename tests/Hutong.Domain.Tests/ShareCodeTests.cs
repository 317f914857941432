using Hutong.Domain.Links;

namespace Hutong.Domain.Tests;

public class ShareCodeTests
{
    [Fact]
    public void New_codes_are_11_base62_characters_and_distinct()
    {
        var codes = Enumerable.Range(0, 2000).Select(_ => ShareCode.NewCode()).ToList();
        Assert.All(codes, c => Assert.True(ShareCode.IsWellFormed(c), c));
        Assert.Equal(codes.Count, codes.Distinct(StringComparer.Ordinal).Count());
    }

    [Theory]
    [InlineData("【西湖龙井】￥KZTCYyXBLn0￥ https://m.tb.cn/h.x 复zんí这段话", "KZTCYyXBLn0")]
    [InlineData("¢KZTCYyXBLn0¢", "KZTCYyXBLn0")]
    [InlineData("8.0 €KZTCYyXBLn0€ 咑閞", "KZTCYyXBLn0")]
    [InlineData("₤KZTCYyXBLn0₤", "KZTCYyXBLn0")]
    [InlineData("$KZTCYyXBLn0$", "KZTCYyXBLn0")]
    [InlineData("￥KZTCYyXBLn0¥", "KZTCYyXBLn0")] // the keyboard swapped full-width for half-width on one side
    [InlineData("￥ KZTCYyXBLn0 ￥", "KZTCYyXBLn0")]
    [InlineData("￥ＫＺＴＣＹｙＸＢＬｎ０￥", "KZTCYyXBLn0")] // full-width letters from a Chinese IME
    [InlineData("(KZTCYyXBLn0)", "KZTCYyXBLn0")]
    [InlineData("/KZTCYyXBLn0/", "KZTCYyXBLn0")]
    [InlineData("https://m.tb.cn/x?sp_tk=wqJLWlRDWXlYQkxuMMKi&y=1", "KZTCYyXBLn0")] // Base64 of ¢KZTCYyXBLn0¢ (the CSDN example)
    public void Finds_the_code_in_share_text(string text, string expected) => Assert.Equal(expected, ShareCode.Find(text));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("no code here")]
    [InlineData("￥KZTCYyXBLn￥")] // 10 characters
    [InlineData("￥KZTCYyXBLn01￥")] // 12 characters
    [InlineData("KZTCYyXBLn0")] // no delimiters
    [InlineData("sp_tk=!!!!notbase64!!!!")]
    public void Finds_nothing_where_there_is_no_code(string? text) => Assert.Null(ShareCode.Find(text));

    [Fact]
    public void What_it_writes_it_reads_back_including_through_sp_tk()
    {
        var code = ShareCode.NewCode();
        Assert.Equal(code, ShareCode.Find(ShareCode.ShareText(code, "【title】 with brackets\nand lines", "https://hub.example/l/abcdefgh")));
        Assert.Equal(code, ShareCode.Find("https://x.example/?sp_tk=" + Uri.EscapeDataString(ShareCode.SpTk(code))));
    }

    [Fact]
    public void Huge_pasted_text_is_bounded_and_never_hangs()
    {
        var noise = new string('￥', 200_000) + "￥KZTCYyXBLn0￥";
        Assert.Null(ShareCode.Find(noise)); // beyond the first 4,096 characters nobody looks
        Assert.Equal("KZTCYyXBLn0", ShareCode.Find("￥KZTCYyXBLn0￥" + new string('x', 200_000)));
    }

    [Fact]
    public void Random_text_never_throws()
    {
        var rng = new Random(20261122);
        for (var i = 0; i < 5000; i++)
        {
            var chars = Enumerable.Range(0, rng.Next(0, 64)).Select(_ => (char)rng.Next(0, 0xFFFF)).ToArray();
            var found = ShareCode.Find(new string(chars));
            Assert.True(found is null || ShareCode.IsWellFormed(found));
        }
    }
}

public class LandingTests
{
    private static readonly LinkTargets All = new("https://shop.example/p/1", "https://app.example/p/1", "com.example.shop", "shop://p/1", "https://www.example/p/1");
    private static readonly LinkTargets WebOnly = new("https://shop.example/p/1", null, null, null, null);

    [Theory]
    [InlineData("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 MicroMessenger/8.0.50", LandingPlatform.InApp, "wechat")]
    [InlineData("Mozilla/5.0 (Linux; Android 14) Mobile Safari/537.36 AlipayClient/10.5.0", LandingPlatform.InApp, "alipay")]
    [InlineData("Mozilla/5.0 (Linux; Android 14) Mobile Safari/537.36 DingTalk/7.0", LandingPlatform.InApp, "dingtalk")]
    [InlineData("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Weibo (iPhone15,2)", LandingPlatform.InApp, "weibo")]
    [InlineData("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Version/17.0 Mobile/15E148 Safari/604.1", LandingPlatform.Ios, null)]
    [InlineData("Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/120.0 Mobile Safari/537.36", LandingPlatform.Android, null)]
    [InlineData("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0 Safari/537.36", LandingPlatform.Desktop, null)]
    [InlineData("facebookexternalhit/1.1", LandingPlatform.Bot, null)]
    [InlineData("", LandingPlatform.Bot, null)]
    public void Classifies_user_agents(string ua, LandingPlatform platform, string? app) => Assert.Equal((platform, app), Landing.Classify(ua));

    [Fact]
    public void Each_platform_gets_its_target_and_falls_back_to_the_web()
    {
        Assert.Equal(new LandingAction.Redirect("https://app.example/p/1"), Landing.Decide(All, LandingPlatform.Ios, null));
        Assert.Equal(new LandingAction.Redirect("https://www.example/p/1"), Landing.Decide(All, LandingPlatform.Desktop, null));
        Assert.Equal(new LandingAction.Redirect("intent://p/1#Intent;scheme=shop;package=com.example.shop;S.browser_fallback_url=https%3A%2F%2Fshop.example%2Fp%2F1;end"),
            Landing.Decide(All, LandingPlatform.Android, null));
        Assert.Equal(new LandingAction.Interstitial("https://shop.example/p/1", "wechat"), Landing.Decide(All, LandingPlatform.InApp, "wechat"));
        Assert.Equal("intent:p/1#Intent;scheme=shop;package=com.example.shop;S.browser_fallback_url=https%3A%2F%2Fshop.example%2Fp%2F1;end".Replace("intent:", "intent://", StringComparison.Ordinal),
            ((LandingAction.Redirect)Landing.Decide(All with { AndroidUrl = "shop:p/1" }, LandingPlatform.Android, null)).Location); // an opaque deep link
        Assert.IsType<LandingAction.Preview>(Landing.Decide(All, LandingPlatform.Bot, null));
        foreach (var p in new[] { LandingPlatform.Ios, LandingPlatform.Android, LandingPlatform.Desktop })
        {
            Assert.Equal(new LandingAction.Redirect("https://shop.example/p/1"), Landing.Decide(WebOnly, p, null));
        }
    }

    [Theory]
    [InlineData("shop://p/1#Intent;package=com.evil;end")] // a fragment: refused, the web page opens instead
    [InlineData("shop://p/1;end#Intent;S.browser_fallback_url=javascript%3Aalert(1);end")]
    [InlineData("javascript:alert(1)")]
    [InlineData("intent://p/1#Intent;scheme=shop;end")]
    [InlineData("file:///sdcard/x")]
    [InlineData("shop://p/1\r\n")]
    [InlineData("shop://user@p/1")]
    public void A_deep_link_that_could_alter_the_intent_falls_back_to_the_web_page(string appUrl)
    {
        Assert.Null(LinkUrl.NormalizeAppLink(appUrl));
        Assert.Null(Landing.AndroidIntent(appUrl, "com.example.shop", "https://shop.example/p/1"));
        Assert.Equal(new LandingAction.Redirect("https://shop.example/p/1"), Landing.Decide(All with { AndroidUrl = appUrl }, LandingPlatform.Android, null));
    }

    [Fact]
    public void Intent_parameters_come_only_from_checked_parts()
    {
        // ';' in the path and query stays data (before the one '#'); the fallback's own '#' and ';' are percent-encoded.
        var intent = Landing.AndroidIntent("shop://p/1;end;package=com.evil?x=;end", "com.example.shop", "https://shop.example/p/1?a=1#Intent;package=com.evil;end");
        Assert.Equal("intent://p/1;end;package=com.evil?x=;end#Intent;scheme=shop;package=com.example.shop;"
            + "S.browser_fallback_url=https%3A%2F%2Fshop.example%2Fp%2F1%3Fa%3D1%23Intent%3Bpackage%3Dcom.evil%3Bend;end", intent);
        Assert.Single(intent!, c => c == '#');
        Assert.Null(Landing.AndroidIntent("shop://p/1", "com.example.shop;end", "https://shop.example/p/1")); // a package outside its grammar
        Assert.Equal("intent://xn--mnchen-3ya.example/%E5%95%86#Intent;scheme=https;package=com.example.shop;S.browser_fallback_url=https%3A%2F%2Fshop.example%2F;end",
            Landing.AndroidIntent("https://münchen.example/商", "com.example.shop", "https://shop.example/"));
    }

    [Theory]
    [InlineData("https://例子.中国/商品/42?色=青", "https://xn--fsqu00a.xn--fiqs8s/%E5%95%86%E5%93%81/42?%E8%89%B2=%E9%9D%92")]
    [InlineData("HTTPS://Shop.Example.com/p/1", "https://shop.example.com/p/1")]
    [InlineData("https://shop.example.com/a b", "https://shop.example.com/a%20b")]
    [InlineData("https://shop.example.com/p/1\r\nSet-Cookie: a=b", null)]
    [InlineData("https://shop.example.com/p/1\u0000", null)]
    [InlineData("https://shop.example.com/p/1\u202Egpj.exe", null)] // a bidi override makes the address read as another
    [InlineData("https://shop.example.com/p/\u200B1", null)]          // an invisible character
    [InlineData("https://shop.example.com@evil.example/", null)]
    [InlineData("ftp://shop.example.com/", null)]
    public void Web_targets_become_header_safe_ascii_or_are_refused(string raw, string? expected) => Assert.Equal(expected, LinkUrl.NormalizeWeb(raw));
}
