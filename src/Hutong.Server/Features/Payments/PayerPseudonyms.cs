using System.Security.Cryptography;
using System.Text;

namespace Hutong.Server.Features.Payments;

/// <summary>
/// What the hub shows for a wallet's buyer id (WeChat openid, Alipay buyer_id, UnionPay card reference, any wallet's):
/// <c>pyr_</c> + HMAC-SHA256(key, merchant ‖ wallet ‖ id), truncated to 128 bits. Keyed, so a merchant or a webhook
/// receiver cannot hash candidate ids (an Alipay id is 16 digits) back to the buyer; per merchant, so two merchants
/// cannot join their customers; stable, so one buyer is one payer across payments, flows and hubs sharing the store.
/// The raw id goes only to the wallet (wallet_payers, payment_attempts.payer_ref) and is never stored on the payment.
/// </summary>
public sealed partial class PayerPseudonyms
{
    public const string Prefix = "pyr_";
    private const int HexLength = 32;
    private readonly byte[] _key;

    public PayerPseudonyms(IConfiguration configuration, ILogger<PayerPseudonyms> log)
    {
        // Derived from the master key (never the key itself), so no new secret has to be provisioned and every hub on the
        // store derives the same one. Without a master key (local development) the pseudonym is still per merchant and
        // never the raw id, but it is not secret: the start-up warning says so.
        var master = configuration[$"{HubOptions.Section}:MasterKey"];
        var ikm = string.IsNullOrEmpty(master) ? new byte[32] : Convert.FromBase64String(master);
        if (string.IsNullOrEmpty(master))
        {
            LogNoKey(log);
        }

        _key = HKDF.DeriveKey(HashAlgorithmName.SHA256, ikm, 32, salt: [], info: "hutong payer pseudonym v1"u8.ToArray());
    }

    /// <summary>The pseudonym of <paramref name="walletPayerId"/> for <paramref name="merchantId"/> at <paramref name="wallet"/>; null stays null, a pseudonym stays itself.</summary>
    public string? For(string merchantId, string wallet, string? walletPayerId)
    {
        if (walletPayerId is null || IsPseudonym(walletPayerId))
        {
            return walletPayerId;
        }

        // Length-prefixed fields: ("ab","c") and ("a","bc") must not collide.
        var text = $"{merchantId.Length}:{merchantId}|{wallet.Length}:{wallet}|{walletPayerId}";
        var mac = HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(text));
        return Prefix + Convert.ToHexStringLower(mac)[..HexLength];
    }

    /// <summary>A value this class made (payments stored before pseudonyms hold the raw id, and are shown through <see cref="For"/>).</summary>
    public static bool IsPseudonym(string value) =>
        value.Length == Prefix.Length + HexLength && value.StartsWith(Prefix, StringComparison.Ordinal)
        && value.AsSpan(Prefix.Length).IndexOfAnyExcept("0123456789abcdef") < 0;

    [LoggerMessage(Level = LogLevel.Warning, Message = "No Hutong:MasterKey: payer pseudonyms are not keyed by a secret (set it in production)")]
    private static partial void LogNoKey(ILogger log);
}
