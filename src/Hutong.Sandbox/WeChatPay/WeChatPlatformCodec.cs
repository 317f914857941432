using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Hutong.Sandbox.WeChatPay;

/// <summary>
/// WeChat Pay's own side of APIv3, written for the sandbox from the documentation (wechatpay-go's validator and aes
/// utilities describe the same) rather than shared with the connector: the platform signs "TIMESTAMP\nNONCE\nBODY\n"
/// with SHA256withRSA, and encrypts resources with AEAD_AES_256_GCM (IV = nonce's UTF-8, AAD = associated_data,
/// ciphertext = base64(ciphertext ‖ 16-byte tag)).
/// </summary>
internal static class WeChatPlatformCodec
{
    public const string SignatureType = "WECHATPAY2-SHA256-RSA2048";

    public static string SignResponse(RSA platformKey, string timestamp, string nonce, string body) =>
        Convert.ToBase64String(platformKey.SignData(Encoding.UTF8.GetBytes($"{timestamp}\n{nonce}\n{body}\n"), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));

    public static string Encrypt(byte[] apiV3Key, string nonce, string associatedData, string plaintext)
    {
        var plain = Encoding.UTF8.GetBytes(plaintext);
        var sealedBytes = new byte[plain.Length + 16];
        using var gcm = new AesGcm(apiV3Key, 16);
        gcm.Encrypt(Encoding.UTF8.GetBytes(nonce), plain, sealedBytes.AsSpan(0, plain.Length), sealedBytes.AsSpan(plain.Length), Encoding.UTF8.GetBytes(associatedData));
        return Convert.ToBase64String(sealedBytes);
    }
}

/// <summary>
/// The trade bill (bill_type=ALL) as WeChat writes it (wechatpay-php's tests/fixtures/bill.ALL.csv is one): UTF-8 with
/// a BOM, a header, cells each starting with a backtick, fees with five decimals, then "总交易单数,…" and one row of totals.
/// </summary>
internal static class WeChatTradeBill
{
    public const string Header = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";
    public const string TotalsHeader = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额";

    /// <summary>One row; amounts in fen, the fee written with WeChat's five decimals.</summary>
    public sealed record Row(IReadOnlyList<string> Cells, bool Refund, long Settled, long Refunded, long Fee, long Ordered, long Requested, long CashCouponRefunded = 0);

    public static string Yuan(long fen) =>
        (fen < 0 ? "-" : string.Empty) + (Math.Abs(fen) / 100).ToString(CultureInfo.InvariantCulture) + "." + (Math.Abs(fen) % 100).ToString("00", CultureInfo.InvariantCulture);

    public static string Fee(long fen) => Yuan(fen) + "000";

    public static string Write(IReadOnlyList<Row> rows)
    {
        var sb = new StringBuilder("\uFEFF").Append(Header).Append("\r\n");
        foreach (var r in rows)
        {
            sb.Append(string.Join(',', r.Cells.Select(cell => "`" + cell))).Append("\r\n");
        }

        sb.Append(TotalsHeader).Append("\r\n").Append(string.Join(',', new[]
        {
            rows.Count.ToString(CultureInfo.InvariantCulture), Yuan(rows.Sum(r => r.Settled)), Yuan(rows.Sum(r => r.Refunded)), Yuan(rows.Sum(r => r.CashCouponRefunded)),
            Yuan(rows.Sum(r => r.Fee)), Yuan(rows.Sum(r => r.Ordered)), Yuan(rows.Sum(r => r.Requested)),
        }.Select(x => "`" + x))).Append("\r\n");
        return sb.ToString();
    }
}
