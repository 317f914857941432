using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using Hutong.Sandbox.WeChatPay;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hutong.Sandbox.UnionPay;

/// <summary>The buyers' payment codes the UnionPay sandbox knows (the same behaviours as WeChat's and Alipay's sandbox buyers).</summary>
public sealed class UnionPayBuyerCodes
{
    public const int MaxCodes = 100_000;

    public ConcurrentDictionary<string, SandboxBuyerCode> Codes { get; } = new(StringComparer.Ordinal);

    /// <summary>A fresh code: 19 digits starting 62, as 云闪付 shows them.</summary>
    public SandboxBuyerCode NewCode(BuyerCodeBehaviour behaviour)
    {
        if (Codes.Count >= MaxCodes)
        {
            throw new InvalidOperationException("too many sandbox payment codes");
        }

        var code = new SandboxBuyerCode
        {
            Code = "62" + RandomNumberGenerator.GetString("0123456789", 17),
            Behaviour = behaviour,
            OpenId = "6216****" + RandomNumberGenerator.GetString("0123456789", 4), // the card behind the code
        };
        Codes[code.Code] = code;
        return code;
    }
}

/// <summary>
/// UnionPay's side of the in-app flows: 二维码消费 (被扫, txnSubType=06 with qrNo) and its 冲正 (txnType=99) on
/// backTransReq, and app consumption (appTransReq, bizType=000201) answering a tn. The synchronous 00 of a 被扫 means
/// accepted: paid at once when the buyer needs no password, else origRespCode 03 until the buyer confirms (control API),
/// then the backUrl notification. An orderId is one order: sending it again charges nothing more (12 重复交易), and a
/// code is good for one order. Refusals: 61 for a code UnionPay does not know, has expired or was used (its appendix's
/// "无效卡号"), 64 余额不足 — this sandbox's reading of the respCode table, not a quoted pairing.
/// </summary>
public sealed partial class UnionPaySandbox
{
    private void MapBuyerCodes(RouteGroupBuilder g)
    {
        g.MapPost("/codes", (BuyerCodeRequest r) =>
        {
            var code = BuyerCodes.NewCode(r.Behaviour);
            return Results.Ok(new BuyerCodeResponse(code.Code, code.OpenId));
        });
        g.MapPost("/codes/{code}/confirm", (string code, BuyerCodeConfirmRequest r) =>
        {
            if (!BuyerCodes.Codes.TryGetValue(code, out var buyer) || buyer.UsedFor is not { } key || !Orders.TryGetValue(key, out var order))
            {
                return Results.BadRequest(new { code = "NO_ORDER", message = "this code has not been scanned yet" });
            }

            if (r.Result == "PAYERROR")
            {
                lock (order)
                {
                    if (order.OrigRespCode != "03")
                    {
                        return Results.BadRequest(new { code = "NOT_PAYABLE", message = $"订单状态 {order.OrigRespCode}" });
                    }

                    order.OrigRespCode = "01";
                    return Results.Ok(new { order_id = order.OrderId, orig_resp_code = order.OrigRespCode });
                }
            }

            return PayOrder(order, buyer.OpenId) is { } error
                ? Results.BadRequest(new { code = "NOT_PAYABLE", message = error })
                : Results.Ok(new { order_id = order.OrderId, orig_resp_code = "00" });
        });
    }

    private SortedDictionary<string, string> PayWithCode(SortedDictionary<string, string> reply, string merId, string orderId, Dictionary<string, string> f)
    {
        var qrNo = f.GetValueOrDefault("qrNo");
        if (f.GetValueOrDefault("bizType") != "000000" || f.GetValueOrDefault("channelType") != "08" || f.GetValueOrDefault("currencyCode") != "156"
            || orderId.Length is < 8 or > 40 || !orderId.All(char.IsAsciiLetterOrDigit)
            || !long.TryParse(f.GetValueOrDefault("txnAmt"), NumberStyles.None, CultureInfo.InvariantCulture, out var amt) || amt < 1
            || string.IsNullOrEmpty(f.GetValueOrDefault("backUrl")) || string.IsNullOrEmpty(qrNo))
        {
            return Answer(reply, "30", "报文格式错误：bizType/channelType/orderId/txnAmt/currencyCode/backUrl/qrNo");
        }

        if (Orders.ContainsKey((merId, orderId)))
        {
            return Answer(reply, "12", "重复交易[2011012]"); // the first one stands: query it
        }

        if (!BuyerCodes.Codes.TryGetValue(qrNo, out var buyer))
        {
            return Answer(reply, "61", "付款码无效[2011061]");
        }

        UnionPaySandboxOrder order;
        lock (buyer)
        {
            if (buyer.UsedFor is not null || buyer.Behaviour == BuyerCodeBehaviour.Expired)
            {
                return Answer(reply, "61", "付款码无效或已过期，请持卡人刷新付款码[2011061]");
            }

            buyer.UsedFor = (merId, orderId);
            if (buyer.Behaviour == BuyerCodeBehaviour.NotEnough)
            {
                return Answer(reply, "64", "卡上的余额不足[1000064]");
            }

            order = Orders.GetOrAdd((merId, orderId), _ => new UnionPaySandboxOrder
            {
                MerId = merId, OrderId = orderId, TxnTime = f.GetValueOrDefault("txnTime") ?? string.Empty, TxnAmt = amt,
                BackUrl = f["backUrl"], ReqReserved = f.GetValueOrDefault("reqReserved"), QrToken = RandomNumberGenerator.GetString("0123456789", 20),
                TxnSubType = "06", OrigRespCode = "03",
            });
        }

        if (buyer.Behaviour == BuyerCodeBehaviour.Pay)
        {
            PayOrder(order, buyer.OpenId);
        }

        var ok = Answer(reply, "00", "成功[0000000]", sign: false);
        ok["txnAmt"] = amt.ToString(CultureInfo.InvariantCulture);
        ok["currencyCode"] = "156";
        if (order.QueryId is { } queryId)
        {
            ok["queryId"] = queryId;
        }

        return Signed(ok);
    }

    /// <summary>冲正 of a consumption by its orderId and txnTime: a waiting one is stopped, a paid one returned in full. Done twice is done.</summary>
    private SortedDictionary<string, string> Reverse(SortedDictionary<string, string> reply, UnionPaySandboxOrder? order, Dictionary<string, string> f)
    {
        if (f.GetValueOrDefault("txnSubType") != "01")
        {
            return Answer(reply, "30", "报文格式错误：txnSubType");
        }

        if (order is null || order.RefundOf is not null || order.TxnTime != f.GetValueOrDefault("txnTime"))
        {
            return Answer(reply, "35", "原交易不存在或状态不正确[2011000]");
        }

        lock (order)
        {
            order.Reversed = true;
            order.OrigRespCode = "01";
        }

        return Answer(reply, "00", "成功[0000000]");
    }

    private SortedDictionary<string, string> ApplyApp(SortedDictionary<string, string> reply, string merId, string orderId, Dictionary<string, string> f)
    {
        if (f.GetValueOrDefault("txnType") != "01" || f.GetValueOrDefault("txnSubType") != "01" || f.GetValueOrDefault("bizType") != "000201"
            || f.GetValueOrDefault("channelType") != "08" || f.GetValueOrDefault("currencyCode") != "156"
            || orderId.Length is < 8 or > 40 || !orderId.All(char.IsAsciiLetterOrDigit)
            || !long.TryParse(f.GetValueOrDefault("txnAmt"), NumberStyles.None, CultureInfo.InvariantCulture, out var amt) || amt < 1
            || string.IsNullOrEmpty(f.GetValueOrDefault("backUrl")))
        {
            return Answer(reply, "30", "报文格式错误：txnType/txnSubType/bizType/channelType/orderId/txnAmt/currencyCode/backUrl");
        }

        DateTimeOffset? timeout = DateTime.TryParseExact(f.GetValueOrDefault("payTimeout"), "yyyyMMddHHmmss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var t)
            ? new DateTimeOffset(t, TimeSpan.FromHours(8)) : null;
        var order = Orders.GetOrAdd((merId, orderId), _ => new UnionPaySandboxOrder
        {
            MerId = merId, OrderId = orderId, TxnTime = f.GetValueOrDefault("txnTime") ?? string.Empty, TxnAmt = amt,
            BackUrl = f["backUrl"], ReqReserved = f.GetValueOrDefault("reqReserved"), PayTimeout = timeout,
            QrToken = RandomNumberGenerator.GetString("0123456789", 20), TxnSubType = "01", BizType = "000201",
            Tn = RandomNumberGenerator.GetString("123456789", 1) + RandomNumberGenerator.GetString("0123456789", 20),
        });
        if (order.Tn is null || order.TxnAmt != amt || order.TxnTime != f.GetValueOrDefault("txnTime"))
        {
            return Answer(reply, "12", "重复交易[2011012]");
        }

        OrdersByTn.TryAdd(order.Tn, order);
        if (order.OrigRespCode != "05")
        {
            return Answer(reply, "12", "重复交易：订单已支付或已失效");
        }

        var ok = Answer(reply, "00", "成功[0000000]", sign: false);
        ok["tn"] = order.Tn;
        return Signed(ok);
    }
}
