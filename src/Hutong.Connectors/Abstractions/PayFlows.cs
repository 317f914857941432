namespace Hutong.Connectors.Abstractions;

/// <summary>
/// How a buyer pays a wallet order. <see cref="Native"/> is the merchant-presented QR every connector has; the others are
/// the in-app flows a connector may add (<see cref="IInAppPayConnector"/>). Alipay in-app and UnionPay app slot in here.
/// </summary>
public enum PayFlow
{
    /// <summary>Merchant-presented QR (WeChat Native, Alipay precreate, UnionPay 申码).</summary>
    Native,

    /// <summary>Inside the wallet's own in-app browser, paid in place (WeChat JSAPI / 公众号支付): needs the buyer's id from the wallet's OAuth.</summary>
    Jsapi,

    /// <summary>From the merchant's mini-program (wx.requestPayment): needs the buyer's id from jscode2session.</summary>
    MiniProgram,

    /// <summary>A phone browser outside the wallet, sent to the wallet's H5 cashier (WeChat h5_url).</summary>
    H5,

    /// <summary>From the merchant's own app through the wallet's SDK.</summary>
    App,

    /// <summary>The buyer's payment code scanned at a till (付款码, <see cref="IPaymentCodeConnector"/>): no order handle, answered or followed by query.</summary>
    PaymentCode,
}

/// <summary>Who pays and from where, for the flows that need it: the buyer's id at the wallet (JSAPI, mini-program), the phone's IP and the page to come back to (H5).</summary>
public sealed record FlowPayer(string? WalletPayerId = null, string? ClientIp = null, string? ReturnUrl = null);

/// <summary>The parameters the buyer's app or page hands to the wallet's SDK to pay an order in place; all signed by the merchant where the wallet says so.</summary>
public sealed record InAppPayParams(PayFlow Flow, IReadOnlyDictionary<string, string> Fields);

/// <summary>
/// A connector with in-app flows. The order handle returned in <see cref="CreateOrderResult.CodeUrl"/> is the flow's own:
/// the prepay id (JSAPI, mini-program, app) or the wallet's cashier URL (H5). Re-sending the same request with the same
/// out_trade_no answers the same order, as for Native.
/// </summary>
public interface IInAppPayConnector
{
    IReadOnlyList<PayFlow> InAppFlows { get; }

    Task<CreateOrderResult> CreateInAppOrderAsync(PayFlow flow, CreateOrderRequest request, FlowPayer payer, CancellationToken cancellationToken);

    /// <summary>Fresh, signed parameters to pay <paramref name="orderHandle"/> in place; null for a flow that has none (H5).</summary>
    InAppPayParams? PayParams(PayFlow flow, string orderHandle);
}

/// <summary>The buyer's id at the wallet from its OAuth (WeChat snsapi_base, jscode2session; Alipay oauth.token).</summary>
public interface IBuyerIdentityConnector
{
    /// <summary>Where to send the in-app browser to get a one-time code back at <paramref name="redirectUri"/>; null when the account cannot (no app secret).</summary>
    string? AuthorizeUrl(string redirectUri, string state);

    /// <summary>A key only this account's hubs know, to sign OAuth state with (so every hub of a shared database accepts it); null without an app secret.</summary>
    byte[]? StateKey { get; }

    Task<BuyerIdResult> ExchangeCodeAsync(string code, bool miniProgram, CancellationToken cancellationToken);
}

public sealed record BuyerIdResult(WalletCallOutcome Outcome, string? PayerId, WalletError? Error)
{
    public static BuyerIdResult Ok(string payerId) => new(WalletCallOutcome.Ok, payerId, null);

    public static BuyerIdResult Rejected(WalletError e) => new(WalletCallOutcome.Rejected, null, e);

    public static BuyerIdResult Unknown(string reason) => new(WalletCallOutcome.Unknown, null, new WalletError("UNKNOWN", reason));
}

/// <summary>Which flow a buyer's browser gets, and the one call that creates an order for any flow.</summary>
public static class PayFlows
{
    /// <summary>
    /// The wallet's in-app browser → JSAPI; another phone browser → H5; a desktop (or a wallet without the flow) → the QR.
    /// </summary>
    public static PayFlow ForBrowser(string? userAgent, WalletDisplay display, IReadOnlyList<PayFlow> flows)
    {
        var ua = userAgent ?? string.Empty;
        if (display.IsApp(ua))
        {
            return flows.Contains(PayFlow.Jsapi) ? PayFlow.Jsapi : PayFlow.Native;
        }

        var phone = ua.Contains("Mobile", StringComparison.Ordinal) || ua.Contains("Android", StringComparison.Ordinal) || ua.Contains("iPhone", StringComparison.Ordinal);
        return phone && flows.Contains(PayFlow.H5) ? PayFlow.H5 : PayFlow.Native;
    }

    public static IReadOnlyList<PayFlow> Of(IWalletConnector connector) =>
        [PayFlow.Native, .. connector is IInAppPayConnector inApp ? inApp.InAppFlows : [], .. connector is IPaymentCodeConnector ? [PayFlow.PaymentCode] : Array.Empty<PayFlow>()];

    /// <summary>The wire name of a flow ("jsapi", "mini_program", …), as stored on attempts and listed by /v1/capabilities.</summary>
    public static string Wire(PayFlow flow) => flow switch
    {
        PayFlow.Native => "native",
        PayFlow.Jsapi => "jsapi",
        PayFlow.MiniProgram => "mini_program",
        PayFlow.H5 => "h5",
        PayFlow.App => "app",
        PayFlow.PaymentCode => "payment_code",
        _ => throw new ArgumentOutOfRangeException(nameof(flow)),
    };

    public static PayFlow Parse(string? wire) => wire switch
    {
        null or "native" => PayFlow.Native,
        "jsapi" => PayFlow.Jsapi,
        "mini_program" => PayFlow.MiniProgram,
        "h5" => PayFlow.H5,
        "app" => PayFlow.App,
        "payment_code" => PayFlow.PaymentCode,
        _ => throw new FormatException($"unknown flow '{wire}'"),
    };

    /// <summary>Creates the order for <paramref name="flow"/>; a connector without the flow refuses it (never a QR instead).</summary>
    public static Task<CreateOrderResult> CreateAsync(IWalletConnector connector, PayFlow flow, CreateOrderRequest request, FlowPayer? payer, CancellationToken ct) =>
        flow == PayFlow.Native ? connector.CreateQrOrderAsync(request, ct)
        : connector is IInAppPayConnector inApp && inApp.InAppFlows.Contains(flow) ? inApp.CreateInAppOrderAsync(flow, request, payer ?? new FlowPayer(), ct)
        : Task.FromResult(CreateOrderResult.Rejected(new WalletError("FLOW_NOT_SUPPORTED", $"{connector.Wallet} has no {Wire(flow)} flow.")));
}
