using System.Text.RegularExpressions;
using Hutong.Domain;

namespace Hutong.Server.Features.Payments;

public static partial class PaymentValidation
{
    public const long MaxAmount = 100_000_000_000; // 1 billion yuan in fen; wallets cap far lower
    public const int MinExpirySeconds = 60;
    public const int MaxExpirySeconds = 7 * 24 * 3600;

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
        else if (r.Description.Length > 127)
        {
            Add("description", "description must be at most 127 characters.");
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
        }

        return errors;
    }

    [GeneratedRegex("^[A-Za-z0-9_\\-.:|]{1,64}$")]
    private static partial Regex OrderIdPattern();
}
