using System.Security.Cryptography;
using System.Text;
using System.Xml;
using System.Xml.Linq;

namespace Hutong.Connectors.WeChatPay;

/// <summary>
/// WeChat Pay's v2 protocol, which the payment-code API (pay/micropay) still speaks: flat XML bodies signed with the
/// merchant's v2 API key (商户平台 → API安全 → API密钥). The signature (pay.weixin.qq.com/wiki/doc/api/micropay.php?chapter=4_3):
/// the non-empty parameters except <c>sign</c>, sorted by name (ASCII), joined as <c>k=v&amp;…</c>, then <c>&amp;key=KEY</c>;
/// HMAC-SHA256 keyed with KEY (sign_type=HMAC-SHA256), uppercase hex.
/// </summary>
public static class WeChatPayV2
{
    /// <summary>Bounds what is read of an answer: a v2 body is a few hundred bytes.</summary>
    public const int MaxBodyChars = 64 * 1024;

    public const string SignType = "HMAC-SHA256";

    /// <summary>The string that is signed: <c>k=v&amp;…&amp;key=KEY</c> over the non-empty fields except sign, sorted by name.</summary>
    public static string SignContent(IReadOnlyDictionary<string, string> fields, string key)
    {
        var sb = new StringBuilder();
        foreach (var (k, v) in fields.Where(f => f.Key != "sign" && !string.IsNullOrEmpty(f.Value)).OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            sb.Append(k).Append('=').Append(v).Append('&');
        }

        return sb.Append("key=").Append(key).ToString();
    }

    public static string Sign(IReadOnlyDictionary<string, string> fields, string key) =>
        Convert.ToHexString(HMACSHA256.HashData(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(SignContent(fields, key))));

    /// <summary>True when <c>sign</c> is present and matches, compared in constant time.</summary>
    public static bool Verify(IReadOnlyDictionary<string, string> fields, string key) =>
        fields.TryGetValue("sign", out var sign)
        && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(sign.ToUpperInvariant()), Encoding.ASCII.GetBytes(Sign(fields, key)));

    public static string ToXml(IReadOnlyDictionary<string, string> fields) =>
        new XElement("xml", fields.Select(f => new XElement(f.Key, f.Value))).ToString(SaveOptions.DisableFormatting);

    /// <summary>The child elements of &lt;xml&gt; as fields; null for anything else. DTDs are refused (no entity tricks).</summary>
    public static Dictionary<string, string>? ParseXml(string text)
    {
        if (text.Length > MaxBodyChars)
        {
            return null;
        }

        try
        {
            var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null, MaxCharactersInDocument = MaxBodyChars };
            using var reader = XmlReader.Create(new StringReader(text), settings);
            var root = XDocument.Load(reader).Root;
            if (root is null || root.Name.LocalName != "xml")
            {
                return null;
            }

            var fields = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var e in root.Elements())
            {
                if (!fields.TryAdd(e.Name.LocalName, e.Value))
                {
                    return null; // a field twice: which one would be signed?
                }
            }

            return fields;
        }
        catch (XmlException)
        {
            return null;
        }
    }
}
