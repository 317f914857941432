using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Xml;
using System.Xml.Linq;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hutong.Sandbox.WeChatPay;

/// <summary>What the sandbox's buyer does with a payment code shown at a till.</summary>
public enum BuyerCodeBehaviour
{
    /// <summary>Pays at once (small amount, no password asked).</summary>
    Pay,

    /// <summary>Is asked for the password: USERPAYING until the control API says the buyer entered it (or gave up); never, if nobody does.</summary>
    Password,

    /// <summary>The code has expired (it refreshes every minute in the app): AUTHCODEEXPIRE.</summary>
    Expired,

    /// <summary>The balance does not cover the amount: NOTENOUGH.</summary>
    NotEnough,
}

/// <summary>A payment code the sandbox's buyer shows; single use, as in the app.</summary>
public sealed class SandboxBuyerCode
{
    public required string Code { get; init; }

    public required BuyerCodeBehaviour Behaviour { get; init; }

    public required string OpenId { get; init; }

    /// <summary>The order (merchant, out_trade_no) the code was used for, once used.</summary>
    public (string MchId, string OutTradeNo)? UsedFor { get; set; }
}

/// <summary>The payment-code side of the WeChat sandbox: merchants' v2 keys and the buyers' codes.</summary>
public sealed class WeChatMicropayRegistry
{
    /// <summary>Bounds how many codes a test (or the control API) can make.</summary>
    public const int MaxCodes = 100_000;

    public ConcurrentDictionary<string, string> V2Keys { get; } = new(StringComparer.Ordinal);

    public ConcurrentDictionary<string, SandboxBuyerCode> Codes { get; } = new(StringComparer.Ordinal);

    /// <summary>Every pay/micropay that reached the sandbox (out_trade_no), re-sends included.</summary>
    public ConcurrentQueue<string> Sends { get; } = new();

    /// <summary>A fresh code: 18 digits starting 13 (WeChat's payment codes are 18 digits starting 10-15).</summary>
    public SandboxBuyerCode NewCode(BuyerCodeBehaviour behaviour)
    {
        if (Codes.Count >= MaxCodes)
        {
            throw new InvalidOperationException("too many sandbox payment codes");
        }

        var code = new SandboxBuyerCode
        {
            Code = "13" + RandomNumberGenerator.GetString("0123456789", 16),
            Behaviour = behaviour,
            OpenId = "o" + WeChatSandboxEndpoints.RandomString(27),
        };
        Codes[code.Code] = code;
        return code;
    }
}

public sealed record MicropayKeyRequest(string MchId, string ApiV2Key);

public sealed record BuyerCodeRequest(BuyerCodeBehaviour Behaviour);

public sealed record BuyerCodeResponse(string AuthCode, string OpenId);

/// <summary>"SUCCESS" (the buyer entered the password) or "PAYERROR" (the buyer gave up).</summary>
public sealed record BuyerCodeConfirmRequest(string? Result);

/// <summary>
/// WeChat Pay's v2 payment-code API (pay.weixin.qq.com/wiki/doc/api/micropay.php), written from the wallet's side:
/// pay/micropay, pay/orderquery and secapi/pay/reverse. Requests are XML signed with the merchant's v2 key (MD5 or
/// HMAC-SHA256 per sign_type); a bad signature is answered return_code FAIL, business refusals result_code FAIL with
/// err_code; answers are signed the same way. An out_trade_no is one order: sending it again charges nothing more.
/// </summary>
public static partial class WeChatSandboxEndpoints
{
    private const int MaxXmlChars = 64 * 1024;

    public static void MapMicropay(IEndpointRouteBuilder app, WeChatSandboxState state)
    {
        app.MapPost("/pay/micropay", (HttpContext ctx) => MicropayAsync(ctx, state));
        app.MapPost("/pay/orderquery", (HttpContext ctx) => OrderQueryAsync(ctx, state));
        app.MapPost("/secapi/pay/reverse", (HttpContext ctx) => ReverseAsync(ctx, state));

        var g = app.MapGroup("/sandbox/wechatpay/micropay");
        g.MapPost("/keys", (MicropayKeyRequest r) =>
        {
            if (!state.Merchants.ContainsKey(r.MchId) || r.ApiV2Key.Length != 32)
            {
                return Results.BadRequest(new { code = "PARAM_ERROR", message = "register the merchant first; the v2 key is 32 characters" });
            }

            state.Micropay.V2Keys[r.MchId] = r.ApiV2Key;
            return Results.NoContent();
        });
        g.MapPost("/codes", (BuyerCodeRequest r) =>
        {
            var code = state.Micropay.NewCode(r.Behaviour);
            return Results.Ok(new BuyerCodeResponse(code.Code, code.OpenId));
        });
        g.MapPost("/codes/{code}/confirm", (string code, BuyerCodeConfirmRequest r) => ConfirmCode(state, code, r.Result));
        g.MapGet("/sends", () => Results.Ok(state.Micropay.Sends.ToArray()));
    }

    /// <summary>The buyer at the password prompt: pays (SUCCESS) or gives up (PAYERROR). Refused unless the order is USERPAYING.</summary>
    private static IResult ConfirmCode(WeChatSandboxState state, string code, string? result)
    {
        if (!state.Micropay.Codes.TryGetValue(code, out var buyer) || buyer.UsedFor is not { } key || !state.Orders.TryGetValue(key, out var order))
        {
            return Results.BadRequest(new { code = "NO_ORDER", message = "this code has not been scanned yet" });
        }

        lock (order)
        {
            if (order.TradeState != "USERPAYING")
            {
                return Results.BadRequest(new { code = "ORDER_NOT_PAYABLE", message = $"订单状态为 {order.TradeState}" });
            }

            if (result == "PAYERROR")
            {
                order.TradeState = "PAYERROR";
                order.TradeStateDesc = "支付失败，用户取消";
            }
            else
            {
                PaidBy(order, buyer);
            }

            return Results.Ok(new { out_trade_no = order.OutTradeNo, trade_state = order.TradeState });
        }
    }

    private static void PaidBy(SandboxOrder order, SandboxBuyerCode buyer)
    {
        order.TradeState = "SUCCESS";
        order.TradeStateDesc = "支付成功";
        order.TransactionId = "4200" + RandomNumberGenerator.GetString("0123456789", 24);
        order.PayerOpenId = buyer.OpenId;
        order.SuccessTime = DateTimeOffset.UtcNow;
    }

    private static async Task MicropayAsync(HttpContext ctx, WeChatSandboxState state)
    {
        var (req, key) = await V2AuthenticateAsync(ctx, state);
        if (req is null)
        {
            return;
        }

        var fault = state.Faults.Next("micropay", req.GetValueOrDefault("attach"), ctx);
        if (await V2BeforeAsync(ctx, state, req, key!, fault))
        {
            return;
        }

        var mchId = req["mch_id"];
        var outTradeNo = req.GetValueOrDefault("out_trade_no");
        var body = req.GetValueOrDefault("body");
        var authCode = req.GetValueOrDefault("auth_code");
        var hasTotal = long.TryParse(req.GetValueOrDefault("total_fee"), NumberStyles.None, CultureInfo.InvariantCulture, out var total);
        var problem =
            outTradeNo is null || !OutTradeNoPattern().IsMatch(outTradeNo) ? "out_trade_no 须为 6-32 位字母、数字、_-|*" :
            body is null || Encoding.UTF8.GetByteCount(body) > 128 ? "body 长度须为 1-128 字节" :
            !hasTotal || total is < 1 or > int.MaxValue ? "total_fee 须为正整数（分）" :
            req.GetValueOrDefault("fee_type") is { } ft && ft != "CNY" ? "fee_type 仅支持 CNY" :
            req.GetValueOrDefault("spbill_create_ip") is null ? "缺少参数 spbill_create_ip" :
            authCode is null ? "缺少参数 auth_code" : null;
        if (problem is not null)
        {
            await V2ResultAsync(ctx, state, req, key!, "PARAM_ERROR", problem);
            return;
        }

        state.Micropay.Sends.Enqueue(outTradeNo!);
        if (state.Orders.TryGetValue((mchId, outTradeNo!), out var existing))
        {
            if (await AfterAsync(ctx, state, fault))
            {
                return;
            }

            // The same out_trade_no again (a retry): the same order, never a second charge.
            string? again;
            lock (existing)
            {
                again = existing.TradeState switch
                {
                    "SUCCESS" or "REFUND" => "ORDERPAID",
                    "USERPAYING" => "USERPAYING",
                    "REVOKED" => "ORDERREVERSED",
                    "CLOSED" => "ORDERCLOSED",
                    _ => "TRADE_ERROR",
                };
            }

            await V2ResultAsync(ctx, state, req, key!, again!, again switch
            {
                "ORDERPAID" => "订单已支付",
                "USERPAYING" => "需要用户输入支付密码",
                "ORDERREVERSED" => "订单已撤销",
                "ORDERCLOSED" => "订单已关闭",
                _ => "交易错误",
            });
            return;
        }

        if (!state.Micropay.Codes.TryGetValue(authCode!, out var buyer))
        {
            await V2ResultAsync(ctx, state, req, key!, "AUTH_CODE_INVALID", "付款码无效，请重新扫码");
            return;
        }

        SandboxOrder? order = null;
        (string Code, string Message)? refused = null;
        lock (buyer)
        {
            if (buyer.UsedFor is not null || buyer.Behaviour == BuyerCodeBehaviour.Expired)
            {
                refused = ("AUTHCODEEXPIRE", "二维码已过期，请用户在微信上刷新后再试"); // codes are single use
            }
            else if (buyer.Behaviour == BuyerCodeBehaviour.NotEnough)
            {
                buyer.UsedFor = (mchId, outTradeNo!);
                refused = ("NOTENOUGH", "余额不足");
            }
            else
            {
                order = state.Orders.GetOrAdd((mchId, outTradeNo!), _ => new SandboxOrder
                {
                    MchId = mchId,
                    AppId = req.GetValueOrDefault("appid") ?? string.Empty,
                    OutTradeNo = outTradeNo!,
                    Description = body!,
                    Total = total,
                    Currency = "CNY",
                    NotifyUrl = string.Empty, // payment-code orders are answered, not notified
                    Attach = req.GetValueOrDefault("attach"),
                    CodeToken = RandomString(16),
                    Fingerprint = $"micropay|{body}|{total}|{authCode}",
                    TradeState = "USERPAYING",
                    TradeStateDesc = "需要用户输入支付密码",
                });
                buyer.UsedFor = (mchId, outTradeNo!);
                if (buyer.Behaviour == BuyerCodeBehaviour.Pay)
                {
                    lock (order)
                    {
                        PaidBy(order, buyer);
                    }
                }
            }
        }

        if (order is null)
        {
            await V2ResultAsync(ctx, state, req, key!, refused!.Value.Code, refused.Value.Message);
            return;
        }

        if (await AfterAsync(ctx, state, fault))
        {
            return;
        }

        if (order.TradeState == "USERPAYING")
        {
            await V2ResultAsync(ctx, state, req, key!, "USERPAYING", "需要用户输入支付密码", fault);
            return;
        }

        await V2SuccessAsync(ctx, state, req, key!, OrderFields(order), fault);
    }

    private static async Task OrderQueryAsync(HttpContext ctx, WeChatSandboxState state)
    {
        var (req, key) = await V2AuthenticateAsync(ctx, state);
        if (req is null)
        {
            return;
        }

        var outTradeNo = req.GetValueOrDefault("out_trade_no");
        var fault = state.Faults.Next("orderquery", outTradeNo is not null && state.Orders.TryGetValue((req["mch_id"], outTradeNo), out var o) ? o.Attach : null, ctx);
        if (await V2BeforeAsync(ctx, state, req, key!, fault))
        {
            return;
        }

        if (outTradeNo is null || !state.Orders.TryGetValue((req["mch_id"], outTradeNo), out var order))
        {
            await V2ResultAsync(ctx, state, req, key!, "ORDERNOTEXIST", "此交易订单号不存在");
            return;
        }

        Dictionary<string, string> fields;
        lock (order)
        {
            fields = OrderFields(order);
            fields["trade_state"] = order.TradeState;
            fields["trade_state_desc"] = order.TradeStateDesc;
        }

        await V2SuccessAsync(ctx, state, req, key!, fields, fault);
    }

    private static async Task ReverseAsync(HttpContext ctx, WeChatSandboxState state)
    {
        // In production this path also needs the merchant's API certificate as the TLS client certificate; the sandbox
        // runs plain HTTP, so it checks the signature only.
        var (req, key) = await V2AuthenticateAsync(ctx, state);
        if (req is null)
        {
            return;
        }

        var outTradeNo = req.GetValueOrDefault("out_trade_no");
        var found = outTradeNo is not null && state.Orders.TryGetValue((req["mch_id"], outTradeNo), out var o) ? o : null;
        var fault = state.Faults.Next("reverse", found?.Attach, ctx);
        if (await V2BeforeAsync(ctx, state, req, key!, fault))
        {
            return;
        }

        if (found is null)
        {
            await V2ResultAsync(ctx, state, req, key!, "ORDERNOTEXIST", "此交易订单号不存在");
            return;
        }

        var reversible = true;
        lock (found)
        {
            if (found.TradeState is "SUCCESS")
            {
                // Reversing a paid payment-code order refunds it in full: the buyer gets the money back.
                found.Refunds["REVERSE"] = new SandboxRefund { OutRefundNo = "REVERSE", RefundId = "5030" + RandomNumberGenerator.GetString("0123456789", 24), Amount = found.Total, Status = "SUCCESS", SuccessTime = DateTimeOffset.UtcNow };
            }
            else if (found.TradeState is "REFUND")
            {
                reversible = false; // partly refunded already: WeChat refuses to reverse it
            }

            if (reversible)
            {
                found.TradeState = "REVOKED";
                found.TradeStateDesc = "已撤销";
            }
        }

        if (!reversible)
        {
            await V2ResultAsync(ctx, state, req, key!, "TRADE_STATE_ERROR", "订单状态错误");
            return;
        }

        if (await AfterAsync(ctx, state, fault))
        {
            return;
        }

        await V2SuccessAsync(ctx, state, req, key!, new Dictionary<string, string>(StringComparer.Ordinal) { ["recall"] = "N" }, fault);
    }

    private static Dictionary<string, string> OrderFields(SandboxOrder order)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["out_trade_no"] = order.OutTradeNo,
            ["trade_type"] = "MICROPAY",
            ["total_fee"] = order.Total.ToString(CultureInfo.InvariantCulture),
            ["fee_type"] = order.Currency,
            ["attach"] = order.Attach ?? string.Empty,
        };
        if (order.TradeState is "SUCCESS" or "REFUND" or "REVOKED" && order.TransactionId is not null)
        {
            fields["transaction_id"] = order.TransactionId;
            fields["openid"] = order.PayerOpenId ?? string.Empty;
            fields["cash_fee"] = fields["total_fee"];
            fields["bank_type"] = "OTHERS";
            fields["time_end"] = order.SuccessTime!.Value.ToOffset(ChinaOffset).ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
        }

        return fields;
    }

    /// <summary>
    /// Reads and checks a v2 request: XML, a registered mch_id with a v2 key, a valid sign_type and a matching sign.
    /// Anything else is answered return_code FAIL (unsigned, as WeChat does) and null is returned.
    /// </summary>
    private static async Task<(Dictionary<string, string>? Request, string? Key)> V2AuthenticateAsync(HttpContext ctx, WeChatSandboxState state)
    {
        using var reader = new StreamReader(ctx.Request.Body, Encoding.UTF8);
        var buffer = new char[MaxXmlChars + 1];
        var read = await reader.ReadBlockAsync(buffer, ctx.RequestAborted);
        var fields = read > MaxXmlChars ? null : ParseV2(new string(buffer, 0, read));
        string? key = null;
        var problem =
            fields is null ? "XML格式错误" :
            fields.GetValueOrDefault("mch_id") is not { } mchId || !state.Micropay.V2Keys.TryGetValue(mchId, out key) ? "mch_id参数错误" :
            fields.GetValueOrDefault("appid") is not { } appId || !state.Merchants.TryGetValue(mchId, out var m) || m.AppId != appId ? "appid和mch_id不匹配" :
            fields.GetValueOrDefault("nonce_str") is not { Length: > 0 and <= 32 } ? "nonce_str参数错误" :
            fields.GetValueOrDefault("sign_type") is { } st && st is not ("MD5" or "HMAC-SHA256") ? "sign_type参数错误" :
            !fields.TryGetValue("sign", out var sign) || !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(sign), Encoding.ASCII.GetBytes(V2Sign(fields, key!))) ? "签名错误" :
            null;
        if (problem is null)
        {
            return (fields, key);
        }

        await V2WriteAsync(ctx, new Dictionary<string, string>(StringComparer.Ordinal) { ["return_code"] = "FAIL", ["return_msg"] = problem });
        return (null, null);
    }

    /// <summary>The sandbox's own v2 signature: sorted non-empty fields but sign, &amp;key=, MD5 or HMAC-SHA256 (per sign_type), uppercase hex.</summary>
    private static string V2Sign(IReadOnlyDictionary<string, string> fields, string key)
    {
        var content = string.Join('&', fields.Where(f => f.Key != "sign" && f.Value.Length > 0).OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => f.Key + "=" + f.Value)) + "&key=" + key;
        var bytes = Encoding.UTF8.GetBytes(content);
        return Convert.ToHexString(fields.GetValueOrDefault("sign_type") == "HMAC-SHA256" ? HMACSHA256.HashData(Encoding.UTF8.GetBytes(key), bytes) : MD5.HashData(bytes));
    }

    private static Dictionary<string, string>? ParseV2(string text)
    {
        try
        {
            var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null, MaxCharactersInDocument = MaxXmlChars };
            using var xml = XmlReader.Create(new StringReader(text), settings);
            var root = XDocument.Load(xml).Root;
            if (root?.Name.LocalName != "xml")
            {
                return null;
            }

            var fields = new Dictionary<string, string>(StringComparer.Ordinal);
            return root.Elements().All(e => fields.TryAdd(e.Name.LocalName, e.Value)) ? fields : null;
        }
        catch (XmlException)
        {
            return null;
        }
    }

    private static async Task<bool> V2BeforeAsync(HttpContext ctx, WeChatSandboxState state, Dictionary<string, string> req, string key, SandboxFault? fault)
    {
        switch (fault)
        {
            case SandboxFault.TimeoutBefore:
                await Resend.HangAsync(ctx, state.Faults);
                return true;
            case SandboxFault.ServerError:
                await V2ResultAsync(ctx, state, req, key, "SYSTEMERROR", "系统超时");
                return true;
            case SandboxFault.ParamError:
                await V2ResultAsync(ctx, state, req, key, "PARAM_ERROR", "参数错误 (injected)");
                return true;
            default:
                return false;
        }
    }

    /// <summary>A business answer: return_code SUCCESS, result_code FAIL with err_code, signed.</summary>
    private static Task V2ResultAsync(HttpContext ctx, WeChatSandboxState state, Dictionary<string, string> req, string key, string errCode, string message, SandboxFault? fault = null) =>
        V2SuccessAsync(ctx, state, req, key, new Dictionary<string, string>(StringComparer.Ordinal) { ["err_code"] = errCode, ["err_code_des"] = message }, fault, resultCode: "FAIL");

    private static async Task V2SuccessAsync(
        HttpContext ctx, WeChatSandboxState state, Dictionary<string, string> req, string key, Dictionary<string, string> fields, SandboxFault? fault, string resultCode = "SUCCESS")
    {
        fields["return_code"] = "SUCCESS";
        fields["return_msg"] = "OK";
        fields["appid"] = req["appid"];
        fields["mch_id"] = req["mch_id"];
        if (req.GetValueOrDefault("sub_mch_id") is { } sub)
        {
            fields["sub_mch_id"] = sub;
        }

        fields["nonce_str"] = RandomString(32);
        fields["sign_type"] = req.GetValueOrDefault("sign_type") ?? "MD5";
        fields["result_code"] = resultCode;
        fields["sign"] = V2Sign(fields, key);
        if (fault == SandboxFault.BadResponseSignature)
        {
            fields["sign"] = new string('0', fields["sign"].Length);
        }

        await V2WriteAsync(ctx, fields);
    }

    private static async Task V2WriteAsync(HttpContext ctx, Dictionary<string, string> fields)
    {
        if (!await SandboxFaults.AnswerLateAsync(ctx))
        {
            return;
        }

        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "text/xml; charset=utf-8";
        var xml = new XElement("xml", fields.Select(f => new XElement(f.Key, new XCData(f.Value)))).ToString(SaveOptions.DisableFormatting);
        await ctx.Response.WriteAsync(xml, ctx.RequestAborted);
    }
}
