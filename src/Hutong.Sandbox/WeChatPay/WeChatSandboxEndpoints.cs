using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hutong.Sandbox.WeChatPay;

/// <summary>
/// The wallet side of WeChat Pay API v3 (direct merchant): it checks the merchant's request signature
/// (fields in any order), validates parameters, signs every response with the platform key and answers
/// with WeChat's error body shape.
/// </summary>
public static partial class WeChatSandboxEndpoints
{
    internal static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly TimeSpan ChinaOffset = TimeSpan.FromHours(8);

    public static IEndpointRouteBuilder MapWeChatPaySandbox(this IEndpointRouteBuilder app, WeChatSandboxState state, WeChatSandboxNotifier notifier)
    {
        app.MapPost("/v3/pay/transactions/native", (HttpContext ctx) => NativeAsync(ctx, state));
        app.MapGet("/v3/pay/transactions/out-trade-no/{outTradeNo}", (HttpContext ctx, string outTradeNo) => QueryAsync(ctx, state, outTradeNo, byTransactionId: false));
        app.MapGet("/v3/pay/transactions/id/{transactionId}", (HttpContext ctx, string transactionId) => QueryAsync(ctx, state, transactionId, byTransactionId: true));
        app.MapPost("/v3/pay/transactions/out-trade-no/{outTradeNo}/close", (HttpContext ctx, string outTradeNo) => CloseAsync(ctx, state, outTradeNo));
        app.MapGet("/v3/certificates", (HttpContext ctx) => CertificatesAsync(ctx, state));
        app.MapGet("/v3/bill/tradebill", (HttpContext ctx) => TradeBillAsync(ctx, state));
        app.MapGet("/v3/billdownload/file", (HttpContext ctx) => DownloadBillAsync(ctx, state));

        app.MapPost("/v3/refund/domestic/refunds", (HttpContext ctx) => RefundAsync(ctx, state, notifier));
        app.MapGet("/v3/refund/domestic/refunds/{outRefundNo}", (HttpContext ctx, string outRefundNo) => QueryRefundAsync(ctx, state, outRefundNo));

        // Service-provider (服务商) mode: the same operations for a sub-merchant, signed by the service provider.
        app.MapPost("/v3/pay/partner/transactions/native", (HttpContext ctx) => NativeAsync(ctx, state, partner: true));
        app.MapGet("/v3/pay/partner/transactions/out-trade-no/{outTradeNo}", (HttpContext ctx, string outTradeNo) => QueryAsync(ctx, state, outTradeNo, byTransactionId: false, partner: true));
        app.MapPost("/v3/pay/partner/transactions/out-trade-no/{outTradeNo}/close", (HttpContext ctx, string outTradeNo) => CloseAsync(ctx, state, outTradeNo, partner: true));
        MapProfitSharing(app, state, notifier);
        MapComplaints(app, state, notifier);
        MapImages(app, state);
        MapMicropay(app, state);
        MapInApp(app, state, notifier);
        MapTransfers(app, state, notifier);
        WeChatSandboxControl.Map(app, state, notifier);
        return app;
    }

    private static async Task NativeAsync(HttpContext ctx, WeChatSandboxState state, bool partner = false, string tradeType = "NATIVE")
    {
        var (merchant, body) = await AuthenticateAsync(ctx, state);
        if (merchant is null)
        {
            return;
        }

        var req = ParseObject(body);

        var fault = state.Faults.Next(tradeType == "NATIVE" ? "native" : tradeType.ToLowerInvariant(), req is null ? null : Str(req, "attach"), ctx);
        if (await BeforeAsync(ctx, state, merchant, fault))
        {
            return;
        }

        if (req is null)
        {
            await ErrorAsync(ctx, state, merchant, 400, "PARAM_ERROR", "请求体不是合法的JSON");
            return;
        }

        var appId = Str(req, partner ? "sp_appid" : "appid");
        var mchId = Str(req, partner ? "sp_mchid" : "mchid");
        var subMchId = partner ? Str(req, "sub_mchid") : null;
        var description = Str(req, "description");
        var outTradeNo = Str(req, "out_trade_no");
        var notifyUrl = Str(req, "notify_url");
        var total = req["amount"]?["total"] is JsonValue t && t.TryGetValue<long>(out var tv) ? tv : (long?)null;
        var currency = req["amount"]?["currency"]?.GetValue<string>() ?? "CNY";
        var problem =
            appId is null ? "缺少参数 appid" :
            mchId is null ? "缺少参数 mchid" :
            description is null || description.Length is 0 or > 127 ? "description 长度须为 1-127" :
            outTradeNo is null || !OutTradeNoPattern().IsMatch(outTradeNo) ? "out_trade_no 须为 6-32 位字母、数字、_-|*" :
            notifyUrl is null || !Uri.TryCreate(notifyUrl, UriKind.Absolute, out var nu) || (nu.Scheme != "https" && nu.Scheme != "http") ? "notify_url 格式错误" :
            total is null or < 1 or > int.MaxValue ? "amount.total 须为正整数（分）" :
            currency != "CNY" ? "amount.currency 仅支持 CNY" :
            InAppProblem(req, tradeType);
        if (problem is not null)
        {
            await ErrorAsync(ctx, state, merchant, 400, "PARAM_ERROR", problem);
            return;
        }

        if (mchId != merchant.MchId || !AppIdFits(state, merchant, appId!, tradeType))
        {
            await ErrorAsync(ctx, state, merchant, 400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配");
            return;
        }

        if (partner && (subMchId is null || !merchant.SubMerchants.ContainsKey(subMchId)))
        {
            await ErrorAsync(ctx, state, merchant, 400, "MCH_NOT_EXISTS", "特约商户号不存在或未与服务商建立受理关系");
            return;
        }

        var orderMchId = subMchId ?? merchant.MchId;

        DateTimeOffset? expire = null;
        if (Str(req, "time_expire") is { } te)
        {
            if (!DateTimeOffset.TryParseExact(te, "yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed))
            {
                await ErrorAsync(ctx, state, merchant, 400, "PARAM_ERROR", "time_expire 格式须为 RFC3339");
                return;
            }

            if (parsed <= DateTimeOffset.UtcNow)
            {
                await ErrorAsync(ctx, state, merchant, 400, "PARAM_ERROR", "time_expire 已过期");
                return;
            }

            expire = parsed;
        }

        var openId = req["payer"]?["openid"]?.GetValue<string>();
        if (tradeType == "JSAPI" && !state.InApp.IssuedOpenIds.ContainsKey((appId!, openId!)))
        {
            await ErrorAsync(ctx, state, merchant, 400, "PARAM_ERROR", "appid和openid不匹配");
            return;
        }

        var fingerprint = $"{tradeType}|{appId}|{description}|{total}|{currency}|{notifyUrl}|{Str(req, "attach")}|{openId}";
        var order = state.Orders.GetOrAdd((orderMchId, outTradeNo!), _ => new SandboxOrder
        {
            MchId = orderMchId,
            SpMchId = partner ? merchant.MchId : null,
            AppId = appId!,
            OutTradeNo = outTradeNo!,
            Description = description!,
            Total = total!.Value,
            Currency = currency,
            NotifyUrl = notifyUrl!,
            Attach = Str(req, "attach"),
            TimeExpire = expire,
            CodeToken = Convert.ToBase64String(RandomNumberGenerator.GetBytes(12)).Replace('+', 'x').Replace('/', 'y'),
            Fingerprint = fingerprint,
            ProfitSharing = req["settle_info"]?["profit_sharing"] is JsonValue ps && ps.TryGetValue<bool>(out var split) && split,
            TradeType = tradeType,
            PrepayId = tradeType == "NATIVE" ? null : "wx" + DateTimeOffset.UtcNow.ToOffset(ChinaOffset).ToString("ddHHmmss", CultureInfo.InvariantCulture) + RandomString(24),
            OrderedFor = openId,
        });
        state.OrdersByCode.TryAdd(order.CodeToken, order);
        if (order.PrepayId is not null)
        {
            state.InApp.OrdersByPrepay.TryAdd(order.PrepayId, order);
        }

        // Re-submitting the same order returns the same code_url; a different order under the same number is refused.
        if (order.Fingerprint != fingerprint)
        {
            await ErrorAsync(ctx, state, merchant, 403, "OUT_TRADE_NO_USED", "商户订单号重复");
            return;
        }

        if (order.TradeState is "CLOSED")
        {
            await ErrorAsync(ctx, state, merchant, 400, "ORDER_CLOSED", "订单已关闭");
            return;
        }

        if (order.TradeState is "SUCCESS" or "REFUND")
        {
            await ErrorAsync(ctx, state, merchant, 400, "ORDERPAID", "该订单已支付");
            return;
        }

        if (await AfterAsync(ctx, state, fault))
        {
            return;
        }

        await SignedAsync(ctx, state, merchant, 200, OrderAnswer(ctx, order), fault);
    }

    private static async Task QueryAsync(HttpContext ctx, WeChatSandboxState state, string id, bool byTransactionId, bool partner = false)
    {
        var (merchant, _) = await AuthenticateAsync(ctx, state);
        if (merchant is null)
        {
            return;
        }

        var orderMchId = partner ? ctx.Request.Query["sub_mchid"].ToString() : merchant.MchId;
        var order = byTransactionId
            ? state.Orders.Values.FirstOrDefault(o => o.MchId == orderMchId && o.TransactionId == id)
            : state.Orders.GetValueOrDefault((orderMchId, id));
        var fault = state.Faults.Next("query", order?.Attach, ctx);
        if (await BeforeAsync(ctx, state, merchant, fault))
        {
            return;
        }

        if (ctx.Request.Query[partner ? "sp_mchid" : "mchid"] != merchant.MchId || (partner && !merchant.SubMerchants.ContainsKey(orderMchId)))
        {
            await ErrorAsync(ctx, state, merchant, 400, "PARAM_ERROR", "mchid 与签名商户号不一致或特约商户无受理关系");
            return;
        }

        if (order is null)
        {
            await ErrorAsync(ctx, state, merchant, 404, "ORDER_NOT_EXIST", "订单不存在");
            return;
        }

        if (await AfterAsync(ctx, state, fault))
        {
            return;
        }

        string json;
        lock (order)
        {
            json = TransactionJson(order);
        }

        await SignedAsync(ctx, state, merchant, 200, json, fault);
    }

    private static async Task CloseAsync(HttpContext ctx, WeChatSandboxState state, string outTradeNo, bool partner = false)
    {
        var (merchant, body) = await AuthenticateAsync(ctx, state);
        if (merchant is null)
        {
            return;
        }

        string? mchId = null;
        string? subMchId = null;
        try
        {
            var closeBody = JsonNode.Parse(body) as JsonObject;
            mchId = closeBody?[partner ? "sp_mchid" : "mchid"]?.GetValue<string>();
            subMchId = partner ? closeBody?["sub_mchid"]?.GetValue<string>() : null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
        }

        var orderMchId = partner ? subMchId ?? string.Empty : merchant.MchId;
        var fault = state.Faults.Next("close", state.Orders.GetValueOrDefault((orderMchId, outTradeNo))?.Attach, ctx);
        if (await BeforeAsync(ctx, state, merchant, fault))
        {
            return;
        }

        if (mchId != merchant.MchId || (partner && !merchant.SubMerchants.ContainsKey(orderMchId)))
        {
            await ErrorAsync(ctx, state, merchant, 400, "PARAM_ERROR", "mchid 缺失或与签名商户号不一致");
            return;
        }

        if (!state.Orders.TryGetValue((orderMchId, outTradeNo), out var order))
        {
            await ErrorAsync(ctx, state, merchant, 404, "ORDER_NOT_EXIST", "订单不存在");
            return;
        }

        lock (order)
        {
            if (order.TradeState is "NOTPAY" or "USERPAYING" or "PAYERROR")
            {
                order.TradeState = "CLOSED";
                order.TradeStateDesc = "订单已关闭";
            }
        }

        if (order.TradeState is "SUCCESS" or "REFUND")
        {
            await ErrorAsync(ctx, state, merchant, 400, "ORDERPAID", "该订单已支付，不能关闭");
            return;
        }

        if (await AfterAsync(ctx, state, fault))
        {
            return;
        }

        await SignedAsync(ctx, state, merchant, 204, string.Empty, fault);
    }

    private static async Task CertificatesAsync(HttpContext ctx, WeChatSandboxState state)
    {
        var (merchant, _) = await AuthenticateAsync(ctx, state);
        if (merchant is null)
        {
            return;
        }

        if (merchant.Mode == PlatformKeyMode.PublicKey)
        {
            // Merchants in public-key mode get no certificates (feng19/wechat#10).
            await ErrorAsync(ctx, state, merchant, 403, "NO_AUTH", "当前商户号已切换为微信支付公钥模式，无法下载平台证书");
            return;
        }

        var nonce = RandomString(12);
        var cipher = WeChatPlatformCodec.Encrypt(merchant.ApiV3Key, nonce, "certificate", state.PlatformCertificate.ExportCertificatePem());
        var json = JsonSerializer.Serialize(new
        {
            data = new[]
            {
                new
                {
                    serial_no = state.CertificateSerial,
                    effective_time = state.PlatformCertificate.NotBefore.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'+00:00'", CultureInfo.InvariantCulture),
                    expire_time = state.PlatformCertificate.NotAfter.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'+00:00'", CultureInfo.InvariantCulture),
                    encrypt_certificate = new { algorithm = "AEAD_AES_256_GCM", nonce, associated_data = "certificate", ciphertext = cipher },
                },
            },
        }, Json);
        await SignedAsync(ctx, state, merchant, 200, json, null);
    }

    private static async Task RefundAsync(HttpContext ctx, WeChatSandboxState state, WeChatSandboxNotifier notifier)
    {
        var (merchant, body) = await AuthenticateAsync(ctx, state);
        if (merchant is null)
        {
            return;
        }

        var req = ParseObject(body);

        var outRefundNo = req is null ? null : Str(req, "out_refund_no");
        var refund = req?["amount"]?["refund"] is JsonValue rv && rv.TryGetValue<long>(out var r) ? r : 0;
        var total = req?["amount"]?["total"] is JsonValue tv && tv.TryGetValue<long>(out var t) ? t : 0;
        if (outRefundNo is not null)
        {
            state.MoneySends.Enqueue(outRefundNo);
        }

        if (req is null || outRefundNo is null || Str(req, "out_trade_no") is not { } outTradeNo || refund < 1)
        {
            await ErrorAsync(ctx, state, merchant, 400, "PARAM_ERROR", "out_trade_no、out_refund_no、amount.refund 必填");
            return;
        }

        // amount.currency is required on a refund (refunddomestic AmountReq), unlike on an order where CNY is the default.
        if (req["amount"]?["currency"] is not JsonValue cv || !cv.TryGetValue<string>(out var currency) || currency != "CNY")
        {
            await ErrorAsync(ctx, state, merchant, 400, "PARAM_ERROR", "amount.currency 必填，且仅支持 CNY");
            return;
        }

        var mchId = Str(req, "sub_mchid") ?? merchant.MchId;
        if (!state.Orders.TryGetValue((mchId, outTradeNo), out var order) || !IsTheCallers(order, merchant.MchId, Str(req, "sub_mchid")))
        {
            await ErrorAsync(ctx, state, merchant, 404, "RESOURCE_NOT_EXISTS", "订单不存在");
            return;
        }

        // Scoped by the paid order's attach (the hub's payment id), so a test can fault one payment's refunds.
        var fault = state.Faults.Next("refund", order.Attach, ctx);
        if (await BeforeAsync(ctx, state, merchant, fault))
        {
            return;
        }

        SandboxRefund? created;
        string? problem;
        lock (order)
        {
            (created, problem) = (null, null);
            if (order.TradeState is not ("SUCCESS" or "REFUND"))
            {
                problem = "INVALID_REQUEST:订单未支付";
            }
            else if (total != order.Total)
            {
                problem = "PARAM_ERROR:amount.total 与订单金额不一致";
            }
            else if (order.Refunds.TryGetValue(outRefundNo, out var existing))
            {
                created = existing.Amount == refund ? existing : null;
                problem = created is null ? "INVALID_REQUEST:同一退款单号的金额不一致" : null;
            }
            else if (order.Refunds.Values.Sum(x => x.Amount) + refund > order.Total)
            {
                problem = "NOT_ENOUGH:可退金额不足";
            }
            else
            {
                var couponRefunds = WeChatSandboxCoupons.SplitRefund(order, order.Refunds.Values.Sum(x => x.Amount), refund);
                created = new SandboxRefund
                {
                    OutRefundNo = outRefundNo, RefundId = "50" + RandomNumberGenerator.GetString("0123456789", 27), Amount = refund, NotifyUrl = Str(req, "notify_url"),
                    CouponRefunds = couponRefunds,
                    NoCashRefund = order.Promotions.Where(p => p.NoCash).Sum(p => couponRefunds.GetValueOrDefault(p.CouponId)),
                };
                order.Refunds[outRefundNo] = created;
                order.TradeState = "REFUND";
                order.TradeStateDesc = "转入退款";
                _ = CompleteRefundLaterAsync(order, created, state.TimeScale, notifier);
            }
        }

        if (problem is not null)
        {
            await ProblemAsync(ctx, state, merchant, problem);
            return;
        }

        if (await AfterAsync(ctx, state, fault))
        {
            return;
        }

        await SignedAsync(ctx, state, merchant, 200, RefundJson(order, created!), fault);
    }

    private static async Task QueryRefundAsync(HttpContext ctx, WeChatSandboxState state, string outRefundNo)
    {
        var (merchant, _) = await AuthenticateAsync(ctx, state);
        if (merchant is null)
        {
            return;
        }

        var sub = ctx.Request.Query["sub_mchid"].ToString() is { Length: > 0 } s ? s : null;
        var mchId = sub ?? merchant.MchId;
        var order = state.Orders.Values.FirstOrDefault(o => o.MchId == mchId && o.Refunds.ContainsKey(outRefundNo) && IsTheCallers(o, merchant.MchId, sub));
        if (order is null)
        {
            await ErrorAsync(ctx, state, merchant, 404, "RESOURCE_NOT_EXISTS", "退款单不存在");
            return;
        }

        await SignedAsync(ctx, state, merchant, 200, RefundJson(order, order.Refunds[outRefundNo]), null);
    }

    /// <summary>
    /// A direct merchant sees its own orders; a service provider naming sub_mchid sees only that sub-merchant's orders it
    /// placed itself (sp_mchid). Anything else is reported as not existing, as WeChat does for another party's order.
    /// </summary>
    private static bool IsTheCallers(SandboxOrder o, string caller, string? subMchId) =>
        subMchId is null ? o.SpMchId is null && o.MchId == caller : o.SpMchId == caller && o.MchId == subMchId;

    /// <summary>Refunds settle a few (scaled) seconds after they are accepted, as they do at the bank.</summary>
    private static async Task CompleteRefundLaterAsync(SandboxOrder order, SandboxRefund refund, double timeScale, WeChatSandboxNotifier notifier)
    {
        await Task.Delay(TimeSpan.FromSeconds(5) * timeScale);
        lock (order)
        {
            refund.Status = "SUCCESS";
            refund.SuccessTime = DateTimeOffset.UtcNow;
        }

        notifier.NotifyRefund(order, refund);
        ComplaintRefunded(order, refund, notifier);
    }

    /// <summary>The REFUND.SUCCESS resource (decrypted form), as wechatpay-go's refunddomestic notification model.</summary>
    internal static string RefundNotificationJson(SandboxOrder o, SandboxRefund r) => JsonSerializer.Serialize(new
    {
        mchid = o.SpMchId ?? o.MchId,
        sub_mchid = o.SpMchId is null ? null : o.MchId,
        out_trade_no = o.OutTradeNo,
        transaction_id = o.TransactionId,
        out_refund_no = r.OutRefundNo,
        refund_id = r.RefundId,
        refund_status = r.Status,
        success_time = r.SuccessTime?.ToOffset(ChinaOffset).ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture),
        user_received_account = "支付用户零钱",
        amount = new { total = o.Total, refund = r.Amount, payer_total = o.PayerTotal, payer_refund = r.Amount - r.DiscountRefund },
    }, Json);

    private static string RefundJson(SandboxOrder o, SandboxRefund r)
    {
        lock (o)
        {
            return new JsonObject
            {
                ["refund_id"] = r.RefundId,
                ["out_refund_no"] = r.OutRefundNo,
                ["transaction_id"] = o.TransactionId,
                ["out_trade_no"] = o.OutTradeNo,
                ["channel"] = "ORIGINAL",
                ["user_received_account"] = "支付用户零钱",
                ["status"] = r.Status,
                ["create_time"] = r.Created.ToOffset(ChinaOffset).ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture),
                ["amount"] = new JsonObject
                {
                    // payer_refund = refund − discount_refund; settlement_refund = refund − NOCASH coupons returned; settlement_total
                    // = total − NOCASH coupons (wechatpay-java service/refund/model/Amount.java).
                    ["total"] = o.Total, ["refund"] = r.Amount, ["payer_total"] = o.PayerTotal, ["payer_refund"] = r.Amount - r.DiscountRefund,
                    ["settlement_refund"] = r.Amount - r.NoCashRefund, ["settlement_total"] = o.SettlementTotal, ["discount_refund"] = r.DiscountRefund, ["currency"] = o.Currency,
                },
                ["promotion_detail"] = WeChatSandboxCoupons.RefundPromotionDetail(o, r),
            }.ToJsonString(Json);
        }
    }

    internal static string TransactionJson(SandboxOrder o)
    {
        var tx = o.SpMchId is null
            ? new JsonObject { ["appid"] = o.AppId, ["mchid"] = o.MchId }
            : new JsonObject { ["sp_appid"] = o.AppId, ["sp_mchid"] = o.SpMchId, ["sub_mchid"] = o.MchId };
        foreach (var (k, v) in new JsonObject
        {
            ["out_trade_no"] = o.OutTradeNo,
            ["trade_type"] = o.TradeType,
            ["trade_state"] = o.TradeState,
            ["trade_state_desc"] = o.TradeStateDesc,
            ["attach"] = o.Attach ?? string.Empty,
            ["amount"] = new JsonObject { ["total"] = o.Total, ["currency"] = o.Currency },
        }.ToList())
        {
            tx[k] = v?.DeepClone();
        }

        if (o.TransactionId is not null)
        {
            tx["transaction_id"] = o.TransactionId;
            tx["bank_type"] = "OTHERS";
            tx["success_time"] = o.SuccessTime?.ToOffset(ChinaOffset).ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);
            tx["payer"] = new JsonObject { [o.SpMchId is null ? "openid" : "sp_openid"] = o.PayerOpenId };
            tx["amount"]!["payer_total"] = o.PayerTotal;
            tx["amount"]!["payer_currency"] = o.Currency;
            if (o.Promotions.Count > 0)
            {
                tx["promotion_detail"] = WeChatSandboxCoupons.PromotionDetail(o, o.Currency);
            }
        }

        return tx.ToJsonString(Json);
    }

    /// <summary>Checks the WECHATPAY2-SHA256-RSA2048 Authorization; answers 401 SIGN_ERROR itself on failure.</summary>
    /// <summary>
    /// GET /v3/bill/tradebill: the day's bill (China date of the payment's success or the refund) for the signing
    /// merchant, or a sub-merchant with sub_mchid. Answers the download URL and the file's SHA1, signed.
    /// </summary>
    private static async Task TradeBillAsync(HttpContext ctx, WeChatSandboxState state)
    {
        var (merchant, _) = await AuthenticateAsync(ctx, state);
        if (merchant is null)
        {
            return;
        }

        if (!DateOnly.TryParseExact(ctx.Request.Query["bill_date"].ToString(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
        {
            await ErrorAsync(ctx, state, merchant, 400, "PARAM_ERROR", "bill_date 格式应为 yyyy-MM-dd");
            return;
        }

        var today = DateOnly.FromDateTime(DateTimeOffset.UtcNow.ToOffset(ChinaOffset).DateTime);
        if (date > today)
        {
            // The real API also refuses today's bill before 10:00 the next day; the sandbox serves today's for tests.
            await ErrorAsync(ctx, state, merchant, 400, "NO_STATEMENT_EXIST", "账单日期不合法或账单尚未生成");
            return;
        }

        var sub = ctx.Request.Query["sub_mchid"].ToString();
        var csv = Encoding.UTF8.GetBytes(BillCsv(state, merchant.MchId, sub.Length > 0 ? sub : null, date));
        var token = RandomString(32);
        state.Bills[token] = csv;
        var url = $"{ctx.Request.Scheme}://{ctx.Request.Host}/v3/billdownload/file?token={token}";
        await SignedAsync(ctx, state, merchant, 200,
            JsonSerializer.Serialize(new { hash_type = "SHA1", hash_value = Convert.ToHexStringLower(SHA1.HashData(csv)), download_url = url }, Json), null);
    }

    /// <summary>GET /v3/billdownload/file: the file itself. The request is signed; the answer is not (as on the real API).</summary>
    private static async Task DownloadBillAsync(HttpContext ctx, WeChatSandboxState state)
    {
        var (merchant, _) = await AuthenticateAsync(ctx, state);
        if (merchant is null)
        {
            return;
        }

        if (!state.Bills.TryGetValue(ctx.Request.Query["token"].ToString(), out var csv))
        {
            await ErrorAsync(ctx, state, merchant, 404, "RESOURCE_NOT_EXISTS", "账单不存在或已过期");
            return;
        }

        ctx.Response.ContentType = "text/csv; charset=utf-8";
        await ctx.Response.Body.WriteAsync(csv, ctx.RequestAborted);
    }

    private static string BillCsv(WeChatSandboxState state, string mchId, string? subMchId, DateOnly date)
    {
        string Time(DateTimeOffset t) => t.ToOffset(ChinaOffset).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        bool OnDay(DateTimeOffset? t) => t is { } v && DateOnly.FromDateTime(v.ToOffset(ChinaOffset).DateTime) == date;
        var rate = (state.FeeBasisPoints / 100m).ToString("0.00", CultureInfo.InvariantCulture) + "%";
        var rows = new List<WeChatTradeBill.Row>();
        foreach (var o in state.Orders.Values.OrderBy(o => o.SuccessTime))
        {
            var mine = subMchId is null ? o.MchId == mchId && o.SpMchId is null : o.SpMchId == mchId && o.MchId == subMchId;
            if (!mine)
            {
                continue;
            }

            lock (o)
            {
                var fee = SandboxFees.Fee(o.SettlementTotal, state.FeeBasisPoints); // charged on what WeChat settles
                var noCash = o.Total - o.SettlementTotal;
                var name = o.Description;
                if (o.TradeState is "SUCCESS" or "REFUND" && OnDay(o.SuccessTime))
                {
                    rows.Add(new([Time(o.SuccessTime!.Value), o.AppId, o.SpMchId ?? o.MchId, o.SpMchId is null ? string.Empty : o.MchId, string.Empty, o.TransactionId ?? string.Empty,
                        o.OutTradeNo, o.PayerOpenId ?? string.Empty, "NATIVE", "SUCCESS", "OTHERS", o.Currency, Yuan(o.SettlementTotal), Yuan(noCash), "0", "0", "0.00", "0.00",
                        string.Empty, string.Empty, name, o.Attach ?? string.Empty, WeChatTradeBill.Fee(fee), rate, Yuan(o.Total), "0.00", string.Empty],
                        Refund: false, Settled: o.SettlementTotal, Refunded: 0, Fee: fee, Ordered: o.Total, Requested: 0));
                }

                long before = 0;
                foreach (var r in o.Refunds.Values.OrderBy(r => r.Created))
                {
                    var back = SandboxFees.Returned(fee, o.Total, before, r.Amount);
                    before += r.Amount;
                    if (r.Status == "SUCCESS" && OnDay(r.Created))
                    {
                        rows.Add(new([Time(r.Created), o.AppId, o.SpMchId ?? o.MchId, o.SpMchId is null ? string.Empty : o.MchId, string.Empty, o.TransactionId ?? string.Empty,
                            o.OutTradeNo, o.PayerOpenId ?? string.Empty, "NATIVE", "REFUND", "OTHERS", o.Currency, "0.00", "0.00", r.RefundId, r.OutRefundNo,
                            Yuan(r.Amount - r.NoCashRefund), Yuan(r.CashRefund), "ORIGINAL", "SUCCESS", name, o.Attach ?? string.Empty, WeChatTradeBill.Fee(-back), rate, "0.00", Yuan(r.Amount), string.Empty],
                            Refund: true, Settled: 0, Refunded: r.Amount - r.NoCashRefund, Fee: -back, Ordered: 0, Requested: r.Amount, CashCouponRefunded: r.CashRefund));
                    }
                }
            }
        }

        return WeChatTradeBill.Write(rows);

        static string Yuan(long fen) => WeChatTradeBill.Yuan(fen);
    }

    /// <param name="signedPayload">What the request is signed over when not its body: an upload's meta JSON (图片上传).</param>
    private static async Task<(SandboxMerchant? Merchant, string Body)> AuthenticateAsync(HttpContext ctx, WeChatSandboxState state, string? signedPayload = null)
    {
        string body;
        if (signedPayload is not null)
        {
            body = signedPayload;
        }
        else
        {
            ctx.Request.EnableBuffering();
            using var reader = new StreamReader(ctx.Request.Body, Encoding.UTF8, leaveOpen: true);
            body = await reader.ReadToEndAsync(ctx.RequestAborted);
        }

        var header = ctx.Request.Headers.Authorization.ToString();
        var fields = ParseAuthorization(header);
        var canonicalUrl = ctx.Request.PathBase + ctx.Request.Path + ctx.Request.QueryString;
        var message = $"{ctx.Request.Method}\n{canonicalUrl}\n{fields.GetValueOrDefault("timestamp")}\n{fields.GetValueOrDefault("nonce_str")}\n{body}\n";

        string? issue = null;
        SandboxMerchant? merchant = null;
        if (fields.Count == 0)
        {
            issue = "authorization header missing or not WECHATPAY2-SHA256-RSA2048";
        }
        else if (!fields.TryGetValue("mchid", out var mchId) || !state.Merchants.TryGetValue(mchId, out merchant))
        {
            issue = "mchid not registered";
        }
        else if (fields.GetValueOrDefault("serial_no") != merchant.SerialNo)
        {
            issue = "serial_no does not match the merchant certificate";
        }
        else if (!long.TryParse(fields.GetValueOrDefault("timestamp"), NumberStyles.None, CultureInfo.InvariantCulture, out var ts)
                 || Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - ts) > 300)
        {
            issue = "timestamp expired";
        }
        else if (!VerifyRsa(merchant.PublicKey, message, fields.GetValueOrDefault("signature") ?? string.Empty))
        {
            issue = "sign not match";
        }

        if (issue is null)
        {
            return (merchant, body);
        }

        var detail = new
        {
            code = "SIGN_ERROR",
            message = "签名错误，请检查后再试",
            detail = new
            {
                detail = new { issue },
                field = "signature",
                location = "authorization",
                sign_information = new
                {
                    method = ctx.Request.Method,
                    sign_message_length = Encoding.UTF8.GetByteCount(message),
                    truncated_sign_message = message.Length > 64 ? message[..64] : message,
                    url = canonicalUrl,
                },
            },
        };
        await WriteAsync(ctx, state, merchant, 401, JsonSerializer.Serialize(detail, Json), badSignature: false);
        return (null, body);
    }

    /// <summary>The sandbox's own reading of the header: key="value" pairs in any order, each exactly once.</summary>
    private static Dictionary<string, string> ParseAuthorization(string header)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        const string prefix = "WECHATPAY2-SHA256-RSA2048 ";
        if (!header.StartsWith(prefix, StringComparison.Ordinal))
        {
            return result;
        }

        foreach (Match m in AuthFieldPattern().Matches(header[prefix.Length..]))
        {
            if (!result.TryAdd(m.Groups[1].Value, m.Groups[2].Value))
            {
                return new Dictionary<string, string>();
            }
        }

        return result;
    }

    private static bool VerifyRsa(RSA key, string message, string signature)
    {
        try
        {
            return key.VerifyData(Encoding.UTF8.GetBytes(message), Convert.FromBase64String(signature), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private static async Task<bool> BeforeAsync(HttpContext ctx, WeChatSandboxState state, SandboxMerchant merchant, SandboxFault? fault)
    {
        switch (fault)
        {
            case SandboxFault.TimeoutBefore:
                await Resend.HangAsync(ctx, state.Faults);
                return true;
            case SandboxFault.ServerError:
                await ErrorAsync(ctx, state, merchant, 500, "SYSTEM_ERROR", "系统错误");
                return true;
            case SandboxFault.ParamError:
                await ErrorAsync(ctx, state, merchant, 400, "PARAM_ERROR", "参数错误 (injected)");
                return true;
            default:
                return false;
        }
    }

    private static async Task<bool> AfterAsync(HttpContext ctx, WeChatSandboxState state, SandboxFault? fault)
    {
        if (fault == SandboxFault.TimeoutAfter)
        {
            await Resend.HangAsync(ctx, state.Faults);
            return true;
        }

        return false;
    }


    /// <summary>A refusal decided under an order's lock as "CODE:message"; WeChat answers NOT_ENOUGH and NO_AUTH with 403, the rest with 400.</summary>
    private static Task ProblemAsync(HttpContext ctx, WeChatSandboxState state, SandboxMerchant merchant, string problem)
    {
        var code = problem[..problem.IndexOf(':', StringComparison.Ordinal)];
        return ErrorAsync(ctx, state, merchant, code is "NOT_ENOUGH" or "NO_AUTH" ? 403 : 400, code, problem[(code.Length + 1)..]);
    }

    private static Task ErrorAsync(HttpContext ctx, WeChatSandboxState state, SandboxMerchant merchant, int status, string code, string message) =>
        WriteAsync(ctx, state, merchant, status, JsonSerializer.Serialize(new { code, message }, Json), badSignature: false);

    private static Task SignedAsync(HttpContext ctx, WeChatSandboxState state, SandboxMerchant merchant, int status, string body, SandboxFault? fault) =>
        WriteAsync(ctx, state, merchant, status, body, badSignature: fault == SandboxFault.BadResponseSignature);

    private static async Task WriteAsync(HttpContext ctx, WeChatSandboxState state, SandboxMerchant? merchant, int status, string body, bool badSignature)
    {
        if (!await SandboxFaults.AnswerLateAsync(ctx))
        {
            return;
        }

        var ts = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var nonce = RandomString(32);
        var signed = badSignature ? body + " " : body;
        var signature = WeChatPlatformCodec.SignResponse(state.PlatformKey, ts, nonce, signed);
        ctx.Response.StatusCode = status;
        ctx.Response.Headers["Request-ID"] = Guid.NewGuid().ToString("N");
        ctx.Response.Headers["Wechatpay-Timestamp"] = ts;
        ctx.Response.Headers["Wechatpay-Nonce"] = nonce;
        ctx.Response.Headers["Wechatpay-Signature"] = signature;
        ctx.Response.Headers["Wechatpay-Serial"] = merchant is null ? state.PublicKeyId : state.SerialFor(merchant);
        if (status != 204)
        {
            ctx.Response.ContentType = "application/json; charset=utf-8";
            await ctx.Response.WriteAsync(body, ctx.RequestAborted);
        }
    }

    internal static string RandomString(int length)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        return RandomNumberGenerator.GetString(alphabet, length);
    }

    private static JsonObject? ParseObject(string body)
    {
        try
        {
            return JsonNode.Parse(body) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? Str(JsonObject o, string name) =>
        o[name] is JsonValue v && v.TryGetValue<string>(out var s) && s.Length > 0 ? s : null;

    [GeneratedRegex("^[A-Za-z0-9_\\-|*]{6,32}$")]
    private static partial Regex OutTradeNoPattern();

    [GeneratedRegex("\\s*([a-z_]+)=\"([^\"]*)\"\\s*,?")]
    private static partial Regex AuthFieldPattern();
}
