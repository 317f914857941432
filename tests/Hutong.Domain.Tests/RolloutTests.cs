using System.Text;
using Hutong.Domain.Rollout;

namespace Hutong.Domain.Tests;

public class RolloutTests
{
    [Theory]
    [InlineData("", 0u, 0x00000000u)]
    [InlineData("", 1u, 0x514E28B7u)]
    [InlineData("", 0xffffffffu, 0x81F16F39u)]
    [InlineData("aaaa", 0x9747b28cu, 0x5A97808Au)]
    [InlineData("Hello, world!", 0x9747b28cu, 0x24884CBAu)]
    [InlineData("The quick brown fox jumps over the lazy dog", 0x9747b28cu, 0x2FA826CDu)]
    public void Murmur3_x86_32_matches_the_reference_vectors(string input, uint seed, uint expected) =>
        Assert.Equal(expected, StableBucket.Murmur3(Encoding.UTF8.GetBytes(input), seed));

    [Theory]
    [InlineData("gr1", "123", 73)]
    [InlineData("groupX", "999", 25)]
    public void Buckets_match_the_cross_client_vectors_of_Unleash(string group, string user, int bucket) =>
        Assert.Equal(bucket, StableBucket.Of(group, user));

    [Theory]
    [InlineData(1)]
    [InlineData(10)]
    [InlineData(25)]
    [InlineData(50)]
    [InlineData(90)]
    public void Over_100k_users_the_share_offered_is_within_one_percent_of_the_setting(int percentage)
    {
        var rule = new RolloutRule("wechatpay", percentage);
        var offered = Enumerable.Range(0, 100_000).Count(i => rule.Evaluate($"user-{i}", null).Offered);
        Assert.InRange(offered / 1000.0, percentage - 1.0, percentage + 1.0);
    }

    [Fact]
    public void The_same_user_always_gets_the_same_answer_and_widening_keeps_everyone_in()
    {
        var narrow = new RolloutRule("alipay", 10);
        var wide = new RolloutRule("alipay", 30);
        for (var i = 0; i < 10_000; i++)
        {
            var user = $"u{i}";
            var first = narrow.Evaluate(user, null);
            Assert.Equal(first, narrow.Evaluate(user, null));
            Assert.Equal(first, new RolloutRule("alipay", 10).Evaluate(user, null));
            if (first.Offered)
            {
                Assert.True(wide.Evaluate(user, null).Offered);
            }
        }
    }

    [Fact]
    public void Different_wallets_bucket_independently()
    {
        var a = new RolloutRule("alipay", 50);
        var w = new RolloutRule("wechatpay", 50);
        var same = Enumerable.Range(0, 10_000).Count(i => a.Evaluate($"u{i}", null).Offered == w.Evaluate($"u{i}", null).Offered);
        Assert.InRange(same, 4_500, 5_500); // independent coins agree about half the time
    }

    [Fact]
    public void Evaluation_order_is_kill_switch_deny_allow_category_percentage()
    {
        var rule = new RolloutRule("alipay", 0, allowUsers: ["vip", "both"], denyUsers: ["banned", "both"], categories: ["tea"]);
        Assert.Equal(RolloutReason.DenyListed, rule.Evaluate("both", "tea").Reason);
        Assert.Equal(RolloutReason.AllowListed, rule.Evaluate("vip", "shoes").Reason);
        Assert.True(rule.Evaluate("vip", null).Offered);
        Assert.Equal(RolloutReason.CategoryNotIncluded, rule.Evaluate("someone", "shoes").Reason);
        Assert.Equal(RolloutReason.CategoryNotIncluded, rule.Evaluate("someone", null).Reason);
        Assert.Equal(RolloutReason.OutsidePercentage, rule.Evaluate("someone", "tea").Reason);
        Assert.Equal(RolloutReason.NoUser, new RolloutRule("alipay", 50).Evaluate(null, null).Reason);
        Assert.True(new RolloutRule("alipay", 100).Evaluate(null, null).Offered);

        var killed = new RolloutRule("alipay", 100, killSwitch: true, allowUsers: ["vip"]);
        Assert.Equal(new RolloutDecision(false, RolloutReason.KillSwitch, null, 100), killed.Evaluate("vip", "tea"));
    }

    [Fact]
    public void Decisions_report_the_bucket_they_used()
    {
        var d = new RolloutRule("x", 73, group: "gr1").Evaluate("123", null);
        Assert.Equal(new RolloutDecision(true, RolloutReason.InsidePercentage, 73, 73), d);
        Assert.False(new RolloutRule("x", 72, group: "gr1").Evaluate("123", null).Offered);
    }

    [Fact]
    public void Percentages_outside_0_to_100_are_refused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new RolloutRule("x", 101));
}
