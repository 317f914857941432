using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Hutong.Connectors.Abstractions;

namespace Hutong.Connectors.Alipay;

/// <summary>
/// The in-app flows. <see cref="PayFlow.Jsapi"/> is Alipay inside Alipay: the buyer's id from the silent auth_base
/// OAuth (publicAppAuthorize.htm → auth_code → alipay.system.oauth.token), the trade from alipay.trade.create with that
/// id, paid in place by the page's <c>AlipayJSBridge.call('tradePay', {tradeNO})</c>. <see cref="PayFlow.App"/> is
/// alipay.trade.app.pay: no server call, the merchant's app hands a signed order string to the Alipay SDK.
/// </summary>
public sealed partial class AlipayConnector : IInAppPayConnector, IBuyerIdentityConnector
{
    /// <summary>
    /// alipay.trade.create's product code for a trade paid in the Alipay client by tradePay (opendocs.alipay.com
    /// alipay.trade.create: product_code "JSAPI_PAY"); app pay's is "QUICK_MSECURITY_PAY" (alipay.trade.app.pay,
    /// e.g. the official PHP SDK sample aop/test.php in bianeh/source).
    /// </summary>
    public const string JsapiProductCode = "JSAPI_PAY";

    public const string AppProductCode = "QUICK_MSECURITY_PAY";

    /// <summary>A user_id is "2088" and 12 more digits (alipay-sdk-java AlipayCommerceRentRoyaltyInvestPublishModel: "2088开头的16位纯数字"); anything else from oauth.token is an open_id.</summary>
    private static readonly Regex UserIdShape = new(@"^2088\d{12}$", RegexOptions.CultureInvariant);

    private byte[]? _stateKey;

    public IReadOnlyList<PayFlow> InAppFlows => _inAppFlows ??= [.. _options.InAppEnabled ? [PayFlow.Jsapi] : Array.Empty<PayFlow>(), .. _options.AppPayEnabled ? [PayFlow.App] : Array.Empty<PayFlow>()];

    private IReadOnlyList<PayFlow>? _inAppFlows;

    public async Task<CreateOrderResult> CreateInAppOrderAsync(PayFlow flow, CreateOrderRequest request, FlowPayer payer, CancellationToken cancellationToken)
    {
        if (!InAppFlows.Contains(flow))
        {
            return CreateOrderResult.Rejected(new WalletError("FLOW_NOT_SUPPORTED", $"This Alipay application has no {PayFlows.Wire(flow)} flow."));
        }

        if (request.Amount.Currency.Code != "CNY")
        {
            return CreateOrderResult.Rejected(new WalletError("INVALID_PARAMETER", "Alipay orders are CNY only."));
        }

        if (flow == PayFlow.App)
        {
            return CreateOrderResult.Ok(AppOrderString(request));
        }

        if (string.IsNullOrEmpty(payer.WalletPayerId))
        {
            return CreateOrderResult.Rejected(new WalletError("INVALID_PARAMETER", "An in-app Alipay trade needs the buyer's user id or open id."));
        }

        var biz = OrderBiz(request);
        biz["product_code"] = JsapiProductCode;
        // Applications created since Alipay's open_id migration get an open_id from oauth.token and must order with
        // buyer_open_id; older ones get the 2088… user_id, sent as buyer_id (alipay.trade.create: buyer_id and
        // buyer_open_id, one of them required).
        biz[UserIdShape.IsMatch(payer.WalletPayerId) ? "buyer_id" : "buyer_open_id"] = payer.WalletPayerId;
        var reply = await CallAsync("alipay.trade.create", biz, request.NotifyUrl, cancellationToken);
        return reply.Outcome switch
        {
            WalletCallOutcome.Ok when reply.Response?["trade_no"]?.GetValue<string>() is { Length: > 0 } tradeNo => CreateOrderResult.Ok(tradeNo),
            WalletCallOutcome.Ok => CreateOrderResult.Unknown("verified response without trade_no"),
            WalletCallOutcome.Rejected => CreateOrderResult.Rejected(reply.Error!),
            _ => CreateOrderResult.Unknown(reply.Error?.Message ?? "no answer"),
        };
    }

    /// <summary>tradePay takes the trade_no as tradeNO; app pay hands the SDK the order string as it was signed.</summary>
    public InAppPayParams? PayParams(PayFlow flow, string orderHandle) => flow switch
    {
        PayFlow.Jsapi => new InAppPayParams(flow, new Dictionary<string, string> { ["tradeNO"] = orderHandle }),
        PayFlow.App => new InAppPayParams(flow, new Dictionary<string, string> { ["order_string"] = orderHandle }),
        _ => null,
    };

    /// <summary>
    /// The signed order string of alipay.trade.app.pay, as the SDKs' sdkExecute build it: the common parameters with
    /// biz_content (product_code QUICK_MSECURITY_PAY) signed like a gateway request, then every value URL-encoded and
    /// joined as k=v&amp;… with sign (alipay-sdk 4.14.0 dist/commonjs/alipay.js sdkExecute: key=encodeURIComponent(value)).
    /// </summary>
    public string AppOrderString(CreateOrderRequest request)
    {
        var biz = OrderBiz(request);
        biz["product_code"] = AppProductCode;
        var parameters = CommonParameters("alipay.trade.app.pay", biz, request.NotifyUrl);
        parameters["sign"] = AlipaySignature.Sign(_appKey, AlipaySignature.Content(parameters!));
        return string.Join('&', parameters.Select(p => $"{p.Key}={Uri.EscapeDataString(p.Value)}"));
    }

    public string? AuthorizeUrl(string redirectUri, string state) => !_options.InAppEnabled ? null
        : $"{_options.OAuthBaseUrl.TrimEnd('/')}/oauth2/publicAppAuthorize.htm?app_id={Uri.EscapeDataString(_options.AppId)}&scope=auth_base"
          + $"&redirect_uri={Uri.EscapeDataString(redirectUri)}&state={Uri.EscapeDataString(state)}";

    /// <summary>Alipay has no app secret: the state key is derived from the application's private key, the same on every hub and as secret.</summary>
    public byte[]? StateKey => !_options.InAppEnabled ? null
        : _stateKey ??= HMACSHA256.HashData(SHA256.HashData(_appKey.ExportPkcs8PrivateKey()), Encoding.UTF8.GetBytes("hutong-oauth-state:" + _options.AppId));

    /// <summary>
    /// alipay.system.oauth.token (grant_type=authorization_code): open_id for applications in open_id mode, user_id for
    /// the older ones. Its success answer carries no code (the official example; aspnet-contrib
    /// AspNet.Security.OAuth.Providers AlipayAuthenticationHandler.ValidateReturnCode treats a missing code as success).
    /// </summary>
    public async Task<BuyerIdResult> ExchangeCodeAsync(string code, bool miniProgram, CancellationToken cancellationToken)
    {
        if (miniProgram || !_options.InAppEnabled)
        {
            return BuyerIdResult.Rejected(new WalletError("NOT_CONFIGURED", "This Alipay application has no in-app sign-in."));
        }

        var reply = await CallAsync("alipay.system.oauth.token", [], null, cancellationToken,
            extra: new Dictionary<string, string> { ["grant_type"] = "authorization_code", ["code"] = code });
        return reply switch
        {
            { Outcome: WalletCallOutcome.Ok, Response: var r } when (r?["open_id"]?.GetValue<string>() ?? r?["user_id"]?.GetValue<string>()) is { Length: > 0 and <= 128 } id => BuyerIdResult.Ok(id),
            { Outcome: WalletCallOutcome.Ok } => BuyerIdResult.Unknown("oauth.token answered without open_id or user_id"),
            { Outcome: WalletCallOutcome.Rejected } => BuyerIdResult.Rejected(reply.Error!),
            _ => BuyerIdResult.Unknown(reply.Error?.Message ?? "no answer"),
        };
    }

    /// <summary>
    /// The buyer as Alipay names them: the open_id (OAuth's open_id mode), else the 2088… buyer_id. The hub shows every
    /// wallet's payer id only as its keyed pseudonym (PayerPseudonyms), so the connector passes it on as it came.
    /// </summary>
    internal static string? PayerOf(string? openId, string? userId) => openId is { Length: > 0 } ? openId : userId;
}
