namespace Hutong.Domain.Payments;

/// <summary>
/// The buyer's payment code (付款码, scanned at a till): which wallet a code belongs to, told by its shape alone.
/// Rules, as Jeepay's AUTO_BAR applies them (jeequan/jeepay@5ae84c420292e6499db95971625f0e0f75efb154,
/// jeepay-core/src/main/java/com/jeequan/jeepay/core/utils/JeepayKit.java, getPayWayCodeByBarCode), each citing its wallet:
/// <list type="bullet">
/// <item>WeChat Pay: 18 digits starting 10–15 ("用户付款码条形码规则：18位纯数字，以10、11、12、13、14、15开头",
/// pay.weixin.qq.com/wiki/doc/api/micropay.php?chapter=5_1).</item>
/// <item>Alipay: 16–24 digits starting 25–30 ("25~30开头的长度为16~24位的数字", docs.open.alipay.com/api_1/alipay.trade.pay).</item>
/// <item>UnionPay (云闪付): 19 digits starting 62 (UnionPay's QR code standard, as cited there).</item>
/// </list>
/// The prefixes do not overlap, so a well-formed code names exactly one wallet.
/// </summary>
public static class PaymentCodes
{
    public const string WeChatPay = "wechatpay";
    public const string Alipay = "alipay";
    public const string UnionPay = "unionpay";

    /// <summary>The longest code any wallet issues; longer input is refused before it is looked at further.</summary>
    public const int MaxLength = 24;

    /// <summary>The wallet whose code <paramref name="authCode"/> is, or null with why it is not a payment code.</summary>
    public static (string? Wallet, string? Problem) WalletOf(string? authCode)
    {
        if (string.IsNullOrEmpty(authCode))
        {
            return (null, "auth_code is required: the digits of the buyer's payment code.");
        }

        if (authCode.Length > MaxLength || !authCode.All(char.IsAsciiDigit))
        {
            return (null, $"auth_code must be the buyer's payment code: digits only, at most {MaxLength}.");
        }

        var prefix = (authCode[0] - '0') * 10 + (authCode.Length > 1 ? authCode[1] - '0' : 0);
        return authCode.Length switch
        {
            18 when prefix is >= 10 and <= 15 => (WeChatPay, null),
            >= 16 and <= 24 when prefix is >= 25 and <= 30 => (Alipay, null),
            19 when prefix == 62 => (UnionPay, null),
            _ => (null, "auth_code is not a payment code of any wallet (WeChat Pay: 18 digits starting 10-15; Alipay: 16-24 digits starting 25-30; UnionPay: 19 digits starting 62)."),
        };
    }

    /// <summary>
    /// What to do with a payment-code order whose buyer has not been seen paying (yet), given what the wallet's query said
    /// and whether the till's wait is over. A paid or failed order is applied; one still unpaid (the buyer entering the
    /// password), unknown to the wallet or unanswered is asked again until the wait is over, then reversed: a reversal
    /// closes an unpaid order and refunds a paid one, so the order can never end charged while the payment shows failed.
    /// </summary>
    public static PaymentCodeStep Next(WalletResult? query, DateTimeOffset startedAt, TimeSpan wait, DateTimeOffset now) => query switch
    {
        WalletResult.Paid or WalletResult.PaymentFailed => PaymentCodeStep.Apply,
        WalletResult.Closed => PaymentCodeStep.Reversed, // reversed or closed at the wallet already: nothing can be charged any more
        _ when now - startedAt >= wait => PaymentCodeStep.Reverse,
        _ => PaymentCodeStep.AskAgain,
    };
}

/// <summary>The next step for a payment-code order that is not settled yet.</summary>
public enum PaymentCodeStep
{
    /// <summary>Paid or failed: apply it like any wallet result.</summary>
    Apply,

    /// <summary>Still within the till's wait: query again after the poll interval.</summary>
    AskAgain,

    /// <summary>The wait is over and it is not paid: reverse it at the wallet (撤销 / cancel).</summary>
    Reverse,

    /// <summary>The wallet already shows it reversed or closed: record the attempt failed.</summary>
    Reversed,
}
