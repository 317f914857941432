using System.Text.RegularExpressions;

namespace Hutong.Domain.Text;

/// <summary>
/// The shapes of the account ids the hub sends to a wallet as someone's identity (split receivers, payout payees): one
/// rule per kind, so a value the wallet can only refuse later, in a job, is refused when the merchant sends it. Each
/// pattern is anchored with \A…\z (.NET's $ also matches before a final "\n").
/// </summary>
public static partial class WalletAccountIds
{
    /// <summary>
    /// A WeChat Pay merchant number (mchid, 商户号), digits only: "由微信支付生成并下发", string[1,32] in the v3 API
    /// (wechatpay-apiv3 SDK docs, e.g. wechatpay-go docs/profitsharing: mchid string[1,32]); the shortest in WeChat Pay's
    /// own examples is 8 digits (receivers/add, account "86693852": wechatpay-im/website
    /// openapi/v3/profitsharing/receivers/add.md), the common ones 10 (1230000109, 1900000109). So 8 to 32 digits.
    /// </summary>
    public static bool IsWeChatMchId(string s) => WeChatMchId().IsMatch(s);

    /// <summary>
    /// A WeChat openid (PERSONAL_OPENID, transfer-bills openid): up to 128 characters of letters, digits, _ and -
    /// (openid string[1,128] in transfer-bills; openids are 28 characters such as oUpF8uMuAJO_M2pxb1Q9zNjWeS6o).
    /// </summary>
    public static bool IsWeChatOpenId(string s) => WeChatOpenId().IsMatch(s);

    /// <summary>
    /// An Alipay user id (also a merchant's PID): "2088" and 12 more digits (alipay-sdk-java
    /// AlipayCommerceRentRoyaltyInvestPublishModel: "2088开头的16位纯数字"; royalty trans_in_type userId).
    /// </summary>
    public static bool IsAlipayUserId(string s) => AlipayUserId().IsMatch(s);

    /// <summary>An Alipay logon id (royalty trans_in_type loginName, transfer ALIPAY_LOGON_ID): a mainland mobile number or an e-mail.</summary>
    public static bool IsAlipayLogonId(string s) => s.Length is >= 3 and <= 100 && (PhoneNumber().IsMatch(s) || Email().IsMatch(s));

    [GeneratedRegex(@"\A[0-9]{8,32}\z")]
    private static partial Regex WeChatMchId();

    [GeneratedRegex(@"\A[A-Za-z0-9_-]{6,128}\z")]
    private static partial Regex WeChatOpenId();

    [GeneratedRegex(@"\A2088[0-9]{12}\z")]
    private static partial Regex AlipayUserId();

    [GeneratedRegex(@"\A1[0-9]{10}\z")]
    private static partial Regex PhoneNumber();

    [GeneratedRegex(@"\A[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+\z")]
    private static partial Regex Email();
}
