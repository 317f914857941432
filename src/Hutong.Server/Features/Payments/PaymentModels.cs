using Hutong.Domain;
using Hutong.Domain.Subsidies;
using Hutong.Domain.Payments;

namespace Hutong.Server.Features.Payments;

/// <summary>POST /v1/payments. Amount is an integer in minor units (fen for CNY).</summary>
public sealed record CreatePaymentRequest(
    long? Amount,
    string? Currency,
    string? Description,
    string? MerchantOrderId,
    int? ExpiresInSeconds,
    Dictionary<string, string>? Metadata,
    string? BuyerId = null,
    string? ProductCategory = null,
    ProfitSharingRequest? ProfitSharing = null,
    string? ReturnUrl = null);

/// <summary>
/// "profit_sharing": {"splits": [...]} on a payment: the wallet holds the funds for splitting, and the rules (if any)
/// are split once the wallet allows it (WeChat: 1 minute after payment), releasing the rest to the merchant.
/// </summary>
public sealed record ProfitSharingRequest(IReadOnlyList<SplitRuleRequest>? Splits);

/// <summary>One receiver's share: a fixed amount in minor units, or ratio_bps of the payment net of fee and refunds.</summary>
public sealed record SplitRuleRequest(string? Receiver, long? Amount, int? RatioBps, string? Description = null);

/// <summary>POST /v1/payments/{id}/confirm: start (or return) the attempt at a wallet.</summary>
/// <param name="AuthCode">The buyer's payment code scanned at a till (付款码); the wallet is told by its prefix when not given.</param>
/// <param name="Flow">An in-app flow for the merchant's own mini-program or app (mini_program, app); none: the QR.</param>
/// <param name="Payer">The wallet payer handle (POST /v1/wallet_payers) a mini_program order is placed for.</param>
public sealed record ConfirmPaymentRequest(string? Wallet, string? AuthCode = null, string? Flow = null, string? Payer = null);

/// <summary>What the buyer's side does next: scan_qr (code_url and its images), or mini_program_pay / app_pay (params for wx.requestPayment / the app SDK).</summary>
public sealed record NextAction(string Type, string? CodeUrl = null, string? QrPngUrl = null, string? QrSvgUrl = null, IReadOnlyDictionary<string, string>? Params = null);

/// <summary>How an attempt's order is placed: its flow and that flow's payer (openid, client IP), with or without a browser's claim.</summary>
public sealed record FlowChoice(Hutong.Connectors.Abstractions.PayFlow Flow, Hutong.Connectors.Abstractions.FlowPayer? Payer);

public sealed record PaymentFailure(string Code, string Message);

/// <summary>Who paid: a stable pseudonym of the wallet's id for the payer (<see cref="PayerPseudonyms"/>; never the openid, buyer_id or card) and how the attempt was started.</summary>
/// <param name="Via">api (the merchant confirmed), checkout (the buyer's cashier page) or friend (a friend-pay link).</param>
/// <param name="FriendPayLink">The friend-pay link the payer came through, when <paramref name="Via"/> is friend.</param>
public sealed record PaymentPayer(string Wallet, string? Id, string Via, string? FriendPayLink);

public sealed record PaymentDto(
    string Id,
    string Object,
    long Amount,
    string Currency,
    string Status,
    string Description,
    string MerchantOrderId,
    IReadOnlyDictionary<string, string>? Metadata,
    string? BuyerId,
    string? ProductCategory,
    string CheckoutUrl,
    string? ReturnUrl,
    string? Wallet,
    NextAction? NextAction,
    PaymentPayer? Payer,
    string? WalletTransactionId,
    PaymentFailure? Failure,
    long AmountRefunded,
    IReadOnlyList<SplitRuleRequest>? ProfitSharing,
    DateTimeOffset ExpiresAt,
    DateTimeOffset CreatedAt,
    DateTimeOffset? SucceededAt,
    PaymentAmountDetails? AmountDetails = null,
    PaymentSubsidy? Subsidy = null);

/// <summary>
/// How a succeeded payment's wallet order was funded (minor units): the wallet order (the amount, less a platform subsidy
/// if one applied) = buyer_paid + wallet_discount + merchant_discount; settlement_amount (what the wallet settles to the
/// merchant) = the wallet order − merchant_discount. Without coupons buyer_paid and settlement_amount are the wallet order.
/// </summary>
public sealed record PaymentAmountDetails(long BuyerPaid, long WalletDiscount, long MerchantDiscount, long SettlementAmount);

/// <summary>
/// A platform subsidy on the payment: amount is taken off the order amount (the payment's amount, which the merchant
/// receives in full); the buyer's wallet order is for wallet_amount. returned: what refunds handed back to the platform.
/// </summary>
public sealed record PaymentSubsidy(string Campaign, string Wallet, long Amount, long WalletAmount, string Status, long Returned);

public sealed record PaymentList(string Object, IReadOnlyList<PaymentDto> Data, bool HasMore, string? NextCursor);

/// <summary>A payments row as stored (joined with the current attempt's code_url).</summary>
public sealed class PaymentRow
{
    /// <summary>When the hosted checkout page was first served for the payment (the funnel's "cashier opened"); null: never.</summary>
    public long? CashierOpenedAt { get; set; }

    public string Id { get; set; } = string.Empty;

    public string MerchantId { get; set; } = string.Empty;

    public long Amount { get; set; }

    public string Currency { get; set; } = string.Empty;

    public string Status { get; set; } = string.Empty;

    public string Description { get; set; } = string.Empty;

    public string MerchantOrderId { get; set; } = string.Empty;

    public string? Metadata { get; set; }

    public string CheckoutToken { get; set; } = string.Empty;

    /// <summary>The merchant's id for the buyer; rollout rules bucket by it.</summary>
    public string? BuyerId { get; set; }

    public string? ProductCategory { get; set; }

    /// <summary>Where the cashier sends the buyer back once the payment is over (the merchant's order page).</summary>
    public string? ReturnUrl { get; set; }

    public string? Wallet { get; set; }

    public string? CurrentAttemptId { get; set; }

    public string? PayerId { get; set; }

    public string? WalletTransactionId { get; set; }

    public string? FailureCode { get; set; }

    public string? FailureMessage { get; set; }

    public long ExpiresAt { get; set; }

    public long CreatedAt { get; set; }

    public long UpdatedAt { get; set; }

    public long? SucceededAt { get; set; }

    public int Version { get; set; }

    /// <summary>The browser session allowed to pay right now (a hash of its cookie), until <see cref="PayerClaimUntil"/>.</summary>
    public string? PayerClaim { get; set; }

    public long? PayerClaimUntil { get; set; }

    /// <summary>How the winning attempt was started: api, checkout or friend.</summary>
    public string? PaidVia { get; set; }

    public string? FriendLinkId { get; set; }

    /// <summary>What merchant refunds have returned so far.</summary>
    public long AmountRefunded { get; set; }

    /// <summary>The profit-sharing rules as JSON; null when the payment is not split.</summary>
    public string? ProfitSharing { get; set; }

    /// <summary>What the buyer paid of the amount, as the wallet reported it; null: the whole amount (no coupon, or before discounts).</summary>
    public long? BuyerPaid { get; set; }

    /// <summary>The wallet-settled (pre-funded) coupons' part of the amount; null: none.</summary>
    public long? WalletDiscount { get; set; }

    /// <summary>The merchant-borne coupons' part of the amount; null: none.</summary>
    public long? MerchantDiscount { get; set; }

    /// <summary>
    /// What the buyer's wallet order asks: the amount less a platform subsidy reserved or consumed for it; the whole
    /// amount when there is none, or it was released.
    /// </summary>
    public long WalletAmount =>
        SubsidyStatus is { } s && SubsidyStates.ReservationFromWire(s) != SubsidyReservationState.Released ? Amount - SubsidyAmount : Amount;

    /// <summary>
    /// How the wallet order was funded (the whole of it by the buyer unless the wallet reported coupons): the wallet order is
    /// the amount less a consumed platform subsidy.
    /// </summary>
    public AmountDetails Funding
    {
        get
        {
            var walletAmount = WalletAmount;
            return BuyerPaid is { } paid ? new(walletAmount, paid, WalletDiscount ?? 0, MerchantDiscount ?? 0) : AmountDetails.Undiscounted(walletAmount);
        }
    }

    /// <summary>The platform subsidy campaign this payment's subsidy is reserved (or consumed) against; null: none.</summary>
    public string? SubsidyCampaignId { get; set; }

    /// <summary>The wallet the subsidy was reserved for.</summary>
    public string? SubsidyWallet { get; set; }

    /// <summary>The subsidy off the order amount (minor units); the wallet order is for <see cref="Amount"/> less this.</summary>
    public long SubsidyAmount { get; set; }

    /// <summary>reserved, consumed or released (<see cref="Hutong.Domain.Subsidies.SubsidyReservationState"/>); null: none.</summary>
    public string? SubsidyStatus { get; set; }

    /// <summary>What succeeded refunds have handed back to the platform of <see cref="SubsidyAmount"/>.</summary>
    public long SubsidyReturned { get; set; }

    /// <summary>Not a payments column: the open attempt's code_url, when joined.</summary>
    public string? CodeUrl { get; set; }

    /// <summary>Not a payments column: the open attempt's flow (Native also when there is none), when joined.</summary>
    public Hutong.Connectors.Abstractions.PayFlow Flow { get; set; }

    /// <summary>The joined flow column as stored (<see cref="PaymentStore"/> only: read as stored_flow).</summary>
    public string? StoredFlow { get => PaymentStore.StoredFlow(Flow); set => Flow = PaymentStore.FlowOf(value); }

    public PaymentStatus State => PaymentStatusNames.FromWire(Status);

    public Money Money => new(Amount, Domain.Currency.Parse(Currency));

    /// <summary>The creating request's traceparent: the notification and the webhooks continue its trace.</summary>
    public string? TraceParent { get; set; }

    public PaymentRow Copy() => (PaymentRow)MemberwiseClone();
}

public sealed class AttemptRow
{
    public string Id { get; set; } = string.Empty;

    public string PaymentId { get; set; } = string.Empty;

    public string Wallet { get; set; } = string.Empty;

    /// <summary>The channel (account) the attempt went through; null on rows from before channels, meaning the wallet's own.</summary>
    public string? Channel { get; set; }

    public string OutTradeNo { get; set; } = string.Empty;

    public string Status { get; set; } = string.Empty;

    public string? CodeUrl { get; set; }

    public string? WalletTransactionId { get; set; }

    public string? ErrorCode { get; set; }

    public string? ErrorMessage { get; set; }

    public int Checks { get; set; }

    public long? NextCheckAt { get; set; }

    /// <summary>When an open order of a pending payment is next queried (<see cref="Hutong.Domain.Payments.OpenOrderPoll"/>); null: not polled.</summary>
    public long? PollAt { get; set; }

    public long CreatedAt { get; set; }

    public long UpdatedAt { get; set; }

    /// <summary>api, checkout or friend; null on rows from before friend-pay (treated as api).</summary>
    public string? Via { get; set; }

    /// <summary>The payer session that started it (checkout and friend attempts).</summary>
    public string? PayerClaim { get; set; }

    public string? FriendLinkId { get; set; }

    /// <summary>The notify_url the order was first sent with, so a re-send from any hub is the very same order; null on older rows.</summary>
    public string? NotifyUrl { get; set; }

    /// <summary>
    /// How the order was opened: the Native QR (also older rows); the buyer's payment code scanned at a till
    /// (<see cref="PaymentCodeOrders"/>); an in-app flow (JSAPI, H5, …), whose order handle (prepay id, h5_url) is in CodeUrl.
    /// </summary>
    public Hutong.Connectors.Abstractions.PayFlow Flow { get; set; }

    /// <summary>The flow column as stored (<see cref="PaymentStore"/> only: NULL for Native, else the flow's wire name).</summary>
    public string? StoredFlow { get => PaymentStore.StoredFlow(Flow); set => Flow = PaymentStore.FlowOf(value); }

    /// <summary>The platform subsidy taken off this attempt's wallet order: the order is for the payment's amount less this.</summary>
    public long SubsidyAmount { get; set; }

    /// <summary>The campaign that subsidy is of (the payment's reservation may have moved to another since, with another wallet).</summary>
    public string? SubsidyCampaignId { get; set; }

    /// <summary>What the order was placed for: the openid (JSAPI, mini-program) or the phone's IP (H5). Never shown outside the hub.</summary>
    public string? PayerRef { get; set; }

    public AttemptStatus State => AttemptStatusNames.FromWire(Status);

    /// <summary>What this attempt's wallet order asks the buyer for: the payment's order amount less the attempt's subsidy.</summary>
    public Money WalletMoney(PaymentRow payment) => new(payment.Amount - SubsidyAmount, Domain.Currency.Parse(payment.Currency));

    public AttemptRow Copy() => (AttemptRow)MemberwiseClone();
}

/// <summary>
/// A buyer or friend starting an attempt from a public page. <see cref="Session"/> is the hash of their browser's
/// payer cookie: only one session may hold a payment at a time, so two friends can never both be shown a QR.
/// </summary>
public sealed record PayerContext(string Via, string Session, string? FriendLinkId = null)
{
    /// <summary>How this browser pays (the cashier picks it from the User-Agent); Native by default.</summary>
    public Hutong.Connectors.Abstractions.PayFlow Flow { get; init; } = Hutong.Connectors.Abstractions.PayFlow.Native;

    /// <summary>The flow's payer: openid from OAuth (JSAPI), client IP and return page (H5).</summary>
    public Hutong.Connectors.Abstractions.FlowPayer? FlowPayer { get; init; }
}
