using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Hutong.Sandbox.Alipay;

/// <summary>One transfer (alipay.fund.trans.uni.transfer) as the sandbox's Alipay keeps it, by (app, out_biz_no).</summary>
public sealed class AlipaySandboxTransfer
{
    public required string AppId { get; init; }

    public required string OutBizNo { get; init; }

    public required long AmountFen { get; init; }

    public required string IdentityType { get; init; }

    public required string Identity { get; init; }

    public string? Name { get; init; }

    public string? PassbackParams { get; init; }

    public required string OrderId { get; init; }

    public required string PayFundOrderId { get; init; }

    /// <summary>SUCCESS or FAIL (a refusal creates no order; FAIL is kept for one that failed after acceptance).</summary>
    public string Status { get; set; } = "SUCCESS";

    public DateTimeOffset Created { get; init; } = DateTimeOffset.UtcNow;
}

/// <summary>
/// The gateway's 单笔转账 methods: alipay.fund.trans.uni.transfer (TRANS_ACCOUNT_NO_PWD / DIRECT_TRANSFER, synchronous to an
/// Alipay account) and alipay.fund.trans.common.query. The same out_biz_no again answers the first transfer (nothing moves
/// twice). Sandbox rules: an ALIPAY_USER_ID ending in 0404 has no account (PAYEE_NOT_EXIST); each app has a transfer
/// balance (<see cref="AlipaySandboxState.TransferBalanceFen"/>) below which BALANCE_IS_NOT_ENOUGH is answered.
/// </summary>
public static partial class AlipaySandboxEndpoints
{
    private static JsonObject UniTransfer(AlipaySandboxState state, string appId, JsonObject biz)
    {
        var outBizNo = biz["out_biz_no"]?.GetValue<string>();
        state.TransferCalls.Enqueue(("alipay.fund.trans.uni.transfer", outBizNo ?? string.Empty));
        var payee = biz["payee_info"] as JsonObject;
        var identityType = payee?["identity_type"]?.GetValue<string>();
        var identity = payee?["identity"]?.GetValue<string>();
        if (string.IsNullOrEmpty(outBizNo) || outBizNo.Length > 64 || !OutBizNoPattern().IsMatch(outBizNo)
            || biz["product_code"]?.GetValue<string>() != "TRANS_ACCOUNT_NO_PWD" || biz["biz_scene"]?.GetValue<string>() != "DIRECT_TRANSFER"
            || !AlipayAmount.TryParseFen(biz["trans_amount"]?.GetValue<string>(), out var fen) || fen < 10 || fen > 10_000_000_000
            || identityType is not ("ALIPAY_USER_ID" or "ALIPAY_LOGON_ID") || string.IsNullOrEmpty(identity))
        {
            // TRANS_ACCOUNT_NO_PWD takes 0.1-100000000 yuan (the SDK models' trans_amount range).
            return Error("40004", "Business Failed", "INVALID_PARAMETER", "参数有误：out_biz_no、product_code、biz_scene、trans_amount(0.1-100000000)、payee_info");
        }

        if (identityType == "ALIPAY_LOGON_ID" && string.IsNullOrEmpty(payee?["name"]?.GetValue<string>()))
        {
            return Error("40004", "Business Failed", "PAYEE_USERINFO_ERROR", "收款方登录号需同时提供姓名");
        }

        var gate = state.TransferGate(appId);
        lock (gate)
        {
            if (state.Transfers.TryGetValue((appId, outBizNo), out var same))
            {
                return same.AmountFen == fen && same.Identity == identity
                    ? Ok(TransferFields(same))
                    : Error("40004", "Business Failed", "INVALID_PARAMETER", "同一 out_biz_no 的参数与原请求不一致");
            }

            if (identityType == "ALIPAY_USER_ID" && identity.EndsWith("0404", StringComparison.Ordinal))
            {
                return Error("40004", "Business Failed", "PAYEE_NOT_EXIST", "收款账号不存在");
            }

            var balance = state.TransferBalanceFen.GetOrAdd(appId, AlipaySandboxState.DefaultTransferBalanceFen);
            if (fen > balance)
            {
                return Error("40004", "Business Failed", "BALANCE_IS_NOT_ENOUGH", "付款方余额不足");
            }

            state.TransferBalanceFen[appId] = balance - fen;
            var transfer = new AlipaySandboxTransfer
            {
                AppId = appId, OutBizNo = outBizNo, AmountFen = fen, IdentityType = identityType, Identity = identity,
                Name = payee?["name"]?.GetValue<string>(), PassbackParams = biz["passback_params"]?.GetValue<string>(),
                OrderId = "2026" + RandomNumberGenerator.GetString("0123456789", 28),
                PayFundOrderId = "2026" + RandomNumberGenerator.GetString("0123456789", 28),
            };
            state.Transfers[(appId, outBizNo)] = transfer;
            return Ok(TransferFields(transfer));
        }
    }

    private static JsonObject TransferQuery(AlipaySandboxState state, string appId, JsonObject biz)
    {
        var outBizNo = biz["out_biz_no"]?.GetValue<string>();
        state.TransferCalls.Enqueue(("alipay.fund.trans.common.query", outBizNo ?? string.Empty));
        if (string.IsNullOrEmpty(outBizNo) || biz["product_code"]?.GetValue<string>() is null || biz["biz_scene"]?.GetValue<string>() is null)
        {
            // With out_biz_no, product_code and biz_scene are required (alipay.fund.trans.common.query request docs).
            return Error("40004", "Business Failed", "INVALID_PARAMETER", "out_biz_no 查询需同时传 product_code 和 biz_scene");
        }

        return state.Transfers.TryGetValue((appId, outBizNo), out var t)
            ? Ok(TransferFields(t))
            : Error("40004", "Business Failed", "ORDER_NOT_EXIST", "转账订单不存在");
    }

    private static JsonObject TransferFields(AlipaySandboxTransfer t)
    {
        var fields = new JsonObject
        {
            ["out_biz_no"] = t.OutBizNo,
            ["order_id"] = t.OrderId,
            ["pay_fund_order_id"] = t.PayFundOrderId,
            ["status"] = t.Status,
            ["trans_amount"] = AlipayAmount.FromFen(t.AmountFen),
            ["trans_date"] = t.Created.ToOffset(ChinaOffset).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
        };
        if (t.Status == "SUCCESS")
        {
            fields["pay_date"] = fields["trans_date"]!.GetValue<string>();
        }

        return fields;
    }

    /// <summary>The attach a fault may be scoped to: the transfer's passback_params (the hub's payout id), on the send and on its queries.</summary>
    private static string? TransferAttach(AlipaySandboxState state, string appId, JsonObject biz) =>
        biz["out_biz_no"]?.GetValue<string>() is { } no && state.Transfers.TryGetValue((appId, no), out var t)
            ? t.PassbackParams
            : biz["passback_params"]?.GetValue<string>();

    [GeneratedRegex("^[A-Za-z0-9_-]+$")]
    private static partial Regex OutBizNoPattern();
}

public sealed partial class AlipaySandboxState
{
    /// <summary>What each app may transfer before BALANCE_IS_NOT_ENOUGH, unless a test sets its own (¥10,000,000).</summary>
    public const long DefaultTransferBalanceFen = 1_000_000_000;

    private readonly ConcurrentDictionary<string, Lock> _transferGates = new(StringComparer.Ordinal);

    /// <summary>Transfers by (app, out_biz_no).</summary>
    public ConcurrentDictionary<(string AppId, string OutBizNo), AlipaySandboxTransfer> Transfers { get; } = new();

    /// <summary>Each app's balance for transfers, in fen.</summary>
    public ConcurrentDictionary<string, long> TransferBalanceFen { get; } = new(StringComparer.Ordinal);

    /// <summary>Every transfer or transfer query that reached the gateway (method, out_biz_no), so tests can prove what never left the hub or was sent once.</summary>
    public ConcurrentQueue<(string Method, string OutBizNo)> TransferCalls { get; } = new();

    internal Lock TransferGate(string appId) => _transferGates.GetOrAdd(appId, _ => new Lock());
}
