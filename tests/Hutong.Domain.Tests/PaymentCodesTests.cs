using Hutong.Domain.Payments;
using Microsoft.Extensions.Time.Testing;

namespace Hutong.Domain.Tests;

public class PaymentCodesTests
{
    [Theory]
    [InlineData("134567890123456789", "wechatpay")] // 18 digits, 10-15
    [InlineData("104567890123456789", "wechatpay")]
    [InlineData("154567890123456789", "wechatpay")]
    [InlineData("2845678901234567", "alipay")] // 16-24 digits, 25-30
    [InlineData("251234567890123456789012", "alipay")]
    [InlineData("304567890123456789", "alipay")] // 18 digits but 30: Alipay, not WeChat
    [InlineData("6234567890123456789", "unionpay")] // 19 digits, 62
    public void A_code_names_its_wallet_by_length_and_prefix(string code, string wallet) =>
        Assert.Equal((wallet, (string?)null), PaymentCodes.WalletOf(code));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("164567890123456789")] // 16 is no wallet's
    [InlineData("13456789012345678")] // 17 digits
    [InlineData("1345678901234567890")] // 19 digits starting 13
    [InlineData("624567890123456789")] // 18 digits starting 62
    [InlineData("244567890123456789")]
    [InlineData("314567890123456789")]
    [InlineData("25456789012345")] // 14 digits
    [InlineData("2545678901234567890123456")] // 25 digits
    [InlineData("13456789012345678９")] // a full-width digit
    [InlineData(" 134567890123456789")]
    public void Anything_else_is_no_payment_code(string? code)
    {
        var (wallet, problem) = PaymentCodes.WalletOf(code);
        Assert.Null(wallet);
        Assert.False(string.IsNullOrEmpty(problem));
    }

    [Fact]
    public void A_code_order_is_asked_again_until_the_tills_wait_is_over_then_reversed_unless_the_wallet_settled_it()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));
        var started = time.GetUtcNow();
        var wait = TimeSpan.FromSeconds(30);
        var paying = new WalletResult.NotPaidYet("USERPAYING");

        Assert.Equal(PaymentCodeStep.AskAgain, PaymentCodes.Next(paying, started, wait, time.GetUtcNow()));
        Assert.Equal(PaymentCodeStep.AskAgain, PaymentCodes.Next(null, started, wait, time.GetUtcNow())); // no answer: unknown, ask again
        time.Advance(TimeSpan.FromSeconds(29.999));
        Assert.Equal(PaymentCodeStep.AskAgain, PaymentCodes.Next(new WalletResult.NotFound(), started, wait, time.GetUtcNow()));
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(PaymentCodeStep.Reverse, PaymentCodes.Next(paying, started, wait, time.GetUtcNow()));
        Assert.Equal(PaymentCodeStep.Reverse, PaymentCodes.Next(null, started, wait, time.GetUtcNow()));
        Assert.Equal(PaymentCodeStep.Reverse, PaymentCodes.Next(new WalletResult.Unknown("ACCEPT?"), started, wait, time.GetUtcNow()));

        // What the wallet settled stands whenever it is heard: paid is never reversed, a failure or reversal is recorded.
        Assert.Equal(PaymentCodeStep.Apply, PaymentCodes.Next(new WalletResult.Paid(100, "CNY"), started, wait, time.GetUtcNow()));
        Assert.Equal(PaymentCodeStep.Apply, PaymentCodes.Next(new WalletResult.PaymentFailed("PAYERROR"), started, wait, started));
        Assert.Equal(PaymentCodeStep.Reversed, PaymentCodes.Next(new WalletResult.Closed("REVOKED"), started, wait, started));
    }
}
