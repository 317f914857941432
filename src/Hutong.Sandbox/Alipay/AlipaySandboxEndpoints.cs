using System.Text;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hutong.Sandbox.WeChatPay;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hutong.Sandbox.Alipay;

/// <summary>
/// The wallet side of the Alipay OpenAPI v2 gateway: RSA2 request verification (accepting both the Java SDK's
/// "skip empty values" and the Node SDK's "keep them" rule), signed responses over the raw *_response text,
/// gateway codes 10000/40002/40004 with sub_code, and the page.pay/wap.pay cashier.
/// </summary>
public static partial class AlipaySandboxEndpoints
{
    private static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly TimeSpan ChinaOffset = TimeSpan.FromHours(8);

    public static IEndpointRouteBuilder MapAlipaySandbox(this IEndpointRouteBuilder app, AlipaySandboxState state, AlipaySandboxNotifier notifier)
    {
        app.MapPost("/gateway.do", (HttpContext ctx) => GatewayAsync(ctx, state, notifier)).DisableAntiforgery();
        app.MapGet("/gateway.do", (HttpContext ctx) => GatewayAsync(ctx, state, notifier));
        app.MapGet("/sandbox/alipay/bills/{token}", (string token) => state.Bills.TryGetValue(token, out var zip)
            ? Results.Bytes(zip, "application/zip", $"{token}.zip")
            : Results.NotFound());
        AlipaySandboxControl.Map(app, state, notifier);
        MapTradePay(app, state);
        MapInApp(app, state, notifier);
        return app;
    }

    private static async Task GatewayAsync(HttpContext ctx, AlipaySandboxState state, AlipaySandboxNotifier notifier)
    {
        var (p, charset) = await AlipayGatewayRequest.ReadAsync(ctx);
        var method = p.GetValueOrDefault("method");
        var responseKey = string.IsNullOrEmpty(method) ? "error_response" : method.Replace('.', '_') + "_response";
        // page.pay/wap.pay are opened by the buyer's browser: the real gateway shows its errors as an HTML page.
        var reply = new Reply(ctx, state, responseKey, method is "alipay.trade.page.pay" or "alipay.trade.wap.pay", charset ?? new AlipayCharset("utf-8", Encoding.UTF8));
        if (string.IsNullOrEmpty(method))
        {
            await reply.SendAsync(Error("40001", "Missing Required Arguments", "isv.missing-method", "缺少方法名参数"));
            return;
        }

        if (charset is null)
        {
            // Alipay's public error list has no missing-charset code: a request without one gets the same answer as an
            // unknown one (40002 isv.invalid-charset, "字符集错误"; e.g. github.com/suiyunonghen/DxNetPay AliPay/AlipayErrInfo.go).
            await reply.SendAsync(Error("40002", "Invalid Arguments", "isv.invalid-charset", "字符集错误，请求参数charset错误，目前支持格式：GBK,UTF-8"));
            return;
        }

        if (!p.TryGetValue("app_id", out var appId) || !state.Apps.TryGetValue(appId, out var app))
        {
            await reply.SendAsync(Error("40002", "Invalid Arguments", "isv.invalid-app-id", "无效的AppID参数"));
            return;
        }

        var sign = p.GetValueOrDefault("sign");
        var javaRule = AlipayGatewayCodec.SignedText(p!, keepEmpty: false);
        var nodeRule = AlipayGatewayCodec.SignedText(p!, keepEmpty: true);
        if (p.GetValueOrDefault("sign_type") != "RSA2"
            || !(AlipayGatewayCodec.Verify(app.PublicKey, javaRule, sign, charset.Encoding) || AlipayGatewayCodec.Verify(app.PublicKey, nodeRule, sign, charset.Encoding)))
        {
            await reply.SendAsync(Error("40002", "Invalid Arguments", "isv.invalid-signature", $"验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：{javaRule}"));
            return;
        }

        if (!DateTime.TryParseExact(p.GetValueOrDefault("timestamp"), "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var ts)
            || Math.Abs((new DateTimeOffset(ts, ChinaOffset) - DateTimeOffset.UtcNow).TotalMinutes) > 15)
        {
            await reply.SendAsync(Error("40002", "Invalid Arguments", "isv.invalid-timestamp", "非法的时间戳参数"));
            return;
        }

        string? seller = app.SellerId;
        if (p.GetValueOrDefault("app_auth_token") is { Length: > 0 } token && !state.AuthTokens.TryGetValue(token, out seller))
        {
            await reply.SendAsync(Error("20001", "Insufficient Token Permissions", "aop.invalid-app-auth-token", "无效的应用授权令牌"));
            return;
        }

        JsonObject biz;
        try
        {
            biz = JsonNode.Parse(p.GetValueOrDefault("biz_content") ?? "{}") as JsonObject ?? [];
        }
        catch (JsonException)
        {
            await reply.SendAsync(Error("40002", "Invalid Arguments", "isv.invalid-parameter", "biz_content 不是合法的JSON"));
            return;
        }

        var outTradeNo = biz["out_trade_no"]?.GetValue<string>();
        var existing = outTradeNo is null ? null : state.Orders.GetValueOrDefault((appId, outTradeNo));
        var fault = state.Faults.Next(method switch
        {
            "alipay.trade.precreate" => "precreate",
            "alipay.trade.query" => "query",
            "alipay.trade.close" => "close",
            "alipay.fund.trans.uni.transfer" => "transfer",
            "alipay.fund.trans.common.query" => "transfer_query",
            _ => method,
        }, existing?.PassbackParams ?? (method.StartsWith("alipay.fund.trans.", StringComparison.Ordinal) ? TransferAttach(state, appId, biz) : biz["passback_params"]?.GetValue<string>()), ctx);
        if (fault is SandboxFault.TimeoutBefore)
        {
            await Resend.HangAsync(ctx, state.Faults);
            return;
        }

        if (fault is SandboxFault.ServerError)
        {
            await reply.SendAsync(Error("20000", "Service Currently Unavailable", "isp.unknow-error", "系统繁忙"));
            return;
        }

        if (fault is SandboxFault.ParamError)
        {
            await reply.SendAsync(Error("40004", "Business Failed", "ACQ.INVALID_PARAMETER", "参数无效 (injected)"));
            return;
        }

        var (response, html) = method switch
        {
            "alipay.trade.precreate" => (Precreate(state, app, seller!, p, biz, token: p.GetValueOrDefault("app_auth_token")), null),
            "alipay.trade.query" => (Query(existing, biz), null),
            "alipay.trade.close" => (Close(existing), null),
            "alipay.trade.cancel" => (Cancel(existing), null),
            "alipay.trade.pay" => (TradePay(state, app, seller!, p, biz), null),
            "alipay.trade.create" => (TradeCreate(state, app, seller!, p, biz), null),
            "alipay.system.oauth.token" => (OAuthToken(state, appId, p), null),
            "alipay.trade.refund" => (Refund(existing, biz, state), null),
            "alipay.trade.royalty.relation.bind" => (BindRelation(state, appId, biz), null),
            "alipay.trade.order.settle" => (Settle(state, appId, biz), null),
            "alipay.trade.order.settle.query" => (SettleQuery(state, appId, biz), null),
            "alipay.trade.fastpay.refund.query" => (RefundQuery(existing, biz), null),
            "alipay.fund.trans.uni.transfer" => (UniTransfer(state, appId, biz), null),
            "alipay.fund.trans.common.query" => (TransferQuery(state, appId, biz), null),
            "alipay.merchant.tradecomplain.batchquery" => (ComplainBatchQuery(state, appId, biz), null),
            "alipay.merchant.tradecomplain.query" => (ComplainQuery(state, appId, biz), null),
            "alipay.merchant.tradecomplain.feedback.submit" => (ComplainFeedback(state, notifier, appId, biz), null),
            "alipay.merchant.image.upload" => (await ImageUploadAsync(ctx, state, appId, p), null),
            "alipay.trade.page.pay" or "alipay.trade.wap.pay" => PagePay(state, app, seller!, p, biz),
            "alipay.data.dataservice.bill.downloadurl.query" => (BillUrl(state, app, biz, $"{ctx.Request.Scheme}://{ctx.Request.Host}"), null),
            _ => (Error("40004", "Business Failed", "isv.invalid-method", "不存在的方法名"), null),
        };

        if (fault is SandboxFault.TimeoutAfter)
        {
            await Resend.HangAsync(ctx, state.Faults);
            return;
        }

        if (!await SandboxFaults.AnswerLateAsync(ctx))
        {
            return;
        }

        if (html is not null)
        {
            ctx.Response.ContentType = "text/html; charset=utf-8";
            await ctx.Response.WriteAsync(html, ctx.RequestAborted);
            return;
        }

        await reply.SendAsync(response!, badSignature: fault is SandboxFault.BadResponseSignature);
    }

    private static JsonObject Precreate(AlipaySandboxState state, AlipaySandboxApp app, string seller, Dictionary<string, string> p, JsonObject biz, string? token)
    {
        var (order, error) = Upsert(state, app, seller, p, biz, token);
        if (error is not null)
        {
            return error;
        }

        return Ok(new JsonObject { ["out_trade_no"] = order!.OutTradeNo, ["qr_code"] = order.QrCode });
    }

    private static (JsonObject? Response, string? Html) PagePay(AlipaySandboxState state, AlipaySandboxApp app, string seller, Dictionary<string, string> p, JsonObject biz)
    {
        var (order, error) = Upsert(state, app, seller, p, biz, p.GetValueOrDefault("app_auth_token"));
        if (error is not null)
        {
            return (error, null);
        }

        return (null, AlipaySandboxControl.CashierPage(order!, p.GetValueOrDefault("return_url"), null));
    }

    private static (AlipaySandboxOrder? Order, JsonObject? Error) Upsert(AlipaySandboxState state, AlipaySandboxApp app, string seller, Dictionary<string, string> p, JsonObject biz, string? token)
    {
        var outTradeNo = biz["out_trade_no"]?.GetValue<string>();
        var subject = biz["subject"]?.GetValue<string>();
        var amount = biz["total_amount"]?.GetValue<string>();
        if (string.IsNullOrEmpty(outTradeNo) || outTradeNo.Length > 64 || string.IsNullOrEmpty(subject)
            || !AlipayAmount.TryParseFen(amount, out var fen) || fen < 1 || fen > 10_000_000_000)
        {
            return (null, Error("40004", "Business Failed", "ACQ.INVALID_PARAMETER", "参数无效：out_trade_no、subject、total_amount(0.01-100000000)"));
        }

        DateTimeOffset? expire = null;
        if (biz["time_expire"]?.GetValue<string>() is { } te)
        {
            if (!DateTime.TryParseExact(te, "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var t))
            {
                return (null, Error("40004", "Business Failed", "ACQ.INVALID_PARAMETER", "time_expire 格式错误"));
            }

            expire = new DateTimeOffset(t, ChinaOffset);
        }

        var fingerprint = $"{subject}|{fen}|{biz["passback_params"]?.GetValue<string>()}";
        var order = state.Orders.GetOrAdd((app.AppId, outTradeNo), _ => new AlipaySandboxOrder
        {
            AppId = app.AppId,
            OutTradeNo = outTradeNo,
            Subject = subject,
            TotalFen = fen,
            NotifyUrl = p.GetValueOrDefault("notify_url"),
            PassbackParams = biz["passback_params"]?.GetValue<string>(),
            TimeExpire = expire,
            QrToken = "bax0" + Convert.ToHexString(RandomNumberGenerator.GetBytes(10)).ToLowerInvariant(),
            SellerId = seller,
            AppAuthToken = token,
            Fingerprint = fingerprint,
        });
        state.OrdersByQr.TryAdd(order.QrToken, order);
        if (order.Fingerprint != fingerprint)
        {
            return (null, Error("40004", "Business Failed", "ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改"));
        }

        return order.TradeStatus switch
        {
            "TRADE_SUCCESS" or "TRADE_FINISHED" => (null, Error("40004", "Business Failed", "ACQ.TRADE_HAS_SUCCESS", "交易已被支付")),
            "TRADE_CLOSED" => (null, Error("40004", "Business Failed", "ACQ.TRADE_HAS_CLOSE", "交易已经关闭")),
            _ => (order, null),
        };
    }

    private static JsonObject Query(AlipaySandboxOrder? o, JsonObject biz)
    {
        // query_options (e.g. ["voucher_detail_list"]) asks for the optional lists (bounded: a handful of names).
        var queryOptions = (biz["query_options"] as JsonArray ?? []).Take(10).Select(n => n is JsonValue v && v.TryGetValue<string>(out var s) ? s : string.Empty).ToHashSet(StringComparer.Ordinal);
        if (o is null)
        {
            return Error("40004", "Business Failed", "ACQ.TRADE_NOT_EXIST", "交易不存在");
        }

        lock (o)
        {
            var r = Ok(new JsonObject
            {
                ["out_trade_no"] = o.OutTradeNo,
                ["trade_status"] = o.TradeStatus,
                ["total_amount"] = AlipayAmount.FromFen(o.TotalFen),
            });
            if (o.TradeNo is not null)
            {
                r["trade_no"] = o.TradeNo;
            }

            if (o.Paid is not null)
            {
                if (o.BuyerOpenId is not null)
                {
                    r["buyer_open_id"] = o.BuyerOpenId;
                }
                else
                {
                    r["buyer_user_id"] = o.BuyerId;
                }

                r["buyer_logon_id"] = "sandbox***@example.com";
                r["buyer_pay_amount"] = AlipayAmount.FromFen(o.BuyerPayFen);
                r["receipt_amount"] = AlipayAmount.FromFen(o.ReceiptFen);
                r["invoice_amount"] = AlipayAmount.FromFen(o.BuyerPayFen);
                r["point_amount"] = "0.00";
                if (o.VouchersUsed.Count > 0 && queryOptions.Contains("voucher_detail_list"))
                {
                    r["voucher_detail_list"] = AlipaySandboxVouchers.QueryList(o); // only when query_options asks for it
                }
                r["send_pay_date"] = o.Paid?.ToOffset(ChinaOffset).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
            }

            return r;
        }
    }

    private static JsonObject Close(AlipaySandboxOrder? o)
    {
        if (o is null)
        {
            return Error("40004", "Business Failed", "ACQ.TRADE_NOT_EXIST", "交易不存在");
        }

        lock (o)
        {
            if (o.TradeStatus != "WAIT_BUYER_PAY")
            {
                return Error("40004", "Business Failed", "ACQ.TRADE_STATUS_ERROR", "交易状态不合法");
            }

            o.TradeStatus = "TRADE_CLOSED";
        }

        return Ok(new JsonObject { ["out_trade_no"] = o.OutTradeNo });
    }

    /// <summary>
    /// alipay.trade.cancel (统一收单交易撤销), for a trade whose outcome the merchant does not know: an unpaid trade is
    /// closed (action=close), a paid one with nothing refunded yet is refunded in full and closed (action=refund).
    /// </summary>
    private static JsonObject Cancel(AlipaySandboxOrder? o)
    {
        if (o is null)
        {
            return Error("40004", "Business Failed", "ACQ.TRADE_NOT_EXIST", "交易不存在");
        }

        string action;
        lock (o)
        {
            switch (o.TradeStatus)
            {
                case "WAIT_BUYER_PAY":
                case "TRADE_CLOSED" when o.Refunds.Count == 0:
                    action = "close";
                    break;
                case "TRADE_SUCCESS" when o.Refunds.Count == 0:
                    o.Refunds[o.OutTradeNo] = o.TotalFen;
                    o.RefundTimes[o.OutTradeNo] = DateTimeOffset.UtcNow;
                    action = "refund";
                    break;
                default:
                    return Error("40004", "Business Failed", "ACQ.TRADE_STATUS_ERROR", "交易状态不合法，不能撤销");
            }

            o.TradeStatus = "TRADE_CLOSED";
        }

        return Ok(new JsonObject { ["out_trade_no"] = o.OutTradeNo, ["trade_no"] = o.TradeNo, ["retry_flag"] = "N", ["action"] = action });
    }

    private static JsonObject Refund(AlipaySandboxOrder? o, JsonObject biz, AlipaySandboxState state)
    {
        if (o is null)
        {
            return Error("40004", "Business Failed", "ACQ.TRADE_NOT_EXIST", "交易不存在");
        }

        var requestNo = biz["out_request_no"]?.GetValue<string>() ?? o.OutTradeNo; // without it, Alipay treats it as a full refund
        if (!AlipayAmount.TryParseFen(biz["refund_amount"]?.GetValue<string>(), out var fen) || fen < 1)
        {
            return Error("40004", "Business Failed", "ACQ.INVALID_PARAMETER", "refund_amount 无效");
        }

        lock (o)
        {
            if (o.TradeStatus is not ("TRADE_SUCCESS" or "TRADE_CLOSED") || o.TradeNo is null)
            {
                return Error("40004", "Business Failed", "ACQ.TRADE_STATUS_ERROR", "交易状态不合法");
            }

            var changed = "Y";
            if (o.Refunds.TryGetValue(requestNo, out var existing))
            {
                if (existing != fen)
                {
                    return Error("40004", "Business Failed", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "同一退款请求号的退款金额不一致");
                }

                changed = "N"; // the same request again: nothing moves twice
            }
            else if (o.Refunds.Values.Sum() + fen > o.TotalFen)
            {
                return Error("40004", "Business Failed", "ACQ.REFUND_FEE_ERROR", "退款金额超限");
            }
            else if (TakeRoyaltiesBack(o, requestNo, biz) is { } royaltyError)
            {
                return royaltyError;
            }
            else
            {
                o.RefundVouchers[requestNo] = AlipaySandboxVouchers.SplitRefund(o, o.Refunds.Values.Sum(), fen);
                o.Refunds[requestNo] = fen;
                o.RefundTimes[requestNo] = DateTimeOffset.UtcNow;
                if (o.Refunds.Values.Sum() == o.TotalFen)
                {
                    o.TradeStatus = "TRADE_CLOSED"; // fully refunded
                }
            }

            return Ok(new JsonObject
            {
                ["trade_no"] = o.TradeNo, ["out_trade_no"] = o.OutTradeNo, ["fund_change"] = changed,
                ["refund_fee"] = AlipayAmount.FromFen(o.Refunds.Values.Sum()), ["buyer_user_id"] = o.BuyerId,
                // This refund's parts (AlipayTradeRefundResponse): the buyer's, the platform's and the merchant's voucher parts,
                // and what the merchant actually sends back (the refund less its own voucher part).
                ["present_refund_buyer_amount"] = AlipayAmount.FromFen(fen - o.RefundVouchers[requestNo].Merchant - o.RefundVouchers[requestNo].Other),
                ["present_refund_discount_amount"] = AlipayAmount.FromFen(o.RefundVouchers[requestNo].Other),
                ["present_refund_mdiscount_amount"] = AlipayAmount.FromFen(o.RefundVouchers[requestNo].Merchant),
                ["send_back_fee"] = AlipayAmount.FromFen(fen - o.RefundVouchers[requestNo].Merchant),
            });
        }
    }

    private static JsonObject RefundQuery(AlipaySandboxOrder? o, JsonObject biz)
    {
        if (o is null)
        {
            return Error("40004", "Business Failed", "ACQ.TRADE_NOT_EXIST", "交易不存在");
        }

        lock (o)
        {
            var requestNo = biz["out_request_no"]?.GetValue<string>() ?? string.Empty;
            return o.Refunds.TryGetValue(requestNo, out var fen)
                ? Ok(new JsonObject
                {
                    ["trade_no"] = o.TradeNo, ["out_trade_no"] = o.OutTradeNo, ["out_request_no"] = requestNo, ["refund_status"] = "REFUND_SUCCESS",
                    ["total_amount"] = AlipayAmount.FromFen(o.TotalFen), ["refund_amount"] = AlipayAmount.FromFen(fen),
                })
                : Ok(new JsonObject { ["out_trade_no"] = o.OutTradeNo }); // no such refund: success with no refund fields
        }
    }

    private static JsonObject Ok(JsonObject fields)
    {
        var r = new JsonObject { ["code"] = "10000", ["msg"] = "Success" };
        foreach (var (k, v) in fields.ToList())
        {
            fields.Remove(k);
            r[k] = v;
        }

        return r;
    }

    private static JsonObject Error(string code, string msg, string subCode, string subMsg) =>
        new() { ["code"] = code, ["msg"] = msg, ["sub_code"] = subCode, ["sub_msg"] = subMsg };

    /// <summary>{"xxx_response":{…},"sign":"…"} — the signature covers the response text exactly as written here.</summary>
    /// <summary>
    /// alipay.data.dataservice.bill.downloadurl.query, bill_type=trade: a ZIP with the day's 业务明细 CSV in GBK (China
    /// date of payment or refund), titles and summaries in '#' lines, cells padded with tabs as the real file is.
    /// </summary>
    private static JsonObject BillUrl(AlipaySandboxState state, AlipaySandboxApp app, JsonObject biz, string baseUrl)
    {
        if (biz["bill_type"]?.GetValue<string>() != "trade"
            || !DateOnly.TryParseExact(biz["bill_date"]?.GetValue<string>(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
        {
            return Error("40004", "Business Failed", "isp.bill_date_error", "账单日期或类型不正确");
        }

        if (date > DateOnly.FromDateTime(DateTimeOffset.UtcNow.ToOffset(ChinaOffset).DateTime))
        {
            return Error("40004", "Business Failed", "isp.bill_not_exist", "账单不存在");
        }

        bool OnDay(DateTimeOffset? t) => t is { } v && DateOnly.FromDateTime(v.ToOffset(ChinaOffset).DateTime) == date;
        string Time(DateTimeOffset t) => t.ToOffset(ChinaOffset).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        static string Yuan(long fen) => AlipayTradeBill.Yuan(fen);
        var rows = new List<string>();
        long received = 0, refunded = 0, mdiscount = 0, mdiscountRefunded = 0;
        int trades = 0, refunds = 0;
        foreach (var o in state.Orders.Values.Where(o => o.AppId == app.AppId).OrderBy(o => o.Paid))
        {
            lock (o)
            {
                var fee = SandboxFees.Fee(o.ReceiptFen, state.FeeBasisPoints); // on what the merchant receives
                var subject = o.Subject.Replace(',', '，');
                var merchantVouchers = o.VouchersUsed.Sum(v => v.MerchantContributeFen);
                var otherVouchers = o.VouchersUsed.Sum(v => v.OtherContributeFen);
                if (o.Paid is { } paid && OnDay(paid))
                {
                    trades++;
                    received += o.ReceiptFen;
                    mdiscount += merchantVouchers;
                    rows.Add(string.Join(",\t", o.TradeNo, o.OutTradeNo, "交易", subject, Time(o.Created), Time(paid), string.Empty, string.Empty, string.Empty, string.Empty,
                        o.BuyerId, Yuan(o.TotalFen), Yuan(o.ReceiptFen), "0.00", "0.00", Yuan(otherVouchers), Yuan(merchantVouchers), Yuan(merchantVouchers + otherVouchers),
                        string.Join('|', o.VouchersUsed.Select(v => v.Name)), "0.00", "0.00", string.Empty, Yuan(-fee), "0.00", string.Empty));
                }

                long before = 0;
                foreach (var (requestNo, fen) in o.Refunds.OrderBy(r => o.RefundTimes.GetValueOrDefault(r.Key)))
                {
                    var back = SandboxFees.Returned(fee, o.TotalFen, before, fen);
                    before += fen;
                    if (OnDay(o.RefundTimes.GetValueOrDefault(requestNo)))
                    {
                        refunds++;
                        var (m, other) = o.RefundVouchers.GetValueOrDefault(requestNo);
                        refunded += fen - m;
                        mdiscountRefunded += m;
                        rows.Add(string.Join(",\t", o.TradeNo, o.OutTradeNo, "退款", subject, Time(o.Created), Time(o.RefundTimes[requestNo]), string.Empty, string.Empty, string.Empty,
                            string.Empty, o.BuyerId, Yuan(-fen), Yuan(-(fen - m)), "0.00", "0.00", Yuan(-other), Yuan(-m), Yuan(-(m + other)), string.Empty, "0.00", "0.00", requestNo, Yuan(back), "0.00", string.Empty));
                    }
                }
            }
        }

        var d = date.ToString("yyyy年MM月dd日", CultureInfo.InvariantCulture);
        var csv = new StringBuilder()
            .Append("#支付宝业务明细查询\r\n")
            .Append(CultureInfo.InvariantCulture, $"#账号：[{app.SellerId}]\r\n")
            .Append(CultureInfo.InvariantCulture, $"#起始日期：[{d} 00:00:00]   终止日期：[{date.AddDays(1).ToString("yyyy年MM月dd日", CultureInfo.InvariantCulture)} 00:00:00]\r\n")
            .Append("#-----------------------------------------业务明细列表----------------------------------------\r\n")
            .Append(AlipayTradeBill.Header).Append("\r\n");
        foreach (var row in rows)
        {
            csv.Append(row).Append("\r\n");
        }

        csv.Append("#-----------------------------------------业务明细列表结束------------------------------------\r\n")
            .Append(CultureInfo.InvariantCulture, $"#交易合计：{trades}笔，商家实收共{Yuan(received)}元，商家优惠共{Yuan(mdiscount)}元\r\n")
            .Append(CultureInfo.InvariantCulture, $"#退款合计：{refunds}笔，商家实收退款共{Yuan(-refunded)}元，商家优惠退款共{Yuan(-mdiscountRefunded)}元\r\n")
            .Append(CultureInfo.InvariantCulture, $"#导出时间：[{DateTimeOffset.UtcNow.ToOffset(ChinaOffset).ToString("yyyy年MM月dd日 HH:mm:ss", CultureInfo.InvariantCulture)}]\r\n");
        using var zip = new MemoryStream();
        using (var archive = new System.IO.Compression.ZipArchive(zip, System.IO.Compression.ZipArchiveMode.Create, leaveOpen: true))
        {
            var entry = archive.CreateEntry($"{app.SellerId}{date:yyyyMMdd}_业务明细.csv");
            using var w = entry.Open();
            var bytes = AlipayTradeBill.Gbk.GetBytes(csv.ToString());
            w.Write(bytes);
        }

        var token = Guid.NewGuid().ToString("N");
        state.Bills[token] = zip.ToArray();
        return new JsonObject { ["code"] = "10000", ["msg"] = "Success", ["bill_download_url"] = $"{baseUrl}/sandbox/alipay/bills/{token}" };
    }

    /// <summary>
    /// How the gateway answers one request. API methods: {"xxx_response":{…},"sign":"…"} in the request's charset, the
    /// signature over the response text's bytes in that charset (what the SDKs verify). page.pay/wap.pay errors: the
    /// HTML page the real gateway shows the buyer, "调试错误，请回到请求来源地，重新发起请求。错误代码 invalid-signature 错误原因: …"
    /// (the sub_code without its "isv." prefix, HTTP 200), as merchants have quoted it, e.g.
    /// blog.csdn.net/weixin_43195987/article/details/104274257 and www.cnblogs.com/day959/p/7230250.html.
    /// </summary>
    private sealed class Reply(HttpContext ctx, AlipaySandboxState state, string responseKey, bool page, AlipayCharset charset)
    {
        public async Task SendAsync(JsonObject response, bool badSignature = false)
        {
            if (page && response["code"]?.GetValue<string>() is { } code && code != "10000")
            {
                var subCode = response["sub_code"]?.GetValue<string>() ?? code;
                ctx.Response.ContentType = "text/html; charset=utf-8";
                await ctx.Response.WriteAsync(ErrorPage(subCode.StartsWith("isv.", StringComparison.Ordinal) ? subCode["isv.".Length..] : subCode, response["sub_msg"]?.GetValue<string>() ?? string.Empty), ctx.RequestAborted);
                return;
            }

            // alipay.system.oauth.token's refusals come as error_response (alipay-sdk 4.14.0 alipay.js: isv.code-invalid "授权码code无效").
            var key = responseKey == "alipay_system_oauth_token_response" && response["code"] is not null ? "error_response" : responseKey;
            var text = response.ToJsonString(Json);
            var sign = AlipayGatewayCodec.Sign(state.AlipayKey, badSignature ? text + " " : text, charset.Encoding);
            ctx.Response.ContentType = $"application/json; charset={charset.Name}";
            await ctx.Response.Body.WriteAsync(charset.Encoding.GetBytes($"{{\"{key}\":{text},\"sign\":\"{sign}\"}}"), ctx.RequestAborted);
        }
    }

    internal static string ErrorPage(string code, string reason) =>
        $"""
        <!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>支付宝 - 网上支付 安全快速！</title></head>
        <body><div class="error"><h1>调试错误，请回到请求来源地，重新发起请求。</h1>
        <p>错误代码 <span class="code">{Encode(code)}</span> 错误原因: <span class="reason">{Encode(reason)}</span></p></div></body></html>
        """;

    internal static string Encode(string? s) => WebUtility.HtmlEncode(s ?? string.Empty);
}
