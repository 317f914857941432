using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Hutong.Sandbox.Alipay;

/// <summary>
/// Alipay's own side of OpenAPI v2 RSA2, written for the sandbox rather than shared with the connector: parameters
/// sorted by name and joined as k=v&amp;k=v without "sign" (the Java SDK also drops empty values, the Node SDK keeps
/// them, so a request may match either), signed SHA256withRSA; a response is signed over the raw text of its
/// "xxx_response" value; a notification over its fields without sign and sign_type, empty values dropped.
/// </summary>
internal static class AlipayGatewayCodec
{
    public static string SignedText(IEnumerable<KeyValuePair<string, string?>> parameters, bool keepEmpty, params string[] without)
    {
        var sb = new StringBuilder();
        foreach (var (k, v) in parameters.Where(p => p.Key != "sign" && !without.Contains(p.Key) && (keepEmpty || !string.IsNullOrEmpty(p.Value)))
                     .OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            sb.Append(sb.Length == 0 ? string.Empty : "&").Append(k).Append('=').Append(v);
        }

        return sb.ToString();
    }

    /// <summary>Signs <paramref name="text"/> as the bytes the request's charset gives it (UTF-8 when none is named).</summary>
    public static string Sign(RSA alipayKey, string text, Encoding? charset = null) =>
        Convert.ToBase64String(alipayKey.SignData((charset ?? Encoding.UTF8).GetBytes(text), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));

    /// <summary>The gateway verifies the sign content in the request's charset: a GBK-signed request labelled utf-8 fails.</summary>
    public static bool Verify(RSA appPublicKey, string text, string? sign, Encoding charset)
    {
        if (string.IsNullOrEmpty(sign))
        {
            return false;
        }

        var raw = new byte[sign.Length];
        return Convert.TryFromBase64String(sign, raw, out var n)
            && appPublicKey.VerifyData(charset.GetBytes(text), raw.AsSpan(0, n), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
    }
}

/// <summary>The 业务明细 trade bill as Alipay writes it: GBK CSV in a ZIP, amounts in yuan, the 交易合计 footer without a colon.</summary>
internal static class AlipayTradeBill
{
    public const string Header = "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注";

    static AlipayTradeBill() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    public static Encoding Gbk => Encoding.GetEncoding("GBK");

    public static string Yuan(long fen) =>
        (fen < 0 ? "-" : string.Empty) + (Math.Abs(fen) / 100).ToString(CultureInfo.InvariantCulture) + "." + (Math.Abs(fen) % 100).ToString("00", CultureInfo.InvariantCulture);
}

/// <summary>Alipay's amounts are yuan strings with at most two decimals ("0.01"); the sandbox holds them in fen.</summary>
internal static class AlipayAmount
{
    public static string FromFen(long fen) => AlipayTradeBill.Yuan(fen);

    public static bool TryParseFen(string? yuan, out long fen)
    {
        fen = 0;
        var m = yuan is { Length: <= 20 } ? System.Text.RegularExpressions.Regex.Match(yuan, @"^(\d{1,13})(?:\.(\d{1,2}))?$", System.Text.RegularExpressions.RegexOptions.CultureInvariant) : null;
        if (m is not { Success: true })
        {
            return false;
        }

        fen = (long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) * 100)
            + (m.Groups[2].Success ? int.Parse(m.Groups[2].Value.PadRight(2, '0'), CultureInfo.InvariantCulture) : 0);
        return true;
    }
}
