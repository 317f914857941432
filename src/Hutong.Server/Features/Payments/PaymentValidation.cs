using System.Text;
using System.Text.RegularExpressions;
using Hutong.Connectors.Alipay;
using Hutong.Connectors.WeChatPay;
using Hutong.Domain;
using Hutong.Domain.Links;
using Hutong.Domain.Text;

namespace Hutong.Server.Features.Payments;

public static partial class PaymentValidation
{
    public const long MaxAmount = Money.MaxAmount; // 1 billion yuan in fen; wallets cap far lower
    public const int MinExpirySeconds = 60;
    public const int MaxExpirySeconds = 7 * 24 * 3600;

    /// <summary>
    /// The strictest description limit of all wallets, checked at creation: the buyer picks the wallet only at checkout,
    /// so a wallet-specific check at confirm would fail in front of the buyer, after the merchant was told "created".
    /// WeChat Pay: 127 UTF-8 bytes; Alipay: 256 characters (always met within 127 bytes); UnionPay: no description is sent.
    /// </summary>
    public const int DescriptionMaxUtf8Bytes = WeChatPayConnector.DescriptionMaxUtf8Bytes;

    // Does not compile (negative constant to uint) if Alipay's character limit ever drops below the byte limit above.
    private const uint AlipaySubjectHeadroom = AlipayConnector.SubjectMaxChars - DescriptionMaxUtf8Bytes;

    public static Dictionary<string, string[]> Validate(CreatePaymentRequest r)
    {
        var errors = new Dictionary<string, string[]>();
        void Add(string field, string message) => errors[field] = [message];

        if (r.Amount is null)
        {
            Add("amount", "amount is required: an integer in minor units (fen for CNY).");
        }
        else if (r.Amount is < 1 or > MaxAmount)
        {
            Add("amount", $"amount must be between 1 and {MaxAmount} minor units.");
        }

        if (r.Currency is null)
        {
            Add("currency", "currency is required (ISO 4217, e.g. CNY).");
        }
        else if (!Currency.TryParse(r.Currency, out _))
        {
            Add("currency", $"Unsupported currency '{r.Currency}'.");
        }

        if (string.IsNullOrWhiteSpace(r.Description))
        {
            Add("description", "description is required.");
        }
        else if (Encoding.UTF8.GetByteCount(r.Description) > DescriptionMaxUtf8Bytes)
        {
            Add("description", $"description must be at most {DescriptionMaxUtf8Bytes} bytes in UTF-8 (WeChat Pay's limit): 127 ASCII or 42 Chinese characters.");
        }
        else if (!PlainText.IsPrintable(r.Description))
        {
            Add("description", "description " + PlainText.Refusal);
        }

        if (string.IsNullOrEmpty(r.MerchantOrderId))
        {
            Add("merchant_order_id", "merchant_order_id is required.");
        }
        else if (!OrderIdPattern().IsMatch(r.MerchantOrderId))
        {
            Add("merchant_order_id", "merchant_order_id must be 1-64 characters of letters, digits and _ - . : |");
        }

        if (r.ExpiresInSeconds is { } e && (e < MinExpirySeconds || e > MaxExpirySeconds))
        {
            Add("expires_in_seconds", $"expires_in_seconds must be between {MinExpirySeconds} and {MaxExpirySeconds}.");
        }

        if (r.BuyerId is { } buyer && (buyer.Length is 0 or > 64 || !OrderIdPattern().IsMatch(buyer)))
        {
            Add("buyer_id", "buyer_id must be 1-64 characters of letters, digits and _ - . : |");
        }

        if (r.ProductCategory is { } category && (category.Length is 0 or > 64 || !OrderIdPattern().IsMatch(category)))
        {
            Add("product_category", "product_category must be 1-64 characters of letters, digits and _ - . : |");
        }

        if (r.ReturnUrl is not null && NormalizeReturnUrl(r.ReturnUrl) is null)
        {
            Add("return_url", $"return_url must be an absolute https URL (http only for localhost or a loopback address) of at most {LinkUrl.MaxLength} characters, without user info or control characters.");
        }

        if (r.Metadata is { } m)
        {
            if (m.Count > 20)
            {
                Add("metadata", "metadata holds at most 20 keys.");
            }
            else if (m.Any(kv => kv.Key.Length is 0 or > 40 || kv.Value is null || kv.Value.Length > 500))
            {
                Add("metadata", "metadata keys are 1-40 characters and values at most 500 characters.");
            }
            else if (m.Any(kv => !PlainText.IsPrintable(kv.Key) || !PlainText.IsPrintable(kv.Value!)))
            {
                // Shown in the console and in webhooks, and metadata.live_room names the host a payment is settled to.
                Add("metadata", "metadata keys and values " + PlainText.Refusal);
            }
        }

        return errors;
    }

    /// <summary>
    /// The merchant's return_url as the cashier links it: normalised like a link's URL (IDN hosts in punycode, non-ASCII
    /// percent-encoded), https only, except http to the merchant's own machine (loopback) for local development. The
    /// buyer follows it from our page, so a cleartext or script URL would be ours to answer for; null when refused.
    /// </summary>
    public static string? NormalizeReturnUrl(string raw)
    {
        if (LinkUrl.NormalizeWeb(raw) is not { } url)
        {
            return null;
        }

        var u = new Uri(url);
        return u.Scheme == Uri.UriSchemeHttps || u.IsLoopback || u.Host.Equals("localhost", StringComparison.OrdinalIgnoreCase) ? url : null;
    }

    [GeneratedRegex("^[A-Za-z0-9_\\-.:|]{1,64}$")]
    private static partial Regex OrderIdPattern();
}
