using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Hutong.Sandbox.WeChatPay;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hutong.Sandbox.Alipay;

/// <summary>The buyers' payment codes the Alipay sandbox knows (the same behaviours as WeChat's sandbox buyer).</summary>
public sealed class AlipayBuyerCodes
{
    public const int MaxCodes = 100_000;

    public ConcurrentDictionary<string, SandboxBuyerCode> Codes { get; } = new(StringComparer.Ordinal);

    /// <summary>A fresh code: 18 digits starting 28 (Alipay's payment codes are 16-24 digits starting 25-30).</summary>
    public SandboxBuyerCode NewCode(BuyerCodeBehaviour behaviour)
    {
        if (Codes.Count >= MaxCodes)
        {
            throw new InvalidOperationException("too many sandbox payment codes");
        }

        var code = new SandboxBuyerCode
        {
            Code = "28" + RandomNumberGenerator.GetString("0123456789", 16),
            Behaviour = behaviour,
            OpenId = "2088" + RandomNumberGenerator.GetString("0123456789", 12),
        };
        Codes[code.Code] = code;
        return code;
    }
}

/// <summary>
/// alipay.trade.pay (scene=bar_code) from Alipay's side: 10000 when the buyer pays at once, 10003 (等待用户付款) while the
/// buyer confirms in the app, 40004 with the sub_code of a refused code. An out_trade_no is one trade: sending it again
/// charges nothing more (ACQ.TRADE_HAS_SUCCESS once paid).
/// </summary>
public static partial class AlipaySandboxEndpoints
{
    public static void MapTradePay(IEndpointRouteBuilder app, AlipaySandboxState state)
    {
        var g = app.MapGroup("/sandbox/alipay/codes");
        g.MapPost("/", (BuyerCodeRequest r) =>
        {
            var code = state.BuyerCodes.NewCode(r.Behaviour);
            return Results.Ok(new BuyerCodeResponse(code.Code, code.OpenId));
        });
        g.MapPost("/{code}/confirm", (string code, BuyerCodeConfirmRequest r) =>
        {
            if (!state.BuyerCodes.Codes.TryGetValue(code, out var buyer) || buyer.UsedFor is not { } key || !state.Orders.TryGetValue(key, out var order))
            {
                return Results.BadRequest(new { code = "NO_ORDER", message = "this code has not been scanned yet" });
            }

            lock (order)
            {
                if (order.TradeStatus != "WAIT_BUYER_PAY")
                {
                    return Results.BadRequest(new { code = "ORDER_NOT_PAYABLE", message = $"交易状态为 {order.TradeStatus}" });
                }

                if (r.Result == "PAYERROR")
                {
                    order.TradeStatus = "TRADE_CLOSED";
                }
                else
                {
                    PaidBy(order, buyer);
                }

                return Results.Ok(new { out_trade_no = order.OutTradeNo, trade_status = order.TradeStatus });
            }
        });
    }

    private static void PaidBy(AlipaySandboxOrder order, SandboxBuyerCode buyer)
    {
        order.TradeStatus = "TRADE_SUCCESS";
        order.TradeNo = DateTime.UtcNow.ToString("yyyyMMdd", CultureInfo.InvariantCulture) + "22001" + RandomNumberGenerator.GetString("0123456789", 15);
        order.BuyerId = buyer.OpenId;
        order.Paid = DateTimeOffset.UtcNow;
    }

    private static JsonObject TradePay(AlipaySandboxState state, AlipaySandboxApp app, string seller, Dictionary<string, string> p, JsonObject biz)
    {
        var authCode = biz["auth_code"]?.GetValue<string>();
        if (biz["scene"]?.GetValue<string>() != "bar_code" || string.IsNullOrEmpty(authCode))
        {
            return Error("40004", "Business Failed", "ACQ.INVALID_PARAMETER", "参数无效：scene 须为 bar_code，auth_code 必填");
        }

        var outTradeNo = biz["out_trade_no"]?.GetValue<string>();
        if (outTradeNo is not null && state.Orders.TryGetValue((app.AppId, outTradeNo), out var existing))
        {
            lock (existing)
            {
                // The same trade again: never a second charge.
                return existing.TradeStatus switch
                {
                    "WAIT_BUYER_PAY" => Waiting(existing),
                    "TRADE_SUCCESS" or "TRADE_FINISHED" => Error("40004", "Business Failed", "ACQ.TRADE_HAS_SUCCESS", "交易已被支付"),
                    _ => Error("40004", "Business Failed", "ACQ.TRADE_HAS_CLOSE", "交易已经关闭"),
                };
            }
        }

        if (!state.BuyerCodes.Codes.TryGetValue(authCode, out var buyer))
        {
            return Error("40004", "Business Failed", "ACQ.PAYMENT_AUTH_CODE_INVALID", "支付失败，获取顾客账户信息失败，请顾客刷新付款码后重新收款");
        }

        lock (buyer)
        {
            if (buyer.UsedFor is not null || buyer.Behaviour == BuyerCodeBehaviour.Expired)
            {
                return Error("40004", "Business Failed", "ACQ.PAYMENT_AUTH_CODE_INVALID", "支付失败，获取顾客账户信息失败，请顾客刷新付款码后重新收款");
            }

            if (buyer.Behaviour == BuyerCodeBehaviour.NotEnough)
            {
                buyer.UsedFor = (app.AppId, outTradeNo ?? string.Empty);
                return Error("40004", "Business Failed", "ACQ.BUYER_BALANCE_NOT_ENOUGH", "买家余额不足");
            }

            var (order, error) = Upsert(state, app, seller, p, biz, p.GetValueOrDefault("app_auth_token"));
            if (error is not null)
            {
                return error;
            }

            buyer.UsedFor = (app.AppId, order!.OutTradeNo);
            lock (order)
            {
                if (buyer.Behaviour == BuyerCodeBehaviour.Password)
                {
                    return Waiting(order);
                }

                PaidBy(order, buyer);
                return Ok(new JsonObject
                {
                    ["trade_no"] = order.TradeNo,
                    ["out_trade_no"] = order.OutTradeNo,
                    ["buyer_logon_id"] = "sandbox***@example.com",
                    ["buyer_user_id"] = order.BuyerId,
                    ["total_amount"] = AlipayAmount.FromFen(order.TotalFen),
                    ["receipt_amount"] = AlipayAmount.FromFen(order.TotalFen),
                    ["gmt_payment"] = order.Paid!.Value.ToOffset(ChinaOffset).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                });
            }
        }

        static JsonObject Waiting(AlipaySandboxOrder o) => new()
        {
            ["code"] = "10003",
            ["msg"] = "order success pay inprocess",
            ["out_trade_no"] = o.OutTradeNo,
            ["total_amount"] = AlipayAmount.FromFen(o.TotalFen),
        };
    }
}
