using System.Text.Json;
using Hutong.Connectors.Abstractions;
using Hutong.Domain.Payments;
using Microsoft.Extensions.Options;

namespace Hutong.Server.Features.Payments;

/// <summary>The payment as the API and its webhooks show it.</summary>
public sealed class PaymentDtos(IOptions<HubOptions> options, PayerPseudonyms pseudonyms)
{
    public PaymentDto ToDto(PaymentRow p)
    {
        var baseUrl = options.Value.PublicBaseUrl.TrimEnd('/');
        var checkoutUrl = $"{baseUrl}/pay/{p.CheckoutToken}";
        var state = p.State;
        return new PaymentDto(
            p.Id,
            "payment",
            p.Amount,
            p.Currency,
            p.Status,
            p.Description,
            p.MerchantOrderId,
            p.Metadata is null ? null : JsonSerializer.Deserialize<Dictionary<string, string>>(p.Metadata),
            p.BuyerId,
            p.ProductCategory,
            checkoutUrl,
            p.ReturnUrl,
            p.Wallet,
            state == PaymentStatus.Pending && p.CodeUrl is not null && p.Flow == PayFlow.Native ? new NextAction("scan_qr", p.CodeUrl, checkoutUrl + "/qr.png", checkoutUrl + "/qr.svg") : null,
            (p.PayerId is not null || state == PaymentStatus.Succeeded) && p.Wallet is not null
                ? new PaymentPayer(p.Wallet, pseudonyms.For(p.MerchantId, p.Wallet, p.PayerId), p.PaidVia ?? "api", p.FriendLinkId)
                : null,
            p.WalletTransactionId,
            p.FailureCode is null ? null : new PaymentFailure(p.FailureCode, p.FailureMessage ?? string.Empty),
            p.AmountRefunded,
            p.ProfitSharing is null ? null : JsonSerializer.Deserialize<List<SplitRuleRequest>>(p.ProfitSharing),
            DateTimeOffset.FromUnixTimeMilliseconds(p.ExpiresAt),
            DateTimeOffset.FromUnixTimeMilliseconds(p.CreatedAt),
            p.SucceededAt is { } s ? DateTimeOffset.FromUnixTimeMilliseconds(s) : null,
            p.SucceededAt is null ? null : AmountDetailsOf(p.Funding),
            p.SubsidyCampaignId is { } campaign && p.SubsidyStatus is { } subsidyStatus
                ? new PaymentSubsidy(campaign, p.SubsidyWallet ?? string.Empty, p.SubsidyAmount, p.WalletAmount, subsidyStatus, p.SubsidyReturned)
                : null);
    }

    private static PaymentAmountDetails AmountDetailsOf(AmountDetails f) => new(f.BuyerPaid, f.WalletDiscount, f.MerchantDiscount, f.Settlement);
}
