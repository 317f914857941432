using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hutong.Sandbox.WeChatPay;

/// <summary>One merchant transfer (商家转账) bill as the sandbox's WeChat Pay keeps it, by (mchid, out_bill_no).</summary>
public sealed class SandboxTransferBill
{
    /// <summary>The merchant whose funds pay it: the direct merchant, or a service provider's sub-merchant (出资商户号).</summary>
    public required string MchId { get; init; }

    /// <summary>The service provider that made it through the partner API (null: a direct merchant's own).</summary>
    public string? SpMchId { get; init; }

    public required string AppId { get; init; }

    public required string OutBillNo { get; init; }

    public required string TransferBillNo { get; init; }

    public required string OpenId { get; init; }

    /// <summary>The payee's name as decrypted from user_name (null: none given).</summary>
    public string? UserName { get; init; }

    public required long Amount { get; init; }

    public required string Remark { get; init; }

    public required string SceneId { get; init; }

    public string? NotifyUrl { get; init; }

    /// <summary>What the payee's WeChat needs to open the confirmation page (wx.requestMerchantTransfer's package).</summary>
    public required string PackageInfo { get; init; }

    /// <summary>WAIT_USER_CONFIRM → (payee confirms) SUCCESS, or FAIL / CANCELING → CANCELLED.</summary>
    public string State { get; set; } = "WAIT_USER_CONFIRM";

    public string? FailReason { get; set; }

    public DateTimeOffset Created { get; init; } = DateTimeOffset.UtcNow;

    public DateTimeOffset Updated { get; set; } = DateTimeOffset.UtcNow;
}

public sealed record BuyerTransferRequest(string PackageInfo, string? Action);

/// <summary>
/// The wallet's side of /v3/fund-app/mch-transfer/transfer-bills (user-confirmation mode), written from WeChat's documented
/// API (wechatpay-im/website openapi/v3/fund-app/mch-transfer/*, pay.weixin.qq.com mch-trans/transfer-bill), not from the
/// hub's connector: every bill waits for the payee (WAIT_USER_CONFIRM with package_info) until the sandbox's buyer phone
/// confirms or declines it (POST /sandbox/wechatpay/buyer/transfer) or the merchant cancels it (CANCELING, then CANCELLED);
/// the end is sent as MCHTRANSFER.BILL.FINISHED on WeChat's retry schedule. Rules: out_bill_no letters and digits (5-32); the
/// same out_bill_no again answers the same bill; transfer_amount from 10 fen up to <see cref="WeChatSandboxState.TransferMaxFen"/>;
/// transfer_remark at most 32 characters; the scene's report items (1000: 活动名称 + 奖励说明, 1005: 岗位类型 + 报酬说明);
/// user_name required from 200000 fen, RSA-OAEP encrypted with the key Wechatpay-Serial names, and compared with the
/// payee's real name (<see cref="WeChatSandboxState.TransferRealNames"/>; a mismatch fails the bill with NAME_NOT_CORRECT);
/// each merchant's transfer balance (<see cref="WeChatSandboxState.TransferBalanceFen"/>) answers NOT_ENOUGH (403) below it.
/// </summary>
public static partial class WeChatSandboxEndpoints
{
    private const long TransferRealNameFromFen = 200_000;

    private static readonly Dictionary<string, string[]> TransferScenes = new(StringComparer.Ordinal)
    {
        ["1000"] = ["活动名称", "奖励说明"],
        ["1005"] = ["岗位类型", "报酬说明"],
    };

    internal static void MapTransfers(IEndpointRouteBuilder app, WeChatSandboxState state, WeChatSandboxNotifier notifier)
    {
        app.MapPost("/v3/fund-app/mch-transfer/transfer-bills", (HttpContext ctx) => CreateTransferAsync(ctx, state, partner: false));
        app.MapGet("/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{outBillNo}", (HttpContext ctx, string outBillNo) => QueryTransferAsync(ctx, state, outBillNo, partner: false));
        app.MapPost("/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{outBillNo}/cancel", (HttpContext ctx, string outBillNo) => CancelTransferAsync(ctx, state, notifier, outBillNo, partner: false));

        // 服务商 (普通服务商) transfers for a sub-merchant, which funds them (wechatpay-im/website openapi/v3/fund-app/mch-transfer/
        // partner/transfer-bills.md, …/out-bill-no/{out_bill_no}.md, …/cancel.md; pay.weixin.qq.com/doc/v3/partner/4015469096,
        // 4015469131, 4015469118): sub_mchid in the body (create, cancel) or the query (query), the same rules otherwise; the
        // sub-merchant must be one the service provider acts for. The create answer has no state (website 返回字典).
        app.MapPost("/v3/fund-app/mch-transfer/partner/transfer-bills", (HttpContext ctx) => CreateTransferAsync(ctx, state, partner: true));
        app.MapGet("/v3/fund-app/mch-transfer/partner/transfer-bills/out-bill-no/{outBillNo}", (HttpContext ctx, string outBillNo) => QueryTransferAsync(ctx, state, outBillNo, partner: true));
        app.MapPost("/v3/fund-app/mch-transfer/partner/transfer-bills/out-bill-no/{outBillNo}/cancel", (HttpContext ctx, string outBillNo) => CancelTransferAsync(ctx, state, notifier, outBillNo, partner: true));
    }

    /// <summary>The merchant whose bills a call may touch: the caller, or (partner API) the sub-merchant it names and acts for; an error otherwise.</summary>
    private static (string? MchId, int Status, string? Code, string? Message) Funder(SandboxMerchant caller, bool partner, string? subMchId) =>
        !partner ? (caller.MchId, 0, null, null)
        : string.IsNullOrEmpty(subMchId) ? (null, 400, "PARAM_ERROR", "缺少参数 sub_mchid")
        : caller.SubMerchants.ContainsKey(subMchId) ? (subMchId, 0, null, null)
        : (null, 403, "NO_AUTH", "子商户未授权服务商发起商家转账");

    /// <summary>Whether the caller may see the bill: its own (direct API), or its sub-merchant's made through the partner API.</summary>
    private static bool Sees(SandboxTransferBill bill, SandboxMerchant caller, bool partner) =>
        partner ? bill.SpMchId == caller.MchId : bill.SpMchId is null;

    private static async Task CreateTransferAsync(HttpContext ctx, WeChatSandboxState state, bool partner)
    {
        var (merchant, body) = await AuthenticateAsync(ctx, state);
        if (merchant is null)
        {
            return;
        }

        var req = ParseObject(body);
        var outBillNo = req is null ? null : Str(req, "out_bill_no");
        state.TransferCalls.Enqueue(("create", outBillNo ?? string.Empty));
        var fault = state.Faults.Next("transfer", outBillNo, ctx);
        if (await BeforeAsync(ctx, state, merchant, fault))
        {
            return;
        }

        if (req is null)
        {
            await ErrorAsync(ctx, state, merchant, 400, "PARAM_ERROR", "请求体不是合法的JSON");
            return;
        }

        var appId = Str(req, "appid");
        var sceneId = Str(req, "transfer_scene_id");
        var openId = Str(req, "openid");
        var remark = Str(req, "transfer_remark");
        var notifyUrl = Str(req, "notify_url");
        var amount = req["transfer_amount"] is JsonValue av && av.TryGetValue<long>(out var a) ? a : (long?)null;
        var reports = (req["transfer_scene_report_infos"] as JsonArray)?.OfType<JsonObject>().Select(o => (Type: Str(o, "info_type"), Content: Str(o, "info_content"))).ToList() ?? [];
        var problem =
            appId is null ? "缺少参数 appid" :
            outBillNo is null || !OutBillNoPattern().IsMatch(outBillNo) ? "out_bill_no 须为 5-32 位数字、大小写字母" :
            sceneId is null ? "缺少参数 transfer_scene_id" :
            openId is null || !SandboxOpenIdPattern().IsMatch(openId) ? "openid 格式错误" :
            amount is null or < 10 ? "transfer_amount 须为整数（分），不低于 10 分（0.1 元）" :
            remark is null || remark.Length > 32 ? "transfer_remark 必填，最多 32 个字符" :
            notifyUrl is not null && (!Uri.TryCreate(notifyUrl, UriKind.Absolute, out var nu) || (nu.Scheme != "https" && nu.Scheme != "http")) ? "notify_url 格式错误" :
            null;
        if (problem is not null)
        {
            await ErrorAsync(ctx, state, merchant, 400, "PARAM_ERROR", problem);
            return;
        }

        var (funder, denied, deniedCode, deniedMessage) = Funder(merchant, partner, Str(req, "sub_mchid"));
        if (funder is null)
        {
            await ErrorAsync(ctx, state, merchant, denied, deniedCode!, deniedMessage!);
            return;
        }

        if (appId != merchant.AppId && !(state.InApp.Apps.TryGetValue(appId!, out var bound) && bound.MchId == merchant.MchId))
        {
            await ErrorAsync(ctx, state, merchant, 400, "INVALID_REQUEST", "appid 与商户号不匹配");
            return;
        }

        if (!TransferScenes.TryGetValue(sceneId!, out var requiredReports))
        {
            await ErrorAsync(ctx, state, merchant, 400, "INVALID_REQUEST", "转账场景未开通或不可用");
            return;
        }

        if (requiredReports.Any(t => !reports.Any(r => r.Type == t && r.Content is { Length: <= 32 })))
        {
            await ErrorAsync(ctx, state, merchant, 400, "PARAM_ERROR", $"转账场景 {sceneId} 须报备 {string.Join("、", requiredReports)}");
            return;
        }

        if (amount > state.TransferMaxFen)
        {
            await ErrorAsync(ctx, state, merchant, 400, "INVALID_REQUEST", "转账金额超过单笔限额");
            return;
        }

        string? userName = null;
        if (Str(req, "user_name") is not null)
        {
            var (nameOk, name) = DecryptField(ctx, state, merchant, req, "user_name");
            if (!nameOk)
            {
                await ErrorAsync(ctx, state, merchant, 400, "PARAM_ERROR", "user_name 须用微信支付公钥加密（Wechatpay-Serial 指明公钥）");
                return;
            }

            userName = name;
        }

        if (amount >= TransferRealNameFromFen && userName is null)
        {
            await ErrorAsync(ctx, state, merchant, 400, "PARAM_ERROR", "转账金额 >= 2000 元时，收款用户姓名 user_name 必填");
            return;
        }

        SandboxTransferBill bill;
        lock (state.TransferGate(funder))
        {
            if (state.TransferBills.TryGetValue((funder, outBillNo!), out var same))
            {
                if (same.Amount != amount || same.OpenId != openId)
                {
                    problem = "INVALID_REQUEST:商户单号重复，且请求参数与原单不一致";
                }

                bill = same;
            }
            else
            {
                var balance = state.TransferBalanceFen.GetOrAdd(funder, WeChatSandboxState.DefaultTransferBalanceFen);
                if (amount > balance)
                {
                    problem = "NOT_ENOUGH:商户运营账户资金不足";
                    bill = null!;
                }
                else
                {
                    bill = new SandboxTransferBill
                    {
                        MchId = funder, SpMchId = partner ? merchant.MchId : null, AppId = appId!, OutBillNo = outBillNo!, OpenId = openId!, UserName = userName, Amount = amount!.Value,
                        Remark = remark!, SceneId = sceneId!, NotifyUrl = notifyUrl,
                        TransferBillNo = "1330" + RandomNumberGenerator.GetString("0123456789", 36),
                        PackageInfo = "ABBQO+oYAAABAAAAAAB" + RandomString(40),
                    };
                    if (userName is not null && state.TransferRealNames.TryGetValue(openId!, out var realName) && realName != userName)
                    {
                        // WeChat checks a given name against the openid's real name; a mismatch ends the bill, funds untouched.
                        bill.State = "FAIL";
                        bill.FailReason = "NAME_NOT_CORRECT";
                    }
                    else
                    {
                        state.TransferBalanceFen[funder] = balance - amount.Value; // locked for the bill until it ends
                    }

                    state.TransferBills[(funder, outBillNo!)] = bill;
                    state.TransfersByPackage[bill.PackageInfo] = bill;
                }
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

        await SignedAsync(ctx, state, merchant, 200, partner ? PartnerTransferCreatedJson(bill) : TransferCreatedJson(bill), fault);
    }

    private static async Task QueryTransferAsync(HttpContext ctx, WeChatSandboxState state, string outBillNo, bool partner)
    {
        var (merchant, _) = await AuthenticateAsync(ctx, state);
        if (merchant is null)
        {
            return;
        }

        state.TransferCalls.Enqueue(("query", outBillNo));
        var fault = state.Faults.Next("transfer_query", outBillNo, ctx);
        if (await BeforeAsync(ctx, state, merchant, fault))
        {
            return;
        }

        var (funder, denied, deniedCode, deniedMessage) = Funder(merchant, partner, ctx.Request.Query["sub_mchid"].ToString());
        if (funder is null)
        {
            await ErrorAsync(ctx, state, merchant, denied, deniedCode!, deniedMessage!);
            return;
        }

        if (!state.TransferBills.TryGetValue((funder, outBillNo), out var bill) || !Sees(bill, merchant, partner))
        {
            await ErrorAsync(ctx, state, merchant, 404, "NOT_FOUND", "记录不存在");
            return;
        }

        await SignedAsync(ctx, state, merchant, 200, TransferQueryJson(bill), fault);
    }

    private static async Task CancelTransferAsync(HttpContext ctx, WeChatSandboxState state, WeChatSandboxNotifier notifier, string outBillNo, bool partner)
    {
        var (merchant, cancelBody) = await AuthenticateAsync(ctx, state);
        if (merchant is null)
        {
            return;
        }

        state.TransferCalls.Enqueue(("cancel", outBillNo));
        var fault = state.Faults.Next("transfer_cancel", outBillNo, ctx);
        if (await BeforeAsync(ctx, state, merchant, fault))
        {
            return;
        }

        var (funder, denied, deniedCode, deniedMessage) = Funder(merchant, partner, partner ? (ParseObject(cancelBody) is { } cb ? Str(cb, "sub_mchid") : null) : null);
        if (funder is null)
        {
            await ErrorAsync(ctx, state, merchant, denied, deniedCode!, deniedMessage!);
            return;
        }

        if (!state.TransferBills.TryGetValue((funder, outBillNo), out var bill) || !Sees(bill, merchant, partner))
        {
            await ErrorAsync(ctx, state, merchant, 404, "NOT_FOUND", "记录不存在");
            return;
        }

        string? problem = null;
        lock (state.TransferGate(funder))
        {
            switch (bill.State)
            {
                case "WAIT_USER_CONFIRM":
                    bill.State = "CANCELING";
                    bill.Updated = DateTimeOffset.UtcNow;
                    _ = FinishCancelLaterAsync(state, notifier, bill);
                    break;
                case "CANCELING" or "CANCELLED":
                    break; // asked again: the same withdrawal
                default:
                    problem = "INVALID_REQUEST:当前单据状态不支持撤销";
                    break;
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

        await SignedAsync(ctx, state, merchant, 200, JsonSerializer.Serialize(new
        {
            sub_mchid = bill.SpMchId is null ? null : bill.MchId,
            out_bill_no = bill.OutBillNo,
            transfer_bill_no = bill.TransferBillNo,
            state = bill.State,
            update_time = Rfc3339(bill.Updated),
        }, Json), fault);
    }

    /// <summary>The withdrawal completes a moment later (CANCELING is observable), the funds unlocked, the merchant notified.</summary>
    private static async Task FinishCancelLaterAsync(WeChatSandboxState state, WeChatSandboxNotifier notifier, SandboxTransferBill bill)
    {
        await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(1, 2_000 * state.TimeScale)));
        if (End(state, bill, "CANCELLED", null))
        {
            notifier.NotifyTransfer(bill);
        }
    }

    /// <summary>
    /// The sandbox's buyer phone: the payee opens the confirmation page (package_info) and confirms (SUCCESS), declines
    /// (FAIL, fail_reason USER_DECLINED — the sandbox's name; see docs/payouts-wechat.md) or lets it lapse (CANCELLED, as an
    /// unconfirmed bill the wallet closes). The result notification follows.
    /// </summary>
    public static (object? Response, string? Error, string? Message) ActOnTransfer(WeChatSandboxState state, WeChatSandboxNotifier notifier, BuyerTransferRequest r)
    {
        if (r.PackageInfo is null || !state.TransfersByPackage.TryGetValue(r.PackageInfo, out var bill))
        {
            return (null, "INVALID_PACKAGE", "package_info 无效");
        }

        var (to, reason) = r.Action switch
        {
            "confirm" or null => ("SUCCESS", (string?)null),
            "decline" => ("FAIL", "USER_DECLINED"),
            "expire" => ("CANCELLED", null),
            _ => (string.Empty, null),
        };
        if (to.Length == 0)
        {
            return (null, "INVALID_ACTION", "action 须为 confirm、decline 或 expire");
        }

        if (!End(state, bill, to, reason, from: "WAIT_USER_CONFIRM"))
        {
            return (null, "BILL_NOT_WAITING", $"单据状态为 {bill.State}");
        }

        notifier.NotifyTransfer(bill);
        return (new { out_bill_no = bill.OutBillNo, state = bill.State }, null, null);
    }

    /// <summary>Ends a bill once (from <paramref name="from"/>, or CANCELING): the locked funds go to the payee (SUCCESS) or back.</summary>
    private static bool End(WeChatSandboxState state, SandboxTransferBill bill, string to, string? failReason, string from = "CANCELING")
    {
        lock (state.TransferGate(bill.MchId))
        {
            if (bill.State != from)
            {
                return false;
            }

            bill.State = to;
            bill.FailReason = failReason;
            bill.Updated = DateTimeOffset.UtcNow;
            if (to != "SUCCESS")
            {
                state.TransferBalanceFen.AddOrUpdate(bill.MchId, WeChatSandboxState.DefaultTransferBalanceFen, (_, b) => b + bill.Amount);
            }

            return true;
        }
    }

    private static string TransferCreatedJson(SandboxTransferBill b)
    {
        lock (b)
        {
            return JsonSerializer.Serialize(new
            {
                out_bill_no = b.OutBillNo,
                transfer_bill_no = b.TransferBillNo,
                create_time = Rfc3339(b.Created),
                state = b.State,
                fail_reason = b.FailReason,
                package_info = b.State == "WAIT_USER_CONFIRM" ? b.PackageInfo : null,
            }, JsonSkipNull);
        }
    }

    /// <summary>The partner create answer: sub_mchid, out_bill_no, transfer_bill_no, create_time, package_info — no state (website 返回字典).</summary>
    private static string PartnerTransferCreatedJson(SandboxTransferBill b)
    {
        lock (b)
        {
            return JsonSerializer.Serialize(new
            {
                sub_mchid = b.MchId,
                out_bill_no = b.OutBillNo,
                transfer_bill_no = b.TransferBillNo,
                create_time = Rfc3339(b.Created),
                package_info = b.State == "WAIT_USER_CONFIRM" ? b.PackageInfo : null,
            }, JsonSkipNull);
        }
    }

    /// <summary>A direct merchant's bill names it as mch_id; a partner bill names the service provider as mchid and the sub-merchant as sub_mchid.</summary>
    private static string TransferQueryJson(SandboxTransferBill b) => JsonSerializer.Serialize(new
    {
        mch_id = b.SpMchId is null ? b.MchId : null,
        mchid = b.SpMchId,
        sub_mchid = b.SpMchId is null ? null : b.MchId,
        out_bill_no = b.OutBillNo,
        transfer_bill_no = b.TransferBillNo,
        appid = b.AppId,
        state = b.State,
        transfer_amount = b.Amount,
        transfer_remark = b.Remark,
        fail_reason = b.FailReason,
        openid = b.OpenId,
        create_time = Rfc3339(b.Created),
        update_time = Rfc3339(b.Updated),
    }, JsonSkipNull);

    /// <summary>The MCHTRANSFER.BILL.FINISHED resource (wechatpay.js.org webhook/v3/MCHTRANSFER.BILL.FINISHED.md).</summary>
    internal static string TransferNotificationJson(SandboxTransferBill b) => JsonSerializer.Serialize(new
    {
        mchid = b.SpMchId ?? b.MchId,
        sub_mchid = b.SpMchId is null ? null : b.MchId,
        out_bill_no = b.OutBillNo,
        transfer_bill_no = b.TransferBillNo,
        state = b.State,
        transfer_amount = b.Amount,
        fail_reason = b.FailReason,
        openid = b.OpenId,
        create_time = Rfc3339(b.Created),
        update_time = Rfc3339(b.Updated),
    }, JsonSkipNull);

    private static readonly JsonSerializerOptions JsonSkipNull = new(Json) { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    private static string Rfc3339(DateTimeOffset t) => t.ToOffset(ChinaOffset).ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);

    /// <summary>Decrypts one RSA-OAEP field with the platform key the Wechatpay-Serial header names.</summary>
    private static (bool Ok, string? Value) DecryptField(HttpContext ctx, WeChatSandboxState state, SandboxMerchant merchant, JsonObject node, string field)
    {
        var copy = new JsonObject { ["name"] = Str(node, field) };
        return DecryptName(ctx, state, merchant, copy);
    }

    [GeneratedRegex("^[A-Za-z0-9]{5,32}$")]
    private static partial Regex OutBillNoPattern();

    [GeneratedRegex("^[A-Za-z0-9_-]{6,128}$")]
    private static partial Regex SandboxOpenIdPattern();
}

public sealed partial class WeChatSandboxState
{
    /// <summary>What each merchant may transfer before NOT_ENOUGH, unless a test sets its own (¥10,000,000).</summary>
    public const long DefaultTransferBalanceFen = 1_000_000_000;

    private readonly ConcurrentDictionary<string, Lock> _transferGates = new(StringComparer.Ordinal);

    /// <summary>Merchant transfer bills by (mchid, out_bill_no).</summary>
    public ConcurrentDictionary<(string MchId, string OutBillNo), SandboxTransferBill> TransferBills { get; } = new();

    /// <summary>Bills by package_info: what the buyer phone opens.</summary>
    public ConcurrentDictionary<string, SandboxTransferBill> TransfersByPackage { get; } = new(StringComparer.Ordinal);

    /// <summary>Each merchant's transfer balance (运营账户), in fen.</summary>
    public ConcurrentDictionary<string, long> TransferBalanceFen { get; } = new(StringComparer.Ordinal);

    /// <summary>The real name behind an openid, when a test sets one: a user_name that differs fails the bill (NAME_NOT_CORRECT).</summary>
    public ConcurrentDictionary<string, string> TransferRealNames { get; } = new(StringComparer.Ordinal);

    /// <summary>The most one transfer may be (the merchant's per-transfer limit; ¥200,000 unless a test sets its own).</summary>
    public long TransferMaxFen { get; set; } = 20_000_000;

    /// <summary>Every transfer call that reached the sandbox (create / query / cancel, out_bill_no), so tests can prove what never left the hub or was sent once.</summary>
    public ConcurrentQueue<(string Call, string OutBillNo)> TransferCalls { get; } = new();

    internal Lock TransferGate(string mchId) => _transferGates.GetOrAdd(mchId, _ => new Lock());
}
