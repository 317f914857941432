using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hutong.Sandbox.WeChatPay;

/// <summary>
/// The wallet's side of /v3/profitsharing: receivers must be added first (a merchant receiver with its exact name),
/// names arrive RSA-OAEP encrypted with the key the Wechatpay-Serial header names, the order must have been placed
/// with settle_info.profit_sharing, splits start 1 minute after payment (scaled), all splits together stay within
/// the merchant's maximum ratio of the amount net of fee and refunds, at most 50 receivers and 50 splits, and only
/// merchant receivers can be asked for money back.
/// </summary>
public static partial class WeChatSandboxEndpoints
{
    private const int MaxSplitReceivers = 50;
    private const int MaxSplitsPerOrder = 50;

    private static void MapProfitSharing(IEndpointRouteBuilder app, WeChatSandboxState state, WeChatSandboxNotifier notifier)
    {
        app.MapPost("/v3/profitsharing/receivers/add", (HttpContext ctx) => AddReceiverAsync(ctx, state));
        app.MapPost("/v3/profitsharing/orders", (HttpContext ctx) => SplitAsync(ctx, state, notifier));
        app.MapGet("/v3/profitsharing/orders/{outOrderNo}", (HttpContext ctx, string outOrderNo) => QuerySplitAsync(ctx, state, outOrderNo));
        app.MapPost("/v3/profitsharing/return-orders", (HttpContext ctx) => ReturnSplitAsync(ctx, state, notifier));
        app.MapGet("/v3/profitsharing/return-orders/{outReturnNo}", (HttpContext ctx, string outReturnNo) => QueryReturnAsync(ctx, state, outReturnNo));
        app.MapGet("/v3/profitsharing/bills", (HttpContext ctx) => ProfitSharingBillAsync(ctx, state));
    }

    private static async Task AddReceiverAsync(HttpContext ctx, WeChatSandboxState state)
    {
        var (merchant, body) = await AuthenticateAsync(ctx, state);
        if (merchant is null)
        {
            return;
        }

        state.ProfitSharingCalls.Enqueue("POST receivers/add");
        var req = ParseObject(body);
        var type = req is null ? null : Str(req, "type");
        var account = req is null ? null : Str(req, "account");
        if (req is null || type is not ("MERCHANT_ID" or "PERSONAL_OPENID" or "PERSONAL_SUB_OPENID") || account is null || Str(req, "relation_type") is null)
        {
            await ErrorAsync(ctx, state, merchant, 400, "PARAM_ERROR", "type、account、relation_type 必填");
            return;
        }

        var (nameOk, name) = DecryptName(ctx, state, merchant, req);
        if (!nameOk || (type == "MERCHANT_ID" && name is null))
        {
            await ErrorAsync(ctx, state, merchant, 400, "PARAM_ERROR", "分账接收方全称须用平台公钥加密，商户接收方必填");
            return;
        }

        state.SplitReceivers[(Str(req, "sub_mchid") ?? merchant.MchId, type, account)] = name;
        await SignedAsync(ctx, state, merchant, 200, JsonSerializer.Serialize(new { sub_mchid = Str(req, "sub_mchid"), type, account, relation_type = Str(req, "relation_type") }, Json), null);
    }

    private static async Task SplitAsync(HttpContext ctx, WeChatSandboxState state, WeChatSandboxNotifier notifier)
    {
        var (merchant, body) = await AuthenticateAsync(ctx, state);
        if (merchant is null)
        {
            return;
        }

        state.ProfitSharingCalls.Enqueue("POST orders");
        var req = ParseObject(body);
        var fault = state.Faults.Next("profitsharing", null, ctx);
        if (await BeforeAsync(ctx, state, merchant, fault))
        {
            return;
        }

        var outOrderNo = req is null ? null : Str(req, "out_order_no");
        var transactionId = req is null ? null : Str(req, "transaction_id");
        if (outOrderNo is not null)
        {
            state.MoneySends.Enqueue(outOrderNo);
        }

        if (req is null || outOrderNo is null || transactionId is null || req["receivers"] is not JsonArray list || list.Count is 0 or > MaxSplitReceivers)
        {
            await ErrorAsync(ctx, state, merchant, 400, "PARAM_ERROR", $"transaction_id、out_order_no 必填，receivers 为 1-{MaxSplitReceivers} 个");
            return;
        }

        var mchId = Str(req, "sub_mchid") ?? merchant.MchId;
        var order = state.Orders.Values.FirstOrDefault(o => o.MchId == mchId && o.TransactionId == transactionId);
        if (order is null)
        {
            await ErrorAsync(ctx, state, merchant, 404, "RESOURCE_NOT_EXISTS", "订单不存在");
            return;
        }

        var receivers = new List<SandboxSplitReceiver>();
        foreach (var node in list.OfType<JsonObject>())
        {
            var type = Str(node, "type") ?? string.Empty;
            var account = Str(node, "account") ?? string.Empty;
            var amount = node["amount"] is JsonValue v && v.TryGetValue<long>(out var a) ? a : 0;
            var (nameOk, name) = DecryptName(ctx, state, merchant, node);
            if (amount < 1 || !nameOk)
            {
                await ErrorAsync(ctx, state, merchant, 400, "PARAM_ERROR", "分账金额须为正整数，姓名须用平台公钥加密");
                return;
            }

            if (!state.SplitReceivers.TryGetValue((mchId, type, account), out var registered) || (type == "MERCHANT_ID" && registered != name))
            {
                await ErrorAsync(ctx, state, merchant, 400, "INVALID_REQUEST", "分账接收方不存在或全称不匹配，请先添加分账接收方");
                return;
            }

            receivers.Add(new SandboxSplitReceiver { Type = type, Account = account, Amount = amount, Description = Str(node, "description") ?? string.Empty });
        }

        SandboxSplitOrder? split;
        string? problem = null;
        lock (order)
        {
            var fee = SandboxFees.Fee(order.Total, state.FeeBasisPoints);
            var refunded = order.Refunds.Values.Sum(r => r.Amount);
            var already = order.Splits.Values.SelectMany(x => x.Receivers).Where(r => r.Result != "CLOSED").Sum(r => r.Amount - r.Returned);
            var cap = Math.Max(0, order.Total - fee - refunded) * state.MaxSplitRatioBasisPoints / 10_000;
            if (order.Splits.TryGetValue(outOrderNo, out split))
            {
                // The same out_order_no again: the same split.
            }
            else if (!order.ProfitSharing)
            {
                problem = "NO_AUTH:该笔订单不支持分账（下单时未设置 settle_info.profit_sharing）";
            }
            else if (order.TradeState is not ("SUCCESS" or "REFUND") || order.SuccessTime is not { } paid)
            {
                problem = "INVALID_REQUEST:订单未支付";
            }
            else if (DateTimeOffset.UtcNow < paid + (TimeSpan.FromMinutes(1) * state.TimeScale))
            {
                problem = "INVALID_REQUEST:支付成功1分钟后才可分账";
            }
            else if (order.Unfrozen)
            {
                problem = "INVALID_REQUEST:订单剩余资金已解冻，不可再分账";
            }
            else if (order.Splits.Count >= MaxSplitsPerOrder)
            {
                problem = "INVALID_REQUEST:单笔订单最多分账50次";
            }
            else if (already + receivers.Sum(r => r.Amount) > cap)
            {
                problem = "PARAM_ERROR:分账金额超过最大分账比例";
            }
            else
            {
                split = new SandboxSplitOrder { OutOrderNo = outOrderNo, OrderId = "3008" + RandomNumberGenerator.GetString("0123456789", 24), Receivers = receivers };
                order.Splits[outOrderNo] = split;
                var final = req["unfreeze_unsplit"] is JsonValue u && u.TryGetValue<bool>(out var f) && f;
                _ = FinishSplitLaterAsync(order, split, final, state.TimeScale, notifier);
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

        await SignedAsync(ctx, state, merchant, 200, SplitJson(order, split!), fault);
    }

    /// <summary>
    /// GET /v3/profitsharing/bills?bill_date=YYYY-MM-DD[&amp;sub_mchid=]: the day's profit-sharing bill (分账账单) of the
    /// signing merchant (or the sub-merchant), answered like the trade bill: a signed {hash_type, hash_value, download_url},
    /// the file from /v3/billdownload/file. Only successful splits and returns are billed, one row per receiver paid and per
    /// return, amounts in yuan, every cell prefixed with a backtick (WeChat Pay's 申请分账账单 page,
    /// https://pay.weixin.qq.com/doc/v3/merchant/4012529628; the columns as in docs/settlement-payouts.md).
    /// </summary>
    private static async Task ProfitSharingBillAsync(HttpContext ctx, WeChatSandboxState state)
    {
        var (merchant, _) = await AuthenticateAsync(ctx, state);
        if (merchant is null)
        {
            return;
        }

        state.ProfitSharingCalls.Enqueue("GET bills");
        if (!DateOnly.TryParseExact(ctx.Request.Query["bill_date"].ToString(), "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture,
                System.Globalization.DateTimeStyles.None, out var date))
        {
            await ErrorAsync(ctx, state, merchant, 400, "PARAM_ERROR", "bill_date 格式应为 yyyy-MM-dd");
            return;
        }

        if (date > DateOnly.FromDateTime(DateTimeOffset.UtcNow.ToOffset(ChinaOffset).DateTime))
        {
            await ErrorAsync(ctx, state, merchant, 400, "NO_STATEMENT_EXIST", "账单日期不合法或账单尚未生成");
            return;
        }

        var sub = ctx.Request.Query["sub_mchid"].ToString();
        var payer = sub.Length > 0 ? sub : merchant.MchId;
        var text = state.ProfitSharingBillReplacements.TryGetValue(payer, out var replaced) ? replaced : ProfitSharingBillCsv(state, merchant.MchId, sub.Length > 0 ? sub : null, date);
        var csv = Encoding.UTF8.GetBytes(text);
        var token = RandomString(32);
        state.Bills[token] = csv;
        var url = $"{ctx.Request.Scheme}://{ctx.Request.Host}/v3/billdownload/file?token={token}";
        await SignedAsync(ctx, state, merchant, 200,
            JsonSerializer.Serialize(new { hash_type = "SHA1", hash_value = Convert.ToHexStringLower(SHA1.HashData(csv)), download_url = url }, Json), null);
    }

    private static string ProfitSharingBillCsv(WeChatSandboxState state, string mchId, string? subMchId, DateOnly date)
    {
        const string header = "分账时间,分账发起方,分账方,微信订单号,微信分账/回退单号,分账明细单号,商户分账/回退单号,订单金额,分账接收方,金额,业务类型,处理状态,备注";
        string Time(DateTimeOffset t) => t.ToOffset(ChinaOffset).ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);
        bool OnDay(DateTimeOffset? t) => t is { } v && DateOnly.FromDateTime(v.ToOffset(ChinaOffset).DateTime) == date;
        var sb = new StringBuilder("\uFEFF").Append(header).Append("\r\n");
        void Row(string payer, string[] cells, string outNo, long amount)
        {
            if (state.ProfitSharingBillEdits.TryGetValue((payer, outNo), out var edit))
            {
                if (edit is not { } other)
                {
                    return;
                }

                cells[9] = WeChatTradeBill.Yuan(other);
            }

            sb.Append(string.Join(',', cells.Select(c => "`" + c))).Append("\r\n");
        }

        foreach (var o in state.Orders.Values.OrderBy(o => o.SuccessTime))
        {
            var mine = subMchId is null ? o.MchId == mchId && o.SpMchId is null : o.SpMchId == mchId && o.MchId == subMchId;
            if (!mine)
            {
                continue;
            }

            lock (o)
            {
                var initiator = o.SpMchId ?? o.MchId;
                foreach (var s in o.Splits.Values.Where(s => s.State == "FINISHED" && OnDay(s.FinishedAt)))
                {
                    var detail = 0;
                    foreach (var r in s.Receivers.Where(r => r.Result == "SUCCESS"))
                    {
                        detail++;
                        Row(o.MchId, [Time(s.FinishedAt!.Value), initiator, o.MchId, o.TransactionId ?? string.Empty, s.OrderId, s.OrderId + detail.ToString("000", System.Globalization.CultureInfo.InvariantCulture),
                            s.OutOrderNo, WeChatTradeBill.Yuan(o.Total), r.Account, WeChatTradeBill.Yuan(r.Amount), "分账", "成功", r.Description.Replace(",", "，", StringComparison.Ordinal)], s.OutOrderNo, r.Amount);
                    }
                }

                foreach (var r in o.SplitReturns.Values.Where(r => r.Result == "SUCCESS" && OnDay(r.At)))
                {
                    Row(o.MchId, [Time(r.At!.Value), initiator, o.MchId, o.TransactionId ?? string.Empty, r.ReturnId, r.ReturnId + "001",
                        r.OutReturnNo, WeChatTradeBill.Yuan(o.Total), r.ReturnMchId, WeChatTradeBill.Yuan(r.Amount), "回退", "成功", string.Empty], r.OutReturnNo, r.Amount);
                }
            }
        }

        return sb.ToString();
    }

    /// <summary>Receivers are paid a moment (scaled) after the split is accepted; a final split then releases the rest.</summary>
    /// <remarks>Each receiver paid then gets a PROFITSHARING.SUCCESS notification (分账动账通知), one per receiver.</remarks>
    private static async Task FinishSplitLaterAsync(SandboxOrder order, SandboxSplitOrder split, bool final, double timeScale, WeChatSandboxNotifier notifier)
    {
        await Task.Delay(TimeSpan.FromSeconds(1) * timeScale);
        List<SandboxSplitReceiver> paid;
        lock (order)
        {
            split.Receivers.ForEach(r => r.Result = "SUCCESS");
            split.State = "FINISHED";
            split.FinishedAt = DateTimeOffset.UtcNow;
            order.Unfrozen |= final;
            paid = [.. split.Receivers];
        }

        foreach (var r in paid)
        {
            notifier.NotifyProfitSharing(order, split, r.Type, r.Account, r.Amount, r.Description, returned: false);
        }
    }

    private static async Task QuerySplitAsync(HttpContext ctx, WeChatSandboxState state, string outOrderNo)
    {
        var (merchant, _) = await AuthenticateAsync(ctx, state);
        if (merchant is null)
        {
            return;
        }

        state.ProfitSharingCalls.Enqueue("GET orders");
        var mchId = ctx.Request.Query["sub_mchid"].ToString() is { Length: > 0 } sub ? sub : merchant.MchId;
        var transactionId = ctx.Request.Query["transaction_id"].ToString();
        var order = state.Orders.Values.FirstOrDefault(o => o.MchId == mchId && o.TransactionId == transactionId && o.Splits.ContainsKey(outOrderNo));
        if (order is null)
        {
            await ErrorAsync(ctx, state, merchant, 404, "RESOURCE_NOT_EXISTS", "记录不存在");
            return;
        }

        string json;
        lock (order)
        {
            json = SplitJson(order, order.Splits[outOrderNo]);
        }

        await SignedAsync(ctx, state, merchant, 200, json, null);
    }

    private static async Task ReturnSplitAsync(HttpContext ctx, WeChatSandboxState state, WeChatSandboxNotifier notifier)
    {
        var (merchant, body) = await AuthenticateAsync(ctx, state);
        if (merchant is null)
        {
            return;
        }

        state.ProfitSharingCalls.Enqueue("POST return-orders");
        var req = ParseObject(body);
        var outOrderNo = req is null ? null : Str(req, "out_order_no");
        var outReturnNo = req is null ? null : Str(req, "out_return_no");
        if (outReturnNo is not null)
        {
            state.MoneySends.Enqueue(outReturnNo);
        }

        var returnMchId = req is null ? null : Str(req, "return_mchid");
        var amount = req?["amount"] is JsonValue v && v.TryGetValue<long>(out var a) ? a : 0;
        if (outOrderNo is null || outReturnNo is null || returnMchId is null || amount < 1)
        {
            await ErrorAsync(ctx, state, merchant, 400, "PARAM_ERROR", "out_order_no、out_return_no、return_mchid、amount 必填");
            return;
        }

        var mchId = Str(req!, "sub_mchid") ?? merchant.MchId;
        var order = state.Orders.Values.FirstOrDefault(o => o.MchId == mchId && o.Splits.ContainsKey(outOrderNo));
        if (order is null)
        {
            await ErrorAsync(ctx, state, merchant, 404, "RESOURCE_NOT_EXISTS", "分账单不存在");
            return;
        }

        SandboxSplitReturn? ret;
        SandboxSplitReceiver? returnedFrom = null;
        string? problem = null;
        lock (order)
        {
            var receiver = order.Splits[outOrderNo].Receivers.FirstOrDefault(r => r.Account == returnMchId);
            if (order.SplitReturns.TryGetValue(outReturnNo, out ret))
            {
                problem = ret.Amount == amount && ret.ReturnMchId == returnMchId ? null : "INVALID_REQUEST:同一回退单号的参数不一致";
            }
            else if (receiver is null || receiver.Type != "MERCHANT_ID")
            {
                problem = "INVALID_REQUEST:只能从商户类型的分账接收方回退";
            }
            else if (receiver.Result != "SUCCESS" || receiver.Amount - receiver.Returned < amount)
            {
                problem = "NOT_ENOUGH:回退方可回退金额不足";
            }
            else
            {
                receiver.Returned += amount;
                ret = new SandboxSplitReturn(outReturnNo, "3008" + RandomNumberGenerator.GetString("0123456789", 24), outOrderNo, returnMchId, amount, "SUCCESS", DateTimeOffset.UtcNow);
                order.SplitReturns[outReturnNo] = ret;
                returnedFrom = receiver;
            }
        }

        if (problem is not null)
        {
            await ProblemAsync(ctx, state, merchant, problem);
            return;
        }

        if (returnedFrom is not null)
        {
            // 分账动账通知 for the return: PROFITSHARING.RETURN, the receiver and the amount returned.
            notifier.NotifyProfitSharing(order, order.Splits[outOrderNo], returnedFrom.Type, returnedFrom.Account, ret!.Amount, returnedFrom.Description, returned: true);
        }

        await SignedAsync(ctx, state, merchant, 200, ReturnJson(ret!), null);
    }

    private static async Task QueryReturnAsync(HttpContext ctx, WeChatSandboxState state, string outReturnNo)
    {
        var (merchant, _) = await AuthenticateAsync(ctx, state);
        if (merchant is null)
        {
            return;
        }

        var mchId = ctx.Request.Query["sub_mchid"].ToString() is { Length: > 0 } sub ? sub : merchant.MchId;
        var ret = state.Orders.Values.Where(o => o.MchId == mchId).Select(o => o.SplitReturns.GetValueOrDefault(outReturnNo)).FirstOrDefault(r => r is not null);
        if (ret is null || ret.OutOrderNo != ctx.Request.Query["out_order_no"].ToString())
        {
            await ErrorAsync(ctx, state, merchant, 404, "RESOURCE_NOT_EXISTS", "回退单不存在");
            return;
        }

        await SignedAsync(ctx, state, merchant, 200, ReturnJson(ret), null);
    }

    /// <summary>A name is optional; when present it must decrypt with the platform key the request's Wechatpay-Serial names.</summary>
    private static (bool Ok, string? Name) DecryptName(HttpContext ctx, WeChatSandboxState state, SandboxMerchant merchant, JsonObject node)
    {
        if (Str(node, "name") is not { } cipher)
        {
            return (true, null);
        }

        var serial = ctx.Request.Headers["Wechatpay-Serial"].ToString();
        if (serial != state.PublicKeyId && serial != state.CertificateSerial && serial != state.SerialFor(merchant))
        {
            return (false, null);
        }

        try
        {
            return (true, Encoding.UTF8.GetString(state.PlatformKey.Decrypt(Convert.FromBase64String(cipher), RSAEncryptionPadding.OaepSHA1)));
        }
        catch (Exception e) when (e is CryptographicException or FormatException)
        {
            return (false, null);
        }
    }

    private static string SplitJson(SandboxOrder o, SandboxSplitOrder s) => JsonSerializer.Serialize(new
    {
        sub_mchid = o.SpMchId is null ? null : o.MchId,
        transaction_id = o.TransactionId,
        out_order_no = s.OutOrderNo,
        order_id = s.OrderId,
        state = s.State,
        receivers = s.Receivers.Select(r => new { amount = r.Amount, description = r.Description, type = r.Type, account = r.Account, result = r.Result, detail_id = "3601" + s.OrderId[4..] }),
    }, Json);

    private static string ReturnJson(SandboxSplitReturn r) => JsonSerializer.Serialize(new
    {
        out_order_no = r.OutOrderNo,
        out_return_no = r.OutReturnNo,
        return_id = r.ReturnId,
        return_mchid = r.ReturnMchId,
        amount = r.Amount,
        result = r.Result,
    }, Json);
}
