using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;

namespace Hutong.Sandbox.Alipay;

/// <summary>
/// The gateway's 分账 methods: royalty relations must be bound before a settle names them; a settle (async mode) pays
/// up to 50 receivers a moment later; all settles of a trade stay within the maximum ratio of the amount net of fee
/// and refunds; royalty_finish ends splitting; a refund may take shares back (refund_royalty_parameters), all or nothing.
/// </summary>
public static partial class AlipaySandboxEndpoints
{
    private static JsonObject BindRelation(AlipaySandboxState state, string appId, JsonObject biz)
    {
        state.ProfitSharingCalls.Enqueue("alipay.trade.royalty.relation.bind");
        if (biz["receiver_list"] is not JsonArray list || list.Count is 0 or > 20)
        {
            return Error("40004", "Business Failed", "ACQ.INVALID_PARAMETER", "receiver_list 为 1-20 个");
        }

        foreach (var r in list.OfType<JsonObject>())
        {
            if (r["account"]?.GetValue<string>() is not { Length: > 0 } account || r["type"]?.GetValue<string>() is not ("userId" or "loginName" or "openId"))
            {
                return Error("40004", "Business Failed", "ACQ.INVALID_PARAMETER", "分账接收方账号或类型无效");
            }

            state.RoyaltyRelations[(appId, account)] = r["name"]?.GetValue<string>();
        }

        return Ok(new JsonObject { ["result_code"] = "SUCCESS" });
    }

    private static JsonObject Settle(AlipaySandboxState state, string appId, JsonObject biz)
    {
        state.ProfitSharingCalls.Enqueue("alipay.trade.order.settle");
        var requestNo = biz["out_request_no"]?.GetValue<string>();
        var tradeNo = biz["trade_no"]?.GetValue<string>();
        var order = state.Orders.Values.FirstOrDefault(o => o.AppId == appId && o.TradeNo == tradeNo);
        if (requestNo is null || order is null)
        {
            return Error("40004", "Business Failed", "ACQ.TRADE_NOT_EXIST", "交易不存在");
        }

        if (biz["royalty_parameters"] is not JsonArray list || list.Count is 0 or > 50)
        {
            return Error("40004", "Business Failed", "ACQ.INVALID_PARAMETER", "royalty_parameters 为 1-50 个");
        }

        var details = new List<AlipaySandboxRoyalty>();
        foreach (var r in list.OfType<JsonObject>())
        {
            var transIn = r["trans_in"]?.GetValue<string>() ?? string.Empty;
            if (!AlipayAmount.TryParseFen(r["amount"]?.GetValue<string>(), out var fen) || fen < 1)
            {
                return Error("40004", "Business Failed", "ACQ.INVALID_PARAMETER", "分账金额无效");
            }

            if (!state.RoyaltyRelations.ContainsKey((appId, transIn)))
            {
                return Error("40004", "Business Failed", "ACQ.ROYALTY_RECEIVER_NOT_BIND", "分账关系未绑定");
            }

            details.Add(new AlipaySandboxRoyalty { TransIn = transIn, Amount = fen });
        }

        lock (order)
        {
            if (order.Settles.TryGetValue(requestNo, out var same))
            {
                return Ok(new JsonObject { ["trade_no"] = order.TradeNo, ["settle_no"] = same.SettleNo });
            }

            if (order.TradeStatus != "TRADE_SUCCESS")
            {
                return Error("40004", "Business Failed", "ACQ.TRADE_STATUS_ERROR", "交易状态不合法");
            }

            if (order.RoyaltyFinished)
            {
                return Error("40004", "Business Failed", "ACQ.TRADE_SETTLE_FINISHED", "交易分账已完结");
            }

            var fee = SandboxFees.Fee(order.TotalFen, state.FeeBasisPoints);
            var already = order.Settles.Values.SelectMany(x => x.Details).Where(d => d.State != "FAIL").Sum(d => d.Amount - d.Returned);
            var cap = Math.Max(0, order.TotalFen - fee - order.Refunds.Values.Sum()) * state.MaxSplitRatioBasisPoints / 10_000;
            if (already + details.Sum(d => d.Amount) > cap)
            {
                return Error("40004", "Business Failed", "ACQ.ROYALTY_AMOUNT_EXCEED", "分账金额超过最大分账比例");
            }

            var settle = new AlipaySandboxSettle { SettleNo = "2026" + RandomNumberGenerator.GetString("0123456789", 24), Details = details };
            order.Settles[requestNo] = settle;
            order.RoyaltyFinished |= biz["extend_params"]?["royalty_finish"]?.GetValue<string>() == "true";
            _ = SettleLaterAsync(order, settle, state.TimeScale);
            return Ok(new JsonObject { ["trade_no"] = order.TradeNo, ["settle_no"] = settle.SettleNo });
        }
    }

    private static async Task SettleLaterAsync(AlipaySandboxOrder order, AlipaySandboxSettle settle, double timeScale)
    {
        await Task.Delay(TimeSpan.FromSeconds(1) * timeScale);
        lock (order)
        {
            settle.Details.ForEach(d => d.State = "SUCCESS");
        }
    }

    private static JsonObject SettleQuery(AlipaySandboxState state, string appId, JsonObject biz)
    {
        state.ProfitSharingCalls.Enqueue("alipay.trade.order.settle.query");
        var requestNo = biz["out_request_no"]?.GetValue<string>() ?? string.Empty;
        var tradeNo = biz["trade_no"]?.GetValue<string>();
        var order = state.Orders.Values.FirstOrDefault(o => o.AppId == appId && o.TradeNo == tradeNo);
        if (order is null)
        {
            return Error("40004", "Business Failed", "ACQ.TRADE_NOT_EXIST", "交易不存在");
        }

        lock (order)
        {
            if (!order.Settles.TryGetValue(requestNo, out var settle))
            {
                return Error("40004", "Business Failed", "ACQ.TRADE_SETTLE_NOT_EXIST", "分账请求不存在");
            }

            var at = settle.Created.ToOffset(ChinaOffset).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
            return Ok(new JsonObject
            {
                ["out_request_no"] = requestNo,
                ["settle_no"] = settle.SettleNo,
                ["operation_dt"] = at,
                ["royalty_detail_list"] = new JsonArray(settle.Details.Select(d => (JsonNode)new JsonObject
                {
                    ["operation_type"] = "transfer",
                    ["execute_dt"] = at,
                    ["trans_out"] = order.SellerId,
                    ["trans_in"] = d.TransIn,
                    ["amount"] = AlipayAmount.FromFen(d.Amount),
                    ["state"] = d.State,
                }).ToArray()),
            });
        }
    }

    /// <summary>refund_royalty_parameters: each receiver gives back at most what it still holds of this trade; all or nothing. Called under the order's lock.</summary>
    private static JsonObject? TakeRoyaltiesBack(AlipaySandboxOrder o, string requestNo, JsonObject biz)
    {
        if (biz["refund_royalty_parameters"] is not JsonArray list || list.Count == 0)
        {
            return null;
        }

        var takes = new List<(string From, long Fen)>();
        foreach (var r in list.OfType<JsonObject>())
        {
            if (r["trans_out"]?.GetValue<string>() is not { } from || !AlipayAmount.TryParseFen(r["amount"]?.GetValue<string>(), out var fen) || fen < 1)
            {
                return Error("40004", "Business Failed", "ACQ.INVALID_PARAMETER", "refund_royalty_parameters 无效");
            }

            var held = o.Settles.Values.SelectMany(s => s.Details).Where(d => d.TransIn == from && d.State == "SUCCESS").Sum(d => d.Amount - d.Returned);
            if (held < fen + takes.Where(t => t.From == from).Sum(t => t.Fen))
            {
                return Error("40004", "Business Failed", "ACQ.ROYALTY_REFUND_AMOUNT_EXCEED", "退分账金额超过分账接收方已分得金额");
            }

            takes.Add((from, fen));
        }

        foreach (var (from, fen) in takes)
        {
            var left = fen;
            foreach (var d in o.Settles.Values.SelectMany(s => s.Details).Where(d => d.TransIn == from && d.State == "SUCCESS"))
            {
                var take = Math.Min(left, d.Amount - d.Returned);
                d.Returned += take;
                left -= take;
            }
        }

        o.RoyaltyRefunds.Add(requestNo);
        return null;
    }
}
